// Gradients of every differentiable op, checked against central finite differences in float64
// (src/engine/gradcheck.ts), plus the autograd API itself. Inputs are tiny and random (seeded),
// away from kinks (|x| at 0, ties for max) so the finite differences are meaningful.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tensor,
  randn,
  Generator,
  gradcheck,
  tidy,
  liveTensors,
  noGrad,
  enableGrad,
  isGradEnabled,
  setGradEnabled,
  grad,
  cat,
  stack,
  where,
  cdist,
  einsum,
  addmm,
  normalize,
  maximum,
  minimum,
  matmul,
  powScalar,
  type Tensor,
  nn,
  linalg,
} from '../../src/engine/index.js';

const F = nn.functional;

/** A float64 leaf that requires grad: seeded normal values, optionally mapped (e.g. to positives). */
function v(shape: number[], seed: number, map?: (t: Tensor) => Tensor): Tensor {
  return noGrad(() => {
    const r = randn(shape, { dtype: 'float64', generator: new Generator(seed) });
    return (map ? map(r) : r).detach().requiresGrad_(true);
  });
}
const pos = (t: Tensor): Tensor => t.abs().add(0.5);
const unit = (t: Tensor): Tensor => t.tanh().mul(0.9);
const idx = (vals: number[] | number[][]): Tensor => tensor(vals as number[], { dtype: 'int64' });
const mask = (vals: boolean[] | boolean[][]): Tensor => tensor(vals as boolean[]);

interface GradCase {
  inputs: () => Tensor[];
  f: (...xs: Tensor[]) => Tensor;
}
const c = (inputs: () => Tensor[], f: (...xs: Tensor[]) => Tensor): GradCase => ({ inputs, f });

