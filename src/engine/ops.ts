// Free functions over several tensors (torch.cat, torch.where, ...).
import { native, type Handle } from './native.js';
import { Tensor, type Scalar, type TensorOrScalar } from './tensor.js';

const wrap = (x: Handle): Tensor => new Tensor(x);
const hs = (ts: readonly Tensor[]): Handle[] => ts.map((t) => t.handle);
const h = (x: TensorOrScalar): Handle | Scalar => (x instanceof Tensor ? x.handle : x);

export const cat = (tensors: readonly Tensor[], dim = 0): Tensor => wrap(native.cat(hs(tensors), dim));
export const stack = (tensors: readonly Tensor[], dim = 0): Tensor => wrap(native.stack(hs(tensors), dim));
/** Elements of x where cond is true, else of y; x or y may be numbers. */
export const where = (cond: Tensor, x: TensorOrScalar, y: TensorOrScalar): Tensor =>
  wrap(native.where(cond.handle, h(x), h(y)));
export const matmul = (a: Tensor, b: Tensor): Tensor => a.matmul(b);
export const maximum = (a: Tensor, b: TensorOrScalar): Tensor => a.maximum(b);
export const minimum = (a: Tensor, b: TensorOrScalar): Tensor => a.minimum(b);
/** Pairwise p-norm distances between the rows of a [.., P, M] and b [.., R, M]. */
export const cdist = (a: Tensor, b: Tensor, p = 2): Tensor => wrap(native.cdist(a.handle, b.handle, p));
export const einsum = (equation: string, ...operands: Tensor[]): Tensor => wrap(native.einsum(equation, hs(operands)));
/** beta * input + alpha * (a @ b) */
export const addmm = (input: Tensor, a: Tensor, b: Tensor, beta = 1, alpha = 1): Tensor =>
  wrap(native.addmm(input.handle, a.handle, b.handle, beta, alpha));
/** base ** exponent for a scalar base. */
export const powScalar = (base: number, exponent: Tensor): Tensor => wrap(native.powScalarBase(base, exponent.handle));

/** F.normalize: x / max(||x||_p, eps) along dim. */
export function normalize(x: Tensor, p = 2, dim = 1, eps = 1e-12): Tensor {
  const n = x.norm(p, dim, true);
  const c = n.clampMin(eps);
  const e = c.expandAs(x);
  const out = x.div(e);
  n.dispose();
  c.dispose();
  e.dispose();
  return out;
}
/** Integer labels → one-hot rows (int64), as F.one_hot. */
export const oneHot = (labels: Tensor, numClasses = -1): Tensor => labels.oneHot(numClasses);
