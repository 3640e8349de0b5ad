// Weight initialisers (torch.nn.init), in place and without autograd.
import type { Tensor } from '../tensor.js';
import { noGrad } from '../autograd.js';
import type { Generator } from '../random.js';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu';

export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const s = param ?? 0.01;
      return Math.sqrt(2 / (1 + s * s));
    }
    default:
      throw new TypeError(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

/** fan_in, fan_out of a weight: dims 0/1 times the receptive field, as PyTorch computes them. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  const s = t.shape;
  if (s.length < 2) throw new RangeError(`fan in/out need a tensor with at least 2 dims, got shape [${s}]`);
  const field = s.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: s[1]! * field, fanOut: s[0]! * field };
}

export interface KaimingOptions {
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}
function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t);
  const fan = (o.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  return calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
}
export const kaimingNormal_ = (t: Tensor, o: KaimingOptions = {}): Tensor =>
  noGrad(() => t.normal_(0, kaimingStd(t, o), o.generator));
export const kaimingUniform_ = (t: Tensor, o: KaimingOptions = {}): Tensor => {
  const bound = Math.sqrt(3) * kaimingStd(t, o);
  return noGrad(() => t.uniform_(-bound, bound, o.generator));
};
export const xavierUniform_ = (t: Tensor, gain = 1, generator?: Generator): Tensor => {
  const { fanIn, fanOut } = fans(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return noGrad(() => t.uniform_(-bound, bound, generator));
};
export const uniform_ = (t: Tensor, a = 0, b = 1, generator?: Generator): Tensor =>
  noGrad(() => t.uniform_(a, b, generator));
export const normal_ = (t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor =>
  noGrad(() => t.normal_(mean, std, generator));
export const constant_ = (t: Tensor, value: number): Tensor => noGrad(() => t.fill_(value));
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);