const CASES: Record<string, GradCase> = {
  // unary
  neg: c(
    () => [v([2, 3], 1)],
    (x) => x.neg(),
  ),
  exp: c(
    () => [v([2, 3], 2)],
    (x) => x.exp(),
  ),
  log: c(
    () => [v([2, 3], 3, pos)],
    (x) => x.log(),
  ),
  log1p: c(
    () => [v([2, 3], 4, pos)],
    (x) => x.log1p(),
  ),
  expm1: c(
    () => [v([2, 3], 5)],
    (x) => x.expm1(),
  ),
  log2: c(
    () => [v([2, 3], 6, pos)],
    (x) => x.log2(),
  ),
  sqrt: c(
    () => [v([2, 3], 7, pos)],
    (x) => x.sqrt(),
  ),
  rsqrt: c(
    () => [v([2, 3], 8, pos)],
    (x) => x.rsqrt(),
  ),
  abs: c(
    () => [v([2, 3], 9)],
    (x) => x.abs(),
  ),
  sin: c(
    () => [v([2, 3], 10)],
    (x) => x.sin(),
  ),
  cos: c(
    () => [v([2, 3], 11)],
    (x) => x.cos(),
  ),
  tan: c(
    () => [v([2, 3], 12, unit)],
    (x) => x.tan(),
  ),
  acos: c(
    () => [v([2, 3], 13, unit)],
    (x) => x.acos(),
  ),
  relu: c(
    () => [v([2, 3], 14)],
    (x) => x.relu(),
  ),
  sigmoid: c(
    () => [v([2, 3], 15)],
    (x) => x.sigmoid(),
  ),
  tanh: c(
    () => [v([2, 3], 16)],
    (x) => x.tanh(),
  ),
  gelu: c(
    () => [v([2, 3], 17)],
    (x) => x.gelu(),
  ),
  'gelu.tanh': c(
    () => [v([2, 3], 18)],
    (x) => x.gelu('tanh'),
  ),
  silu: c(
    () => [v([2, 3], 18)],
    (x) => x.silu(),
  ),
  square: c(
    () => [v([2, 3], 19)],
    (x) => x.square(),
  ),
  reciprocal: c(
    () => [v([2, 3], 20, pos)],
    (x) => x.reciprocal(),
  ),
  lgamma: c(
    () => [v([2, 3], 21, pos)],
    (x) => x.lgamma(),
  ),
  digamma: c(
    () => [v([2, 3], 22, pos)],
    (x) => x.digamma(),
  ),
  erf: c(
    () => [v([2, 3], 23)],
    (x) => x.erf(),
  ),
  softplus: c(
    () => [v([2, 3], 24)],
    (x) => x.softplus(2, 1),
  ),
  leakyRelu: c(
    () => [v([2, 3], 25)],
    (x) => x.leakyRelu(0.2),
  ),
  clamp: c(
    () => [v([2, 3], 26)],
    (x) => x.clamp(-0.5, 0.5),
  ),
  clampTensor: c(
    () => [v([2, 3], 27), v([3], 28)],
    (x, lo) => x.clamp(lo, 1.0),
  ),
  clampMin: c(
    () => [v([2, 3], 29)],
    (x) => x.clampMin(0.1),
  ),
  clampMax: c(
    () => [v([2, 3], 30)],
    (x) => x.clampMax(0.1),
  ),
  // Piecewise-constant ops have zero gradient almost everywhere.
  'floor/ceil/round/trunc/sign': c(
    () => [v([2, 3], 31)],
    (x) => x.floor().add(x.ceil()).add(x.round()).add(x.trunc()).add(x.sign()).add(x),
  ),

  // binary, with broadcasting both ways
  add: c(
    () => [v([2, 3], 40), v([3], 41)],
    (x, y) => x.add(y!, 1.5),
  ),
  'add.broadcastBoth': c(
    () => [v([2, 1], 42), v([1, 3], 43)],
    (x, y) => x.add(y!),
  ),
  sub: c(
    () => [v([2, 3], 44), v([2, 1], 45)],
    (x, y) => x.sub(y!, 0.5),
  ),
  rsub: c(
    () => [v([2, 3], 46)],
    (x) => x.rsub(2),
  ),
  mul: c(
    () => [v([2, 3], 47), v([3], 48)],
    (x, y) => x.mul(y!),
  ),
  'mul.scalar': c(
    () => [v([2, 3], 49)],
    (x) => x.mul(-3),
  ),
  div: c(
    () => [v([2, 3], 50), v([2, 1], 51, pos)],
    (x, y) => x.div(y!),
  ),
  pow: c(
    () => [v([2, 3], 52, pos)],
    (x) => x.pow(2.5),
  ),
  'pow.tensor': c(
    () => [v([2, 3], 53, pos), v([3], 54)],
    (x, y) => x.pow(y!),
  ),
  powScalar: c(
    () => [v([2, 3], 55)],
    (x) => powScalar(1.7, x),
  ),
  remainder: c(
    () => [v([2, 3], 56, pos)],
    (x) => x.remainder(0.3),
  ),
  fmod: c(
    () => [v([2, 3], 57)],
    (x) => x.fmod(0.3),
  ),
  maximum: c(
    () => [v([2, 3], 58), v([3], 59)],
    (x, y) => maximum(x, y!),
  ),
  minimum: c(
    () => [v([2, 3], 60), v([2, 3], 61)],
    (x, y) => minimum(x, y!),
  ),
  atan2: c(
    () => [v([2, 3], 62), v([2, 3], 63)],
    (x, y) => x.atan2(y!),
  ),
  lerp: c(
    () => [v([2, 3], 64), v([2, 3], 65)],
    (x, y) => x.lerp(y!, 0.3),
  ),

  // reductions
  sum: c(
    () => [v([2, 3, 2], 70)],
    (x) => x.sum(),
  ),
  'sum.dims': c(
    () => [v([2, 3, 2], 71)],
    (x) => x.sum([0, 2], true),
  ),
  mean: c(
    () => [v([2, 3, 2], 72)],
    (x) => x.mean(1),
  ),
  prod: c(
    () => [v([2, 3], 73, pos)],
    (x) => x.prod(),
  ),
  'prod.dim': c(
    () => [v([2, 3], 74)],
    (x) => x.prod(1),
  ),
  max: c(
    () => [v([2, 3], 75)],
    (x) => x.max(),
  ),
  'max.dim': c(
    () => [v([2, 3], 76)],
    (x) => x.max(1).values,
  ),
  min: c(
    () => [v([2, 3], 77)],
    (x) => x.min(),
  ),
  'min.dim': c(
    () => [v([2, 3], 78)],
    (x) => x.min(0, true).values,
  ),
  amax: c(
    () => [v([2, 3, 2], 79)],
    (x) => x.amax([0, 2]),
  ),
  amin: c(
    () => [v([2, 3, 2], 80)],
    (x) => x.amin(1),
  ),
  logsumexp: c(
    () => [v([2, 3, 2], 81)],
    (x) => x.logsumexp([1, 2]),
  ),
  softmax: c(
    () => [v([2, 4], 82)],
    (x) => x.softmax(1),
  ),
  logSoftmax: c(
    () => [v([2, 4], 83)],
    (x) => x.logSoftmax(0),
  ),
  norm: c(
    () => [v([2, 3], 84)],
    (x) => x.norm(),
  ),
  'norm.p1dim': c(
    () => [v([2, 3], 85)],
    (x) => x.norm(1, 1),
  ),
  'norm.p3': c(
    () => [v([2, 3], 86)],
    (x) => x.norm(3, [0], true),
  ),
  'norm.inf': c(
    () => [v([2, 3], 87)],
    (x) => x.norm(Infinity, 1),
  ),
  cumsum: c(
    () => [v([2, 3], 88)],
    (x) => x.cumsum(1),
  ),
  cumprod: c(
    () => [v([2, 3], 89)],
    (x) => x.cumprod(0),
  ),
  var: c(
    () => [v([2, 3], 90)],
    (x) => x.var(1),
  ),
  std: c(
    () => [v([3, 3], 91)],
    (x) => x.std(undefined, 0),
  ),

  // linear algebra
  matmul: c(
    () => [v([2, 3], 100), v([3, 2], 101)],
    (x, y) => matmul(x, y!),
  ),
  'matmul.batchedBroadcast': c(
    () => [v([2, 2, 3], 102), v([3, 2], 103)],
    (x, y) => x.matmul(y!),
  ),
  mm: c(
    () => [v([2, 3], 104), v([3, 2], 105)],
    (x, y) => x.mm(y!),
  ),
  bmm: c(
    () => [v([2, 2, 3], 106), v([2, 3, 2], 107)],
    (x, y) => x.bmm(y!),
  ),
  outer: c(
    () => [v([3], 108), v([2], 109)],
    (x, y) => x.outer(y!),
  ),
  addmm: c(
    () => [v([2], 110), v([3, 2], 111), v([2, 2], 112)],
    (i, x, y) => addmm(i, x!, y!, 0.5, 2),
  ),
  einsum: c(
    () => [v([2, 3], 113), v([4, 3], 114)],
    (x, y) => einsum('ij,kj->ik', x, y!),
  ),
  // Symmetrised inputs (finite differences then stay symmetric); vectors enter squared, which is
  // independent of their sign, the only freedom of a decomposition with distinct values.
  'linalg.eigvalsh': c(
    () => [v([4, 4], 140)],
    (x) => linalg.eigvalsh(x.add(x.t())),
  ),
  'linalg.eigh': c(
    () => [v([3, 3], 141)],
    (x) => {
      const { values, vectors } = linalg.eigh(x.add(x.t()));
      return cat([values, vectors.square().flatten()]);
    },
  ),
  'linalg.svd': c(
    () => [v([3, 2], 142)],
    (x) => {
      const { u, s: sv, vh } = linalg.svd(x, { fullMatrices: false });
      return cat([u.square().flatten(), sv, vh.square().flatten()]);
    },
  ),
  'linalg.svdvals': c(
    () => [v([2, 4], 143)],
    (x) => linalg.svdvals(x),
  ),
  t: c(
    () => [v([2, 3], 115)],
    (x) => x.t().mul(tensor([1, 2], { dtype: 'float64' })),
  ),
  diag: c(
    () => [v([3, 3], 116)],
    (x) => x.diag(1),
  ),
  diagonal: c(
    () => [v([2, 3, 3], 117)],
    (x) => x.diagonal(0, 1, 2),
  ),
  triu: c(
    () => [v([3, 3], 118)],
    (x) => x.triu(),
  ),
  tril: c(
    () => [v([3, 3], 119)],
    (x) => x.tril(-1),
  ),
  cdist: c(
    () => [v([3, 2], 120), v([2, 2], 121)],
    (x, y) => cdist(x, y!),
  ),
  'cdist.p1': c(
    () => [v([3, 2], 122), v([2, 2], 123)],
    (x, y) => cdist(x, y!, 1),
  ),

  // shape and indexing
  reshape: c(
    () => [v([2, 3], 130)],
    (x) => x.reshape(3, 2),
  ),
  view: c(
    () => [v([2, 3], 131)],
    (x) => x.view(6),
  ),
  squeeze: c(
    () => [v([2, 1, 3], 132)],
    (x) => x.squeeze(1),
  ),
  unsqueeze: c(
    () => [v([2, 3], 133)],
    (x) => x.unsqueeze(0),
  ),
  flatten: c(
    () => [v([2, 2, 2], 134)],
    (x) => x.flatten(1),
  ),
  expand: c(
    () => [v([2, 1], 135)],
    (x) => x.expand(2, 3),
  ),
  expandAs: c(
    () => [v([3], 136)],
    (x) =>
      x.expandAs(
        tensor(
          [
            [0, 0, 0],
            [0, 0, 0],
          ],
          { dtype: 'float64' },
        ),
      ),
  ),
  repeat: c(
    () => [v([2, 2], 137)],
    (x) => x.repeat(2, 3),
  ),
  repeatInterleave: c(
    () => [v([2, 2], 138)],
    (x) => x.repeatInterleave(3, 0),
  ),
  transpose: c(
    () => [v([2, 3, 2], 139)],
    (x) => x.transpose(0, 2),
  ),
  permute: c(
    () => [v([2, 3, 2], 140)],
    (x) => x.permute(1, 2, 0),
  ),
  contiguous: c(
    () => [v([2, 3], 141)],
    (x) => x.t().contiguous(),
  ),
  clone: c(
    () => [v([2, 3], 142)],
    (x) => x.clone(),
  ),
  narrow: c(
    () => [v([2, 4], 143)],
    (x) => x.narrow(1, 1, 2),
  ),
  slice: c(
    () => [v([2, 5], 144)],
    (x) => x.slice(1, -4, undefined, 2),
  ),
  select: c(
    () => [v([2, 3], 145)],
    (x) => x.select(1, 2),
  ),
  indexSelect: c(
    () => [v([3, 2], 146)],
    (x) => x.indexSelect(0, idx([2, 0, 2])),
  ),
  gather: c(
    () => [v([2, 3], 147)],
    (x) =>
      x.gather(
        1,
        idx([
          [0, 0],
          [2, 1],
        ]),
      ),
  ),
  scatter: c(
    () => [v([2, 3], 148), v([1, 3], 149)],
    (x, s) => x.scatter(0, idx([[1, 0, 1]]), s!),
  ),
  scatterAdd: c(
    () => [v([2, 3], 150), v([2, 2], 151)],
    (x, s) =>
      x.scatterAdd(
        1,
        idx([
          [0, 0],
          [2, 1],
        ]),
        s!,
      ),
  ),
  indexAdd: c(
    () => [v([3, 2], 152), v([2, 2], 153)],
    (x, s) => x.indexAdd(0, idx([2, 2]), s!),
  ),
  maskedFill: c(
    () => [v([2, 3], 154)],
    (x) => x.maskedFill(mask([true, false, true]), 0.5),
  ),
  maskedSelect: c(
    () => [v([2, 3], 155)],
    (x) =>
      x.maskedSelect(
        mask([
          [true, false, true],
          [false, true, true],
        ]),
      ),
  ),
  index: c(
    () => [v([3, 2], 156)],
    (x) => x.index([idx([2, 0, 2]), idx([1, 1, 0])]),
  ),
  indexPut: c(
    () => [v([4], 157), v([2], 158)],
    (x, vals) => x.indexPut([idx([1, 3])], vals!),
  ),
  'indexPut.accumulate': c(
    () => [v([4], 159), v([3], 160)],
    (x, vals) => x.indexPut([idx([1, 1, 0])], vals!, true),
  ),
  flip: c(
    () => [v([2, 3], 161)],
    (x) => x.flip(1),
  ),
  roll: c(
    () => [v([2, 3], 162)],
    (x) => x.roll(1, 1),
  ),
  pad: c(
    () => [v([2, 2], 163)],
    (x) => x.pad([1, 0, 2, 1], 3),
  ),
  chunk: c(
    () => [v([2, 4], 164)],
    (x) => {
      const [a, b] = x.chunk(2, 1);
      return a!.mul(b!);
    },
  ),
  split: c(
    () => [v([5, 2], 165)],
    (x) => {
      const p = x.split(2, 0);
      return p[2]!.add(p[0]!.sum());
    },
  ),
  unbind: c(
    () => [v([3, 2], 166)],
    (x) => {
      const [a, b, d] = x.unbind(0);
      return a!.mul(b!).sub(d!);
    },
  ),
  topk: c(
    () => [v([2, 4], 167)],
    (x) => x.topk(2).values,
  ),
  sort: c(
    () => [v([2, 4], 168)],
    (x) => x.sort(1, true).values,
  ),
  cat: c(
    () => [v([2, 3], 169), v([1, 3], 170)],
    (x, y) => cat([x, y!, x], 0),
  ),
  stack: c(
    () => [v([2, 3], 171), v([2, 3], 172)],
    (x, y) => stack([x, y!], 2),
  ),
  where: c(
    () => [v([2, 3], 173), v([3], 174)],
    (x, y) =>
      where(
        mask([
          [true, false, true],
          [false, false, true],
        ]),
        x,
        y!,
      ),
  ),
  'where.scalar': c(
    () => [v([2, 3], 175)],
    (x) => where(mask([true, false, true]), x, 0),
  ),

  // nn.functional
  normalize: c(
    () => [v([3, 4], 180)],
    (x) => normalize(x),
  ),
  'normalize.p1dim0': c(
    () => [v([3, 4], 181)],
    (x) => F.normalize(x, 1, 0),
  ),
  conv2d: c(
    () => [v([1, 2, 4, 4], 182), v([2, 2, 3, 3], 183), v([2], 184)],
    (x, w, b) => F.conv2d(x, w!, b),
  ),
  'conv2d.strided': c(
    () => [v([1, 2, 5, 5], 185), v([2, 1, 3, 3], 186)],
    (x, w) => F.conv2d(x, w!, null, { stride: 2, padding: 1, groups: 2 }),
  ),
  'conv2d.dilated': c(
    () => [v([1, 1, 5, 5], 187), v([1, 1, 2, 2], 188)],
    (x, w) => F.conv2d(x, w!, null, { dilation: 2, padding: [1, 0] }),
  ),
  linear: c(
    () => [v([2, 3], 189), v([2, 3], 190), v([2], 191)],
    (x, w, b) => F.linear(x, w!, b),
  ),
  'batchNorm.train': c(
    () => [v([3, 2, 2, 2], 192), v([2], 193), v([2], 194)],
    (x, w, b) => F.batchNorm(x, null, null, { weight: w, bias: b, training: true }),
  ),
  'batchNorm.train1d': c(
    () => [v([4, 3], 195)],
    (x) => F.batchNorm(x, null, null, { training: true, eps: 1e-3 }),
  ),
  'batchNorm.eval': c(
    () => [v([3, 2], 196), v([2], 197)],
    (x, w) =>
      F.batchNorm(x, tensor([0.1, -0.2], { dtype: 'float64' }), tensor([0.5, 2], { dtype: 'float64' }), {
        weight: w,
        training: false,
      }),
  ),
  layerNorm: c(
    () => [v([2, 4], 198), v([4], 199), v([4], 200)],
    (x, w, b) => F.layerNorm(x, [4], w, b),
  ),
  'layerNorm.noAffine': c(
    () => [v([2, 2, 3], 201)],
    (x) => F.layerNorm(x, [2, 3]),
  ),
  maxPool2d: c(
    () => [v([1, 1, 4, 4], 202)],
    (x) => F.maxPool2d(x, 2),
  ),
  'maxPool2d.padded': c(
    () => [v([1, 2, 5, 5], 203)],
    (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }),
  ),
  avgPool2d: c(
    () => [v([1, 1, 4, 4], 204)],
    (x) => F.avgPool2d(x, 2),
  ),
  'avgPool2d.noPadCount': c(
    () => [v([1, 1, 5, 5], 205)],
    (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
  ),
  adaptiveAvgPool2d: c(
    () => [v([1, 2, 5, 5], 206)],
    (x) => F.adaptiveAvgPool2d(x, [2, 3]),
  ),
  adaptiveMaxPool2d: c(
    () => [v([1, 1, 4, 4], 207)],
    (x) => F.adaptiveMaxPool2d(x, 2),
  ),
  interpolateBilinear: c(
    () => [v([1, 1, 2, 3], 208)],
    (x) => F.interpolateBilinear(x, [3, 5]),
  ),
  'interpolateBilinear.alignCorners': c(
    () => [v([1, 1, 2, 2], 209)],
    (x) => F.interpolateBilinear(x, [3, 3], true),
  ),
  interpolateBicubic: c(
    () => [v([1, 1, 3, 3], 212)],
    (x) => F.interpolateBicubic(x, [4, 5]),
  ),
  scaledDotProductAttention: c(
    () => [v([2, 3, 4], 213), v([2, 5, 4], 214), v([2, 5, 4], 215)],
    (q, k, w) => F.scaledDotProductAttention(q, k, w),
  ),
  crossEntropy: c(
    () => [v([4, 3], 210)],
    (l) => F.crossEntropy(l, idx([0, 2, 1, 2])),
  ),
  'crossEntropy.smoothing': c(
    () => [v([4, 3], 211)],
    (l) => F.crossEntropy(l, idx([0, 2, 1, 2]), { labelSmoothing: 0.1 }),
  ),
  'crossEntropy.smoothingWeighted': c(
    () => [v([4, 3], 212)],
    (l) =>
      F.crossEntropy(l, idx([0, 2, 1, -100]), {
        labelSmoothing: 0.2,
        weight: tensor([0.5, 1, 2], { dtype: 'float64' }),
      }),
  ),
  'crossEntropy.probs': c(
    () => [v([3, 3], 213), v([3, 3], 214)],
    (l, t) => F.crossEntropy(l, t!.softmax(1)),
  ),
  nllLoss: c(
    () => [v([4, 3], 215)],
    (x) => F.nllLoss(x.logSoftmax(1), idx([1, 0, 2, 2]), { reduction: 'sum' }),
  ),
  klDiv: c(
    () => [v([2, 3], 216), v([2, 3], 217)],
    (q, p) => F.klDiv(q.logSoftmax(1), p!.softmax(1), 'sum'),
  ),
  'klDiv.logTarget': c(
    () => [v([2, 3], 218), v([2, 3], 219)],
    (q, p) => F.klDiv(q.logSoftmax(1), p!.logSoftmax(1), 'mean', true),
  ),
  mseLoss: c(
    () => [v([2, 3], 220), v([2, 3], 221)],
    (x, y) => F.mseLoss(x, y!),
  ),
  binaryCrossEntropyWithLogits: c(
    () => [v([2, 3], 222), v([2, 3], 223, (t) => t.sigmoid())],
    (x, t) => F.binaryCrossEntropyWithLogits(x, t!, { posWeight: tensor([1, 2, 0.5], { dtype: 'float64' }) }),
  ),
};

