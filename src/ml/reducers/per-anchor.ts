// Per-anchor averaging (PML's PerAnchorReducer): each anchor's pairs are first averaged, then the
// per-anchor values go through another reducer, so an anchor with many pairs weighs as much as one
// with few. PML composes it with ThresholdReducer (e.g. PerAnchorReducer(ThresholdReducer(low=0))).
import { type Tensor, where, zeros, tensor } from '../../engine/index.js';
import { indexTensor } from '../utils/tuples.js';
import type { Reducer, ReducerLike, Reduction } from './base.js';
import { makeReducer } from './reducers.js';

/** From each anchor's sum of terms and count of terms, its value (default: sum / count, 0 without terms). */
export type AnchorAggregation = (sums: Tensor, counts: Tensor) => Tensor;

export const meanPerAnchor: AnchorAggregation = (sums, counts) => where(counts.gt(0), sums.div(counts.clampMin(1)), 0);

export interface PerAnchorReducerOptions {
  /** What reduces the per-anchor values (default 'mean'). */
  reducer?: ReducerLike;
  aggregation?: AnchorAggregation;
}

/**
 * Pairs: row a of the batch gets the terms whose anchor is a, aggregated (default: their mean);
 * then `reducer` reduces the n per-row values (rows without a pair give 0 and count, as in PML).
 * As in PML a repeated (anchor, other) pair counts once (its last term); per-sample terms go to
 * `reducer` directly. Triplets, which PML refuses, are grouped by anchor the same way.
 */
export class PerAnchorReducer implements Reducer {
  readonly name: string = 'perAnchor';
  readonly reducer: Reducer;
  readonly aggregation: AnchorAggregation;
  constructor(o: PerAnchorReducerOptions = {}) {
    this.reducer = makeReducer('PerAnchorReducer', o.reducer ?? 'mean');
    this.aggregation = o.aggregation ?? meanPerAnchor;
  }
  reduce(r: Reduction): Tensor {
    if (r.kind === 'element') return this.reducer.reduce(r);
    const n = r.embeddings.shape[0]!;
    const anchors = r.indices[0]!;
    let keep: number[];
    if (r.kind === 'triplet') keep = anchors.map((_, k) => k);
    else {
      // The last term of each (anchor, other) cell, as PML's scatter into an [n, n] matrix keeps.
      // Others may index a reference set larger than the batch (a cross-batch memory): key the cells
      // by the wider of the two.
      const others = r.indices[1]!;
      let cols = n;
      for (const o of others) if (o >= cols) cols = o + 1;
      const last = new Map<number, number>();
      anchors.forEach((a, k) => last.set(a * cols + others[k]!, k));
      keep = [...last.values()].sort((x, y) => x - y);
    }
    const counts = new Float64Array(n);
    for (const k of keep) counts[anchors[k]!]!++;
    const dev = r.losses.device,
      dtype = r.losses.dtype;
    const kept = keep.length === anchors.length ? r.losses : r.losses.index([indexTensor(keep, dev)]);
    const sums = zeros([n], { dtype, device: dev }).indexAdd(
      0,
      indexTensor(
        keep.map((k) => anchors[k]!),
        dev,
      ),
      kept,
    );
    const perRow = this.aggregation(sums, tensor(counts, { dtype, device: dev }));
    return this.reducer.reduce({
      ...r,
      losses: perRow,
      kind: 'element',
      indices: [Array.from({ length: n }, (_, i) => i)],
    });
  }
}
