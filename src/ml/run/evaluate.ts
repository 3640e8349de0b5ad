// Embedding a test split with a model, whole or one rank's shard of it: what the trainer's
// per-epoch evaluation and every Run share.
import { dispose, type Tensor, type distributed } from '../../engine/index.js';
import { shardRange } from '../data/range.js';
import type { Embedder } from '../models/factory.js';
import { embedWithLogits, type EmbedProgress } from './embed.js';
import { embedProgress } from './progress.js';
import type { EvalData, EvalSource } from './datasets/source.js';

export interface Embedded {
  features: Tensor;
  labels: Tensor;
}

/** The test split embedded: the queries, and the gallery (null: leave-one-out over the queries). */
export interface TestEmbeddings {
  query: Embedded;
  gallery: Embedded | null;
}

/** Images per forward pass of an evaluation's embedding, unless memory asks for fewer. */
export const EVAL_BATCH = 256;

export interface EmbedOptions {
  /** A job: this rank embeds its contiguous shard of each set. */
  group?: distributed.ProcessGroup | null;
  batchSize?: number;
  /** Progress on stderr under this label (nothing when absent). */
  progress?: (label: string) => EmbedProgress | undefined;
}

/** Features (and the classifier's logits when asked) of a set, or of this rank's shard of it. */
export async function embedSet(
  model: Embedder,
  source: EvalSource,
  label: string,
  o: EmbedOptions & { logits?: boolean } = {},
): Promise<Embedded & { logits?: Tensor }> {
  const g = o.group;
  const range = g ? shardRange(source.labels.length, g.rank, g.worldSize) : undefined;
  const e = await embedWithLogits(model, source, o.batchSize ?? EVAL_BATCH, range, o.progress?.(label));
  if (o.logits) return e;
  e.logits.dispose();
  return { features: e.features, labels: e.labels };
}

/** Both sets of the test split; the caller disposes them (dispose(e)). */
export async function embedTestSet(model: Embedder, test: EvalData, o: EmbedOptions = {}): Promise<TestEmbeddings> {
  const query = await embedSet(model, test.query, test.gallery ? 'embedding the queries' : 'embedding the test set', o);
  try {
    const gallery = test.gallery ? await embedSet(model, test.gallery, 'embedding the gallery', o) : null;
    return { query, gallery };
  } catch (e) {
    dispose(query);
    throw e;
  }
}

/** Progress lines on stderr, each label after `prefix` (dml report's 'report: '); undefined when quiet. */
export function stderrProgress(prefix = ''): (label: string) => EmbedProgress | undefined {
  return (label) => embedProgress(`${prefix}${label}`, false);
}

/** A warning when some K of Recall@K reaches past the candidates a query has (then R@K counts them all). */
export function recallKsWarning(ks: readonly number[], m: Readonly<Record<string, unknown>>): string | null {
  const gallery = typeof m.gallery === 'number' ? m.gallery : null;
  if (gallery === null) return null;
  const candidates = m.protocol === 'leave-one-out' ? gallery - 1 : gallery;
  const over = ks.filter((k) => k > candidates);
  return over.length > 0
    ? `warning: recallKs ${over.join(', ')} exceed the ${candidates} candidates of each query: R@K for those counts ` +
        `every candidate`
    : null;
}
