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

export function minerInput(where: string, distance: Distance, embeddings: Tensor, labels: Tensor): MinerInput {
  checkMatrix(where, embeddings, 'embeddings');
  const y = checkLabels(where, labels, embeddings.shape[0]!);
  const mat = noGrad(() => {
    const m = distance.matrix(embeddings.detach());
    const d = Float64Array.from(m.dataNumbers());
    m.dispose();
    return d;
  });
  return { labels: y, mat, n: y.length };
}