for (const [name, gc] of Object.entries(CASES)) {
  test(`gradcheck ${name}`, () => {
    const before = liveTensors();
    tidy(() => {
      const inputs = gc.inputs();
      const r = gradcheck(gc.f, inputs);
      assert.ok(r.ok, `${name}: ${JSON.stringify(r)}`);
      // A check that compared nothing would pass vacuously: the gradient must exist and be finite.
      assert.ok(Number.isFinite(r.maxAbsError) && r.worst !== null, `${name}: nothing compared`);
    });
    assert.equal(liveTensors(), before, `${name}: no leaked tensors`);
  });
}

test('gradcheck itself catches a wrong gradient and refuses float32', () => {
  tidy(() => {
    const x = v([3], 300);
    // detach() hides the real dependence: autograd sees a gradient of 0, finite differences 2x.
    const lie = gradcheck((t) => t.detach().square().add(t.mul(0)), [x]);
    assert.equal(lie.ok, false, 'a function whose graph misses its real dependence fails the check');
    assert.throws(() => gradcheck((t) => t, [tensor([1.5], { requiresGrad: true })]), /use float64/);
  });
});

// ---- the autograd API ----

test('backward fills .grad of leaves, accumulates, and .grad = null clears it', () => {
  tidy(() => {
    const x = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    assert.equal(x.isLeaf, true);
    assert.equal(x.grad, null);
    const y = x.square().sum();
    assert.equal(y.isLeaf, false);
    assert.equal(y.gradFn, 'SumBackward0');
    assert.match(x.mul(x).gradFn!, /^MulBackward/);
    y.backward();
    assert.deepEqual(x.grad!.dataNumbers(), [2, 4, 6]);
    x.square().sum().backward();
    assert.deepEqual(x.grad!.dataNumbers(), [4, 8, 12], 'gradients accumulate like PyTorch');
    x.grad = null;
    assert.equal(x.grad, null);
    x.grad = tensor([1, 1, 1], { dtype: 'float64' });
    assert.deepEqual(x.grad!.dataNumbers(), [1, 1, 1]);
  });
});

