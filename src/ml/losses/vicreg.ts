// VICReg (Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
// Self-Supervised Learning", ICLR 2022), as pytorch-metric-learning's VICRegLoss. It takes two views
// of the same inputs and no labels, so it is not in the registry of losses the trainer builds from
// a name (the trainer has no two-view pipeline); call it directly.
import { type Tensor, eye, nn, tidy } from '../../engine/index.js';
import { checkMatrix, finiteNumber, LossInputError } from '../utils/validate.js';

export interface VICRegOptions {
  /** λ, the weight of the invariance term (default 25). */
  invarianceLambda?: number;
  /** μ, the weight of the variance terms (default 25). */
  varianceMu?: number;
  /** ν, the weight of the covariance terms (default 1). */
  covarianceV?: number;
  /** ε inside the standard deviation's square root (default 1e-4). */
  eps?: number;
}

/**
 * For two views Z, Z' [n, d] of the same n inputs:
 *   L = λ mean((Z - Z')²) + μ (v(Z) + v(Z')) + ν (c(Z) + c(Z'))
 *   v(Z) = mean_j relu(1 - √(Var(Z_j) + ε)) / 2     (each dimension keeps a spread: no collapse)
 *   c(Z) = Σ_{j≠k} Cov(Z)_jk² / d                   (dimensions decorrelated)
 * with unbiased variances and covariances over the n rows (so n ≥ 2). The /2 in v averages the
 * two views' terms, as pytorch-metric-learning writes it.
 */
export class VICRegLoss extends nn.Module<[embeddings: Tensor, refEmbeddings: Tensor], Tensor> {
  readonly name = 'VICRegLoss';
  readonly invarianceLambda: number;
  readonly varianceMu: number;
  readonly covarianceV: number;
  readonly eps: number;
  constructor(o: VICRegOptions = {}) {
    super();
    this.invarianceLambda = o.invarianceLambda ?? 25;
    this.varianceMu = o.varianceMu ?? 25;
    this.covarianceV = o.covarianceV ?? 1;
    this.eps = o.eps ?? 1e-4;
    finiteNumber(this.name, 'invarianceLambda', this.invarianceLambda, { min: 0 });
    finiteNumber(this.name, 'varianceMu', this.varianceMu, { min: 0 });
    finiteNumber(this.name, 'covarianceV', this.covarianceV, { min: 0 });
    finiteNumber(this.name, 'eps', this.eps, { min: 0 });
  }
  forward(embeddings: Tensor, refEmbeddings: Tensor): Tensor {
    checkMatrix(this.name, embeddings, 'embeddings');
    checkMatrix(this.name, refEmbeddings, 'refEmbeddings');
    const [n, d] = embeddings.shape as [number, number];
    if (refEmbeddings.shape[0] !== n || refEmbeddings.shape[1] !== d)
      throw new LossInputError(
        this.name,
        'refEmbeddings',
        `must have the embeddings' shape [${n}, ${d}], got [${refEmbeddings.shape.join(', ')}]`,
      );
    if (n < 2) throw new LossInputError(this.name, 'embeddings', 'need at least 2 rows (variances over the batch)');
    return tidy(() => {
      const invariance = embeddings.sub(refEmbeddings).square().mean().mul(this.invarianceLambda);
      const variance = this.variance(embeddings).add(this.variance(refEmbeddings)).mul(this.varianceMu);
      const covariance = this.covariance(embeddings).add(this.covariance(refEmbeddings)).mul(this.covarianceV);
      return invariance.add(variance).add(covariance);
    });
  }
  private variance(z: Tensor): Tensor {
    return z.var(0).add(this.eps).sqrt().rsub(1).relu().div(2).mean();
  }
  private covariance(z: Tensor): Tensor {
    const [n, d] = z.shape as [number, number];
    const c = z.sub(z.mean(0, true));
    const cov = c
      .t()
      .matmul(c)
      .div(n - 1);
    const offDiagonal = eye(d, d, { dtype: 'bool', device: z.device }).logicalNot();
    return cov.square().mul(offDiagonal.to(z.dtype)).sum().div(d);
  }
}
