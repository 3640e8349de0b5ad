// The test-time image pipeline a trained model expects, from its config's dataset: what `dml embed`
// and Run.embed apply to arbitrary images (the same rule as the dataset's own test loaders).
import type { Pipeline } from '../data/pipeline.js';
import type { TrainConfig } from './config/keys.js';
import { datasetSpec } from './datasets/index.js';
import { datasetPipelines } from './datasets/pipelines.js';

/** `fixedSize`: the side a model requires (a ViT's); it replaces the configured crop. */
export function testPipelineFor(cfg: TrainConfig, inChannels: number, fixedSize?: number): Pipeline {
  const channels = inChannels === 1 ? 1 : 3;
  return datasetPipelines(datasetSpec(cfg.data.kind).transforms, cfg.data, { channels, fixedSize }).test;
}

/** The side of the images a run's dataset holds natively (IDX data), or undefined for image files. */
export function nativeSideOf(cfg: Pick<TrainConfig, 'data'>): number | undefined {
  const t = datasetSpec(cfg.data.kind).transforms;
  return 'nativeSide' in t ? t.nativeSide : undefined;
}
