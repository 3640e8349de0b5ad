// Hierarchical (super-label) batches, as pytorch-metric-learning's HierarchicalSampler (after
// Cakir et al.'s Deep-Metric-Learning-Baselines for SOP): every batch holds a few super-labels
// (SOP's 12 product categories), and within each a few classes of m samples, so negatives of the
// same category — the hard ones — are always present.
import { type BatchSampler, epochRng } from './base.js';
import type { Rng } from '../random.js';
import { positiveInteger } from '../utils/validate.js';

export interface HierarchicalSamplerOptions {
  /** The class of each sample. */
  labels: ArrayLike<number>;
  /** The super-label (e.g. SOP's super_class_id) of each sample. */
  superLabels: ArrayLike<number>;
  batchSize: number;
  /** Samples drawn per class, or 'all' of each class's samples. */
  samplesPerClass: number | 'all';
  /** Batches made for each combination of super-labels (default 4). */
  batchesPerSuperTuple?: number;
  /** Super-labels per batch (default 2); batchSize must be a multiple of it. */
  superClassesPerBatch?: number;
  seed?: number;
}

/** All k-element combinations of `items`, in lexicographic order of positions (itertools.combinations). */
function combinations<T>(items: readonly T[], k: number): T[][] {
  const out: T[][] = [];
  const pick = (start: number, acc: T[]): void => {
    if (acc.length === k) {
      out.push([...acc]);
      return;
    }
    for (let i = start; i < items.length; i++) pick(i + 1, [...acc, items[i]!]);
  };
  pick(0, []);
  return out;
}

/** size draws from `pool`: without replacement when it is large enough, else with (PML's safe_random_choice). */
export function safeRandomChoice(rng: Rng, pool: readonly number[], size: number): number[] {
  if (pool.length >= size) return rng.shuffle([...pool]).slice(0, size);
  return Array.from({ length: size }, () => pool[rng.int(0, pool.length)]!);
}

/**
 * An epoch: for every combination of superClassesPerBatch super-labels (ascending),
 * batchesPerSuperTuple batches; each batch gives every super-label of the combination
 * batchSize / superClassesPerBatch rows, filled by its classes in random order, m samples each,
 * skipping a class that would overflow the share. Rows are shuffled within each batch and the
 * batches shuffled. As in PML, a batch is short when a super-label has too few classes to fill its
 * share; with m = 'all' a class gives all its samples.
 */
export class HierarchicalSampler implements BatchSampler {
  readonly batchesPerEpoch: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly #tuples: number[][];
  readonly #classes: Map<number, Map<number, number[]>>;
  readonly #subBatch: number;
  readonly #m: number | 'all';
  readonly #per: number;
  constructor(o: HierarchicalSamplerOptions) {
    const where = 'HierarchicalSampler';
    const k = o.superClassesPerBatch ?? 2;
    this.#per = o.batchesPerSuperTuple ?? 4;
    positiveInteger(where, 'batchSize', o.batchSize);
    positiveInteger(where, 'superClassesPerBatch', k);
    positiveInteger(where, 'batchesPerSuperTuple', this.#per);
    if (o.batchSize % k !== 0)
      throw new RangeError(`${where}: batchSize ${o.batchSize} is not a multiple of superClassesPerBatch ${k}`);
    this.#subBatch = o.batchSize / k;
    this.#m = o.samplesPerClass;
    if (this.#m !== 'all') {
      positiveInteger(where, 'samplesPerClass', this.#m);
      if (this.#subBatch % this.#m !== 0)
        throw new RangeError(
          `${where}: each super-label's share of the batch (${this.#subBatch}) is not a multiple of ` +
            `samplesPerClass ${this.#m}`,
        );
    }
    if (o.labels.length !== o.superLabels.length)
      throw new RangeError(`${where}: ${o.labels.length} labels but ${o.superLabels.length} super-labels`);
    this.#classes = new Map();
    for (let i = 0; i < o.labels.length; i++) {
      const s = o.superLabels[i]!,
        c = o.labels[i]!;
      let byClass = this.#classes.get(s);
      if (!byClass) this.#classes.set(s, (byClass = new Map()));
      let rows = byClass.get(c);
      if (!rows) byClass.set(c, (rows = []));
      rows.push(i);
    }
    const supers = [...this.#classes.keys()].sort((a, b) => a - b);
    if (supers.length < k) throw new RangeError(`${where}: ${supers.length} super-labels, fewer than ${k} per batch`);
    this.#tuples = combinations(supers, k);
    this.batchSize = o.batchSize;
    this.seed = o.seed ?? 0;
    this.batchesPerEpoch = this.#tuples.length * this.#per;
  }
  epoch(epoch: number): number[][] {
    const rng = epochRng(this.seed, epoch);
    const batches: number[][] = [];
    for (const tuple of this.#tuples)
      for (let b = 0; b < this.#per; b++) {
        const batch: number[] = [];
        for (const s of tuple) {
          const byClass = this.#classes.get(s)!;
          const sub: number[] = [];
          for (const c of rng.shuffle([...byClass.keys()].sort((x, y) => x - y))) {
            if (sub.length >= this.#subBatch) break;
            const rows = byClass.get(c)!;
            const m = this.#m === 'all' ? rows.length : this.#m;
            if (sub.length + m > this.#subBatch) continue;
            sub.push(...safeRandomChoice(rng, rows, m));
          }
          batch.push(...sub);
        }
        batches.push(rng.shuffle(batch));
      }
    return rng.shuffle(batches);
  }
}
