// pytorch-metric-learning's SelfSupervisedLoss: a pair loss on two views of the same inputs, each
// input its own class, so no labels are needed.
import { type Tensor, arange, cat, nn, tidy } from '../../engine/index.js';
import type { MetricLoss } from './shared/base.js';
import { checkMatrix, LossInputError } from '../utils/validate.js';

export interface SelfSupervisedOptions {
  /**
   * true (default): both views form one batch of 2n rows with labels 0..n-1 twice, so each view is
   * compared with the other and with itself. false: the first view is the batch and the second its
   * reference set (rows i of both are the positive pair; the loss must take a reference set).
   */
  symmetric?: boolean;
}

/** Wraps a loss that compares samples with each other (pairs, triplets); classifier losses are refused. */
export class SelfSupervisedLoss extends nn.Module<[embeddings: Tensor, refEmbeddings: Tensor], Tensor> {
  readonly name = 'SelfSupervisedLoss';
  readonly symmetric: boolean;
  constructor(
    readonly loss: MetricLoss,
    o: SelfSupervisedOptions = {},
  ) {
    super();
    this.symmetric = o.symmetric ?? true;
    if (!loss.pairwise) throw new RangeError(`${this.name}: ${loss.name} does not compare samples with each other`);
    if (!this.symmetric && !loss.supportsRef)
      throw new RangeError(`${this.name}: symmetric false needs a loss that takes a reference set, not ${loss.name}`);
    this.registerModule('loss', loss as unknown as nn.Module<never[], unknown>);
  }
  forward(embeddings: Tensor, refEmbeddings: Tensor): Tensor {
    checkMatrix(this.name, embeddings, 'embeddings');
    checkMatrix(this.name, refEmbeddings, 'refEmbeddings');
    const n = embeddings.shape[0]!;
    if (refEmbeddings.shape[0] !== n || refEmbeddings.shape[1] !== embeddings.shape[1])
      throw new LossInputError(
        this.name,
        'refEmbeddings',
        `must have the embeddings' shape [${embeddings.shape.join(', ')}], got [${refEmbeddings.shape.join(', ')}]`,
      );
    return tidy(() => {
      const labels = arange(n, undefined, 1, { dtype: 'int64', device: embeddings.device });
      if (this.symmetric) return this.loss.forward(cat([embeddings, refEmbeddings]), cat([labels, labels]));
      return this.loss.forward(embeddings, labels, undefined, { embeddings: refEmbeddings, labels });
    });
  }
}
