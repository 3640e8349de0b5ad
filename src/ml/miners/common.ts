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
    const m = distance.matrix(embeddings.detach(), ref?.embeddings.detach());
    const d = Float64Array.from(m.dataNumbers());
    m.dispose();
    return d;
  });
  return { labels: y, refLabels, mat, n: y.length, m: refLabels.length, self: ref === undefined };
}