// The native layer skips libtorch's autograd dispatch for element-wise ops whose inputs need no
// gradient; a gradient must still flow through whichever operand needs one, on either side.
test('element-wise ops record a graph when either operand needs a gradient, and only then', () => {
  tidy(() => {
    const c = tensor([1, 2, 3], { dtype: 'float64' });
    const p = tensor([0.5, 1.5, 2.5], { dtype: 'float64', requiresGrad: true });
    const binary: [string, (a: Tensor, b: Tensor) => Tensor][] = [
      ['add', (a, b) => a.add(b, 2)],
      ['sub', (a, b) => a.sub(b, 3)],
      ['mul', (a, b) => a.mul(b)],
      ['div', (a, b) => a.div(b)],
      ['pow', (a, b) => a.pow(b)],
    ];
    for (const [name, f] of binary) {
      assert.equal(f(c, c).requiresGrad, false, `${name}(constant, constant)`);
      assert.equal(f(c, c).gradFn, null, `${name}(constant, constant) has no gradFn`);
      for (const [label, a, b] of [
        ['constant, parameter', c, p],
        ['parameter, constant', p, c],
      ] as const) {
        const out = f(a, b);
        assert.equal(out.requiresGrad, true, `${name}(${label})`);
        const [g] = grad(out.sum(), [p]);
        // The same value through finite differences, so the check does not rest on autograd.
        const h = 1e-6;
        const num = [0, 1, 2].map((i) => {
          const bump = (d: number): number => {
            const q = tensor(
              p.dataNumbers().map((v, j) => (j === i ? v + d : v)),
              { dtype: 'float64' },
            );
            return f(a === p ? q : a, b === p ? q : b)
              .sum()
              .item();
          };
          return (bump(h) - bump(-h)) / (2 * h);
        });
        const got = g!.dataNumbers();
        for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i]! - num[i]!) < 1e-5, `${name}(${label}) grad[${i}]`);
      }
    }
    for (const u of [(x: Tensor) => x.exp(), (x: Tensor) => x.sigmoid(), (x: Tensor) => x.add(1)]) {
      assert.equal(u(c).requiresGrad, false);
      assert.equal(u(p).requiresGrad, true);
      assert.equal(noGrad(() => u(p)).requiresGrad, false, 'noGrad still wins');
    }
    // clamp with tensor bounds: the bound may be the operand that needs a gradient.
    const lo = tensor([1.5, 1.5, 1.5], { dtype: 'float64', requiresGrad: true });
    const [gLo] = grad(c.clamp(lo, null).sum(), [lo]);
    assert.deepEqual(gLo!.dataNumbers(), [1, 0, 0], 'the lower bound gets the gradient where it is active');
    // t() is a view: it keeps the view tracking, so an in-place change through it reaches the base.
    const base = tensor([[1, 2]], { dtype: 'float64' });
    base.t().mul_(2);
    assert.deepEqual(base.dataNumbers(), [2, 4]);
  });
});

