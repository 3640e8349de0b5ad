// Center invariance (Wu et al., "Deep face recognition with center invariant loss", 2017): class
// weight vectors of equal norm, so no class gets a larger logit from its norm alone.
import type { Tensor } from '../../engine/index.js';
import { BaseRegularizer, type RegularizerOptions } from './base.js';

/** R = reduce_i (‖w_i‖² - mean_j ‖w_j‖²)² / 4 (mean by default), PML's CenterInvariantRegularizer. */
export class CenterInvariantRegularizer extends BaseRegularizer {
  readonly name = 'CenterInvariantRegularizer';
  constructor(o: RegularizerOptions = {}) {
    super(o);
  }
  protected terms(w: Tensor): { losses: Tensor } {
    const sq = w.square().sum(1);
    return { losses: sq.sub(sq.mean()).square().div(4) };
  }
}
