// What every miner does first: validate, then read the detached distance matrix into JS.
import { type Tensor, noGrad } from '../../engine/index.js';
import type { Distance } from '../distances/index.js';
import { checkLabels, checkMatrix } from '../utils/validate.js';

export interface MinerInput {
  labels: number[];
  /** Row-major [n, n] distance (or similarity) matrix, without gradient. */
  mat: Float64Array;
  n: number;
}

/**
 * Half-precision embeddings are widened to float32 before the distance: selecting tuples needs
 * order, not speed, and in float16 a squared norm overflows past 255 (PML's multi-similarity miner
 * lost its pairs that way under autocast). Every comparison then runs in float64 in JS.
 */
export function widen(x: Tensor): Tensor {
  return x.dtype === 'float16' || x.dtype === 'bfloat16' ? x.to('float32') : x;
}

export function minerInput(where: string, distance: Distance, embeddings: Tensor, labels: Tensor): MinerInput {
  checkMatrix(where, embeddings, 'embeddings');
  const y = checkLabels(where, labels, embeddings.shape[0]!);
  const mat = noGrad(() => {
    const x = widen(embeddings.detach());
    const m = distance.matrix(x);
    const d = Float64Array.from(m.dataNumbers());
    m.dispose();
    if (x !== embeddings) x.dispose();
    return d;
  });
  return { labels: y, mat, n: y.length };
}

/** Sign that turns the matrix into "farther is larger": 1 for a distance, -1 for a similarity. */
export function farSign(distance: Distance): 1 | -1 {
  return distance.isSimilarity ? -1 : 1;
}
