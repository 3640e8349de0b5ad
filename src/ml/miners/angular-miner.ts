// Angular mining (Wang et al., "Deep metric learning with angular loss", ICCV 2017), as
// pytorch-metric-learning's AngularMiner.
import { type Tensor, noGrad } from '../../engine/index.js';
import type { Miner } from './base.js';
import type { TripletTuples } from '../utils/tuples.js';
import { checkLabels, checkMatrix, finiteNumber } from '../utils/validate.js';
import { widen } from './common.js';

export interface AngularMinerOptions {
  /** Threshold angle in degrees (default 20). */
  angle?: number;
  /**
   * L2-normalise the embeddings first (default true: the paper's and PML's AngularLoss's setting).
   * PML's AngularMiner asserts a normalising distance but measures the raw embeddings; false
   * reproduces it.
   */
  normalize?: boolean;
}

/**
 * Over all valid triplets (a, p, n), with c = (x_a + x_p) / 2 the centre of the positive pair,
 * the angle at the negative is ∠ = arctan(‖x_a - x_p‖ / (2‖x_n - c‖)); keeps triplets with
 * ∠ > angle (the ones the angular loss still penalises). Euclidean distances, as PML requires.
 * Triplets come out ordered by anchor, positive, negative.
 */
export class AngularMiner implements Miner {
  readonly name = 'AngularMiner';
  readonly angle: number;
  readonly normalize: boolean;
  constructor(o: AngularMinerOptions = {}) {
    this.angle = o.angle ?? 20;
    finiteNumber(this.name, 'angle', this.angle, { min: 0, max: 180 });
    this.normalize = o.normalize ?? true;
  }
  mine(embeddings: Tensor, labels: Tensor): TripletTuples {
    checkMatrix(this.name, embeddings, 'embeddings');
    const y = checkLabels(this.name, labels, embeddings.shape[0]!);
    const [n, d] = embeddings.shape as [number, number];
    const x = noGrad(() => {
      const w = widen(embeddings.detach());
      const v = Float64Array.from(w.dataNumbers());
      if (w !== embeddings) w.dispose();
      return v;
    });
    if (this.normalize)
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += x[i * d + k]! ** 2;
        const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
        for (let k = 0; k < d; k++) x[i * d + k]! *= inv;
      }
    const threshold = (this.angle * Math.PI) / 180;
    const a: number[] = [],
      p: number[] = [],
      ng: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (j === i || y[j] !== y[i]) continue;
        let ap = 0;
        for (let k = 0; k < d; k++) ap += (x[i * d + k]! - x[j * d + k]!) ** 2;
        ap = Math.sqrt(ap);
        for (let m = 0; m < n; m++) {
          if (y[m] === y[i]) continue;
          let nc = 0;
          for (let k = 0; k < d; k++) nc += (x[m * d + k]! - (x[i * d + k]! + x[j * d + k]!) / 2) ** 2;
          if (Math.atan(ap / (2 * Math.sqrt(nc))) > threshold) {
            a.push(i);
            p.push(j);
            ng.push(m);
          }
        }
      }
    }
    return { kind: 'triplets', a, p, n: ng };
  }
}
