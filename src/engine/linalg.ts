// torch.linalg's symmetric eigenproblem and singular value decomposition. All take batches of
// matrices ([..., m, n]) and are differentiable (libtorch's own backward formulas).
import { native, type Handle } from './native.js';
import { Tensor } from './tensor.js';

const wrap = (x: Handle): Tensor => new Tensor(x);

/** Which triangle of the (assumed symmetric) input is read: 'L' lower (default), 'U' upper. */
export type Uplo = 'L' | 'U';

function checkUplo(fn: string, uplo: string): void {
  if (uplo !== 'L' && uplo !== 'U') throw new RangeError(`linalg.${fn}: uplo must be 'L' or 'U', got '${uplo}'`);
}

/** torch.linalg.eigh: eigenvalues in ascending order and the eigenvectors as the columns of `vectors`. */
export function eigh(a: Tensor, uplo: Uplo = 'L'): { values: Tensor; vectors: Tensor } {
  checkUplo('eigh', uplo);
  const [values, vectors] = native.eigh(a.handle, uplo);
  return { values: wrap(values), vectors: wrap(vectors) };
}

/** torch.linalg.eigvalsh: the eigenvalues of a symmetric matrix, ascending. */
export function eigvalsh(a: Tensor, uplo: Uplo = 'L'): Tensor {
  checkUplo('eigvalsh', uplo);
  return wrap(native.eigvalsh(a.handle, uplo));
}

/**
 * torch.linalg.svd: a = u · diag(s) · vh with s descending. fullMatrices (default true, as PyTorch)
 * gives square u and vh; false gives the reduced [m, k] and [k, n] factors, k = min(m, n).
 */
export function svd(a: Tensor, o: { fullMatrices?: boolean } = {}): { u: Tensor; s: Tensor; vh: Tensor } {
  const [u, s, vh] = native.svd(a.handle, o.fullMatrices ?? true);
  return { u: wrap(u), s: wrap(s), vh: wrap(vh) };
}

/** torch.linalg.svdvals: the singular values, descending. */
export function svdvals(a: Tensor): Tensor {
  return wrap(native.svdvals(a.handle));
}
