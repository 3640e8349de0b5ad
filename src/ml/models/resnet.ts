// ResNet / ResNeXt embedding models with the reference's head (Boudiaf et al., dml_cross_entropy):
// backbone → norm layer (non-affine BN or LN) → optional remap → optional L2 normalisation →
// dropout → zero-initialised linear classifier. Backbone keys are torchvision's (conv1.weight,
// layer1.0.bn1.running_mean, ...) at the top level, so ImageNet weights load 1:1 (fc.* is skipped).
import { type Tensor, tensor, nn, noGrad } from '../../engine/index.js';
import { BasicBlock, Bottleneck, conv1x1, pipe, reluInPlace, type ResidualBlock } from './blocks.js';
import type { ResNetArch } from './arch-names.js';
import { applyHead, registerHead, type EmbedderOutput } from './head.js';

export type { Arch, ResNetArch } from './arch-names.js';
export const ARCHS: Record<
  ResNetArch,
  { block: 'basic' | 'bottleneck'; layers: [number, number, number, number]; groups: number; widthPerGroup: number }
> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2], groups: 1, widthPerGroup: 64 },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3], groups: 1, widthPerGroup: 64 },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 1, widthPerGroup: 64 },
  resnet101: { block: 'bottleneck', layers: [3, 4, 23, 3], groups: 1, widthPerGroup: 64 },
  resnext50_32x4d: { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 },
};

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** The head every backbone shares (the reference's): feature norm, remap, normalisation, classifier; and the input. */
export interface HeadOptions {
  numClasses: number;
  /** Embedding size; a linear remap is added when it differs from the backbone width. */
  numFeatures?: number;
  normLayer?: 'none' | 'batch' | 'layer';
  remap?: boolean;
  dropout?: number;
  /** Classifier sees detached features: CE then trains only the classifier. */
  detach?: boolean;
  normalize?: boolean;
  normalizeWeight?: boolean;
  inChannels?: number;
  mean?: number[];
  std?: number[];
}

export interface EmbedderOptions extends HeadOptions {
  arch: ResNetArch;
  /** Keep every BatchNorm2d in eval mode even while training (the reference's set_bn_eval). */
  setBnEval?: boolean;
  /** Zero-init the last BN of each residual branch (the reference does). */
  zeroInitResidual?: boolean;
  /** Small inputs (e.g. 28×28): 3×3 stride-1 stem and no max-pool. */
  smallInput?: boolean;
}

export type { EmbedderOutput } from './head.js';

export class ResNetEmbedder extends nn.Module<[Tensor], EmbedderOutput> {
  readonly options: Required<EmbedderOptions>;
  readonly backboneFeatures: number;
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly maxpool: nn.MaxPool2d | nn.Identity;
  readonly layers: nn.Sequential[];
  readonly norm: nn.Module;
  readonly remap: nn.Linear | nn.Identity;
  readonly dropout: nn.Dropout;
  readonly classifier: nn.Linear;

  constructor(o: EmbedderOptions) {
    super();
    const spec = ARCHS[o.arch];
    if (!spec) throw new RangeError(`unknown arch '${o.arch}' (expected ${Object.keys(ARCHS).join(', ')})`);
    if (!Number.isInteger(o.numClasses) || o.numClasses < 1)
      throw new RangeError(`numClasses must be a positive integer, got ${o.numClasses}`);
    const expansion = spec.block === 'basic' ? 1 : 4;
    this.backboneFeatures = 512 * expansion;
    const inChannels = o.inChannels ?? 3;
    this.options = {
      numFeatures: this.backboneFeatures,
      normLayer: 'none',
      remap: false,
      dropout: 0,
      detach: false,
      normalize: false,
      normalizeWeight: false,
      setBnEval: false,
      zeroInitResidual: true,
      smallInput: false,
      inChannels,
      mean: inChannels === 3 ? IMAGENET_MEAN : new Array<number>(inChannels).fill(0.5),
      std: inChannels === 3 ? IMAGENET_STD : new Array<number>(inChannels).fill(0.5),
      // An option given as undefined means "default", not "unset".
      ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
    } as Required<EmbedderOptions>;
    const opt = this.options;
    if (opt.mean.length !== inChannels || opt.std.length !== inChannels)
      throw new RangeError(`mean/std need ${inChannels} values`);

    this.registerBuffer('mean', tensor(Float32Array.from(opt.mean), { shape: [1, inChannels, 1, 1] }));
    this.registerBuffer('std', tensor(Float32Array.from(opt.std), { shape: [1, inChannels, 1, 1] }));
    this.conv1 = this.registerModule(
      'conv1',
      opt.smallInput
        ? new nn.Conv2d(inChannels, 64, 3, { stride: 1, padding: 1, bias: false })
        : new nn.Conv2d(inChannels, 64, 7, { stride: 2, padding: 3, bias: false }),
    );
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(64));
    this.maxpool = opt.smallInput ? new nn.Identity() : new nn.MaxPool2d(3, { stride: 2, padding: 1 });

    let inplanes = 64;
    this.layers = [64, 128, 256, 512].map((planes, i) => {
      const stride = i === 0 ? 1 : 2;
      const blocks: nn.Module[] = [];
      for (let b = 0; b < spec.layers[i]!; b++) {
        const first = b === 0;
        const downsample =
          first && (stride !== 1 || inplanes !== planes * expansion)
            ? new nn.Sequential(conv1x1(inplanes, planes * expansion, stride), new nn.BatchNorm2d(planes * expansion))
            : null;
        const bo = { stride: first ? stride : 1, downsample, groups: spec.groups, baseWidth: spec.widthPerGroup };
        blocks.push(
          spec.block === 'basic' ? new BasicBlock(inplanes, planes, bo) : new Bottleneck(inplanes, planes, bo),
        );
        inplanes = planes * expansion;
      }
      return this.registerModule(`layer${i + 1}`, new nn.Sequential(...blocks));
    });

    ({
      norm: this.norm,
      remap: this.remap,
      dropout: this.dropout,
      classifier: this.classifier,
    } = registerHead(this, this.backboneFeatures, opt));
    this.initWeights();
  }

  /** torchvision's init for convs and BNs, zero residual BNs (the head zeroes its own classifier). */
  private initWeights(): void {
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        if (m instanceof nn.Conv2d) nn.init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
        else if (m instanceof nn.BatchNorm2d) {
          m.weight?.fill_(1);
          m.bias?.zero_();
        }
      }
      if (this.options.zeroInitResidual) {
        for (const layer of this.layers)
          for (const b of layer.layers) (b as unknown as ResidualBlock).lastBn.weight?.zero_();
      }
    });
  }

  override train(mode = true): this {
    super.train(mode);
    if (this.options.setBnEval)
      for (const [, m] of this.namedModules()) if (m instanceof nn.BatchNorm2d) m.training = false;
    return this;
  }

  /** Backbone features before the head: [N, backboneFeatures]. */
  backbone(x: Tensor): Tensor {
    const mean = this.buffer('mean')!,
      std = this.buffer('std')!;
    // Weights laid out channels-last (toMemoryFormat) want their input so too; the layout then carries through.
    const cl = this.conv1.weight.isContiguous('channelsLast') && !this.conv1.weight.isContiguous();
    return pipe(
      x,
      (t) => t.sub(mean),
      (t) => t.div(std),
      (t) => (cl ? t.contiguous('channelsLast') : t),
      (t) => this.conv1.forward(t),
      (t) => this.bn1.forward(t),
      reluInPlace,
      (t) => this.maxpool.forward(t),
      ...this.layers.map((l) => (t: Tensor) => l.forward(t)),
      (t) => nn.functional.adaptiveAvgPool2d(t, 1),
      (t) => t.flatten(1),
    );
  }

  forward(x: Tensor): EmbedderOutput {
    return applyHead(this, this.backbone(x), this.options);
  }
}
