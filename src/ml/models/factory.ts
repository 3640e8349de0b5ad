// One constructor for every backbone: the trainer, checkpoints and the library build models by arch name.
import type { Arch } from './arch-names.js';
import { familyOf, familyOfArch } from './families.js';
import type { ResNetEmbedder, HeadOptions } from './resnet.js';
import type { ViTEmbedder } from './vit.js';

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
  return familyOf(model).fixedInputSize(model);
}

/** The model of a spec, built by its arch's family. */
export function createEmbedder(s: EmbedderSpec): Embedder {
  return familyOfArch(s.arch).create(s);
}
