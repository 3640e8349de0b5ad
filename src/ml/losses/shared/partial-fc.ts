// PartialFC (An et al., "Partial FC: training 10 million identities on a single machine", ICCVW
// 2021; insightface's PartialFC_V2): a softmax head over very many classes computes, each step,
// the logits of the batch's own classes plus a random share of the others, and across processes
// each rank holds only its slice of the class table. These are the pieces; SoftmaxTableLoss puts
// them together.
import { type Tensor, cat, noGrad, where, zeros, type distributed } from '../../../engine/index.js';
import type { Rng } from '../../random.js';
import { indexTensor } from '../../utils/tuples.js';

/**
 * The classes one step uses among [start, end): every class of the batch in that range, plus
 * max(1, floor(rate · (end - start))) minus that many others drawn uniformly without replacement
 * (none when the batch's classes are already as many). Ascending class ids. rate 1 gives every
 * class.
 */
export function sampleClasses(labels: readonly number[], start: number, end: number, rate: number, rng: Rng): number[] {
  const present = new Set<number>();
  for (const y of labels) if (y >= start && y < end) present.add(y);
  const out = [...present];
  // At least one class per range, so no process has an empty slice of the logits.
  const extra = Math.max(1, Math.floor(rate * (end - start))) - present.size;
  if (extra > 0) {
    const absent: number[] = [];
    for (let c = start; c < end; c++) if (!present.has(c)) absent.push(c);
    // A partial Fisher–Yates shuffle: the first `extra` places are a uniform sample.
    for (let i = 0; i < extra; i++) {
      const j = rng.int(i, absent.length);
      const t = absent[i]!;
      absent[i] = absent[j]!;
      absent[j] = t;
      out.push(absent[i]!);
    }
  }
  return out.sort((a, b) => a - b);
}

/** For each label, its position among the (ascending) sampled classes, or -1 when absent. */
export function targetColumns(labels: readonly number[], classes: readonly number[]): number[] {
  const pos = new Map(classes.map((c, i) => [c, i]));
  return labels.map((y) => pos.get(y) ?? -1);
}

/**
 * Every rank's rows, in rank order, differentiably: each rank places its rows in a zero matrix of
 * the global batch's size and the matrices are summed across ranks, so the backward pass sums each
 * row's gradient over ranks and hands it to the rank that owns the row (PartialFC's AllGather).
 * Every rank must call backward.
 */
export function gatherRowsWithGradient(group: distributed.ProcessGroup, x: Tensor): Tensor {
  const sizes = group.allReduceNumbers(
    Array.from({ length: group.worldSize }, (_, r) => (r === group.rank ? x.shape[0]! : 0)),
  );
  const before = sizes.slice(0, group.rank).reduce((a, b) => a + b, 0);
  const after = sizes.slice(group.rank + 1).reduce((a, b) => a + b, 0);
  const pad = (n: number): Tensor => zeros([n, ...x.shape.slice(1)], { dtype: x.dtype, device: x.device });
  return group.allReduceAutograd(cat([pad(before), x, pad(after)]));
}

/** A copy of t summed over ranks, without gradient. */
function summed(group: distributed.ProcessGroup, t: Tensor, op: 'sum' | 'max' = 'sum'): Tensor {
  return noGrad(() => {
    const c = t.detach().clone();
    group.allReduce(c, op);
    return c;
  });
}

/**
 * Per-sample cross-entropy [B] of logits whose columns are split across ranks: this rank holds
 * [B, S_r], `targets` gives each row's target column here (-1: the target is on another rank).
 * Every rank gets the same values: log Σ_r Σ_j exp(z) (shifted by the global row maximum) minus
 * the target logit. The other ranks' sums and target logits enter as constants, so backward gives
 * this rank's logits their true partial derivatives and needs no collective.
 */
export function shardedCrossEntropy(
  group: distributed.ProcessGroup,
  logits: Tensor,
  targets: readonly number[],
): Tensor {
  const rowMax = summed(group, logits.amax(1), 'max');
  const local = logits.sub(rowMax.unsqueeze(1)).exp().sum(1);
  const lse = local.add(summed(group, local).sub(local.detach())).log().add(rowMax);
  const has = indexTensor(
    targets.map((t) => (t >= 0 ? 1 : 0)),
    logits.device,
  ).bool();
  const cols = indexTensor(
    targets.map((t) => Math.max(t, 0)),
    logits.device,
  ).unsqueeze(1);
  const mine = where(has, logits.gather(1, cols).squeeze(1), 0);
  const target = mine.add(summed(group, mine).sub(mine.detach()));
  return lse.sub(target);
}
