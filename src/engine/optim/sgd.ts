import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { Optimizer, type ParamGroup, type ParamsArg } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/** torch.optim.SGD, one native call per parameter group. */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsArg<SGDOptions>, o: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...o });
  }
  protected validate(g: ParamGroup<SGDOptions>): void {
    if (!(g.lr >= 0)) throw new RangeError(`SGD: invalid lr ${g.lr}`);
    if (!(g.momentum >= 0)) throw new RangeError(`SGD: invalid momentum ${g.momentum}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`SGD: invalid weightDecay ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
      throw new RangeError('SGD: Nesterov momentum requires momentum > 0 and dampening = 0');
  }
  step(): void {
    for (const g of this.paramGroups) {
      const bufs = g.params.map((p) => this.state.get(p)?.get('momentum_buffer')?.handle ?? null);
      const created = native.sgdStep(
        g.params.map((p) => p.handle),
        bufs,
        g.lr,
        g.momentum,
        g.dampening,
        g.weightDecay,
        g.nesterov,
        g.maximize,
      );
      created.forEach((h, i) => {
        if (h) this.setState(g.params[i]!, 'momentum_buffer', new Tensor(h));
      });
    }
  }
}
