// The pairwise cross-entropy (PCE) of Boudiaf, Rony, Ziko et al., "A unifying mutual information
// view of metric learning: cross-entropy vs. pairwise losses" (ECCV 2020), Proposition 1.
import { type Tensor, full, noGrad } from '../../engine/index.js';
import { MetricLoss, type Batch, type LossSplit } from './shared/base.js';
import { oneHotFloat } from './shared/softmax.js';
import { distinct } from './shared/tuples.js';
import { checkClassRange, finiteNumber, positiveInteger } from './shared/validate.js';

export interface PairwiseCrossEntropyOptions {
  /**
   * λ > 0. 'bound' (default) uses λ = 1/(2n) Σ_i ‖z_i‖², a bound on the largest eigenvalue of
   * the Hessian of the CE's log-sum-exp term in the classifier weights, which makes the
   * inequality CE ≥ PCE hold (see below); it is a per-batch constant, with no gradient.
   */
  lambda?: number | 'bound';
  /**
   * K, the number of classes; labels must be in [0, K). Default: the classes present in the
   * batch (classes absent from it add exp(0) = 1 each to the log-sum-exp when K is given).
   */
  numClasses?: number;
  /**
   * The probabilities p_ik of the soft means c_k^s = 1/n Σ_i p_ik z_i:
   * - 'uniform' (default): p_ik = 1/K, the softmax of a zero classifier
   * - 'pairwise': p_ik = softmax_k of the PCE's own pairwise logits (1/(λn)) Σ_{j:y_j=k} z_iᵀz_j
   */
  softMean?: 'uniform' | 'pairwise';
}

/**
 * For features z_i (raw, not normalised) with labels y_i, n = batch size, K classes:
 *
 *   L_PCE = - 1/(2λn²) Σ_i Σ_{j: y_j = y_i} z_iᵀ z_j                                   (tightness)
 *           + 1/n Σ_i log Σ_{k=1}^K exp( 1/(λn) Σ_{j: y_j = k} z_iᵀ z_j )
 *           - 1/(2λ) Σ_k ‖c_k^s‖²                                                      (contrastive)
 *
 * (Σ_{j: y_j = y_i} includes j = i). The tightness term pulls same-class features together; the
 * contrastive term is a soft-max over classes of the summed similarities to each class, which
 * pushes a sample from the other classes. It is the cross-entropy of a linear classifier whose
 * weights are the class sums 1/(λn) Σ_{j: y_j = k} z_j, hence "pairwise cross-entropy".
 *
 * The bound. With c_k = 1/n Σ_{j: y_j = k} z_j, the CE of a bias-free linear classifier W has
 * gradient ∇_k CE = c_k^s - c_k, and its log-sum-exp part is λ-smooth for λ as in 'bound'. One
 * majorise-minimise (gradient) step W⁺ = W - ∇CE/λ gives CE(W) ≥ CE(W⁺) + ‖∇CE(W)‖²/(2λ), and
 * from W = 0 (p_ik = 1/K) the right-hand side is exactly L_PCE with uniform soft means: so
 * log K = CE(0) ≥ L_PCE. This reconstruction of the paper's Proposition 1 is what the tests
 * check; the authors did not release a PCE implementation.
 */
export class PairwiseCrossEntropyLoss extends MetricLoss {
  readonly name = 'PairwiseCrossEntropyLoss';
  readonly pairwise = true;
  protected override readonly usesTuples: boolean = false;
  readonly lambda: number | 'bound';
  readonly numClasses: number | undefined;
  readonly softMean: 'uniform' | 'pairwise';
  constructor(o: PairwiseCrossEntropyOptions = {}) {
    super();
    this.lambda = o.lambda ?? 'bound';
    if (this.lambda !== 'bound') finiteNumber(this.name, 'lambda', this.lambda, { min: 0, open: true });
    if (o.numClasses !== undefined) positiveInteger(this.name, 'numClasses', o.numClasses);
    this.numClasses = o.numClasses;
    this.softMean = o.softMean ?? 'uniform';
    if (this.softMean !== 'uniform' && this.softMean !== 'pairwise') throw new RangeError(`${this.name}: softMean must be 'uniform' | 'pairwise', got '${String(this.softMean)}'`);
  }
  protected override checkParameters(_x: Tensor, labels: readonly number[]): void {
    if (this.numClasses !== undefined) checkClassRange(this.name, labels, this.numClasses);
  }

  /** λ = 1/(2n) Σ_i ‖z_i‖² (1 when every z_i = 0, where λ does not matter). */
  static lambdaBound(z: Tensor): number {
    const v = noGrad(() => {
      const s = z.square().sum(1).mean();
      const r = s.item();
      s.dispose();
      return r;
    });
    return v > 0 ? v / 2 : 1;
  }

  private parts(b: Batch): LossSplit {
    const z = b.x, n = b.labels.length;
    let k: number, cls: number[];
    if (this.numClasses !== undefined) { k = this.numClasses; cls = [...b.labels]; } else {
      const d = distinct(b.labels);
      const pos = new Map(d.map((v, i) => [v, i]));
      k = d.length;
      cls = b.labels.map((y) => pos.get(y)!);
    }
    const lambda = this.lambda === 'bound' ? PairwiseCrossEntropyLoss.lambdaBound(z) : this.lambda;
    const y = oneHotFloat(cls, k, z); // [n, K]
    const g = z.matmul(z.t()); // [n, n]
    const same = y.matmul(y.t());
    const tightness = g.mul(same).sum().div(-2 * lambda * n * n);
    const pairLogits = g.matmul(y).div(lambda * n); // [n, K]
    const p = this.softMean === 'uniform' ? full([n, k], 1 / k, z.dtype, { device: z.device }) : pairLogits.softmax(1);
    const softMeans = p.t().matmul(z).div(n); // [K, d]
    const contrastive = pairLogits.logsumexp(1).mean().sub(softMeans.square().sum().div(2 * lambda));
    return { tightness, contrastive };
  }
  protected compute(b: Batch): Tensor {
    const { tightness, contrastive } = this.parts(b);
    return tightness.add(contrastive);
  }
  protected override computeSplit(b: Batch): LossSplit { return this.parts(b); }
}
