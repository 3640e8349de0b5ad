// What every miner does first: validate, then read the detached distance matrix into JS.
import { type Tensor, noGrad } from '../../engine/index.js';
import type { Distance } from '../distances/index.js';
import { checkLabels, checkMatrix } from '../utils/validate.js';

export interface MinerInput {
  labels: number[];
  /** The labels of the columns: the reference set's, or the batch's own. */
  refLabels: number[];
  /** Row-major [n, m] distance (or similarity) matrix, without gradient. */
  mat: Float64Array;
  n: number;
  /** Columns: rows of the reference set, or n. */
  m: number;
  /** Columns are the batch itself, so column i is row i (a sample is never its own positive). */
  self: boolean;
}

/**
 * Half-precision embeddings are widened to float32 before the distance: selecting tuples needs
 * order, not speed, and in float16 a squared norm overflows past 255 (PML's multi-similarity miner
 * lost its pairs that way under autocast). Every comparison then runs in float64 in JS.
 */
export function widen(x: Tensor): Tensor {
  return x.dtype === 'float16' || x.dtype === 'bfloat16' ? x.to('float32') : x;
}

export function minerInput(
  where: string,
  distance: Distance,
  embeddings: Tensor,
  labels: Tensor,
  ref?: { embeddings: Tensor; labels: Tensor },
): MinerInput {
  checkMatrix(where, embeddings, 'embeddings');
  const y = checkLabels(where, labels, embeddings.shape[0]!);
  let refLabels = y;
  if (ref) {
    checkMatrix(where, ref.embeddings, 'ref.embeddings');
    refLabels = checkLabels(where, ref.labels, ref.embeddings.shape[0]!, 'ref.labels');
  }
  const mat = noGrad(() => {
    const x = widen(embeddings.detach());
    const r = ref ? widen(ref.embeddings.detach()) : undefined;
    const m = distance.matrix(x, r);
    const d = Float64Array.from(m.dataNumbers());
    m.dispose();
    if (x !== embeddings) x.dispose();
    r?.dispose();
    return d;
  });
  return { labels: y, refLabels, mat, n: y.length, m: refLabels.length, self: ref === undefined };
}

/** Sign that turns the matrix into "farther is larger": 1 for a distance, -1 for a similarity. */
export function farSign(distance: Distance): 1 | -1 {
  return distance.isSimilarity ? -1 : 1;
}