test("relu_ works in place under autograd, with relu's gradient; refused on a leaf that needs grad", () => {
  tidy(() => {
    const x = tensor([-1.5, 0.5, 2, -0.25], { dtype: 'float64', requiresGrad: true });
    const h = x.mul(3);
    const r = h.relu_();
    assert.equal(r, h, 'returns the same tensor');
    assert.deepEqual(h.dataNumbers(), [0, 1.5, 6, 0]);
    h.mul(tensor([1, 2, 3, 4], { dtype: 'float64' }))
      .sum()
      .backward();
    assert.deepEqual(x.grad!.dataNumbers(), [0, 6, 9, 0]);
    assert.throws(() => x.relu_(), /leaf Variable that requires grad .* in-place/);
  });
});

test('backward with an explicit gradient, retainGraph, retainGrad on intermediates', () => {
  tidy(() => {
    const x = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const h = x.mul(3).retainGrad();
    const y = h.square();
    y.backward(
      tensor(
        [
          [1, 0],
          [0, 1],
        ],
        { dtype: 'float64' },
      ),
      { retainGraph: true },
    );
    assert.deepEqual(x.grad!.tolist(), [
      [18, 0],
      [0, 72],
    ]);
    assert.deepEqual(
      h.grad!.tolist(),
      [
        [6, 0],
        [0, 24],
      ],
      'retainGrad keeps the intermediate gradient',
    );
    y.sum().backward();
    assert.deepEqual(x.grad!.tolist(), [
      [36, 36],
      [54, 144],
    ]);
    const z = x.exp().sum();
    z.backward();
    assert.throws(() => z.backward(), /backward through the graph a second time/);
    assert.throws(() => x.mul(2).backward(), /grad can be implicitly created only for scalar outputs/);
  });
});

