// Finite-difference gradient checking (torch.autograd.gradcheck) for float64 functions.
import { Tensor, tensor } from './tensor.js';
import { grad } from './autograd.js';
import { tidy } from './scope.js';
import { Generator, randn } from './random.js';

export interface GradcheckResult {
  ok: boolean;
  maxAbsError: number;
  /** Worst element: input index, flat element index, analytical and numerical values. */
  worst: { input: number; element: number; analytical: number; numerical: number } | null;
}

/**
 * Compares autograd's gradient of sum(w · f(inputs)) (w random, fixed) with central differences.
 * Inputs must be float64 leaf tensors; those with requiresGrad are checked.
 */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  o: { eps?: number; atol?: number; rtol?: number; seed?: number } = {},
): GradcheckResult {
  const eps = o.eps ?? 1e-6,
    atol = o.atol ?? 1e-5,
    rtol = o.rtol ?? 1e-3;
  for (const [i, x] of inputs.entries()) {
    if (x.dtype !== 'float64')
      throw new TypeError(`gradcheck: input ${i} is ${x.dtype}; use float64 for finite differences`);
  }
  return tidy(() => {
    const out0 = f(...inputs);
    const w = randn(out0.shape, { dtype: 'float64', generator: new Generator(o.seed ?? 0) });
    const scalar = (...xs: Tensor[]): number =>
      tidy(() =>
        f(...xs)
          .mul(w)
          .sum()
          .item(),
      );
    const checked = inputs.map((x, i) => [x, i] as const).filter(([x]) => x.requiresGrad);
    const analytic = grad(
      out0.mul(w).sum(),
      checked.map(([x]) => x),
      { allowUnused: true },
    );
    let maxAbsError = 0;
    let worst: GradcheckResult['worst'] = null;
    let ok = true;
    checked.forEach(([x, idx], k) => {
      const base = x.detach().data() as Float64Array;
      const ga = analytic[k] ? (analytic[k]!.data() as Float64Array) : new Float64Array(base.length);
      for (let e = 0; e < base.length; e++) {
        const at = (delta: number): number => {
          const buf = Float64Array.from(base);
          buf[e]! += delta;
          const xs = inputs.map((y, j) => (j === idx ? tensor(buf, { shape: x.shape }) : y.detach()));
          return scalar(...xs);
        };
        const num = (at(eps) - at(-eps)) / (2 * eps);
        const err = Math.abs(num - ga[e]!);
        if (err > atol + rtol * Math.abs(num)) ok = false;
        if (err >= maxAbsError) {
          maxAbsError = err;
          worst = { input: idx, element: e, analytical: ga[e]!, numerical: num };
        }
      }
    });
    return { ok, maxAbsError, worst };
  });
}
