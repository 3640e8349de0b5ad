// Seedable random number generation: a global seed like torch.manual_seed and private generators.
import { native, type GeneratorHandle } from './native.js';
import { Tensor, type CreateOptions } from './tensor.js';
import { dtypeCode } from './dtype.js';

/** A private CPU random stream (torch.Generator), independent of the global one. */
export class Generator {
  readonly handle: GeneratorHandle;
  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new RangeError(`Generator(seed): seed must be a non-negative safe integer, got ${seed}`);
    this.handle = native.newGenerator(seed);
  }
  /** The full generator state (uint8 tensor), for bit-exact resumption. */
  getState(): Tensor {
    return new Tensor(native.getRngState(this.handle));
  }
  setState(state: Tensor): void {
    native.setRngState(state.handle, this.handle);
  }
}

export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`manualSeed(seed): seed must be a non-negative safe integer, got ${seed}`);
  native.manualSeed(seed);
}
export const getRngState = (): Tensor => new Tensor(native.getRngState(null));
export const setRngState = (state: Tensor): void => native.setRngState(state.handle, null);

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}
const fin = (t: Tensor, o?: RandomOptions): Tensor => (o?.requiresGrad ? t.requiresGrad_(true) : t);
const dt = (o: RandomOptions | undefined, d: 'float32' | 'int64'): number => dtypeCode(o?.dtype ?? d);

export const rand = (shape: readonly number[], o?: RandomOptions): Tensor =>
  fin(new Tensor(native.rand(shape, dt(o, 'float32'), o?.device, o?.generator?.handle)), o);
export const randn = (shape: readonly number[], o?: RandomOptions): Tensor =>
  fin(new Tensor(native.randn(shape, dt(o, 'float32'), o?.device, o?.generator?.handle)), o);
/** Integers uniform in [low, high). */
export const randint = (low: number, high: number, shape: readonly number[], o?: RandomOptions): Tensor =>
  new Tensor(native.randint(low, high, shape, dt(o, 'int64'), o?.device, o?.generator?.handle));
export const randperm = (n: number, o?: RandomOptions): Tensor =>
  new Tensor(native.randperm(n, dt(o, 'int64'), o?.device, o?.generator?.handle));
export const bernoulli = (probs: Tensor | number, shapeOrGen?: readonly number[], generator?: Generator): Tensor => {
  const base = probs instanceof Tensor ? probs : new Tensor(native.zeros(shapeOrGen ?? [], dtypeCode('float32')));
  const r = new Tensor(native.bernoulli(base.handle, probs instanceof Tensor ? undefined : probs, generator?.handle));
  if (!(probs instanceof Tensor)) base.dispose();
  return r;
};
export const multinomial = (probs: Tensor, numSamples: number, replacement = false, generator?: Generator): Tensor =>
  new Tensor(native.multinomial(probs.handle, numSamples, replacement, generator?.handle));
