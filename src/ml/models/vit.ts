// Vision Transformers (Dosovitskiy et al., ICLR 2021) as embedding models. The backbone is
// torchvision's VisionTransformer, key for key (class_token, conv_proj, encoder.pos_embedding,
// encoder.layers.encoder_layer_i.{ln_1, self_attention, ln_2, mlp.0, mlp.3}, encoder.ln), so its
// state dicts load 1:1; timm's and Hugging Face's names map onto these (vit-weight-names.ts). The
// embedding is the class token (or the mean of the patch tokens) through the same head as the
// ResNets: feature norm, remap, normalisation, zero-initialised classifier.
import { type Tensor, cat, tensor, tidy, nn, randn } from '../../engine/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, type HeadOptions } from './resnet.js';
import { applyHead, registerHead, type EmbedderOutput } from './head.js';
import type { VitArch } from './arch-names.js';

export type { VitArch } from './arch-names.js';

export interface VitSize {
  hiddenDim: number;
  numLayers: number;
  numHeads: number;
  mlpDim: number;
  patchSize: number;
}

/** torchvision's vit_b_16 and timm's ViT-Ti/S/B sizes. */
export const VIT_SIZES: Record<VitArch, VitSize> = {
  vit_tiny_patch16: { hiddenDim: 192, numLayers: 12, numHeads: 3, mlpDim: 768, patchSize: 16 },
  vit_small_patch16: { hiddenDim: 384, numLayers: 12, numHeads: 6, mlpDim: 1536, patchSize: 16 },
  vit_small_patch8: { hiddenDim: 384, numLayers: 12, numHeads: 6, mlpDim: 1536, patchSize: 8 },
  vit_base_patch16: { hiddenDim: 768, numLayers: 12, numHeads: 12, mlpDim: 3072, patchSize: 16 },
};

export interface VitEmbedderOptions extends HeadOptions {
  /** A named size, or the dimensions themselves (tests build tiny ones). */
  arch: VitArch | VitSize;
  /** Square input side; the position embeddings cover (imageSize / patchSize)² patches + the class token. */
  imageSize: number;
  /** Overrides the arch's patch size (e.g. 4 for 28-px images). */
  patchSize?: number;
  /** 'token': the class token (default); 'mean': the mean of the patch tokens. */
  pool?: 'token' | 'mean';
  /** Stochastic depth: the rate of the last block, rising linearly from 0 (timm's drop_path_rate). Default 0. */
  dropPathRate?: number;
}

class Gelu extends nn.Module<[Tensor], Tensor> {
  forward(x: Tensor): Tensor {
    return x.gelu();
  }
}

/** torch.nn.MultiheadAttention's parameters (in_proj_weight/bias, out_proj), batch-first self-attention. */
export class SelfAttention extends nn.Module<[Tensor], Tensor> {
  readonly outProj: nn.Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
  ) {
    super();
    if (dim % heads !== 0) throw new RangeError(`SelfAttention: ${dim} dimensions do not split into ${heads} heads`);
    // tidy: the unscaled draw is a temporary.
    this.registerParameter(
      'in_proj_weight',
      tidy(() => randn([3 * dim, dim]).mul(Math.sqrt(1 / dim))),
    );
    this.registerParameter('in_proj_bias', tensor(new Float32Array(3 * dim)));
    this.outProj = this.registerModule('out_proj', new nn.Linear(dim, dim));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const [n, l] = [x.shape[0]!, x.shape[1]!];
      const hd = this.dim / this.heads;
      const qkv = nn.functional
        .linear(x, this.param('in_proj_weight')!, this.param('in_proj_bias'))
        .reshape([n, l, 3, this.heads, hd])
        .permute([2, 0, 3, 1, 4]);
      const y = nn.functional.scaledDotProductAttention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2));
      return this.outProj.forward(y.transpose(1, 2).reshape([n, l, this.dim]));
    });
  }
}