test('grad(): functional gradients, second derivatives with createGraph, allowUnused', () => {
  tidy(() => {
    const x = tensor([0.5, -2], { dtype: 'float64', requiresGrad: true });
    const y = tensor([3], { dtype: 'float64', requiresGrad: true });
    const [gx] = grad(x.pow(3).sum(), [x], { createGraph: true });
    assert.deepEqual(gx!.dataNumbers(), [0.75, 12]);
    const [gxx] = grad(gx!.sum(), [x]);
    assert.deepEqual(gxx!.dataNumbers(), [3, -12], 'd²/dx² x³ = 6x');
    assert.equal(x.grad, null, 'grad() does not touch .grad');
    const [a, b] = grad(x.sum(), [x, y], { allowUnused: true });
    assert.deepEqual(a!.dataNumbers(), [1, 1]);
    assert.equal(b, null);
    assert.throws(() => grad(x.sum(), [x, y]), /appears to not have been used in the graph/);
  });
});

test('noGrad / enableGrad / setGradEnabled scope recording, detach cuts the graph', () => {
  tidy(() => {
    const x = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    assert.equal(isGradEnabled(), true);
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      const inner = enableGrad(() => x.mul(2));
      assert.equal(inner.requiresGrad, true, 'enableGrad inside noGrad records again');
      return x.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.equal(isGradEnabled(), true, 'grad mode restored');
    assert.throws(
      () =>
        noGrad(() => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(isGradEnabled(), true, 'restored after an exception too');
    assert.throws(() => noGrad(() => Promise.resolve(1)), /synchronous functions/);
    assert.equal(isGradEnabled(), true);
    const prev = setGradEnabled(false);
    assert.equal(prev, true);
    assert.equal(x.add(1).requiresGrad, false);
    setGradEnabled(true);
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(d.isLeaf, true);
    const z = tensor([1], { dtype: 'float64' });
    assert.equal(z.requiresGrad, false);
    z.requiresGrad_();
    assert.equal(z.requiresGrad, true);
    z.requiresGrad_(false);
    assert.equal(z.requiresGrad, false);
    assert.throws(() => x.mul(2).requiresGrad_(false), /you can only change requires_grad flags of leaf variables/);
  });
});
