import { zerosLike, full } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { tidy } from '../scope.js';
import { Optimizer, type ParamGroup, type ParamsArg } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** AdamW's decoupled decay instead of L2 added to the gradient. */
  decoupled: boolean;
}

/** torch.optim.Adam (decoupled=false) and AdamW (decoupled=true), without amsgrad. */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: ParamsArg<AdamOptions>, o: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupled: false, ...o });
  }
  protected validate(g: ParamGroup<AdamOptions>): void {
    if (!(g.lr >= 0)) throw new RangeError(`Adam: invalid lr ${g.lr}`);
    if (!(g.eps >= 0)) throw new RangeError(`Adam: invalid eps ${g.eps}`);
    for (const b of g.betas) if (!(b >= 0 && b < 1)) throw new RangeError(`Adam: invalid beta ${b}`);
  }
  step(): void {
    noGrad(() => {
      for (const g of this.paramGroups) {
        const [b1, b2] = g.betas;
        for (const p of g.params) {
          tidy(() => {
            let grad = p.grad;
            if (!grad) return;
            const s = this.stateOf(p);
            const m = s.get('exp_avg') ?? this.setState(p, 'exp_avg', zerosLike(p));
            const v = s.get('exp_avg_sq') ?? this.setState(p, 'exp_avg_sq', zerosLike(p));
            const step = (s.get('step')?.item() ?? 0) + 1;
            this.setState(p, 'step', full([], step, 'float32'));
            if (g.weightDecay !== 0) {
              if (g.decoupled) p.mul_(1 - g.lr * g.weightDecay);
              else grad = grad.add(p, g.weightDecay);
            }
            m.lerp_(grad, 1 - b1);
            v.mul_(b2).addcmul_(grad, grad, 1 - b2);
            const bc1 = 1 - b1 ** step;
            const bc2 = 1 - b2 ** step;
            const denom = v.sqrt().div_(Math.sqrt(bc2)).add_(g.eps);
            p.addcdiv_(m, denom, -g.lr / bc1);
          });
        }
      }
    });
  }
}

/** torch.optim.AdamW: Adam with decoupled weight decay (default 0.01). */
export class AdamW extends Adam {
  constructor(params: ParamsArg<AdamOptions>, o: Partial<Omit<AdamOptions, 'decoupled'>> = {}) {
    super(params, { weightDecay: 1e-2, ...o, decoupled: true });
  }
}
