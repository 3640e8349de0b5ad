// The model a run trains: built for the training data's shape, ImageNet/DINO weights loaded, and
// set up as the config asks (memory layout, frozen patch embedding).
import type { Embedder } from '../models/factory.js';
import { familyOf } from '../models/families.js';
import type { TrainConfig } from '../run/config/keys.js';
import type { TrainSource } from '../run/datasets/source.js';
import { buildEmbedder, resolveMemoryFormat } from '../run/model-spec.js';
import { loadPretrainedBackbone } from '../run/pretrained.js';

/** The side of the images the model sees: fixed by the data (Fashion-MNIST: 28), else data.imageSize. */
export const inputSideOf = (cfg: TrainConfig, train: TrainSource): number => train.imageSize ?? cfg.data.imageSize;

/** A fresh model for the data; `pretrained` (rank 0 only: the others receive its weights) loads model.pretrained. */
export function createModel(
  cfg: TrainConfig,
  train: TrainSource,
  o: { pretrained: boolean; log: (line: string) => void },
): Embedder {
  const m = cfg.model;
  const model = buildEmbedder(m, {
    numClasses: train.numClasses,
    numFeatures: m.numFeatures || undefined,
    inChannels: train.inChannels,
    imageSize: inputSideOf(cfg, train),
    patchSize: m.patchSize,
  });
  if (m.pretrained && o.pretrained) o.log(loadPretrainedBackbone(model, m.pretrained, m.arch));
  return model;
}

/**
 * What the model needs before its optimiser is made: the memory layout (multi-process runs too:
 * gradient buckets and collectives copy by logical index, whatever the strides) and, for ViTs, a
 * frozen patch embedding. Refuses knobs the model's family has no part for.
 */
export function prepareModel(model: Embedder, cfg: TrainConfig, side: number): void {
  const m = cfg.model;
  if (resolveMemoryFormat(m, side) === 'channelsLast') model.toMemoryFormat('channelsLast');
  const family = familyOf(model);
  if (m.freezePatchEmbed) {
    if (!family.patchEmbedding) throw new Error(`model.freezePatchEmbed is for ViTs; ${m.arch} has no patch embedding`);
    for (const p of family.patchEmbedding(model)) p.requiresGrad_(false);
  }
  if (cfg.optim.layerDecay !== 1 && !family.layers)
    throw new Error(`optim.layerDecay is for ViTs; ${m.arch} has no blocks to decay over`);
}