/** torchvision's EncoderBlock: pre-norm attention and MLP, each a residual branch. */
export class EncoderBlock extends nn.Module<[Tensor], Tensor> {
  readonly ln1: nn.LayerNorm;
  readonly attention: SelfAttention;
  readonly ln2: nn.LayerNorm;
  readonly mlp: nn.Sequential;
  constructor(
    dim: number,
    heads: number,
    mlpDim: number,
    readonly dropPath = 0,
  ) {
    super();
    this.ln1 = this.registerModule('ln_1', new nn.LayerNorm(dim, 1e-6));
    this.attention = this.registerModule('self_attention', new SelfAttention(dim, heads));
    this.ln2 = this.registerModule('ln_2', new nn.LayerNorm(dim, 1e-6));
    this.mlp = this.registerModule(
      'mlp',
      new nn.Sequential(
        new nn.Linear(dim, mlpDim),
        new Gelu(),
        new nn.Dropout(0),
        new nn.Linear(mlpDim, dim),
        new nn.Dropout(0),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const branch = (t: Tensor): Tensor => nn.functional.dropPath(t, this.dropPath, this.training);
      const h = x.add(branch(this.attention.forward(this.ln1.forward(x))));
      return h.add(branch(this.mlp.forward(this.ln2.forward(h))));
    });
  }
}

class Encoder extends nn.Module<[Tensor], Tensor> {
  readonly blocks: EncoderBlock[];
  readonly ln: nn.LayerNorm;
  constructor(seqLength: number, s: VitSize, dropPathRate: number) {
    super();
    this.registerParameter(
      'pos_embedding',
      tidy(() => randn([1, seqLength, s.hiddenDim]).mul(0.02)),
    );
    const layers = this.registerModule('layers', new BlockList());
    this.blocks = Array.from({ length: s.numLayers }, (_, i) =>
      layers.registerModule(
        `encoder_layer_${i}`,
        new EncoderBlock(
          s.hiddenDim,
          s.numHeads,
          s.mlpDim,
          s.numLayers > 1 ? (dropPathRate * i) / (s.numLayers - 1) : dropPathRate,
        ),
      ),
    );
    this.ln = this.registerModule('ln', new nn.LayerNorm(s.hiddenDim, 1e-6));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let h = x.add(this.param('pos_embedding')!);
      for (const b of this.blocks) h = b.forward(h);
      return this.ln.forward(h);
    });
  }
}

/** A named container of blocks (torchvision's OrderedDict of encoder_layer_i). */
class BlockList extends nn.Module<[Tensor], Tensor> {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/**
 * Position embeddings [1, 1 + g², D] for another grid side: the class token's is kept, the grid is
 * resized with bicubic interpolation (timm's resample_abs_pos_embed with antialias=False).
 */
export function resamplePosEmbedding(pos: Tensor, grid: number): Tensor {
  const [, n, d] = pos.shape as [number, number, number];
  const old = Math.round(Math.sqrt(n - 1));
  if (old * old !== n - 1)
    throw new RangeError(`position embeddings of ${n} tokens are not a class token and a square grid`);
  if (old === grid) return pos.reshape(pos.shape);
  return tidy(() => {
    const g = pos
      .narrow(1, 1, n - 1)
      .reshape([1, old, old, d])
      .permute([0, 3, 1, 2]);
    const r = nn.functional
      .interpolateBicubic(g, [grid, grid])
      .permute([0, 2, 3, 1])
      .reshape([1, grid * grid, d]);
    return cat([pos.narrow(1, 0, 1), r], 1);
  });
}

export class ViTEmbedder extends nn.Module<[Tensor], EmbedderOutput> {
  readonly options: Required<Omit<VitEmbedderOptions, 'arch'>> & { arch: VitArch | VitSize };
  readonly size: VitSize;
  readonly backboneFeatures: number;
  readonly convProj: nn.Conv2d;
  readonly encoder: Encoder;
  readonly norm: nn.Module;
  readonly remap: nn.Linear | nn.Identity;
  readonly dropout: nn.Dropout;
  readonly classifier: nn.Linear;

