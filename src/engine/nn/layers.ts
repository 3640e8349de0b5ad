// The standard layers. Each holds its parameters and calls its functional twin.
import { Tensor, zeros, ones, empty } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { Module } from './module.js';
import * as F from './functional.js';
import { kaimingUniform_, uniform_, fans } from './init.js';
import { syncBatchNorm } from '../distributed/sync-batchnorm.js';
import type { ProcessGroup } from '../distributed/process-group.js';

/** PyTorch's default Linear/Conv init: kaiming_uniform(a=√5) weights, U(±1/√fan_in) bias. */
function resetLinearLike(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const bound = 1 / Math.sqrt(fans(weight).fanIn);
    uniform_(bias, -bound, bound);
  }
}

export class Linear extends Module {
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    positive('Linear', { inFeatures, outFeatures });
    this.registerParameter('weight', empty([outFeatures, inFeatures]));
    this.registerParameter('bias', bias ? empty([outFeatures]) : null);
    resetLinearLike(this.weight, this.bias);
  }
  get weight(): Tensor {
    return this.param('weight')!;
  }
  get bias(): Tensor | null {
    return this.param('bias');
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export interface Conv2dOptions extends F.Conv2dOptions {
  bias?: boolean;
}
export class Conv2d extends Module {
  readonly options: F.Conv2dOptions;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number | [number, number],
    o: Conv2dOptions = {},
  ) {
    super();
    const groups = o.groups ?? 1;
    positive('Conv2d', { inChannels, outChannels, groups });
    if (inChannels % groups || outChannels % groups)
      throw new RangeError(`Conv2d: channels (${inChannels}, ${outChannels}) must be divisible by groups ${groups}`);
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    this.options = { stride: o.stride ?? 1, padding: o.padding ?? 0, dilation: o.dilation ?? 1, groups };
    this.registerParameter('weight', empty([outChannels, inChannels / groups, kh, kw]));
    this.registerParameter('bias', o.bias === false ? null : empty([outChannels]));
    resetLinearLike(this.weight, this.bias);
  }
  get weight(): Tensor {
    return this.param('weight')!;
  }
  get bias(): Tensor | null {
    return this.param('bias');
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }
}

export interface BatchNormOptions {
  eps?: number;
  /** null: cumulative moving average, as in PyTorch. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}
export abstract class BatchNormBase extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  /**
   * When set, training-mode statistics are those of the global batch over this group's ranks
   * (torch.nn.SyncBatchNorm; see distributed.convertSyncBatchNorm). Eval mode is unaffected.
   */
  syncGroup: ProcessGroup | null = null;
  constructor(
    readonly numFeatures: number,
    o: BatchNormOptions = {},
  ) {
    super();
    positive(this.constructor.name, { numFeatures });
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    this.affine = o.affine ?? true;
    this.trackRunningStats = o.trackRunningStats ?? true;
    this.registerParameter('weight', this.affine ? ones([numFeatures]) : null);
    this.registerParameter('bias', this.affine ? zeros([numFeatures]) : null);
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int64' }));
    }
  }
  get weight(): Tensor | null {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.param('bias');
  }
  get runningMean(): Tensor | null {
    return this.buffer('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.buffer('running_var');
  }
  protected abstract checkInput(x: Tensor): void;
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    let momentum = this.momentum ?? 0;
    if (this.training && this.trackRunningStats) {
      const n = this.buffer('num_batches_tracked')!;
      noGrad(() => n.add_(1));
      if (this.momentum === null) momentum = 1 / n.item();
    }
    if (this.syncGroup && this.training && this.syncGroup.worldSize > 1) {
      return syncBatchNorm(x, this.runningMean, this.runningVar, {
        group: this.syncGroup,
        weight: this.weight,
        bias: this.bias,
        momentum,
        eps: this.eps,
      });
    }
    // Running statistics are updated while training and used in eval; untracked ones stay null.
    return F.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: this.training || !this.trackRunningStats,
      momentum,
      eps: this.eps,
    });
  }
}
export class BatchNorm1d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    const d = x.ndim;
    if (d !== 2 && d !== 3) throw new RangeError(`BatchNorm1d: expected 2D or 3D input, got ${d}D`);
  }
}
export class BatchNorm2d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) throw new RangeError(`BatchNorm2d: expected 4D input, got ${x.ndim}D`);
  }
}

export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  constructor(
    normalizedShape: number | readonly number[],
    readonly eps = 1e-5,
    elementwiseAffine = true,
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.registerParameter('weight', elementwiseAffine ? ones(this.normalizedShape) : null);
    this.registerParameter('bias', elementwiseAffine ? zeros(this.normalizedShape) : null);
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.param('weight'), this.param('bias'), this.eps);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number | [number, number],
    readonly options: F.PoolOptions & { dilation?: number | [number, number] } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.options);
  }
}
export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number | [number, number],
    readonly options: F.PoolOptions & { countIncludePad?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.options);
  }
}
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number, number]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}
export class Identity extends Module {
  // Returns the input itself, as nn.Identity does: the caller keeps ownership.
  forward(x: Tensor): Tensor {
    return x;
  }
}
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/** Runs children in order; they are registered as "0", "1", ... like nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) {
      const next = m.forward(y);
      // Intermediate activations are ours to free; autograd keeps what it saved.
      if (y !== x && next !== y) y.dispose();
      y = next;
    }
    return y;
  }
}

function positive(where: string, values: Record<string, number>): void {
  for (const [k, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${where}: ${k} must be a positive integer, got ${v}`);
  }
}
