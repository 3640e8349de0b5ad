// Manifold loss (Aziere & Todorovic, "Ensemble Deep Manifold Similarity Learning using Hard
// Proxies", CVPR 2019), as pytorch-metric-learning's ManifoldLoss.
import { type Tensor, cat, eye, normalize } from '../../engine/index.js';
import type { Batch } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { machineEpsilon, maskedLogSumExp } from './shared/math.js';
import { labelMask } from './shared/pairs.js';
import { indexTensor } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface ManifoldOptions extends ClassTableOptions {
  /** λ_C, the weight of the context loss (default 1; Infinity: the context loss alone). */
  lambdaC?: number;
  /** α ∈ (0, 1), how much similarity each node passes to its neighbours in the random walk (default 0.8). */
  alpha?: number;
  /** Default 5e-4. */
  margin?: number;
}

/**
 * The K = numClasses proxies and the batch form a graph with weights exp(2 [cos]₊) (no
 * self-loops), normalised S̄ = D^-½ S D^-½; the random walk's stationary similarity is
 * F = (1 - α)(I - α S̄)⁻¹. Sample i should be closer, by `margin`, to its own proxy p_{y_i} than
 * to every other proxy, in F (intrinsic) and in the cosine of F's rows (context):
 *   ℓ = mean_i log(1 + Σ_{k≠y_i, v_ik ≥ 0} exp(v_ik)),   v_ik = F_ik - F_{i,y_i} + margin
 *   L = ℓ_int + λ_C ℓ_ctx
 * Differences from pytorch-metric-learning, which takes no labels: the labels are the proxy of each
 * sample (its meta-class: pass pytorch-metric-learning's indices_tuple as labels; its random
 * assignment when none is given is not offered, as it ignores the classes); the inverse is a
 * product of matrix powers, Π_j (I + (αS̄)^(2^j)) = Σ_t (αS̄)^t, exact to the dtype's precision since
 * the spectral radius of αS̄ is at most α (no native inverse; pytorch-metric-learning inverts in
 * float32 even for float64 input); λ_C = Infinity gives the context loss alone (there: ∞ · ℓ_ctx).
 * Parameter: `proxies` [numClasses, embeddingSize].
 */
export class ManifoldLoss extends ClassTableLoss {
  readonly name = 'ManifoldLoss';
  readonly lambdaC: number;
  readonly alpha: number;
  readonly margin: number;
  constructor(o: ManifoldOptions) {
    super('ManifoldLoss', 'proxies', o);
    this.lambdaC = o.lambdaC ?? 1;
    if (!(this.lambdaC >= 0))
      throw new RangeError(`${this.name}: lambdaC must be a number in [0, Infinity], got ${this.lambdaC}`);
    this.alpha = o.alpha ?? 0.8;
    finiteNumber(this.name, 'alpha', this.alpha, { min: 0, max: 1, open: true });
    if (this.alpha >= 1) throw new RangeError(`${this.name}: alpha must be below 1 (the random walk diverges), got 1`);
    this.margin = o.margin ?? 5e-4;
    finiteNumber(this.name, 'margin', this.margin);
  }
  /** (I - a)⁻¹ for a matrix of spectral radius ≤ ρ < 1, by repeated squaring of the Neumann series. */
  private static neumannInverse(a: Tensor, rho: number): Tensor {
    const n = a.shape[0]!;
    const id = eye(n, n, { dtype: a.dtype, device: a.device });
    // Terms up to (a)^(2^J - 1): stop once ρ^(2^J) is below the dtype's precision.
    const eps = machineEpsilon(a.dtype);
    const squarings = Math.max(1, Math.ceil(Math.log2(Math.log(eps) / Math.log(rho))));
    let sum = id.add(a);
    let power = a;
    for (let j = 1; j < squarings; j++) {
      power = power.matmul(power);
      sum = sum.add(sum.matmul(power));
    }
    return sum;
  }
  /** log(1 + Σ_{k ≠ y_i, v_ik ≥ 0} exp(v_ik)) averaged over samples, v = m - m[i, y_i] + margin. */
  private hinge(m: Tensor, labels: readonly number[], device: string): Tensor {
    const own = m.gather(1, indexTensor(labels, device).unsqueeze(1));
    const v = m.sub(own).add(this.margin);
    const others = labelMask(labels, [...Array(this.numClasses).keys()], false, device);
    return maskedLogSumExp(v, others.logicalAnd(v.ge(0)), true).mean();
  }
  protected compute(b: Batch): Tensor {
    const n = b.labels.length,
      k = this.numClasses;
    const e = normalize(cat([b.x, this.table]));
    const id = eye(n + k, n + k, { dtype: e.dtype, device: b.device });
    const s = e.matmul(e.t()).clampMin(0).div(0.5).exp().mul(id.rsub(1));
    const dInv = s.sum(1).rsqrt();
    const sBar = s.mul(dInv.unsqueeze(1)).mul(dInv.unsqueeze(0));
    const f = ManifoldLoss.neumannInverse(sBar.mul(this.alpha), this.alpha).mul(1 - this.alpha);
    const fe = f.narrow(0, 0, n),
      fp = f.narrow(0, n, k);
    const ctx = this.hinge(normalize(fe).matmul(normalize(fp).t()), b.labels, b.device);
    if (this.lambdaC === Infinity) return ctx;
    const int = this.hinge(fe.narrow(1, n, k), b.labels, b.device);
    return int.add(ctx.mul(this.lambdaC));
  }
}

export const manifoldSpec = defineLoss({
  name: 'manifold',
  create: (o: ManifoldOptions) => new ManifoldLoss(o),
  classTable: true,
});
