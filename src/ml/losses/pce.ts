// The pairwise cross-entropy (PCE) of Boudiaf, Rony, Ziko et al., "A unifying mutual information
// view of metric learning: cross-entropy vs. pairwise losses" (ECCV 2020), Proposition 1.
//
// The paper's body is not in any copy available to this project (only its abstract). The form
// below is the one for which the identity PCE(p) = CE(c^s/λ) − Σ_k ‖c_k − c_k^s‖²/(2λ) holds for
// every p (checked in float64 by test/ml/losses/pce-bound.test.ts), i.e. one majorise-minimise step
// of CE in the classifier weights; the authors did not release a PCE implementation.
import { type Tensor, full, linalg, nn, noGrad, tidy } from '../../engine/index.js';
import { MetricLoss, type EmbeddingRegularizerOptions, type Batch, type LossSplit } from './shared/base.js';
import { oneHotFloat } from './shared/softmax.js';
import { distinct } from '../utils/tuples.js';
import { checkClassRange, finiteNumber, positiveInteger } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

/** How λ is chosen: a number, or a per-batch bound on the CE's curvature (no gradient through it). */
export type PceLambda = number | 'eigen' | 'trace';
export type PceSoftMean = 'uniform' | 'pairwise' | 'head';

/** A linear classifier (nn.Linear fits): logits = z Wᵀ + b. */
export interface PceHead {
  readonly weight: Tensor;
  readonly bias?: Tensor | null;
}

export interface PairwiseCrossEntropyOptions extends EmbeddingRegularizerOptions {
  /**
   * λ > 0, or a per-batch bound that makes the log-sum-exp of the CE λ-smooth in the classifier
   * weights (so CE ≥ PCE at the self-consistent p, see the class comment):
   * - 'eigen' (default): λ = λ_max(ZᵀZ)/(2n), the largest eigenvalue of the features' Gram matrix
   *   (the Hessian is ≤ ½ ZᵀZ/n ⊗ I since diag(p) − ppᵀ ≤ ½ I)
   * - 'trace': λ = Σ_i ‖z_i‖²/(2n) = tr(ZᵀZ)/(2n) ≥ 'eigen', looser and cheaper
   */
  lambda?: PceLambda;
  /**
   * K, the number of classes; labels must be in [0, K). Default: the classes present in the
   * batch (the head's class count with softMean 'head').
   */
  numClasses?: number;
  /**
   * The probabilities p_ik of the soft means c_k^s = 1/n Σ_i p_ik z_i:
   * - 'uniform' (default): p_ik = 1/K, the softmax of a zero classifier (the zero-initialised
   *   classifier of the paper's recipe at step 0)
   * - 'pairwise': p_ik = softmax_k of the hard-mean logits z_iᵀc_k/λ = (1/(λn)) Σ_{j:y_j=k} z_iᵀz_j
   *   (the classifier reached by one majorise-minimise step; differentiable)
   * - 'head': the detached softmax of the classifier `head` (a trained CE head), to compare CE and
   *   PCE during training
   */
  softMean?: PceSoftMean;
  /** The classifier whose softmax gives p with softMean 'head'. */
  head?: PceHead;
}

/** PCE's value and parts for one batch (tensors; differentiable in z unless p or λ is not). */
export interface PceParts extends LossSplit {
  /** The λ used (a number: per-batch bounds carry no gradient). */
  lambda: number;
}

/** λ = Σ_i ‖z_i‖²/(2n) (1 when every z_i = 0, where λ does not matter). */
export function pceLambdaTrace(z: Tensor): number {
  const v = noGrad(() => tidy(() => z.square().sum(1).mean().item()));
  return v > 0 ? v / 2 : 1;
}

