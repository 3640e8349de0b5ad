// The models and the training step that bench/engine and bench/profile time on the TS side, as
// torchvision builds them (bench/engine_torch.py and bench/profile_torch.py hold the PyTorch twins).
import { nn, optim, tidy, type Tensor } from '../src/engine/index.js';
import { ViTEmbedder } from '../src/ml/models/vit.js';

const F = nn.functional;

/** torchvision's ReLU(inplace=True), for the stem (after a BatchNorm, whose backward does not need its output). */
class ReLUInPlace extends nn.Module {
  forward(x: Tensor): Tensor {
    return x.relu_();
  }
}

export class BasicBlock extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly downsample: nn.Sequential | null;
  constructor(inp: number, out: number, stride: number) {
    super();
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inp, out, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(out));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(out, out, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(out));
    this.downsample =
      stride !== 1 || inp !== out
        ? this.registerModule(
            'downsample',
            new nn.Sequential(new nn.Conv2d(inp, out, 1, { stride, bias: false }), new nn.BatchNorm2d(out)),
          )
        : null;
  }
  forward(x: Tensor): Tensor {
    // In place where torchvision is (ReLU(inplace=True), out += identity): BatchNorm outputs only.
    const y = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x)).relu_()));
    const id = this.downsample ? this.downsample.forward(x) : x;
    return y.add_(id).relu_();
  }
}

export class Bottleneck extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn3: nn.BatchNorm2d;
  readonly downsample: nn.Sequential | null;
  constructor(inp: number, width: number, stride: number) {
    super();
    const out = width * 4;
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inp, width, 1, { bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(width));
    // torchvision's v1.5: the stride sits on the 3x3 convolution.
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(width, width, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(width));
    this.conv3 = this.registerModule('conv3', new nn.Conv2d(width, out, 1, { bias: false }));
    this.bn3 = this.registerModule('bn3', new nn.BatchNorm2d(out));
    this.downsample =
      stride !== 1 || inp !== out
        ? this.registerModule(
            'downsample',
            new nn.Sequential(new nn.Conv2d(inp, out, 1, { stride, bias: false }), new nn.BatchNorm2d(out)),
          )
        : null;
  }
  forward(x: Tensor): Tensor {
    let y = this.bn1.forward(this.conv1.forward(x)).relu_();
    y = this.bn2.forward(this.conv2.forward(y)).relu_();
    y = this.bn3.forward(this.conv3.forward(y));
    const id = this.downsample ? this.downsample.forward(x) : x;
    return y.add_(id).relu_();
  }
}

/** torchvision's ResNet layout; `small` is the 28-px variant: 3x3 stride-1 stem and no max-pool. */
export class ResNet extends nn.Module {
  readonly stem: nn.Sequential;
  readonly layers: nn.Sequential[];
  readonly fc: nn.Linear;
  constructor(kind: 'basic' | 'bottleneck', blocks: number[], inChannels: number, classes: number, small: boolean) {
    super();
    this.stem = this.registerModule(
      'stem',
      small
        ? new nn.Sequential(
            new nn.Conv2d(inChannels, 64, 3, { padding: 1, bias: false }),
            new nn.BatchNorm2d(64),
            new ReLUInPlace(),
          )
        : new nn.Sequential(
            new nn.Conv2d(inChannels, 64, 7, { stride: 2, padding: 3, bias: false }),
            new nn.BatchNorm2d(64),
            new ReLUInPlace(),
            new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
          ),
    );
    const expansion = kind === 'basic' ? 1 : 4;
    let inp = 64;
    this.layers = blocks.map((count, li) => {
      const width = 64 * 2 ** li;
      const mods: nn.Module[] = [];
      for (let b = 0; b < count; b++) {
        const stride = b === 0 && li > 0 ? 2 : 1;
        mods.push(kind === 'basic' ? new BasicBlock(inp, width, stride) : new Bottleneck(inp, width, stride));
        inp = width * expansion;
      }
      return this.registerModule(`layer${li + 1}`, new nn.Sequential(...mods));
    });
    this.fc = this.registerModule('fc', new nn.Linear(inp, classes));
  }
  forward(x: Tensor): Tensor {
    let y = this.stem.forward(x);
    for (const l of this.layers) y = l.forward(y);
    return this.fc.forward(F.adaptiveAvgPool2d(y, 1).flatten(1));
  }
}

export const smallCnn = (): nn.Sequential =>
  new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }),
    new nn.BatchNorm2d(16),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }),
    new nn.BatchNorm2d(32),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(32 * 7 * 7, 10),
  );

/** ViT-S/16 as torchvision's VisionTransformer at that size (the embedder's classifier as its head). */
export class VitSmall extends nn.Module {
  readonly vit = this.registerModule(
    'vit',
    new ViTEmbedder({ arch: 'vit_small_patch16', numClasses: 1000, imageSize: 224 }),
  );
  forward(x: Tensor): Tensor {
    const o = this.vit.forward(x);
    o.features.dispose();
    return o.logits;
  }
}

export function makeStep(model: nn.Module, x: Tensor, y: Tensor): { step: () => number; dispose: () => void } {
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  model.train();
  return {
    step: () =>
      tidy(() => {
        // The forward pass gets its own scope: only the loss leaves it, so the activations are held
        // by autograd alone and freed during backward, as in PyTorch (not at the end of the step).
        const loss = tidy(() => F.crossEntropy(model.forward(x), y));
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss.item();
      }),
    dispose: () => {
      opt.dispose();
      model.dispose();
    },
  };
}
