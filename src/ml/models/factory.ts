// One constructor for every backbone: the trainer, checkpoints and the library build models by arch name.
import { isVitArch, type Arch } from './arch-names.js';
import { ResNetEmbedder, type HeadOptions } from './resnet.js';
import { ViTEmbedder } from './vit.js';

export type Embedder = ResNetEmbedder | ViTEmbedder;

export interface EmbedderSpec extends HeadOptions {
  arch: Arch;
  /** Input side in pixels (ViTs size their position embeddings by it; ResNets do not need it). */
  imageSize: number;
  inChannels: number;
  /** ResNets only. */
  setBnEval?: boolean;
  zeroInitResidual?: boolean;
  smallInput?: boolean;
  /** ViTs only: patch size (0 or absent: the arch's), class token or patch mean, stochastic depth. */
  patchSize?: number;
  pool?: 'token' | 'mean';
  dropPathRate?: number;
}

/** The image side a model requires (a ViT's), or undefined when any size works (ResNets). */
export function fixedInputSize(model: Embedder): number | undefined {
  return model instanceof ViTEmbedder ? model.inputSize : undefined;
}

export function createEmbedder(s: EmbedderSpec): Embedder {
  const head = {
    numClasses: s.numClasses,
    numFeatures: s.numFeatures,
    normLayer: s.normLayer,
    remap: s.remap,
    dropout: s.dropout,
    detach: s.detach,
    normalize: s.normalize,
    normalizeWeight: s.normalizeWeight,
    inChannels: s.inChannels,
    mean: s.mean,
    std: s.std,
  };
  if (isVitArch(s.arch)) {
    return new ViTEmbedder({
      ...head,
      arch: s.arch,
      imageSize: s.imageSize,
      patchSize: s.patchSize || undefined,
      pool: s.pool,
      dropPathRate: s.dropPathRate,
    });
  }
  return new ResNetEmbedder({
    ...head,
    arch: s.arch,
    setBnEval: s.setBnEval,
    zeroInitResidual: s.zeroInitResidual,
    smallInput: s.smallInput,
  });
}
