// What a model costs in memory, counted from its architecture without building it, so that a run
// can be refused before it allocates (src/ml/run/memory-budget.ts turns counts into bytes). Each
// family counts its own layers (resnet-footprint.ts, vit-footprint.ts); the counts are float32
// elements, and the budget's calibration factors (measured, see memory-budget.ts) cover what the
// counting leaves out: autograd's bookkeeping, oneDNN's workspaces and the allocator's slack.
import type { Arch } from './arch-names.js';

export interface FootprintSpec {
  arch: Arch;
  imageSize: number;
  inChannels: number;
  /** 0: the model has no classifier to count (the classes are not known yet). */
  numClasses: number;
  /** 0: the backbone's width. */
  numFeatures?: number;
  remap?: boolean;
  /** ResNets: the 3×3 stem without max-pool. */
  smallInput?: boolean;
  /** ViTs: 0 or absent for the arch's. */
  patchSize?: number;
}

export interface ModelFootprint {
  /** Trainable parameters, backbone and head (the classifier for `numClasses`). */
  parameters: number;
  /** Elements a forward in training mode keeps for backward, per image. */
  savedPerImage: number;
  /** Most elements alive at once during an inference forward, per image. */
  inferencePerImage: number;
}

/** The head's parameters (head.ts): the remap when numFeatures differs from the width, and the classifier. */
export function headParameters(width: number, s: FootprintSpec): number {
  const features = s.numFeatures || width;
  const remap = s.remap || features !== width ? width * features + features : 0;
  return remap + (s.numClasses > 0 ? features * s.numClasses + s.numClasses : 0);
}
