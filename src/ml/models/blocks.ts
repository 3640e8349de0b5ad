// torchvision's residual blocks, with its parameter names (conv1, bn1, ..., downsample.0/1).
import { type Tensor, nn } from '../../engine/index.js';

export interface BlockOptions {
  stride?: number;
  downsample?: nn.Sequential | null;
  groups?: number;
  baseWidth?: number;
  dilation?: number;
}

const conv3x3 = (i: number, o: number, stride = 1, groups = 1, dilation = 1): nn.Conv2d =>
  new nn.Conv2d(i, o, 3, { stride, padding: dilation, groups, bias: false, dilation });
export const conv1x1 = (i: number, o: number, stride = 1): nn.Conv2d => new nn.Conv2d(i, o, 1, { stride, bias: false });

/** Applies fns in turn, freeing each intermediate (autograd keeps what it saved). x stays the caller's. */
export function pipe(x: Tensor, ...fns: ((t: Tensor) => Tensor)[]): Tensor {
  let y = x;
  for (const f of fns) {
    const next = f(y);
    if (y !== x && next !== y) y.dispose();
    y = next;
  }
  return y;
}

/**
 * ReLU in place, as torchvision's ReLU(inplace=True): only on a tensor the block made itself (a
 * BatchNorm output, which BatchNorm's backward does not need), never on the caller's input.
 */
export const reluInPlace = (t: Tensor): Tensor => t.relu_();

/** out = relu(residual(x) + shortcut(x)), in place in the residual branch as torchvision does. */
function residual(x: Tensor, body: Tensor, downsample: nn.Sequential | null): Tensor {
  const short = downsample ? downsample.forward(x) : x;
  body.add_(short).relu_();
  if (short !== x) short.dispose();
  return body;
}

export interface ResidualBlock extends nn.Module {
  /** The BatchNorm closing the residual branch (zero-initialised on request, as in the reference). */
  readonly lastBn: nn.BatchNorm2d;
}

export class BasicBlock extends nn.Module implements ResidualBlock {
  static readonly expansion = 1;
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly downsample: nn.Sequential | null;
  constructor(inplanes: number, planes: number, o: BlockOptions = {}) {
    super();
    if ((o.groups ?? 1) !== 1 || (o.baseWidth ?? 64) !== 64)
      throw new RangeError('BasicBlock only supports groups=1 and baseWidth=64');
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes, o.stride ?? 1));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, 1, 1, o.dilation ?? 1));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(planes));
    this.downsample = o.downsample ? this.registerModule('downsample', o.downsample) : null;
  }
  get lastBn(): nn.BatchNorm2d {
    return this.bn2;
  }
  forward(x: Tensor): Tensor {
    const body = pipe(
      x,
      (t) => this.conv1.forward(t),
      (t) => this.bn1.forward(t),
      reluInPlace,
      (t) => this.conv2.forward(t),
      (t) => this.bn2.forward(t),
    );
    return residual(x, body, this.downsample);
  }
}

export class Bottleneck extends nn.Module implements ResidualBlock {
  static readonly expansion = 4;
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn3: nn.BatchNorm2d;
  readonly downsample: nn.Sequential | null;
  constructor(inplanes: number, planes: number, o: BlockOptions = {}) {
    super();
    const groups = o.groups ?? 1;
    const width = Math.floor(planes * ((o.baseWidth ?? 64) / 64)) * groups;
    this.conv1 = this.registerModule('conv1', conv1x1(inplanes, width));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', conv3x3(width, width, o.stride ?? 1, groups, o.dilation ?? 1));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(width));
    this.conv3 = this.registerModule('conv3', conv1x1(width, planes * Bottleneck.expansion));
    this.bn3 = this.registerModule('bn3', new nn.BatchNorm2d(planes * Bottleneck.expansion));
    this.downsample = o.downsample ? this.registerModule('downsample', o.downsample) : null;
  }
  get lastBn(): nn.BatchNorm2d {
    return this.bn3;
  }
  forward(x: Tensor): Tensor {
    const body = pipe(
      x,
      (t) => this.conv1.forward(t),
      (t) => this.bn1.forward(t),
      reluInPlace,
      (t) => this.conv2.forward(t),
      (t) => this.bn2.forward(t),
      reluInPlace,
      (t) => this.conv3.forward(t),
      (t) => this.bn3.forward(t),
    );
    return residual(x, body, this.downsample);
  }
}
