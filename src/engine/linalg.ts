// torch.linalg's symmetric eigenproblem and singular value decomposition. All take batches of
// matrices ([..., m, n]) and are differentiable (libtorch's own backward formulas).
import { native, type Handle } from './native.js';
import { Tensor } from './tensor.js';

const N = native as unknown as Record<string, (...a: unknown[]) => unknown>;
const list = (name: string, ...args: unknown[]): Tensor[] => (N[name]!(...args) as Handle[]).map((x) => new Tensor(x));

/** Which triangle of the (assumed symmetric) input is read: 'L' lower (default), 'U' upper. */
export type Uplo = 'L' | 'U';

function checkUplo(fn: string, uplo: string): void {
  if (uplo !== 'L' && uplo !== 'U') throw new RangeError(`linalg.${fn}: uplo must be 'L' or 'U', got '${uplo}'`);
}

/** torch.linalg.eigh: eigenvalues in ascending order and the eigenvectors as the columns of `vectors`. */
export function eigh(a: Tensor, uplo: Uplo = 'L'): { values: Tensor; vectors: Tensor } {
  checkUplo('eigh', uplo);
  const [values, vectors] = list('eigh', a.handle, uplo);
  return { values: values!, vectors: vectors! };
}

/** torch.linalg.eigvalsh: the eigenvalues of a symmetric matrix, ascending. */
export function eigvalsh(a: Tensor, uplo: Uplo = 'L'): Tensor {
  checkUplo('eigvalsh', uplo);
  return new Tensor(N.eigvalsh!(a.handle, uplo) as Handle);
}

/**
 * torch.linalg.svd: a = u · diag(s) · vh with s descending. fullMatrices (default true, as PyTorch)
 * gives square u and vh; false gives the reduced [m, k] and [k, n] factors, k = min(m, n).
 */
export function svd(a: Tensor, o: { fullMatrices?: boolean } = {}): { u: Tensor; s: Tensor; vh: Tensor } {
  const [u, s, vh] = list('svd', a.handle, o.fullMatrices ?? true);
  return { u: u!, s: s!, vh: vh! };
}

/** torch.linalg.svdvals: the singular values, descending. */
export function svdvals(a: Tensor): Tensor {
  return new Tensor(N.svdvals!(a.handle) as Handle);
}
