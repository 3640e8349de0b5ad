// Rows whose components sum to zero (PML's ZeroMeanRegularizer, from the zero-mean constraint on
// embeddings used with Barlow-style and classification heads).
import type { Tensor } from '../../engine/index.js';
import { BaseRegularizer, type RegularizerOptions } from './base.js';

/** R = reduce_i |Σ_j x_ij| (mean by default). */
export class ZeroMeanRegularizer extends BaseRegularizer {
  readonly name = 'ZeroMeanRegularizer';
  constructor(o: RegularizerOptions = {}) {
    super(o);
  }
  protected terms(x: Tensor): { losses: Tensor } {
    return { losses: x.sum(1).abs() };
  }
}
