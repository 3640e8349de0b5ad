// Sub-centre ArcFace (Deng et al., "Sub-center ArcFace: Boosting Face Recognition by Large-Scale
// Noisy Web Faces", ECCV 2020), as pytorch-metric-learning's SubCenterArcFaceLoss.
import { type Tensor, noGrad, tidy } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { arcFaceLogits } from './arcface.js';
import { checkAngle } from './shared/angle.js';
import { reduce } from '../reducers/index.js';
import { ceSplit, checkClassifierReducer, perSampleCrossEntropy, type ClassifierReducer } from './shared/softmax.js';
import { checkLabels, checkMatrix, finiteNumber, positiveInteger } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface SubCenterArcFaceOptions extends ClassTableOptions {
  /** K, the sub-centres per class (default 3). */
  subCenters?: number;
  /** m in radians, as ArcFaceLoss (default 0.5; pytorch-metric-learning's is 28.6°, in degrees). */
  margin?: number;
  /** s (default 64). */
  scale?: number;
  reduction?: ClassifierReducer;
}

/**
 * ArcFace where each class has K sub-centres and a sample's cosine to a class is its cosine to the
 * nearest of them (max over K, the gradient going to that one), so noisy samples can gather around
 * a non-dominant sub-centre instead of pulling the class's main one. Parameter: `weight`
 * [numClasses · K, embeddingSize], class c's sub-centres in rows cK ... cK + K - 1.
 */
export class SubCenterArcFaceLoss extends ClassTableLoss {
  readonly name = 'SubCenterArcFaceLoss';
  readonly subCenters: number;
  readonly margin: number;
  readonly scale: number;
  readonly reduction: ClassifierReducer;
  constructor(o: SubCenterArcFaceOptions) {
    const k = o.subCenters ?? 3;
    positiveInteger('SubCenterArcFaceLoss', 'subCenters', k);
    super('SubCenterArcFaceLoss', 'weight', o, k);
    this.subCenters = k;
    this.margin = o.margin ?? 0.5;
    checkAngle(this.name, 'margin', this.margin, { max: Math.PI });
    this.scale = o.scale ?? 64;
    finiteNumber(this.name, 'scale', this.scale, { min: 0, open: true });
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }
  /** cos(x_i, class c) = the largest cosine to c's sub-centres: [n, numClasses]. */
  classCosines(x: Tensor): Tensor {
    return this.cosines(x).view(-1, this.numClasses, this.subCenters).max(2).values;
  }
  logits(x: Tensor, labels: readonly number[]): Tensor {
    return arcFaceLogits(this.classCosines(x), labels, this.margin, this.scale);
  }
  protected compute(b: Batch): Tensor {
    return reduce(perSampleCrossEntropy(this.logits(b.x, b.labels), b.labels), this.reduction, b.x);
  }
  protected override computeSplit(b: Batch): LossSplit {
    return ceSplit(this.logits(b.x, b.labels), b.labels, this.reduction);
  }
  /**
   * The paper's cleaning step: for each class, its dominant sub-centre (the nearest one for most of
   * its samples) and the samples farther from it than `threshold` radians (default 75°), which are
   * likely mislabelled. Returns their row indices and the [numClasses, embeddingSize] dominant
   * sub-centres (rows of classes absent from the batch are zero).
   */
  outliers(
    embeddings: Tensor,
    labels: Tensor,
    threshold = (75 * Math.PI) / 180,
  ): { outliers: number[]; dominant: Tensor } {
    checkMatrix(this.name, embeddings, 'embeddings');
    const y = checkLabels(this.name, labels, embeddings.shape[0]!);
    this.checkParameters(embeddings, y);
    const k = this.subCenters;
    const cosThreshold = Math.cos(threshold);
    return noGrad(() =>
      tidy(() => {
        const cos = this.cosines(embeddings).view(-1, this.numClasses, k);
        const table = this.table.detach();
        const dominant = table.mul(0).narrow(0, 0, this.numClasses).contiguous();
        const out: number[] = [];
        for (let c = 0; c < this.numClasses; c++) {
          const rows = y.flatMap((l, i) => (l === c ? [i] : []));
          if (rows.length === 0) continue;
          const sims = rows.map((i) => cos.select(0, i).select(0, c).dataNumbers());
          const votes = new Array<number>(k).fill(0);
          for (const s of sims) votes[s.indexOf(Math.max(...s))]! += 1;
          const best = votes.indexOf(Math.max(...votes)); // ties: the lowest index, as torch.argmax
          dominant.narrow(0, c, 1).copy_(table.narrow(0, c * k + best, 1));
          rows.forEach((i, r) => {
            if (sims[r]![best]! < cosThreshold) out.push(i);
          });
        }
        return { outliers: out, dominant };
      }),
    );
  }
}

export const subCenterArcFaceSpec = defineLoss({
  name: 'subcenter-arcface',
  create: (o: SubCenterArcFaceOptions) => new SubCenterArcFaceLoss(o),
  classTable: true,
});