/** λ = λ_max(ZᵀZ)/(2n), from the smaller of the n×n and d×d Gram matrices (same non-zero spectrum). */
export function pceLambdaEigen(z: Tensor): number {
  const [n, d] = z.shape as [number, number];
  const v = noGrad(() =>
    tidy(() => {
      const zz = z.detach().double();
      const gram = n <= d ? zz.matmul(zz.t()) : zz.t().matmul(zz);
      return linalg.eigvalsh(gram).max().item();
    }),
  );
  return v > 0 ? v / (2 * n) : 1;
}

export function pceLambda(z: Tensor, lambda: PceLambda): number {
  return lambda === 'eigen' ? pceLambdaEigen(z) : lambda === 'trace' ? pceLambdaTrace(z) : lambda;
}

/**
 * The functional twin: PCE of features z [n, d] with class indices cls (in [0, k)) and soft-mean
 * probabilities p [n, k] (or 'uniform' / 'pairwise').
 */
export function pairwiseCrossEntropy(
  z: Tensor,
  cls: readonly number[],
  k: number,
  p: Tensor | 'uniform' | 'pairwise',
  lambda: number,
): PceParts {
  const n = cls.length;
  const y = oneHotFloat(cls, k, z); // [n, K]
  const g = z.matmul(z.t()); // [n, n]
  const tightness = g
    .mul(y.matmul(y.t()))
    .sum()
    .div(-2 * lambda * n * n);
  const probs =
    p === 'uniform'
      ? full([n, k], 1 / k, z.dtype, { device: z.device })
      : p === 'pairwise'
        ? g
            .matmul(y)
            .div(lambda * n)
            .softmax(1)
        : p;
  // In Gram form, so nothing of size K × d is built (K is 11,318 for SOP): with c_k^s = 1/n Σ_i p_ik z_i,
  // z_iᵀc_k^s = (G p)_ik / n and Σ_k ‖c_k^s‖² = Σ_ik p_ik (G p)_ik / n².
  const gp = g.matmul(probs); // [n, K]
  const logits = gp.div(lambda * n); // (1/(λn)) Σ_j p_jk z_iᵀz_j
  const contrastive = logits
    .logsumexp(1)
    .mean()
    .sub(
      probs
        .mul(gp)
        .sum()
        .div(2 * lambda * n * n),
    );
  return { tightness, contrastive, lambda };
}

/**
 * For features z_i (raw, not normalised) with labels y_i, n = batch size, K classes, soft means
 * c_k^s = 1/n Σ_i p_ik z_i:
 *
 *   L_PCE = - 1/(2λn²) Σ_i Σ_{j: y_j = y_i} z_iᵀ z_j                                   (tightness)
 *           + 1/n Σ_i log Σ_{k=1}^K exp( 1/(λn) Σ_j p_jk z_iᵀ z_j )
 *           - 1/(2λ) Σ_k ‖c_k^s‖²                                                      (contrastive)
 *
 * (Σ_{j: y_j = y_i} includes j = i). The tightness term pulls same-class features together; the
 * contrastive term pushes each sample from the soft class means.
 *
 * The bound. With hard means c_k = 1/n Σ_{j: y_j = k} z_j, the CE of a bias-free classifier θ has
 * gradient ∇_k CE = c_k^s − c_k (p the softmax at θ) and its log-sum-exp part is λ-smooth for
 * λ ≥ 'eigen'. Expanding CE at θ′ = c^s/λ and minimising the quadratic majoriser gives θ⁺ = c/λ and
 *   L_PCE = CE(c^s/λ) − Σ_k ‖c_k − c_k^s‖²/(2λ)      (an identity, for any p)
 * so CE(c/λ) ≤ L_PCE ≤ CE(c^s/λ) when p is the softmax at θ′ itself (self-consistent).
 */
