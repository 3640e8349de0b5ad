// A trained run, opened once for whatever is done with it: its model and configuration, its data
// (opened on first use), embedding, evaluation, search, and one close() for all of it. Every command
// that reads a checkpoint (eval, mi, embed, export, report, serve's workers) and the library's
// openRun() come through here, so they agree on what a checkpoint's configuration and data are.
import { type Tensor, type distributed, dispose, noGrad, tidy } from '../../engine/index.js';
import { ImageLoader } from '../data/loader.js';
import { inputSizeOf, type Pipeline } from '../data/pipeline.js';
import type { Sample } from '../data/list.js';
import { evaluateRetrieval, evaluateRetrievalSharded, knn, type Metric, type RetrievalReport } from '../eval/index.js';
import { fixedInputSize, type Embedder } from '../models/factory.js';
import type { TrainConfig } from './config/keys.js';
import { resolveConfig, toOverrides } from './config/resolve.js';
import { openDatasets, type ClassNames, type OpenedDatasets } from './datasets/index.js';
import type { EvalSource } from './datasets/source.js';
import {
  EVAL_BATCH,
  embedSet,
  embedTestSet,
  stderrProgress,
  type EmbedOptions,
  type Embedded,
  type TestEmbeddings,
} from './evaluate.js';
import { loadEmbedder } from './load.js';
import { fittingBatch } from './memory-budget.js';
import { uncheckedNote } from './checkpoint.js';
import { testPipelineFor } from './pipelines.js';

export interface RunOptions {
  /**
   * key=value overrides of the data settings and recallKs the checkpoint stores (data.root=DIR,
   * recallKs=1,10): where the data is now, and what to measure.
   */
  overrides?: readonly string[];
  /** A multi-process job: each rank embeds its shard of a set, and evaluation runs over the group. */
  group?: distributed.ProcessGroup | null;
  /** Progress of embedding on stderr: true, or with a prefix ('report: '). Default: none. */
  progress?: boolean | { prefix: string };
  /** Where a one-line note goes (a checkpoint without tensor checksums). Default: stderr. */
  note?: (line: string) => void;
  /** Where the model runs (resolveDevice's answer; default the CPU): embeddings and searches stay there. */
  device?: 'cpu' | `cuda:${number}`;
}

/** A model's input: [channels, height, width] images. */
export interface RunInput {
  readonly channels: 1 | 3;
  readonly height: number;
  readonly width: number;
}

export interface Neighbours {
  /** [queries × k] row-major gallery indices, nearest first. */
  indices: Int32Array;
  /** The matching similarities (cosine, dot) or distances (l2). */
  scores: Float64Array;
  k: number;
}

/** A trained model with what it was trained on; close() frees the model and stops the data's loaders. */
export interface Run {
  readonly model: Embedder;
  /** The checkpoint's configuration, its data keys and recallKs under the overrides. */
  readonly config: TrainConfig;
  /** Epoch the weights come from, and the checkpoint file read. */
  readonly epoch: number;
  readonly file: string;
  /** The classes' names of the training run, when its checkpoint records them (see classes()). */
  readonly classNames?: { train: string[]; test: string[] };
  /**
   * What the model takes, as embed() and testPipeline() make it of an image: channels, height and
   * width (data.imageSize, an IDX dataset's native side, or the side a ViT requires).
   */
  readonly input: RunInput;
  /**
   * Class k's name of the training and of the test classes: the checkpoint's record, else the run's
   * datasets' (which opens them, as datasets() does).
   */
  classes(): Promise<ClassNames>;
  /** The run's datasets, opened on first use. */
  datasets(): Promise<OpenedDatasets>;
  /** What an image file goes through before the model: the dataset's test transform at the model's input size. */
  testPipeline(): Pipeline;
  /** Embeddings [N, D] of image files (read, resized and cropped as at test time), or of a ready [N, C, H, W] batch. */
  embed(images: readonly string[] | Tensor): Promise<Tensor>;
  /** A set's features and labels (with `logits`, the classifier's too): in a job, this rank's shard. */
  embedSet(
    source: EvalSource,
    label: string,
    o?: { batchSize?: number; logits?: boolean },
  ): Promise<Embedded & { logits?: Tensor }>;
  /** The test split's embeddings (the caller disposes them). */
  embedTest(): Promise<TestEmbeddings>;
  /** Recall@K (config.recallKs), MAP@R, NMI... on the test split, embedded here unless given. */
  evaluate(embedded?: TestEmbeddings): Promise<RetrievalReport>;
  /** The k nearest gallery rows of each query row. */
  search(queries: Tensor, gallery: Tensor, k: number, metric?: Metric): Neighbours;
  close(): Promise<void>;
}

