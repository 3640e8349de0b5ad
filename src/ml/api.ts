// The library's front door: train a run, open a trained one, embed images and search them
// (what pytorch-metric-learning's InferenceModel is to a trained trunk), in one process.
import { type Tensor, dispose, noGrad, tidy } from '../engine/index.js';
import { fixedInputSize, type Embedder } from './models/factory.js';
import { ImageLoader } from './data/loader.js';
import type { Sample } from './data/list.js';
import { evaluateRetrieval, knn, type Metric, type RetrievalReport } from './eval/index.js';
import { resolveConfig, toOverrides, type TrainConfig } from './run/config/resolve.js';
import { openDatasets } from './run/datasets/index.js';
import { embedSource } from './run/embed.js';
import { loadEmbedder } from './run/load.js';
import { testPipelineFor } from './run/pipelines.js';
import { Trainer, type TrainResult } from './train/trainer.js';
import { trainerDeps } from './train/wiring.js';

/** A configuration as the CLI takes it: a preset, a config file and key=value overrides. */
export interface ConfigInput {
  preset?: string;
  file?: string;
  overrides?: string[];
}

/**
 * Trains and evaluates as `dml train` does, in this process: `train({ overrides: ['epochs=1'] })`
 * or `train(resolveConfig(...))`. The run folder (config key `out`) receives the checkpoints.
 */
export async function train(
  config: TrainConfig | ConfigInput = {},
  o: { resume?: boolean } = {},
): Promise<TrainResult> {
  const cfg = 'data' in config ? config : resolveConfig(config);
  const ds = await openDatasets(cfg);
  let trainer: Trainer | null = null;
  try {
    trainer = new Trainer(cfg, ds.train, ds.test, { ...trainerDeps, classNames: ds.classNames });
    return await trainer.run(o);
  } finally {
    trainer?.dispose();
    await ds.close();
  }
}

export interface Neighbours {
  /** [queries × k] row-major gallery indices, nearest first. */
  indices: Int32Array;
  /** The matching similarities (cosine, dot) or distances (l2). */
  scores: Float64Array;
  k: number;
}

/** A trained model with what it was trained on; close() frees it. */
export interface Run {
  readonly model: Embedder;
  readonly config: TrainConfig;
  /** Epoch the weights come from, and the checkpoint file read. */
  readonly epoch: number;
  readonly file: string;
  /** Embeddings [N, D] of image files (read, resized and cropped as at test time), or of a ready [N, C, H, W] batch. */
  embed(images: readonly string[] | Tensor): Promise<Tensor>;
  /**
   * Recall@K, MAP@R, NMI... on the test split of the run's dataset (`overrides` as for dml eval, e.g. data.root=DIR).
   */
  evaluate(overrides?: readonly string[]): Promise<RetrievalReport>;
  /** The k nearest gallery rows of each query row. */
  search(queries: Tensor, gallery: Tensor, k: number, metric?: Metric): Neighbours;
  close(): void;
}

/** Opens a checkpoint file or a run folder of dml train (its best, else last checkpoint). */
export function openRun(checkpoint: string): Run {
  const { model, config, epoch, file } = loadEmbedder(checkpoint);
  let closed = false;
  const live = (): void => {
    if (closed) throw new Error(`run ${file} is closed`);
  };
  return {
    model,
    config,
    epoch,
    file,
    async embed(images) {
      live();
      if (!Array.isArray(images)) {
        const x = images as Tensor;
        return noGrad(() => tidy(() => model.forward(x).features));
      }
      const samples: Sample[] = (images as readonly string[]).map((p) => ({ path: p, label: 0 }));
      const loader = new ImageLoader(samples, {
        pipeline: testPipelineFor(config, model.options.inChannels, fixedInputSize(model)),
      });
      try {
        const { features, labels } = await embedSource(model, loader, 64);
        labels.dispose();
        return features;
      } finally {
        await loader.close();
      }
    },
    async evaluate(overrides = []) {
      live();
      const cfg = resolveConfig({
        preset: config.preset,
        overrides: [...toOverrides({ data: config.data, recallKs: config.recallKs }), ...overrides],
      });
      const ds = await openDatasets(cfg);
      let q = null,
        g = null;
      try {
        q = await embedSource(model, ds.test.query);
        g = ds.test.gallery ? await embedSource(model, ds.test.gallery) : null;
        return evaluateRetrieval(q, g, { ks: cfg.recallKs });
      } finally {
        dispose([q, g]);
        await ds.close();
      }
    },
    search(queries, gallery, k, metric = 'cosine') {
      live();
      return knn(queries, gallery, { k, metric });
    },
    close() {
      if (closed) return;
      closed = true;
      model.dispose();
    },
  };
}