  constructor(o: VitEmbedderOptions) {
    super();
    const named = typeof o.arch === 'string' ? VIT_SIZES[o.arch] : o.arch;
    if (!named)
      throw new RangeError(`unknown ViT arch '${String(o.arch)}' (expected ${Object.keys(VIT_SIZES).join(', ')})`);
    const size: VitSize = { ...named, patchSize: o.patchSize ?? named.patchSize };
    if (!Number.isInteger(o.numClasses) || o.numClasses < 1)
      throw new RangeError(`numClasses must be a positive integer, got ${o.numClasses}`);
    if (!Number.isInteger(o.imageSize) || o.imageSize % size.patchSize !== 0) {
      throw new RangeError(`ViT: imageSize ${o.imageSize} is not a multiple of the patch size ${size.patchSize}`);
    }
    this.size = size;
    this.backboneFeatures = size.hiddenDim;
    const inChannels = o.inChannels ?? 3;
    this.options = {
      patchSize: size.patchSize,
      pool: 'token',
      dropPathRate: 0,
      numFeatures: size.hiddenDim,
      normLayer: 'none',
      remap: false,
      dropout: 0,
      detach: false,
      normalize: false,
      normalizeWeight: false,
      inChannels,
      mean: inChannels === 3 ? IMAGENET_MEAN : new Array<number>(inChannels).fill(0.5),
      std: inChannels === 3 ? IMAGENET_STD : new Array<number>(inChannels).fill(0.5),
      ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
    } as ViTEmbedder['options'];
    const opt = this.options;
    if (!(opt.dropPathRate >= 0 && opt.dropPathRate < 1))
      throw new RangeError(`dropPathRate must be in [0, 1), got ${opt.dropPathRate}`);
    this.registerBuffer('mean', tensor(Float32Array.from(opt.mean), { shape: [1, inChannels, 1, 1] }));
    this.registerBuffer('std', tensor(Float32Array.from(opt.std), { shape: [1, inChannels, 1, 1] }));
    this.registerParameter('class_token', tensor(new Float32Array(size.hiddenDim), { shape: [1, 1, size.hiddenDim] }));
    this.convProj = this.registerModule(
      'conv_proj',
      new nn.Conv2d(inChannels, size.hiddenDim, size.patchSize, { stride: size.patchSize }),
    );
    const grid = o.imageSize / size.patchSize;
    this.encoder = this.registerModule('encoder', new Encoder(grid * grid + 1, size, opt.dropPathRate));
    ({
      norm: this.norm,
      remap: this.remap,
      dropout: this.dropout,
      classifier: this.classifier,
    } = registerHead(this, size.hiddenDim, opt));
  }

  /** The side of the images it takes: its position embeddings fix it. */
  get inputSize(): number {
    return Math.round(Math.sqrt(this.encoder.param('pos_embedding')!.shape[1]! - 1)) * this.size.patchSize;
  }

  /** The encoder's output for the class token (or the patch tokens' mean): [N, hiddenDim]. */
  backbone(x: Tensor): Tensor {
    return tidy(() => {
      const n = x.shape[0]!;
      const t = this.convProj.forward(x.sub(this.buffer('mean')!).div(this.buffer('std')!));
      const patches = t.flatten(2).transpose(1, 2);
      const tokens = cat([this.param('class_token')!.expand([n, 1, this.size.hiddenDim]), patches], 1);
      const h = this.encoder.forward(tokens);
      return this.options.pool === 'mean' ? h.narrow(1, 1, h.shape[1]! - 1).mean(1) : h.select(1, 0);
    });
  }

  forward(x: Tensor): EmbedderOutput {
    return applyHead(this, this.backbone(x), this.options);
  }
}
