// The Lp norm of each row (PML's LpRegularizer): with p = 2 an L2 penalty on embedding norms, the
// penalty N-pairs (Sohn 2016) adds to keep unnormalised embeddings from growing.
import type { Tensor } from '../../engine/index.js';
import { BaseRegularizer, type RegularizerOptions } from './base.js';
import { finiteNumber } from '../utils/validate.js';

export interface LpRegularizerOptions extends RegularizerOptions {
  /** p of the norm (default 2). */
  p?: number;
  /** The norm is raised to this power (default 1). */
  power?: number;
}

/** R = reduce_i ‖x_i‖_p^power (mean by default). */
export class LpRegularizer extends BaseRegularizer {
  readonly name = 'LpRegularizer';
  readonly p: number;
  readonly power: number;
  constructor(o: LpRegularizerOptions = {}) {
    super(o);
    this.p = o.p ?? 2;
    this.power = o.power ?? 1;
    finiteNumber(this.name, 'p', this.p, { min: 0, open: true });
    finiteNumber(this.name, 'power', this.power);
  }
  protected terms(x: Tensor): { losses: Tensor } {
    const norm = x.norm(this.p, 1);
    return { losses: this.power === 1 ? norm : norm.pow(this.power) };
  }
}
