// Center loss (Wen et al., ECCV 2016).
import type { Tensor } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { reduce, zeroLoss } from '../reducers/index.js';
import { checkClassifierReducer, type ClassifierReducer } from './shared/softmax.js';
import { indexTensor } from '../utils/tuples.js';
import { defineLoss } from './shared/spec.js';

export interface CenterLossOptions extends ClassTableOptions {
  /** 'mean' (default) averages over the batch; 'sum' is Wen et al.'s Σ. */
  reduction?: ClassifierReducer;
}

/**
 * ℓ_i = ½ ‖x_i - c_{y_i}‖² with learnable class centres c_k (on the raw embeddings), mean over
 * the batch. Purely a tightness term: it is meant to be added to a softmax loss, which supplies
 * the contrastive part. The centres are trained by the optimiser (∂ℓ/∂c_k = -(x_i - c_k)/n),
 * not by Wen et al.'s separate moving-average rule. Parameter: `centers` [numClasses, embeddingSize].
 */
export class CenterLoss extends ClassTableLoss {
  readonly name = 'CenterLoss';
  readonly reduction: ClassifierReducer;
  constructor(o: CenterLossOptions) {
    super('CenterLoss', 'centers', o);
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }
  private perSample(b: Batch): Tensor {
    const c = this.table.indexSelect(0, indexTensor(b.labels, b.device));
    return b.x.sub(c).square().sum(1).mul(0.5);
  }
  protected compute(b: Batch): Tensor {
    return reduce(this.perSample(b), this.reduction, b.x, { labels: b.labels });
  }
  protected override computeSplit(b: Batch): LossSplit {
    if (this.reduction === 'none') throw new Error(`${this.name}: split() needs a reducing reduction`);
    return { tightness: this.compute(b), contrastive: zeroLoss(b.x) };
  }
}

export const centerSpec = defineLoss({
  name: 'center',
  create: (o: CenterLossOptions) => new CenterLoss(o),
  classTable: true,
});