export class PairwiseCrossEntropyLoss extends MetricLoss {
  readonly name = 'PairwiseCrossEntropyLoss';
  readonly pairwise = true;
  override readonly usesTuples: boolean = false;
  readonly lambda: PceLambda;
  readonly numClasses: number | undefined;
  readonly softMean: PceSoftMean;
  readonly head: PceHead | undefined;
  constructor(o: PairwiseCrossEntropyOptions = {}) {
    super(o);
    const lambda = o.lambda ?? 'eigen';
    if ((lambda as unknown) === 'bound')
      throw new RangeError(`${this.name}: lambda 'bound' is now called 'trace' (or use the tighter default 'eigen')`);
    if (lambda !== 'eigen' && lambda !== 'trace') {
      if (typeof lambda !== 'number')
        throw new RangeError(
          `${this.name}: lambda must be a number, 'eigen' or 'trace', got ${JSON.stringify(lambda)}`,
        );
      finiteNumber(this.name, 'lambda', lambda, { min: 0, open: true });
    }
    this.lambda = lambda;
    if (o.numClasses !== undefined) positiveInteger(this.name, 'numClasses', o.numClasses);
    this.softMean = o.softMean ?? 'uniform';
    if (!['uniform', 'pairwise', 'head'].includes(this.softMean))
      throw new RangeError(
        `${this.name}: softMean must be 'uniform' | 'pairwise' | 'head', got '${String(this.softMean)}'`,
      );
    if (this.softMean === 'head') {
      if (!o.head)
        throw new RangeError(`${this.name}: softMean 'head' needs the classifier as option head ({ weight, bias })`);
      const k = o.head.weight.shape[0]!;
      if (o.numClasses !== undefined && o.numClasses !== k)
        throw new RangeError(`${this.name}: numClasses ${o.numClasses} differs from the head's ${k} classes`);
      this.numClasses = k;
      this.head = o.head;
    } else {
      if (o.head !== undefined) throw new RangeError(`${this.name}: option head is used only with softMean 'head'`);
      this.numClasses = o.numClasses;
      this.head = undefined;
    }
  }
  protected override checkParameters(_x: Tensor, labels: readonly number[]): void {
    if (this.numClasses !== undefined) checkClassRange(this.name, labels, this.numClasses);
  }

  /** λ = Σ_i ‖z_i‖²/(2n). */
  static lambdaTrace(z: Tensor): number {
    return pceLambdaTrace(z);
  }
  /** λ = λ_max(ZᵀZ)/(2n). */
  static lambdaEigen(z: Tensor): number {
    return pceLambdaEigen(z);
  }

  private parts(b: Batch): PceParts {
    const z = b.x;
    let k: number, cls: readonly number[];
    if (this.numClasses !== undefined) {
      k = this.numClasses;
      cls = b.labels;
    } else {
      const d = distinct(b.labels);
      const pos = new Map(d.map((v, i) => [v, i]));
      k = d.length;
      cls = b.labels.map((y) => pos.get(y)!);
    }
    const lambda = pceLambda(z, this.lambda);
    let p: Tensor | 'uniform' | 'pairwise';
    if (this.softMean === 'head') {
      const head = this.head!;
      if (head.weight.shape[1] !== z.shape[1])
        throw new RangeError(
          `${this.name}: the head takes ${head.weight.shape[1]}-d features, the embeddings are ${z.shape[1]}-d`,
        );
      p = noGrad(() => nn.functional.linear(z, head.weight, head.bias ?? null).softmax(1));
    } else {
      p = this.softMean;
    }
    return pairwiseCrossEntropy(z, cls, k, p, lambda);
  }
  protected compute(b: Batch): Tensor {
    const { tightness, contrastive } = this.parts(b);
    return tightness.add(contrastive);
  }
  protected override computeSplit(b: Batch): LossSplit {
    const { tightness, contrastive } = this.parts(b);
    return { tightness, contrastive };
  }
}

export const pceSpec = defineLoss({
  name: 'pce',
  create: (o: PairwiseCrossEntropyOptions) => new PairwiseCrossEntropyLoss(o),
  note: "the paper's pairwise cross-entropy",
});
