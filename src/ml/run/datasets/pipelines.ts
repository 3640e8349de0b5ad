// The one rule from a dataset's transforms to image pipelines: the loaders of training and
// evaluation and the test-time pipeline of dml embed and the library's Run.embed all come from here,
// so train and test preprocessing cannot drift apart.
import { Pipeline } from '../../data/pipeline.js';
import { referencePipelines } from '../../data/presets.js';
import { CenterCrop, Resize, ToTensor } from '../../data/transforms.js';
import type { TrainConfig } from '../config/keys.js';
import type { DatasetTransforms } from './spec.js';

export interface PipelineChoice {
  /** Channels of the images made (default: the pipeline's, 3). */
  channels?: 1 | 3;
  /** The side a model requires (a ViT's): it replaces data.imageSize, or the native side. */
  fixedSize?: number;
}

/** Training (null: the in-memory source augments by itself) and test pipelines. */
export function datasetPipelines(
  t: DatasetTransforms,
  d: Pick<TrainConfig['data'], 'imageSize' | 'resize'>,
  o: PipelineChoice = {},
): { train: Pipeline | null; test: Pipeline } {
  const options = o.channels ? { channels: o.channels } : {};
  if ('nativeSide' in t) {
    // Any image is brought to the native side (or to what the model requires).
    const s = o.fixedSize ?? t.nativeSide;
    return { train: null, test: new Pipeline([new Resize(s), new CenterCrop(s), new ToTensor()], options) };
  }
  const resize =
    d.resize > 0 ? { resize: t.resize === 'shorter-side' ? d.resize : ([d.resize, d.resize] as [number, number]) } : {};
  const { train, test } = referencePipelines(t.family, { cropSize: o.fixedSize ?? d.imageSize, ...resize }, options);
  return { train, test };
}
