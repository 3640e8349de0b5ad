// Opens the configured dataset as a training source and evaluation sets.
import { findFashionMnist, loadIdxSplit } from '../data/idx.js';
import type { TrainConfig } from './config.js';
import type { EvalData, EvalSource, TrainSource } from './source.js';
import { IdxEvalSource, IdxTrainSource, type IdxArrays } from './idx-source.js';

function limit(d: IdxArrays, n: number): IdxArrays {
  if (!(n > 0) || n >= d.labels.length) return d;
  const plane = d.height * d.width;
  return { ...d, images: d.images.subarray(0, n * plane), labels: d.labels.subarray(0, n) };
}

export interface OpenedDatasets {
  train: TrainSource;
  /** The training samples without augmentation, in order (for MI and embedding). */
  trainEval: EvalSource;
  test: EvalData;
  description: string;
}

export async function openDatasets(cfg: TrainConfig): Promise<OpenedDatasets> {
  const d = cfg.data;
  switch (d.kind) {
    case 'fashion-mnist': {
      const dir = d.root || findFashionMnist();
      const train = limit(loadIdxSplit(dir, 'train', [0, 4]), d.limitTrain);
      const test = limit(loadIdxSplit(dir, 't10k', [5, 9]), d.limitTest);
      return {
        train: new IdxTrainSource(train, cfg.seed),
        trainEval: new IdxEvalSource(train),
        test: { query: new IdxEvalSource(test) },
        description: `Fashion-MNIST (${dir}): train classes 0-4 (${train.labels.length} images), test on unseen classes 5-9 (${test.labels.length} images)`,
      };
    }
    default:
      throw new Error(`data.kind '${d.kind}' is not wired into the trainer yet`);
  }
}
