// Loss parameters split across ranks (a PartialFC class table): each rank trains its own rows, so
// they are neither broadcast nor all-reduced like replicated parameters, and a checkpoint holds
// them whole (gathered from every rank, with their optimizer state), so any number of processes
// can resume from it, each taking its rows.
import { type Tensor, cat, dispose, type distributed, type nn, type optim } from '../../engine/index.js';

export interface LossShard {
  /** The parameter's key in the loss module's state dict. */
  readonly key: string;
  readonly param: Tensor;
  /** Rows [start, end) of a [total, ...] whole. */
  readonly start: number;
  readonly end: number;
  readonly total: number;
}

type Optimizer = optim.Optimizer<{ lr: number }>;

/** The loss module's parameters and buffers that every rank holds whole (what is broadcast and all-reduced). */
export function replicated(module: nn.Module<never[], unknown>, shards: readonly LossShard[]): Tensor[] {
  const own = new Set(shards.map((s) => s.param));
  return [...module.parameters(), ...module.buffers()].filter((t) => !own.has(t));
}

/** The optimizer state keys (`<index>.<name>`) of a shard's parameter, in a fixed order. */
function stateKeys(opt: Optimizer, state: Map<string, Tensor>, s: LossShard): string[] {
  const i = opt.paramGroups.flatMap((g) => g.params).indexOf(s.param);
  return [...state.keys()].filter((k) => k.startsWith(`${i}.`) && state.get(k)!.shape[0] === s.end - s.start).sort();
}

/**
 * Every rank calls this: the shards' whole tensors, and their whole optimizer state, for rank 0's
 * checkpoint (empty maps on the other ranks).
 */
export function gatherShards(
  g: distributed.ProcessGroup,
  shards: readonly LossShard[],
  opt: Optimizer,
): { loss: Map<string, Tensor>; optim: Map<string, Tensor> } {
  const loss = new Map<string, Tensor>(),
    optimState = new Map<string, Tensor>();
  const { state } = opt.stateDict();
  const whole = (t: Tensor): Tensor => {
    const parts = g.allGatherVariable(t.detach());
    const w = cat(parts);
    dispose(parts);
    return w;
  };
  for (const s of shards) {
    const w = whole(s.param);
    if (g.rank === 0) loss.set(s.key, w);
    else w.dispose();
    for (const k of stateKeys(opt, state, s)) {
      const v = whole(state.get(k)!);
      if (g.rank === 0) optimState.set(k, v);
      else v.dispose();
    }
  }
  return { loss, optim: optimState };
}

/** Replaces, in a loaded checkpoint, each shard's whole tensors by this rank's rows. */
export function sliceShards(
  shards: readonly LossShard[],
  opt: Optimizer,
  loss: Map<string, Tensor> | undefined,
  optimState: Map<string, Tensor> | undefined,
): void {
  const flat = opt.paramGroups.flatMap((g) => g.params);
  for (const s of shards) {
    const take = (m: Map<string, Tensor> | undefined, k: string): void => {
      const t = m?.get(k);
      if (!t || t.shape[0] !== s.total) return;
      m!.set(k, t.narrow(0, s.start, s.end - s.start).clone());
      t.dispose();
    };
    take(loss, s.key);
    const i = flat.indexOf(s.param);
    for (const k of [...(optimState?.keys() ?? [])]) if (k.startsWith(`${i}.`)) take(optimState, k);
  }
}
