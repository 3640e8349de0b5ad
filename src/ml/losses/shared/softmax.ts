// Pieces shared by the softmax-classifier losses (CE, smoothed CE, NormSoftmax, CosFace, ArcFace,
// ProxyNCA): per-sample cross-entropy and its split into the paper's two parts.
//
// Boudiaf et al. write the CE of sample i with logits s_ik as
//   -s_{i,y_i}  +  log Σ_k exp(s_ik)
//   (tightness)    (contrastive)
// the first pulls the feature toward its class weight, the second pushes it from all of them.
import { type Tensor, tensor } from '../../../engine/index.js';
import { indexTensor } from '../../utils/tuples.js';
import { reduce, type Reducer, type ReducerLike } from '../../reducers/index.js';
import type { LossSplit } from './base.js';

/** The true-class logit s_{i,y_i} of each row: [n]. */
export function targetLogits(logits: Tensor, labels: readonly number[]): Tensor {
  const idx = indexTensor(labels, logits.device).unsqueeze(1);
  return logits.gather(1, idx).squeeze(1);
}

/** Per-sample CE terms: tightness -s_{i,y_i} and contrastive log Σ_k exp s_ik, each [n]. */
export function ceParts(logits: Tensor, labels: readonly number[]): { tightness: Tensor; contrastive: Tensor } {
  return { tightness: targetLogits(logits, labels).neg(), contrastive: logits.logsumexp(1) };
}

/** Per-sample cross-entropy [n] = log Σ_k exp s_ik - s_{i,y_i}. */
export function perSampleCrossEntropy(logits: Tensor, labels: readonly number[]): Tensor {
  const { tightness, contrastive } = ceParts(logits, labels);
  return contrastive.add(tightness);
}

/** Reduced CE split: both parts go through the same (linear) reducer, so they add up to the loss. */
export function ceSplit(logits: Tensor, labels: readonly number[], reducer: ReducerLike): LossSplit {
  checkSplitReduction(reducer);
  const { tightness, contrastive } = ceParts(logits, labels);
  return { tightness: reduce(tightness, reducer, logits), contrastive: reduce(contrastive, reducer, logits) };
}

/** split()'s parts must add up to the loss, so it takes the named reductions, which are linear in the terms. */
export function checkSplitReduction(reducer: ReducerLike): void {
  if (typeof reducer !== 'string')
    throw new RangeError(`split() needs reduction 'mean', 'sum' or 'none', not a ${reducer.name} reducer object`);
}

/** A [n, C] float matrix with 1 at (i, targets[i]) (no 1 in a row whose target is -1). */
export function targetMask(targets: readonly number[], like: Tensor): Tensor {
  const c = like.shape[1]!;
  const m = new Float64Array(targets.length * c);
  targets.forEach((t, i) => {
    if (t >= 0) m[i * c + t] = 1;
  });
  return tensor(m, { shape: [targets.length, c], dtype: like.dtype, device: like.device });
}

/** A one-hot [n, C] float matrix of the labels. */
export function oneHotFloat(labels: readonly number[], numClasses: number, like: Tensor): Tensor {
  const m = new Float64Array(labels.length * numClasses);
  labels.forEach((y, i) => {
    m[i * numClasses + y] = 1;
  });
  return tensor(m, { shape: [labels.length, numClasses], dtype: like.dtype, device: like.device });
}

/** Per-sample losses: reduced by name, or by a Reducer object (e.g. a ClassWeightedReducer). */
export type ClassifierReducer = 'mean' | 'sum' | 'none' | Reducer;
export function checkClassifierReducer(where: string, r: ClassifierReducer): ClassifierReducer {
  if (typeof r === 'object' && r !== null && typeof r.reduce === 'function') return r;
  if (r !== 'mean' && r !== 'sum' && r !== 'none')
    throw new RangeError(`${where}: reduction must be 'mean' | 'sum' | 'none' or a Reducer object, got '${String(r)}'`);
  return r;
}