/** Opens a checkpoint file or a run folder of dml train (its best, else last checkpoint). */
export function openRun(checkpoint: string, o: RunOptions = {}): Run {
  const loaded = loadEmbedder(checkpoint);
  const { model, epoch, file, classNames } = loaded;
  if (loaded.integrity === 'absent') (o.note ?? ((l: string) => process.stderr.write(`${l}\n`)))(uncheckedNote(file));
  let config: TrainConfig;
  try {
    // The data keys and recallKs replayed through resolveConfig, so overrides are checked as dml train checks them.
    const data = resolveConfig({
      preset: loaded.config.preset,
      overrides: [
        ...toOverrides({ data: loaded.config.data, recallKs: loaded.config.recallKs }),
        ...(o.overrides ?? []),
      ],
    });
    config = { ...loaded.config, data: data.data, recallKs: data.recallKs };
  } catch (e) {
    model.dispose();
    throw e;
  }
  // Checkpoints hold CPU tensors (whatever device wrote them); the model moves to the one asked.
  if (o.device && o.device !== 'cpu') model.to(o.device);
  const group = o.group ?? null;
  // On the CPU, evaluation's batch (256) shrinks to what host memory holds: a 1024-px checkpoint
  // would otherwise need ~80 GB of ResNet-50 activations for one batch.
  const onCpu = (o.device ?? 'cpu') === 'cpu';
  const embedding: EmbedOptions = {
    group,
    ...(onCpu ? { batchSize: fittingBatch({ config, model }, EVAL_BATCH) } : {}),
    ...(o.progress ? { progress: stderrProgress(o.progress === true ? '' : o.progress.prefix) } : {}),
  };
  let opened: Promise<OpenedDatasets> | null = null;
  let closed = false;
  const live = (): void => {
    if (closed) throw new Error(`run ${file} is closed`);
  };
  const testPipeline = (): Pipeline => testPipelineFor(config, model.options.inChannels, fixedInputSize(model));
  let input: RunInput;
  try {
    const pipeline = testPipeline();
    const [height, width] = inputSizeOf(pipeline.toSpec());
    input = { channels: pipeline.channels, height, width };
  } catch (e) {
    model.dispose();
    throw e;
  }
  const run: Run = {
    model,
    config,
    epoch,
    file,
    ...(classNames ? { classNames } : {}),
    input,
    async classes() {
      live();
      return classNames ?? (await run.datasets()).classNames;
    },
    datasets() {
      live();
      opened ??= openDatasets(config);
      return opened;
    },
    testPipeline,
    async embed(images) {
      live();
      if (!Array.isArray(images)) {
        const x = images as Tensor;
        const dev = model.classifier.weight.device;
        return noGrad(() => tidy(() => model.forward(x.device === dev ? x : x.to(dev)).features));
      }
      const samples: Sample[] = (images as readonly string[]).map((p) => ({ path: p, label: 0 }));
      const loader = new ImageLoader(samples, { pipeline: testPipeline() });
      try {
        const batchSize = onCpu ? fittingBatch({ config, model }, 64) : 64;
        const { features, labels } = await embedSet(model, loader, 'embedding', { batchSize });
        labels.dispose();
        return features;
      } finally {
        await loader.close();
      }
    },
    embedSet(source, label, e = {}) {
      live();
      return embedSet(model, source, label, { ...embedding, ...e });
    },
    async embedTest() {
      live();
      return embedTestSet(model, (await run.datasets()).test, embedding);
    },
    async evaluate(embedded) {
      const e = embedded ?? (await run.embedTest());
      try {
        const ks = { ks: config.recallKs };
        return group
          ? evaluateRetrievalSharded(group, e.query, e.gallery, ks)
          : evaluateRetrieval(e.query, e.gallery, ks);
      } finally {
        if (!embedded) dispose(e);
      }
    },
    search(queries, gallery, k, metric = 'cosine') {
      live();
      return knn(queries, gallery, { k, metric });
    },
    async close() {
      if (closed) return;
      closed = true;
      model.dispose();
      // A dataset that failed to open has nothing to close.
      if (opened)
        await opened.then(
          (d) => d.close(),
          () => undefined,
        );
    },
  };
  return run;
}
