// Grad-mode scopes and functional gradients.
import { native } from './native.js';
import { Tensor } from './tensor.js';

function withGrad<T>(enabled: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(enabled);
  try {
    const r = fn();
    if (r instanceof Promise)
      throw new TypeError('noGrad/enableGrad take synchronous functions: grad mode is not carried across await');
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}
/** Runs fn with autograd recording off (torch.no_grad). */
export const noGrad = <T>(fn: () => T): T => withGrad(false, fn);
/** Runs fn with autograd recording on (torch.enable_grad). */
export const enableGrad = <T>(fn: () => T): T => withGrad(true, fn);
export const isGradEnabled = (): boolean => native.isGradEnabled();
export const setGradEnabled = (v: boolean): boolean => native.setGradEnabled(v);

/** torch.autograd.grad: gradients of outputs w.r.t. inputs without touching .grad. */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: readonly Tensor[],
  options: {
    gradOutputs?: readonly Tensor[];
    retainGraph?: boolean;
    createGraph?: boolean;
    allowUnused?: boolean;
  } = {},
): (Tensor | null)[] {
  const outs = outputs instanceof Tensor ? [outputs] : outputs;
  const r = native.autogradGrad(
    outs.map((t) => t.handle),
    inputs.map((t) => t.handle),
    options.gradOutputs?.map((t) => t.handle),
    options.retainGraph,
    options.createGraph ?? false,
    options.allowUnused ?? false,
  );
  return r.map((x) => (x === null ? null : new Tensor(x)));
}
