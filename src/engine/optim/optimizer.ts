// Optimizer base: parameter groups with their own options (e.g. no weight decay on 1-D params).
import type { Tensor } from '../tensor.js';
import { keep } from '../scope.js';

export type ParamGroup<O> = O & { params: Tensor[] };
export type ParamsArg<O> = Tensor[] | (Partial<O> & { params: Tensor[] })[];

export abstract class Optimizer<O extends { lr: number }> {
  readonly paramGroups: ParamGroup<O>[];
  /** Per-parameter state tensors (momentum buffers, moments), by name. */
  protected readonly state = new Map<Tensor, Map<string, Tensor>>();

  constructor(
    params: ParamsArg<O>,
    readonly defaults: O,
  ) {
    const groups =
      params.length > 0 && !isTensorLike(params[0])
        ? (params as (Partial<O> & { params: Tensor[] })[])
        : [{ params: params as Tensor[] }];
    if (groups.length === 0 || groups.every((g) => g.params.length === 0))
      throw new Error(`${this.constructor.name}: got an empty parameter list`);
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g, i) => {
      for (const p of g.params) {
        if (seen.has(p))
          throw new Error(`${this.constructor.name}: a parameter appears in more than one group (group ${i})`);
        seen.add(p);
      }
      return { ...defaults, ...g, params: [...g.params] } as ParamGroup<O>;
    });
    for (const g of this.paramGroups) this.validate(g);
  }

  protected abstract validate(g: ParamGroup<O>): void;
  abstract step(): void;

  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  protected stateOf(p: Tensor): Map<string, Tensor> {
    let s = this.state.get(p);
    if (!s) {
      s = new Map();
      this.state.set(p, s);
    }
    return s;
  }
  protected setState(p: Tensor, name: string, t: Tensor): Tensor {
    const s = this.stateOf(p);
    const old = s.get(name);
    if (old && old !== t) old.dispose();
    s.set(name, keep(t));
    return t;
  }

  /** State tensors keyed "<paramIndex>.<name>" (indices over all groups in order), plus group options. */
  stateDict(): { state: Map<string, Tensor>; groups: Omit<ParamGroup<O>, 'params'>[] } {
    const state = new Map<string, Tensor>();
    let i = 0;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        for (const [n, t] of this.state.get(p) ?? []) state.set(`${i}.${n}`, t.detach());
        i++;
      }
    }
    const groups = this.paramGroups.map(({ params: _p, ...rest }) => rest as Omit<ParamGroup<O>, 'params'>);
    return { state, groups };
  }
  loadStateDict(sd: { state: Map<string, Tensor>; groups: Omit<ParamGroup<O>, 'params'>[] }): void {
    if (sd.groups.length !== this.paramGroups.length) {
      throw new Error(`loadStateDict: optimizer has ${this.paramGroups.length} groups, state dict ${sd.groups.length}`);
    }
    sd.groups.forEach((g, k) => Object.assign(this.paramGroups[k]!, g));
    const flat = this.paramGroups.flatMap((g) => g.params);
    for (const [key, t] of sd.state) {
      const dot = key.indexOf('.');
      const idx = Number(key.slice(0, dot));
      const p = flat[idx];
      if (!p || !Number.isInteger(idx)) throw new Error(`loadStateDict: state key '${key}' names no parameter`);
      // State read from a checkpoint is on the CPU; it joins its parameter wherever that lives.
      this.setState(p, key.slice(dot + 1), t.device === p.device ? t.clone() : t.to(p.device));
    }
  }
  /** Frees all state tensors. */
  dispose(): void {
    for (const s of this.state.values()) for (const t of s.values()) t.dispose();
    this.state.clear();
  }
}

function isTensorLike(x: unknown): boolean {
  return typeof x === 'object' && x !== null && 'handle' in x && 'isDisposed' in x;
}
