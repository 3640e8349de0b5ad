// dml report: one self-contained HTML page about a training run — curves from metrics.jsonl, the
// checkpoint re-evaluated on the test set, mutual information, a t-SNE map and retrieval examples.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { writeFileAtomicSync } from '../engine/serialize/file-io.js';
import path from 'node:path';
import { type Tensor, dispose, tensor, tidy } from '../engine/index.js';
import { labelArray } from '../ml/eval/index.js';
import { resolveCheckpoint } from '../ml/run/checkpoint-path.js';
import type { TrainConfig } from '../ml/run/config/keys.js';
import { datasetSpec } from '../ml/run/datasets/index.js';
import type { TestEmbeddings } from '../ml/run/evaluate.js';
import { openRun } from '../ml/run/open-run.js';
import { Heartbeat } from '../ml/run/progress.js';
import {
  buildReportHtml,
  type MiSection,
  type RenderedExample,
  type RetrievalSection,
  type TsneSection,
} from './html.js';
import { gatherImages, thumbnailDataUri, type RawImage } from './images.js';
import { readMetrics, type RunMetrics } from './metrics.js';
import { REPORT_STREAM, sampleIndices } from './random.js';
import { retrievalExamples } from './retrieval.js';
import { TSNE_DEFAULT_ITERATIONS, tsne } from './tsne.js';

export * from './metrics.js';
export * from './svg.js';
export * from './tsne.js';
export * from './pca.js';
export * from './retrieval.js';
export * from './images.js';
export * from './html.js';
export { REPORT_STREAM, reportRng, sampleIndices } from './random.js';

export interface ReportOptions {
  runDir: string;
  /** Output file (default RUN_DIR/report.html). */
  out?: string;
  /** Which checkpoint embeds the test set: the run's 'best' (default) or 'last', or a checkpoint file. */
  checkpoint?: 'best' | 'last' | (string & {});
  /** Test embeddings in the t-SNE map (default 2000; a seeded random subsample). */
  maxPoints?: number;
  /** Example queries (default 8, 2 of them among the top-1 misses) and neighbours each (default 8). */
  examples?: number;
  misses?: number;
  topK?: number;
  /** Mutual information (default true when src/ml/mi provides it). */
  mi?: boolean;
  /**
   * Embeddings the MI estimators see (default 2000, a seeded random subsample: the cross-fitted probe costs ~10 s of
   * CPU per 1,000 points).
   */
  miMaxPoints?: number;
  tsneIterations?: number;
  seed?: number;
  /** key=value overrides of the data settings stored in the checkpoint (e.g. data.root=DIR). */
  overrides?: readonly string[];
  /** Progress lines (default: none). */
  log?: (message: string) => void;
  /** Seconds between the progress lines of a long stage (default: DML_PROGRESS_SECONDS, else 10). */
  progressSeconds?: number;
  /** Where the model embeds the test set (resolveDevice's answer; default the CPU). */
  device?: 'cpu' | `cuda:${number}`;
}

export interface ReportResult {
  out: string;
  bytes: number;
  /** Seconds per stage. */
  timings: Record<string, number>;
  warnings: string[];
}

/**
 * The test classes' names: those the checkpoint recorded (folder names, list labels), else the
 * dataset's own (Fashion-MNIST's) for checkpoints written before the names were recorded.
 */
export function classNamesFor(cfg: TrainConfig, classes: number, recorded?: readonly string[]): string[] | undefined {
  if (recorded && recorded.length >= classes) return [...recorded];
  return datasetSpec(cfg.data.kind).testClassNames?.(classes);
}

/** Checks the run directory, reads its metrics and finds the checkpoint (the errors name the file). */
export function locateRun(
  runDir: string,
  checkpoint: 'best' | 'last' | (string & {}) = 'best',
): { metrics: RunMetrics; checkpointFile: string } {
  let st;
  try {
    st = statSync(runDir);
  } catch {
    throw new Error(`${runDir}: run directory not found`);
  }
  if (!st.isDirectory()) throw new Error(`${runDir}: not a directory (expected a training run directory)`);
  const metrics = readMetrics(path.join(runDir, 'metrics.jsonl'));
  if (checkpoint !== 'best' && checkpoint !== 'last') return { metrics, checkpointFile: resolveCheckpoint(checkpoint) };
  const checkpointFile = path.join(runDir, `${checkpoint}.safetensors`);
  if (!existsSync(checkpointFile)) {
    const otherKind = checkpoint === 'best' ? 'last' : 'best';
    const other = path.join(runDir, `${otherKind}.safetensors`);
    const hint = existsSync(other) ? ` (the run has ${path.basename(other)}: try --checkpoint ${otherKind})` : '';
    throw new Error(`${checkpointFile}: checkpoint not found${hint}`);
  }
  return { metrics, checkpointFile };
}

