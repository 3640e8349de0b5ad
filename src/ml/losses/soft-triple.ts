// SoftTriple loss (Qian et al., "SoftTriple Loss: Deep Metric Learning Without Triplet Sampling",
// ICCV 2019), as pytorch-metric-learning's SoftTripleLoss.
import { type Tensor } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { reduce } from '../reducers/index.js';
import {
  ceSplit,
  checkClassifierReducer,
  oneHotFloat,
  perSampleCrossEntropy,
  type ClassifierReducer,
} from './shared/softmax.js';
import { finiteNumber, positiveInteger } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface SoftTripleOptions extends ClassTableOptions {
  /** K, the centres per class (default 10). */
  centersPerClass?: number;
  /** λ, the logit scale (default 20). */
  la?: number;
  /** γ, the temperature of the soft assignment to a class's centres (default 0.1). */
  gamma?: number;
  /** δ, the margin on the true class (default 0.01). */
  margin?: number;
  reduction?: ClassifierReducer;
}

/**
 * Each class has K centres; a sample's similarity to class c is the softmax(s/γ)-weighted mean of
 * its cosines s to the class's centres: S_ic = Σ_k softmax_k(s_ick / γ) s_ick. Then
 *   ℓ_i = CE(λ (S_i - δ·onehot(y_i)), y_i)
 * The paper's regulariser that merges redundant centres is not included (pytorch-metric-learning
 * leaves it out too). Parameter: `centers` [numClasses · K, embeddingSize], class c's centres in
 * rows cK ... cK + K - 1 (pytorch-metric-learning's `fc` is its transpose). The table starts
 * N(0, 1) rather than pytorch-metric-learning's Kaiming-uniform: only directions matter here.
 */
export class SoftTripleLoss extends ClassTableLoss {
  readonly name = 'SoftTripleLoss';
  readonly centersPerClass: number;
  readonly la: number;
  readonly gamma: number;
  readonly margin: number;
  readonly reduction: ClassifierReducer;
  constructor(o: SoftTripleOptions) {
    const k = o.centersPerClass ?? 10;
    positiveInteger('SoftTripleLoss', 'centersPerClass', k);
    super('SoftTripleLoss', 'centers', o, k);
    this.centersPerClass = k;
    this.la = o.la ?? 20;
    this.gamma = o.gamma ?? 0.1;
    this.margin = o.margin ?? 0.01;
    finiteNumber(this.name, 'la', this.la, { min: 0, open: true });
    finiteNumber(this.name, 'gamma', this.gamma, { min: 0, open: true });
    finiteNumber(this.name, 'margin', this.margin);
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }
  /** S [n, numClasses], the soft-assigned similarity of each sample to each class. */
  classSimilarities(x: Tensor): Tensor {
    const s = this.cosines(x).view(-1, this.numClasses, this.centersPerClass);
    return s.div(this.gamma).softmax(2).mul(s).sum(2);
  }
  logits(x: Tensor, labels: readonly number[]): Tensor {
    const sim = this.classSimilarities(x);
    return sim.sub(oneHotFloat(labels, this.numClasses, sim).mul(this.margin)).mul(this.la);
  }
  protected compute(b: Batch): Tensor {
    return reduce(perSampleCrossEntropy(this.logits(b.x, b.labels), b.labels), this.reduction, b.x);
  }
  protected override computeSplit(b: Batch): LossSplit {
    return ceSplit(this.logits(b.x, b.labels), b.labels, this.reduction);
  }
}

export const softTripleSpec = defineLoss({
  name: 'soft-triple',
  create: (o: SoftTripleOptions) => new SoftTripleLoss(o),
  classTable: true,
});
