// RegularFace (Zhao et al., CVPR 2019): spreads class weight vectors apart by penalising each
// one's cosine with its nearest other class.
import { type Tensor, noGrad, normalize, tensor } from '../../engine/index.js';
import { BaseRegularizer, type RegularizerOptions } from './base.js';
import { indexTensor } from '../utils/tuples.js';

/**
 * R = reduce_i max_{j≠i} cos(w_i, w_j) (mean by default). The nearest class j is chosen without
 * gradient, then the cosine to it is differentiated, as in PML's RegularFaceRegularizer. Ties go
 * to the lowest j.
 */
export class RegularFaceRegularizer extends BaseRegularizer {
  readonly name = 'RegularFaceRegularizer';
  constructor(o: RegularizerOptions = {}) {
    super(o);
  }
  protected terms(w: Tensor): { losses: Tensor } {
    const c = w.shape[0]!;
    if (c < 2) return { losses: tensor([], { dtype: w.dtype, device: w.device }) };
    const wn = normalize(w);
    const cos = wn.matmul(wn.t());
    const nearest = noGrad(() => {
      const v = cos.detach().dataNumbers();
      return Array.from({ length: c }, (_, i) => {
        let best = -1,
          bestV = -Infinity;
        for (let j = 0; j < c; j++)
          if (j !== i && v[i * c + j]! > bestV) {
            bestV = v[i * c + j]!;
            best = j;
          }
        return best;
      });
    });
    const rows = Array.from({ length: c }, (_, i) => i);
    return { losses: cos.index([indexTensor(rows, w.device), indexTensor(nearest, w.device)]) };
  }
}