/** The rows of a [N, D] float tensor as a Float32Array. */
function rowsOf(x: Tensor): Float32Array {
  return tidy(() => {
    const f = x.to('float32').contiguous();
    return Float32Array.from(f.data() as Float32Array);
  });
}

type MiModule = {
  mutualInformation?: (x: Tensor, labels: Int32Array, o?: Record<string, unknown>) => unknown;
  describeMiWork?: (n: number, dims: number, o?: Record<string, unknown>) => string;
};

/** Runs src/ml/mi's mutualInformation when that module exists and works; otherwise says why not. */
async function miSection(
  features: Tensor,
  labels: Int32Array,
  maxPoints: number,
  seed: number,
  beat: Heartbeat | null,
): Promise<MiSection> {
  let mod: MiModule;
  try {
    const spec = '../ml/mi/index.js';
    mod = (await import(spec)) as MiModule;
  } catch (e) {
    return {
      status: 'unavailable',
      reason: `the mutual-information estimator could not be loaded: ${(e as Error).message}`,
    };
  }
  if (typeof mod.mutualInformation !== 'function')
    return { status: 'unavailable', reason: 'this build of the toolkit has no mutual-information estimator.' };
  const n = labels.length;
  const idx = sampleIndices(n, maxPoints, seed, REPORT_STREAM.miSubsample);
  const t0 = performance.now();
  const sub = idx.length < n ? tidy(() => features.indexSelect(0, tensor(idx, { dtype: 'int64' }))) : features;
  try {
    const y = idx.length < n ? Int32Array.from(idx, (i) => labels[i]!) : labels;
    const options = { probe: { seed }, generative: { seed } };
    beat?.start(mod.describeMiWork?.(idx.length, features.shape[1]!, options) ?? `I(Z;Y) of ${idx.length} embeddings`);
    const report = mod.mutualInformation(sub, y, {
      ...options,
      ...(beat
        ? { onProgress: (stage: string, done: number, total: number) => beat.beat(() => `${stage} ${done}/${total}`) }
        : {}),
    });
    return {
      status: 'ok',
      report,
      n: idx.length,
      seconds: (performance.now() - t0) / 1000,
      note: idx.length < n ? `A seeded random subsample of ${idx.length} of the ${n} embeddings.` : undefined,
    };
  } catch (e) {
    return { status: 'unavailable', reason: `the estimator failed: ${(e as Error).message}` };
  } finally {
    if (sub !== features) sub.dispose();
  }
}

