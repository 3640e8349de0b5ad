// The test-time image pipeline a trained model expects, derived from its training config: what
// `dml embed` and `dml serve` apply to arbitrary images.
import { Pipeline } from '../data/pipeline.js';
import { CenterCrop, Resize, ToTensor } from '../data/transforms.js';
import { referencePipelines, type ReferenceDataset } from '../data/presets.js';
import type { TrainConfig } from './config/resolve.js';

/** `fixedSize`: the side a model requires (a ViT's); it replaces the configured crop. */
export function testPipelineFor(cfg: TrainConfig, inChannels: number, fixedSize?: number): Pipeline {
  if (cfg.data.kind === 'fashion-mnist') {
    // IDX images are 28×28 grayscale: bring any image to that (or to what the model requires).
    const s = fixedSize ?? 28;
    return new Pipeline([new Resize(s), new CenterCrop(s), new ToTensor()], { channels: inChannels === 1 ? 1 : 3 });
  }
  if (fixedSize !== undefined && fixedSize !== cfg.data.imageSize)
    cfg = { ...cfg, data: { ...cfg.data, imageSize: fixedSize } };
  const ref = (cfg.data.kind === 'list' || cfg.data.kind === 'folder' ? 'cub' : cfg.data.kind) as ReferenceDataset;
  const resize =
    cfg.data.resize > 0
      ? {
          resize:
            ref === 'cub' || ref === 'inshop'
              ? cfg.data.resize
              : ([cfg.data.resize, cfg.data.resize] as [number, number]),
        }
      : {};
  return referencePipelines(ref, { cropSize: cfg.data.imageSize, ...resize }, { channels: inChannels === 1 ? 1 : 3 })
    .test;
}
