// Module: the PyTorch-style container of parameters, buffers and sub-modules, with state dicts
// keyed exactly as PyTorch names them so weights move between the two.
import { Tensor, type MemoryFormat } from '../tensor.js';
import { keep } from '../scope.js';
import { noGrad } from '../autograd.js';

export type StateDict = Map<string, Tensor>;

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  training = true;
  readonly #params = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #nonPersistent = new Set<string>();
  readonly #children = new Map<string, Module<never[], unknown>>();

  abstract forward(...input: In): Out;

  /** Registers (or replaces, disposing the old one) a parameter; it requires grad and survives tidy(). */
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    checkName(name, this);
    const old = this.#params.get(name);
    if (old && old !== t) old.dispose();
    if (t) keep(t.requiresGrad ? t : t.requiresGrad_(true));
    this.#params.set(name, t);
    return t;
  }
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    checkName(name, this);
    const old = this.#buffers.get(name);
    if (old && old !== t) old.dispose();
    if (t) keep(t);
    this.#buffers.set(name, t);
    if (!persistent) this.#nonPersistent.add(name);
    return t;
  }
  registerModule<M extends Module<never[], unknown>>(name: string, m: M): M {
    checkName(name, this);
    this.#children.set(name, m);
    return m;
  }
  /** The parameter or buffer registered under name on this module (not recursive). */
  param(name: string): Tensor | null {
    return this.#params.get(name) ?? null;
  }
  buffer(name: string): Tensor | null {
    return this.#buffers.get(name) ?? null;
  }
  child(name: string): Module<never[], unknown> | undefined {
    return this.#children.get(name);
  }

  *namedChildren(): IterableIterator<[string, Module<never[], unknown>]> {
    yield* this.#children;
  }
  *namedModules(prefix = ''): IterableIterator<[string, Module<never[], unknown>]> {
    yield [prefix, this as unknown as Module<never[], unknown>];
    for (const [n, c] of this.#children) yield* c.namedModules(prefix ? `${prefix}.${n}` : n);
  }
  *namedParameters(prefix = ''): IterableIterator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [mp, m] of this.namedModules(prefix)) {
      for (const [n, p] of m.#params) {
        if (p && !seen.has(p)) {
          seen.add(p);
          yield [mp ? `${mp}.${n}` : n, p];
        }
      }
    }
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  *namedBuffers(prefix = '', persistentOnly = false): IterableIterator<[string, Tensor]> {
    for (const [mp, m] of this.namedModules(prefix)) {
      for (const [n, b] of m.#buffers) {
        if (b && !(persistentOnly && m.#nonPersistent.has(n))) yield [mp ? `${mp}.${n}` : n, b];
      }
    }
  }
  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }

  /**
   * Parameters and persistent buffers by their PyTorch key names. Values are detached tensors that
   * share storage with the module (like PyTorch's); dispose them when done.
   */
  stateDict(): StateDict {
    // PyTorch's order: module by module, its parameters then its persistent buffers.
    const out: StateDict = new Map();
    for (const [mp, m] of this.namedModules()) {
      const key = (n: string): string => (mp ? `${mp}.${n}` : n);
      for (const [n, p] of m.#params) if (p) out.set(key(n), p.detach());
      for (const [n, b] of m.#buffers) if (b && !m.#nonPersistent.has(n)) out.set(key(n), b.detach());
    }
    return out;
  }

  /** Copies values in by key; shapes must match. strict (default) refuses missing or unexpected keys. */
  loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor>, strict = true): LoadResult {
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const targets = new Map<string, Tensor>([...this.namedParameters(), ...this.namedBuffers('', true)]);
    const missingKeys = [...targets.keys()].filter((k) => !src.has(k));
    const unexpectedKeys = [...src.keys()].filter((k) => !targets.has(k));
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      throw new Error(
        `loadStateDict: missing keys [${missingKeys.join(', ')}], unexpected keys [${unexpectedKeys.join(', ')}]`,
      );
    }
    noGrad(() => {
      for (const [k, dst] of targets) {
        const v = src.get(k);
        if (!v) continue;
        const a = dst.shape,
          b = v.shape;
        if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
          throw new Error(`loadStateDict: shape mismatch for '${k}': module has [${a}], state dict has [${b}]`);
        }
        dst.copy_(v);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Sets training mode here and, through their own train(), in every child (so overrides apply). */
  train(mode = true): this {
    this.training = mode;
    for (const [, c] of this.#children) c.train(mode);
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Calls fn on every sub-module (children first, then this), like nn.Module.apply. */
  apply(fn: (m: Module<never[], unknown>) => void): this {
    for (const [, c] of this.#children) c.apply(fn);
    fn(this as unknown as Module<never[], unknown>);
    return this;
  }
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
  /**
   * Re-lays every 4-D parameter and buffer (convolution weights) in the given memory format, in
   * place, as PyTorch's model.to(memory_format=torch.channels_last): values and shapes are unchanged.
   */
  toMemoryFormat(memoryFormat: MemoryFormat): this {
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const [n, p] of m.#params) {
          if (!p || p.ndim !== 4 || p.isContiguous(memoryFormat)) continue;
          const c = p.contiguous(memoryFormat);
          const moved = c.detach().requiresGrad_(p.requiresGrad);
          c.dispose();
          m.registerParameter(n, moved);
        }
        for (const [n, b] of m.#buffers) {
          if (!b || b.ndim !== 4 || b.isContiguous(memoryFormat)) continue;
          m.registerBuffer(n, b.contiguous(memoryFormat), !m.#nonPersistent.has(n));
        }
      }
    });
    return this;
  }
  /** Moves/casts every parameter and buffer in place (integer buffers keep their dtype on casts). */
  to(target: string): this {
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const [n, p] of m.#params) {
          if (!p) continue;
          // `to` gives a new handle (a graph node when it casts); only its detached copy is kept.
          const cast = p.to(target);
          const moved = cast.detach().requiresGrad_(p.requiresGrad);
          cast.dispose();
          m.registerParameter(n, moved);
        }
        for (const [n, b] of m.#buffers) {
          if (!b) continue;
          const isDevice = target === 'cpu' || target.startsWith('cuda');
          if (!isDevice && !['float32', 'float64', 'float16', 'bfloat16'].includes(b.dtype)) continue;
          m.registerBuffer(n, b.to(target), !m.#nonPersistent.has(n));
        }
      }
    });
    return this;
  }
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.numel(), 0);
  }
  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const b of this.buffers()) b.dispose();
  }
}

function checkName(name: string, m: object): void {
  if (!name || name.includes('.'))
    throw new Error(`${m.constructor.name}: invalid member name '${name}' (non-empty, no dots)`);
}