/** Builds the report of a run directory and writes it. */
export async function generateReport(o: ReportOptions): Promise<ReportResult> {
  const log = o.log ?? ((): void => {});
  // Long stages (MI, t-SNE) say what they start on, then how far they got every ~10 s.
  const beat = (stage: string): Heartbeat | null =>
    o.log
      ? new Heartbeat(stage, {
          write: o.log,
          ...(o.progressSeconds !== undefined ? { intervalS: o.progressSeconds } : {}),
        })
      : null;
  const seed = o.seed ?? 0;
  const timings: Record<string, number> = {};
  const warnings: string[] = [];
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timings[name] = (now - t) / 1000;
    t = now;
  };

  const kind = o.checkpoint ?? 'best';
  const { metrics, checkpointFile } = locateRun(o.runDir, kind);
  log(
    `${metrics.file}: ${metrics.train.length} train, ${metrics.eval.length} eval, ${metrics.epochs.length} epoch ` +
      `records`,
  );
  let run;
  try {
    // Progress bars when the caller logs (dml report without --quiet).
    run = openRun(checkpointFile, {
      overrides: o.overrides ?? [],
      ...(o.device ? { device: o.device } : {}),
      ...(o.log ? { progress: { prefix: 'report: ' } } : {}),
    });
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.includes(checkpointFile) ? msg : `${checkpointFile}: ${msg}`, { cause: e });
  }
  const { config, epoch } = run;
  let embedded: TestEmbeddings | null = null;
  try {
    const { test, description } = await run.datasets();
    lap('load');
    log(`embedding ${description} with ${checkpointFile} (epoch ${epoch})`);
    embedded = await run.embedTest();
    const { query: q, gallery: g } = embedded;
    const qLabels = labelArray(q.labels),
      gLabels = g ? labelArray(g.labels) : null;
    lap('embed');

    log(`evaluating ${qLabels.length} embeddings: Recall@K, MAP@R, R-Precision, P@1, NMI`);
    const evaluation = await run.evaluate(embedded);
    lap('evaluate');
    log(
      `evaluated: R@1 cosine ${evaluation.recall.cosine['1']?.toFixed(2) ?? 'n/a'} (${timings.evaluate!.toFixed(1)} s)`,
    );

    const classes = new Set([...qLabels, ...(gLabels ?? [])]).size;
    const classNames = classNamesFor(config, classes, run.classNames?.test);

    let mi: MiSection;
    if (o.mi === false) mi = { status: 'unavailable', reason: 'skipped (--no-mi).' };
    else {
      mi = await miSection(q.features, qLabels, o.miMaxPoints ?? 2000, seed, beat('mutual information'));
      lap('mi');
      log(mi.status === 'ok' ? `mutual information: ${timings.mi!.toFixed(1)} s` : `MI unavailable: ${mi.reason}`);
    }

    // t-SNE of a seeded subsample of the query embeddings, in cosine geometry like the metrics.
    const n = qLabels.length;
    const idx = sampleIndices(n, Math.max(2, o.maxPoints ?? 2000), seed, REPORT_STREAM.tsneSubsample);
    const all = rowsOf(q.features);
    const d = q.features.shape[1]!;
    const x = new Float32Array(idx.length * d);
    idx.forEach((i, r) => x.set(all.subarray(i * d, (i + 1) * d), r * d));
    const tsneBeat = beat('t-SNE');
    const iterations = o.tsneIterations ?? TSNE_DEFAULT_ITERATIONS;
    tsneBeat?.start(`${idx.length} of ${n} embeddings (${d} dims), PCA to start, then ${iterations} iterations`);
    const ts = tsne(x, idx.length, d, {
      seed,
      normalize: true,
      iterations,
      ...(tsneBeat
        ? {
            onProgress: (it: number, kl: number) =>
              tsneBeat.beat(() => `iteration ${it}/${iterations}, KL ${kl.toFixed(3)}`),
          }
        : {}),
    });
    const tsneSec: TsneSection = {
      points: ts.embedding,
      labels: Int32Array.from(idx, (i) => qLabels[i]!),
      total: n,
      kl: ts.kl,
      perplexity: ts.perplexity,
      iterations: ts.iterations,
      seconds: ts.seconds,
      pcaExplained: ts.pcaExplained,
      normalized: true,
      seed,
    };
    lap('tsne');
    log(`t-SNE: ${ts.seconds.toFixed(1)} s, KL ${ts.kl.toFixed(3)}`);

    log(`retrieval examples: ${o.examples ?? 8} queries, their ${o.topK ?? 8} nearest neighbours and thumbnails`);
    const ex = retrievalExamples(q.features, qLabels, g ? g.features : null, gLabels, {
      count: o.examples ?? 8,
      misses: o.misses ?? 2,
      k: o.topK ?? 8,
      seed,
    });
    // Leave-one-out: queries and neighbours come from one source, read once.
    const queryIdx = ex.examples.map((e) => e.query);
    const neighbourIdx = ex.examples.flatMap((e) => e.neighbours.map((nb) => nb.index));
    const gImages = test.gallery
      ? await gatherImages(test.gallery, neighbourIdx)
      : await gatherImages(test.query, [...queryIdx, ...neighbourIdx]);
    const qImages = test.gallery ? await gatherImages(test.query, queryIdx) : gImages;
    const thumbOf = async (m: Map<number, RawImage>, i: number): Promise<string | undefined> => {
      const img = m.get(i);
      return img ? thumbnailDataUri(img) : undefined;
    };
    const rendered: RenderedExample[] = [];
    for (const e of ex.examples) {
      rendered.push({
        ...e,
        queryThumb: await thumbOf(qImages, e.query),
        neighbourThumbs: await Promise.all(e.neighbours.map((nb) => thumbOf(gImages, nb.index))),
      });
    }
    const retrieval: RetrievalSection = {
      k: ex.k,
      examples: rendered,
      top1: ex.top1,
      misses: ex.misses,
      queries: n,
      protocol: g ? 'query-gallery' : 'leave-one-out',
    };
    lap('retrieval');

    const out = o.out ?? path.join(o.runDir, 'report.html');
    const settings: Record<string, string | number | boolean> = {
      model: config.model.arch,
      loss: config.loss.name,
      epochs: config.epochs,
      'batch size': config.batchSize,
      lr: config.optim.lr,
      schedule: config.optim.schedule,
      seed: config.seed,
    };
    const html = buildReportHtml({
      title: `Training report — ${path.basename(path.resolve(o.runDir))}`,
      runDir: o.runDir,
      generatedAt: new Date().toISOString(),
      metrics,
      dataset: description,
      settings,
      checkpoint: { kind, file: checkpointFile, epoch },
      evaluation,
      mi,
      tsne: tsneSec,
      retrieval,
      classNames,
      logEvery: config.logEvery,
      timings: { ...timings },
      warnings,
    });
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    // Atomic (temp file, rename): a killed report leaves no half page, and an --out that names a
    // FIFO is replaced rather than blocking the write until some reader opens it.
    writeFileAtomicSync(out, [Buffer.from(html)]);
    lap('html');
    return { out, bytes: Buffer.byteLength(html), timings, warnings: [...metrics.warnings, ...warnings] };
  } finally {
    dispose(embedded);
    // Stops the datasets' loader threads too.
    await run.close();
  }
}
