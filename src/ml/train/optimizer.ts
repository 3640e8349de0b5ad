// The optimiser of a run: parameter groups (no-decay and layer-wise lr, by the model family's
// rules), SGD or AdamW, and the per-iteration lr schedule.
import { type Tensor, type nn, optim } from '../../engine/index.js';
import type { Embedder } from '../models/factory.js';
import { familyOf } from '../models/families.js';
import { oneDimensional } from '../models/family.js';
import type { TrainConfig } from '../run/config/keys.js';

export type ParamGroup = { params: Tensor[]; lr?: number; weightDecay?: number };

/**
 * Parameter groups: no weight decay where the family says so (optim.noBiasDecay), and with
 * optim.layerDecay < 1 one lr scale per layer of the family's depth, as BEiT/MAE fine-tune: the
 * head gets the full lr, each layer below it one more factor of the decay.
 */
export function paramGroups(model: Embedder, loss: nn.Module<never[], unknown> | null, cfg: TrainConfig): ParamGroup[] {
  const decay = cfg.optim.layerDecay;
  const family = familyOf(model);
  const layers = decay !== 1 ? family.layers?.(model) : undefined;
  const scaleOf = (name: string): number => (layers ? decay ** (layers.count - 1 - layers.of(name)) : 1);
  const byKey = new Map<string, ParamGroup>();
  const add = (name: string, p: Tensor, noWeightDecay: (name: string, p: Tensor) => boolean): void => {
    if (!p.requiresGrad) return;
    const scale = scaleOf(name);
    const noDecay = cfg.optim.noBiasDecay && noWeightDecay(name, p);
    const key = `${scale}|${noDecay}`;
    if (!byKey.has(key))
      byKey.set(key, {
        params: [],
        ...(scale !== 1 ? { lr: cfg.optim.lr * scale } : {}),
        ...(noDecay ? { weightDecay: 0 } : {}),
      });
    byKey.get(key)!.params.push(p);
  };
  for (const [n, p] of model.namedParameters()) add(n, p, family.noWeightDecay);
  if (loss) for (const [n, p] of loss.namedParameters()) add(`loss.${n}`, p, oneDimensional);
  return [...byKey.values()];
}

export function createOptimizer(groups: ParamGroup[], o: TrainConfig['optim']): optim.SGD | optim.AdamW {
  return o.name === 'adamw'
    ? new optim.AdamW(groups, { lr: o.lr, weightDecay: o.weightDecay })
    : new optim.SGD(groups, {
        lr: o.lr,
        momentum: o.momentum,
        weightDecay: o.weightDecay,
        nesterov: o.nesterov && o.momentum > 0,
      });
}

/** optim.schedule as a per-iteration lr factor over the run's epochs × batches. */
export function createSchedule(
  optimizer: optim.SGD | optim.AdamW,
  cfg: TrainConfig,
  batchesPerEpoch: number,
): optim.LambdaLR {
  const o = cfg.optim;
  const total = Math.max(1, cfg.epochs * batchesPerEpoch);
  const factor = {
    warmcos: optim.warmCosine(total, 100),
    cos: optim.cosine(total),
    step: optim.stepDecay(Math.max(1, o.lrStep * batchesPerEpoch), 0.1),
    warmstep: optim.warmStep(Math.max(1, o.lrStep * batchesPerEpoch), 0.1, 100),
    none: () => 1,
  }[o.schedule];
  return new optim.LambdaLR(optimizer, factor);
}
