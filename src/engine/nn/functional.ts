// Functional twins of the layers (torch.nn.functional).
import { native, type Handle } from '../native.js';
import { Tensor, full } from '../tensor.js';
import { normalize } from '../ops.js';
import { bernoulli } from '../random.js';
import { tidy } from '../scope.js';

const wrap = (x: Handle): Tensor => new Tensor(x);
const pair = (v: number | readonly [number, number]): [number, number] =>
  typeof v === 'number' ? [v, v] : [v[0], v[1]];
const opt = (t: Tensor | null | undefined): Handle | undefined => t?.handle;

export type Reduction = 'none' | 'mean' | 'sum';
const RED: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };
function red(r: Reduction): number {
  const c = RED[r];
  if (c === undefined) throw new TypeError(`reduction must be 'none' | 'mean' | 'sum', got '${String(r)}'`);
  return c;
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}
export const conv2d = (x: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor =>
  wrap(
    native.conv2d(
      x.handle,
      weight.handle,
      opt(bias),
      pair(o.stride ?? 1),
      pair(o.padding ?? 0),
      pair(o.dilation ?? 1),
      o.groups ?? 1,
    ),
  );
export const linear = (x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor =>
  wrap(native.linear(x.handle, weight.handle, opt(bias)));

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}
/** Running statistics, when given and training, are updated in place as in PyTorch. */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  o: BatchNormOptions = {},
): Tensor {
  const training = o.training ?? false;
  if (training) {
    // F.batch_norm's check: one value per channel gives a zero variance and a meaningless output.
    const s = x.shape;
    let perChannel = 1;
    for (let i = 0; i < s.length; i++) if (i !== 1) perChannel *= s[i]!;
    if (s.length >= 2 && perChannel === 1)
      throw new RangeError(`Expected more than 1 value per channel when training, got input size [${s.join(', ')}]`);
  }
  return wrap(
    native.batchNorm(
      x.handle,
      opt(o.weight),
      opt(o.bias),
      opt(runningMean),
      opt(runningVar),
      training,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
    ),
  );
}
export const layerNorm = (
  x: Tensor,
  normalizedShape: readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor => wrap(native.layerNorm(x.handle, normalizedShape, opt(weight), opt(bias), eps));
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return wrap(native.dropout(x.handle, p, training));
}

export interface PoolOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  ceilMode?: boolean;
}
export const maxPool2d = (
  x: Tensor,
  kernel: number | [number, number],
  o: PoolOptions & { dilation?: number | [number, number] } = {},
): Tensor =>
  wrap(
    native.maxPool2d(
      x.handle,
      pair(kernel),
      pair(o.stride ?? kernel),
      pair(o.padding ?? 0),
      pair(o.dilation ?? 1),
      o.ceilMode ?? false,
    ),
  );
export const avgPool2d = (
  x: Tensor,
  kernel: number | [number, number],
  o: PoolOptions & { countIncludePad?: boolean } = {},
): Tensor =>
  wrap(
    native.avgPool2d(
      x.handle,
      pair(kernel),
      pair(o.stride ?? kernel),
      pair(o.padding ?? 0),
      o.ceilMode ?? false,
      o.countIncludePad ?? true,
    ),
  );
export const adaptiveAvgPool2d = (x: Tensor, outputSize: number | [number, number]): Tensor =>
  wrap(native.adaptiveAvgPool2d(x.handle, pair(outputSize)));
export const adaptiveMaxPool2d = (x: Tensor, outputSize: number | [number, number]): Tensor =>
  wrap(native.adaptiveMaxPool2d(x.handle, pair(outputSize)));
export const interpolateBilinear = (x: Tensor, size: [number, number], alignCorners = false): Tensor =>
  wrap(native.upsampleBilinear2d(x.handle, size, alignCorners));
/** F.interpolate(x, size, mode='bicubic', align_corners): timm resizes ViT position embeddings with it. */
export const interpolateBicubic = (x: Tensor, size: [number, number], alignCorners = false): Tensor =>
  wrap(native.upsampleBicubic2d(x.handle, size, alignCorners));

export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => x.gelu(approximate);

/**
 * softmax(q kᵀ / √d + mask) v over the last two dimensions ([..., L, d] queries, [..., S, d] keys and
 * values), as F.scaled_dot_product_attention without dropout: libtorch's fused kernels (flash attention on
 * CPU for these shapes), which never materialise the L × S scores for backward. `mask` is added to the
 * scores (a float mask) or keeps the positions where it is true (a bool mask).
 */
export const scaledDotProductAttention = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: { mask?: Tensor; scale?: number } = {},
): Tensor => wrap(native.scaledDotProductAttention(q.handle, k.handle, v.handle, o.mask?.handle, o.scale));

/**
 * Stochastic depth (timm's drop_path): in training, each sample's residual branch is dropped with
 * probability p and the kept ones scaled by 1 / (1 - p); the identity otherwise.
 */
export function dropPath(x: Tensor, p: number, training: boolean): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropPath: p must be in [0, 1), got ${p}`);
  // A new handle on the same values (the engine's functions never hand back their input object).
  if (!training || p === 0) return x.reshape(x.shape);
  const shape = [x.shape[0]!, ...x.shape.slice(1).map(() => 1)];
  return tidy(() => x.mul(bernoulli(full(shape, 1 - p, x.dtype, { device: x.device }))).div(1 - p));
}

export const relu = (x: Tensor): Tensor => x.relu();
export const softmax = (x: Tensor, dim: number): Tensor => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => x.logSoftmax(dim);
export { normalize };

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  /**
   * As torch.nn.functional.cross_entropy's label_smoothing: the target is (1 - labelSmoothing) on
   * the true class plus labelSmoothing / C on every class. (The paper's ε, spread over the other
   * C - 1 classes only, is the smooth-ce loss's epsilon.)
   */
  labelSmoothing?: number;
}
export const crossEntropy = (logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor =>
  wrap(
    native.crossEntropy(
      logits.handle,
      target.handle,
      opt(o.weight),
      red(o.reduction ?? 'mean'),
      o.ignoreIndex ?? -100,
      o.labelSmoothing ?? 0,
    ),
  );
export const nllLoss = (
  logProbs: Tensor,
  target: Tensor,
  o: Omit<CrossEntropyOptions, 'labelSmoothing'> = {},
): Tensor =>
  wrap(
    native.nllLoss(logProbs.handle, target.handle, opt(o.weight), red(o.reduction ?? 'mean'), o.ignoreIndex ?? -100),
  );
/** F.kl_div(input=log q, target=p): sum p (log p - log q), with PyTorch's reductions. */
export const klDiv = (input: Tensor, target: Tensor, reduction: Reduction = 'mean', logTarget = false): Tensor =>
  wrap(native.klDiv(input.handle, target.handle, red(reduction), logTarget));
export const mseLoss = (input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor =>
  wrap(native.mseLoss(input.handle, target.handle, red(reduction)));
export const binaryCrossEntropyWithLogits = (
  input: Tensor,
  target: Tensor,
  o: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor =>
  wrap(native.bceWithLogits(input.handle, target.handle, opt(o.weight), opt(o.posWeight), red(o.reduction ?? 'mean')));
