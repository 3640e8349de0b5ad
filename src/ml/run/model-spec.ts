// The model a run's config describes, sized by what the caller knows: the training data's shape, or
// a checkpoint's tensors.
import { createEmbedder, type Embedder, type EmbedderSpec } from '../models/factory.js';
import { familyOfArch } from '../models/families.js';
import type { TrainConfig } from './config/keys.js';

export interface ModelShape {
  numClasses: number;
  /** undefined: the backbone's width. */
  numFeatures: number | undefined;
  inChannels: number;
  imageSize: number;
  /** ViTs (0: the arch's). */
  patchSize: number;
}

function embedderSpec(m: TrainConfig['model'], shape: ModelShape): EmbedderSpec {
  return {
    arch: m.arch,
    numClasses: shape.numClasses,
    numFeatures: shape.numFeatures,
    normLayer: m.normLayer,
    remap: m.remap,
    dropout: m.dropout,
    detach: m.detach,
    normalize: m.normalize,
    normalizeWeight: m.normalizeWeight,
    setBnEval: m.setBnEval,
    zeroInitResidual: m.zeroInitResidual,
    smallInput: m.smallInput,
    inChannels: shape.inChannels,
    imageSize: shape.imageSize,
    patchSize: shape.patchSize,
    pool: m.pool,
    dropPathRate: m.dropPathRate,
    // Fashion-MNIST's statistics: the one-channel data this toolkit ships.
    ...(shape.inChannels === 1 ? { mean: [0.286], std: [0.353] } : {}),
  };
}

/** The model of a config for this shape, freshly initialised. */
export function buildEmbedder(m: TrainConfig['model'], shape: ModelShape): Embedder {
  return createEmbedder(embedderSpec(m, shape));
}

/**
 * The layout a model's convolutions run in: model.memoryFormat, or for `auto` what its family
 * measured faster at this input side.
 */
export function resolveMemoryFormat(
  m: Pick<TrainConfig['model'], 'arch' | 'memoryFormat'>,
  imageSize: number,
): 'contiguousFormat' | 'channelsLast' {
  if (m.memoryFormat !== 'auto') return m.memoryFormat;
  return familyOfArch(m.arch).autoChannelsLast(m.arch, imageSize) ? 'channelsLast' : 'contiguousFormat';
}
