// Every Tensor method, every ops.ts function and every nn.functional function against PyTorch:
// each case below is the TypeScript twin of the same-named case of
// scripts/fixtures/make_engine_fixtures.py (ops.json holds its inputs and torch's result).
// Results are compared in dtype (so type promotion is checked), shape and values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor,
  dispose,
  liveTensors,
  cat,
  stack,
  where,
  matmul,
  maximum,
  minimum,
  cdist,
  einsum,
  addmm,
  powScalar,
  normalize,
  oneHot,
  zeros,
  ones,
  nn,
  linalg,
  tidy,
} from '../../src/engine/index.js';
import * as ops from '../../src/engine/ops.js';
import { loadFixture, fromFix, assertMatchesValue, type FixTensor, type FixValue } from './engine-helpers.js';

const F = nn.functional;
type Result = Tensor | Tensor[];
type Case = (...xs: Tensor[]) => Result;

const pair = (r: { values: Tensor; indices: Tensor }): Tensor[] => [r.values, r.indices];
/** Eigen- and singular vectors are unique up to sign: scale each by the sign of its largest-magnitude entry. */
const signFix = (v: Tensor, dim: number): Tensor => tidy(() => v.mul(v.gather(dim, v.abs().argmax(dim, true)).sign()));
const eighFixed = (x: Tensor, uplo: 'L' | 'U' = 'L'): Tensor[] => {
  const { values, vectors } = linalg.eigh(x, uplo);
  const fixed = signFix(vectors, -2);
  vectors.dispose();
  return [values, fixed];
};
const svdFixed = (x: Tensor, fullMatrices: boolean): Tensor[] => {
  const r = linalg.svd(x, { fullMatrices });
  const out = [signFix(r.u, -2), r.s, signFix(r.vh, -1)];
  dispose([r.u, r.vh]);
  return out;
};
/** In-place ops run on a clone; the case's result is the mutated clone. */
const ip =
  (f: (x: Tensor, ...rest: Tensor[]) => unknown): Case =>
  (x, ...rest) => {
    const y = x.clone();
    f(y, ...rest);
    return y;
  };

const CASES: Record<string, Case> = {
  // conversion
  'to.int32': (x) => x.to('int32'),
  'to.float16': (x) => x.to('float16'),
  'to.bfloat16': (x) => x.to('bfloat16'),
  'to.uint8': (x) => x.to('uint8'),
  float: (x) => x.float(),
  double: (x) => x.double(),
  long: (x) => x.long(),
  int: (x) => x.int(),
  bool: (x) => x.bool(),
  cpu: (x) => x.cpu(),

  // element-wise unary
  neg: (x) => x.neg(),
  exp: (x) => x.exp(),
  expm1: (x) => x.expm1(),
  abs: (x) => x.abs(),
  sign: (x) => x.sign(),
  floor: (x) => x.floor(),
  ceil: (x) => x.ceil(),
  trunc: (x) => x.trunc(),
  sin: (x) => x.sin(),
  cos: (x) => x.cos(),
  tan: (x) => x.tan(),
  relu: (x) => x.relu(),
  sigmoid: (x) => x.sigmoid(),
  tanh: (x) => x.tanh(),
  square: (x) => x.square(),
  reciprocal: (x) => x.reciprocal(),
  erf: (x) => x.erf(),
  log: (x) => x.log(),
  log1p: (x) => x.log1p(),
  log2: (x) => x.log2(),
  sqrt: (x) => x.sqrt(),
  rsqrt: (x) => x.rsqrt(),
  lgamma: (x) => x.lgamma(),
  digamma: (x) => x.digamma(),
  'neg.int': (x) => x.neg(),
  'abs.int': (x) => x.abs(),
  round: (x) => x.round(),
  acos: (x) => x.acos(),
  gelu: (x) => x.gelu(),
  'gelu.tanh': (x) => x.gelu('tanh'),
  silu: (x) => x.silu(),
  isnan: (x) => x.isnan(),
  isinf: (x) => x.isinf(),
  isfinite: (x) => x.isfinite(),
  logicalNot: (x) => x.logicalNot(),
  'logicalNot.float': (x) => x.logicalNot(),
  softplus: (x) => x.softplus(2, 1),
  leakyRelu: (x) => x.leakyRelu(0.1),
  clamp: (x) => x.clamp(-0.5, 1.0),
  'clamp.minOnly': (x) => x.clamp(0.2),
  'clamp.tensor': (x, lo) => x.clamp(lo, 1.5),
  'clamp.int': (x) => x.clamp(-1, 3),
  clampMin: (x) => x.clampMin(0.25),
  clampMax: (x) => x.clampMax(0.25),

  // element-wise binary
  add: (x, y) => x.add(y!),
  'add.broadcastCol': (x, y) => x.add(y!),
  'add.broadcastRow': (x, y) => x.add(y!),
  'add.broadcastBoth': (x, y) => x.add(y!),
  'add.scalar': (x) => x.add(1.5),
  'add.alpha': (x, y) => x.add(y!, 2.5),
  'add.int': (x) => x.add(1),
  'add.intFloatScalar': (x) => x.add(0.5),
  'add.intFloatTensor': (x, y) => x.add(y!),
  'add.floatDouble': (x, y) => x.add(y!),
  'add.bool': (x, y) => x.add(y!),
  'add.zeroDim': (x, y) => x.add(y!),
  sub: (x, y) => x.sub(y!),
  'sub.alpha': (x, y) => x.sub(y!, 0.5),
  rsub: (x) => x.rsub(2),
  mul: (x, y) => x.mul(y!),
  'mul.scalar': (x) => x.mul(3),
  div: (x, y) => x.div(y!),
  'div.int': (x, y) => x.div(y!),
  'div.trunc': (x, y) => x.div(y!, 'trunc'),
  'div.floor': (x, y) => x.div(y!, 'floor'),
  'div.scalar': (x) => x.div(4),
  pow: (x) => x.pow(2.5),
  'pow.tensor': (x, y) => x.pow(y!),
  'pow.int': (x) => x.pow(2),
  remainder: (x, y) => x.remainder(y!),
  'remainder.float': (x) => x.remainder(0.7),
  fmod: (x, y) => x.fmod(y!),
  'fmod.float': (x) => x.fmod(0.7),
  eq: (x, y) => x.eq(y!),
  'eq.scalar': (x) => x.eq(0.5),
  ne: (x, y) => x.ne(y!),
  'ne.scalar': (x) => x.ne(0.5),
  lt: (x, y) => x.lt(y!),
  'lt.scalar': (x) => x.lt(0.5),
  le: (x, y) => x.le(y!),
  'le.scalar': (x) => x.le(0.5),
  gt: (x, y) => x.gt(y!),
  'gt.scalar': (x) => x.gt(0.5),
  ge: (x, y) => x.ge(y!),
  'ge.scalar': (x) => x.ge(0.5),
  maximum: (x, y) => x.maximum(y!),
  'maximum.scalar': (x) => x.maximum(0.2),
  minimum: (x, y) => x.minimum(y!),
  'minimum.scalar': (x) => x.minimum(2),
  logicalAnd: (x, y) => x.logicalAnd(y!),
  logicalOr: (x, y) => x.logicalOr(y!),
  logicalXor: (x, y) => x.logicalXor(y!),
  atan2: (x, y) => x.atan2(y!),
  lerp: (x, y) => x.lerp(y!, 0.3),

  // reductions
  sum: (x) => x.sum(),
  'sum.dim': (x) => x.sum(1),
  'sum.dims': (x) => x.sum([0, 2], true),
  'sum.bool': (x) => x.sum(),
  'sum.dtype': (x) => x.sum(1, false, 'float64'),
  mean: (x) => x.mean(),
  'mean.dims': (x) => x.mean([-1, 0]),
  prod: (x) => x.prod(),
  'prod.dim': (x) => x.prod(1, true),
  max: (x) => x.max(),
  'max.dim': (x) => pair(x.max(2)),
  min: (x) => x.min(),
  'min.dim': (x) => pair(x.min(0, true)),
  amax: (x) => x.amax([0, 2]),
  amin: (x) => x.amin(1, true),
  argmax: (x) => x.argmax(),
  'argmax.dim': (x) => x.argmax(1),
  argmin: (x) => x.argmin(),
  'argmin.dim': (x) => x.argmin(-1, true),
  logsumexp: (x) => x.logsumexp(2),
  'logsumexp.dims': (x) => x.logsumexp([0, 1], true),
  softmax: (x) => x.softmax(1),
  logSoftmax: (x) => x.logSoftmax(-1),
  norm: (x) => x.norm(),
  'norm.p1dim': (x) => x.norm(1, 2),
  'norm.infKeepdim': (x) => x.norm(Infinity, 1, true),
  'norm.p3': (x) => x.norm(3),
  cumsum: (x) => x.cumsum(1),
  'cumsum.int': (x) => x.cumsum(0),
  cumprod: (x) => x.cumprod(1),
  any: (x) => x.any(),
  'any.dim': (x) => x.any(1),
  all: (x) => x.all(),
  'all.dim': (x) => x.all(0, true),
  var: (x) => x.var(),
  'var.dim': (x) => x.var(1),
  'var.correction0': (x) => x.var([0, 2], 0, true),
  std: (x) => x.std(),
  'std.dim': (x) => x.std(-1, 0),

  // linear algebra
  matmul: (x, y) => x.matmul(y!),
  'matmul.batched': (x, y) => x.matmul(y!),
  'matmul.vector': (x, y) => x.matmul(y!),
  mm: (x, y) => x.mm(y!),
  bmm: (x, y) => x.bmm(y!),
  outer: (x, y) => x.outer(y!),
  t: (x) => x.t(),
  T: (x) => x.T,
  diag: (x) => x.diag(),
  'diag.vector': (x) => x.diag(1),
  diagonal: (x) => x.diagonal(1),
  'diagonal.dims': (x) => x.diagonal(0, 1, 2),
  triu: (x) => x.triu(),
  tril: (x) => x.tril(-1),

  // shape and indexing
  reshape: (x) => x.reshape(4, -1),
  view: (x) => x.view([6, 4]),
  squeeze: (x) => x.squeeze(),
  'squeeze.dim': (x) => x.squeeze(2),
  unsqueeze: (x) => x.unsqueeze(1),
  flatten: (x) => x.flatten(),
  'flatten.range': (x) => x.flatten(1, 2),
  expand: (x) => x.expand(2, 3),
  'expand.newDim': (x) => x.expand([2, -1]),
  expandAs: (x, y) => x.expandAs(y!),
  repeat: (x) => x.repeat(2, 1, 2),
  repeatInterleave: (x) => x.repeatInterleave(2, 1),
  transpose: (x) => x.transpose(0, 2),
  permute: (x) => x.permute(2, 0, 1),
  contiguous: (x) => {
    const t = x.t();
    const r = t.contiguous();
    t.dispose();
    return r;
  },
  clone: (x) => x.clone(),
  detach: (x) => x.detach(),
  narrow: (x) => x.narrow(2, 1, 2),
  slice: (x) => x.slice(2, 1, undefined, 2),
  'slice.negative': (x) => x.slice(1, -2),
  'slice.startOnly': (x) => x.slice(0, 1),
  select: (x) => x.select(1, -1),
  indexSelect: (x, i) => x.indexSelect(2, i!),
  gather: (x, i) => x.gather(1, i!),
  scatter: (x, i, s) => x.scatter(0, i!, s!),
  'scatter.scalar': (x, i) => x.scatter(1, i!, 7.5),
  scatterAdd: (x, i, s) => x.scatterAdd(1, i!, s!),
  indexAdd: (x, i, s) => x.indexAdd(0, i!, s!),
  maskedFill: (x, m) => x.maskedFill(m!, -9),
  'maskedFill.broadcast': (x, m) => x.maskedFill(m!, 0),
  'maskedFill.tensor': (x, m, v) => x.maskedFill(m!, v!),
  maskedSelect: (x, m) => x.maskedSelect(m!),
  nonzero: (x) => x.nonzero(),
  index: (x, i) => x.index([i!]),
  'index.pair': (x, i, j) => x.index([i!, j!]),
  'index.skipDim': (x, i) => x.index([null, null, i!]),
  'index.bool': (x, m) => x.index([m!]),
  indexPut: (x, i, j) => x.indexPut([i!, j!], 5.0),
  'indexPut.accumulate': (x, i, v) => x.indexPut([i!], v!, true),
  flip: (x) => x.flip([0, 2]),
  roll: (x) => x.roll(1, 1),
  'roll.multi': (x) => x.roll([1, -1], [1, 2]),
  pad: (x) => x.pad([1, 2, 0, 1], -1),
  'pad.negative': (x) => x.pad([-1, 1]),
  chunk: (x) => x.chunk(2, 2),
  'chunk.uneven': (x) => x.chunk(2, 0),
  split: (x) => x.split(3, 2),
  unbind: (x) => x.unbind(1),
  topk: (x) => pair(x.topk(2)),
  'topk.smallest': (x) => pair(x.topk(1, 0, false)),
  sort: (x) => pair(x.sort(-1, false, true)),
  'sort.descending': (x) => pair(x.sort(1, true)),
  argsort: (x) => x.argsort(1, true),
  oneHot: (x) => x.oneHot(),
  'oneHot.classes': (x) => x.oneHot(5),
  bincount: (x) => x.bincount(),
  'bincount.weights': (x, w) => x.bincount(w, 4),
  unique: (x) => {
    const u = x.unique();
    return [u.values, u.inverse, u.counts];
  },
  'unique.float': (x) => {
    const u = x.unique();
    return [u.values, u.inverse, u.counts];
  },

  // in-place
  add_: ip((x, y) => x.add_(y!, 2)),
  'add_.scalar': ip((x) => x.add_(1.5)),
  sub_: ip((x, y) => x.sub_(y!)),
  mul_: ip((x, y) => x.mul_(y!)),
  div_: ip((x) => x.div_(4)),
  addcmul_: ip((x, y, z) => x.addcmul_(y!, z!, 0.5)),
  addcdiv_: ip((x, y, z) => x.addcdiv_(y!, z!, -2)),
  lerp_: ip((x, y) => x.lerp_(y!, 0.25)),
  copy_: ip((x, y) => x.copy_(y!)),
  zero_: ip((x) => x.zero_()),
  fill_: ip((x) => x.fill_(3.5)),
  clamp_: ip((x) => x.clamp_(null, 1.0)),
  sqrt_: ip((x) => x.sqrt_()),
  relu_: ip((x) => x.relu_()),
  maskedFill_: ip((x, m) => x.maskedFill_(m!, 0.125)),

  // ops.ts
  cat: (x, y) => cat([x, y!], 0),
  'cat.dim1': (x, y) => cat([x, y!, x], 1),
  stack: (x, y) => stack([x, y!], 1),
  where: (m, x, y) => where(m, x!, y!),
  'where.scalarY': (m, x) => where(m, x!, 0),
  'where.scalarX': (m, y) => where(m, -1, y!),
  'where.broadcast': (m, x, y) => where(m, x!, y!),
  'fn.matmul': (x, y) => matmul(x, y!),
  'fn.maximum': (x, y) => maximum(x, y!),
  'fn.minimum': (x, y) => minimum(x, y!),
  cdist: (x, y) => cdist(x, y!),
  'cdist.p1': (x, y) => cdist(x, y!, 1),
  'cdist.batched': (x, y) => cdist(x, y!),
  'linalg.eigh': (x) => eighFixed(x),
  'linalg.eigh.upper': (x) => eighFixed(x, 'U'),
  'linalg.eigvalsh': (x) => linalg.eigvalsh(x),
  'linalg.eigvalsh.batched': (x) => linalg.eigvalsh(x),
  'linalg.svd': (x) => svdFixed(x, false),
  'linalg.svd.full': (x) => svdFixed(x, true),
  'linalg.svdvals': (x) => linalg.svdvals(x),
  einsum: (x, y) => einsum('ij,kj->ik', x, y!),
  'einsum.trace': (x) => einsum('ii', x),
  addmm: (i, x, y) => addmm(i, x!, y!, 0.5, 2),
  powScalar: (x) => powScalar(2, x),
  normalize: (x) => normalize(x),
  'normalize.p1dim0': (x) => normalize(x, 1, 0),
  'normalize.zeroRow': (x) => F.normalize(x),
  'fn.oneHot': (x) => oneHot(x, 4),

  // nn.functional
  conv2d: (x, w, b) => F.conv2d(x, w!, b),
  'conv2d.strided': (x, w) => F.conv2d(x, w!, null, { stride: 2, padding: 1 }),
  'conv2d.dilated': (x, w, b) => F.conv2d(x, w!, b, { stride: [1, 2], padding: [2, 1], dilation: 2 }),
  'conv2d.groups': (x, w) => F.conv2d(x, w!, undefined, { groups: 2 }),
  linear: (x, w, b) => F.linear(x, w!, b),
  'linear.noBias': (x, w) => F.linear(x, w!),
  'batchNorm.train': (x, w, b) => {
    const rm = zeros([3]),
      rv = ones([3]);
    const y = F.batchNorm(x, rm, rv, { weight: w, bias: b, training: true, momentum: 0.2, eps: 1e-3 });
    return [y, rm, rv];
  },
  'batchNorm.eval': (x, rm, rv) => F.batchNorm(x, rm!, rv!, { training: false }),
  'batchNorm.noStats': (x) => F.batchNorm(x, null, null, { training: true }),
  layerNorm: (x, w, b) => F.layerNorm(x, [4], w, b),
  'layerNorm.noAffine': (x) => F.layerNorm(x, [3, 4], null, null, 1e-3),
  'dropout.eval': (x) => F.dropout(x, 0.5, false),
  'dropout.p0': (x) => F.dropout(x, 0, true),
  'dropout.p1': (x) => F.dropout(x, 1, true),
  maxPool2d: (x) => F.maxPool2d(x, 2),
  'maxPool2d.padded': (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }),
  'maxPool2d.ceil': (x) => F.maxPool2d(x, 2, { ceilMode: true }),
  'maxPool2d.dilated': (x) => F.maxPool2d(x, 2, { stride: 1, dilation: 2 }),
  avgPool2d: (x) => F.avgPool2d(x, 2),
  'avgPool2d.padded': (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }),
  'avgPool2d.noPadCount': (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
  'avgPool2d.ceil': (x) => F.avgPool2d(x, [2, 3], { stride: 2, ceilMode: true }),
  adaptiveAvgPool2d: (x) => F.adaptiveAvgPool2d(x, [2, 3]),
  'adaptiveAvgPool2d.global': (x) => F.adaptiveAvgPool2d(x, 1),
  adaptiveMaxPool2d: (x) => F.adaptiveMaxPool2d(x, 2),
  interpolateBilinear: (x) => F.interpolateBilinear(x, [4, 5]),
  'interpolateBilinear.alignCorners': (x) => F.interpolateBilinear(x, [3, 4], true),
  interpolateBicubic: (x) => F.interpolateBicubic(x, [5, 6]),
  'dropPath.eval': (x) => F.dropPath(x, 0.5, false),
  'dropPath.p0': (x) => F.dropPath(x, 0, true),
  'interpolateBicubic.down': (x) => F.interpolateBicubic(x, [2, 3]),
  'interpolateBicubic.alignCorners': (x) => F.interpolateBicubic(x, [4, 7], true),
  scaledDotProductAttention: (q, k, v) => F.scaledDotProductAttention(q, k!, v!),
  'scaledDotProductAttention.mask': (q, k, v, m) => F.scaledDotProductAttention(q, k!, v!, { mask: m! }),
  'F.relu': (x) => F.relu(x),
  'F.softmax': (x) => F.softmax(x, 0),
  'F.logSoftmax': (x) => F.logSoftmax(x, 1),
  crossEntropy: (l, y) => F.crossEntropy(l, y!),
  'crossEntropy.weighted': (l, y, w) => F.crossEntropy(l, y!, { weight: w }),
  'crossEntropy.smoothing': (l, y) => F.crossEntropy(l, y!, { labelSmoothing: 0.1 }),
  'crossEntropy.smoothingWeighted': (l, y, w) => F.crossEntropy(l, y!, { weight: w, labelSmoothing: 0.2 }),
  'crossEntropy.ignore': (l, y) => F.crossEntropy(l, y!),
  'crossEntropy.ignoreCustom': (l, y) => F.crossEntropy(l, y!, { ignoreIndex: 2, reduction: 'sum' }),
  'crossEntropy.none': (l, y) => F.crossEntropy(l, y!, { reduction: 'none' }),
  'crossEntropy.probs': (l, p) => F.crossEntropy(l, p!),
  'crossEntropy.spatial': (l, y) => F.crossEntropy(l, y!),
  nllLoss: (x, y) => F.nllLoss(x, y!),
  'nllLoss.weightedSum': (x, y, w) => F.nllLoss(x, y!, { weight: w, reduction: 'sum' }),
  'nllLoss.none': (x, y) => F.nllLoss(x, y!, { reduction: 'none' }),
  klDiv: (q, p) => F.klDiv(q, p!),
  'klDiv.sum': (q, p) => F.klDiv(q, p!, 'sum'),
  'klDiv.none': (q, p) => F.klDiv(q, p!, 'none'),
  'klDiv.logTarget': (q, p) => F.klDiv(q, p!, 'mean', true),
  mseLoss: (x, y) => F.mseLoss(x, y!),
  'mseLoss.sum': (x, y) => F.mseLoss(x, y!, 'sum'),
  'mseLoss.none': (x, y) => F.mseLoss(x, y!, 'none'),
  binaryCrossEntropyWithLogits: (x, t) => F.binaryCrossEntropyWithLogits(x, t!),
  'binaryCrossEntropyWithLogits.weights': (x, t, w, pw) =>
    F.binaryCrossEntropyWithLogits(x, t!, { weight: w, posWeight: pw, reduction: 'sum' }),
  'binaryCrossEntropyWithLogits.none': (x, t) => F.binaryCrossEntropyWithLogits(x, t!, { reduction: 'none' }),
};

interface OpsFixture {
  cases: Record<string, { inputs: FixTensor[]; expected: FixValue }>;
}
const fx = loadFixture<OpsFixture>('ops.json');

test('the TypeScript cases and the fixture name the same set of cases', () => {
  assert.deepEqual(Object.keys(CASES).sort(), Object.keys(fx.cases).sort());
});

const flat = (r: Result): Tensor[] => (Array.isArray(r) ? r : [r]);

for (const [name, c] of Object.entries(fx.cases)) {
  test(`op ${name} equals PyTorch`, () => {
    const fn = CASES[name];
    assert.ok(fn, `no TypeScript case for ${name}`);
    // Run outside tidy: an op must leave exactly its inputs and results alive, no hidden temporaries.
    const before = liveTensors();
    const inputs = c.inputs.map((t) => fromFix(t));
    let result: Result | undefined;
    try {
      result = fn(...inputs);
      assert.equal(
        liveTensors(),
        before + inputs.length + new Set(flat(result)).size,
        `${name}: no temporaries left behind`,
      );
      assertMatchesValue(result, c.expected, name);
    } finally {
      dispose([inputs, result]);
    }
    assert.equal(liveTensors(), before, `${name}: disposing inputs and results frees everything`);
  });
}

// The cases' names start with the method or function they exercise ('fn.'/'F.' mark the free
// function twin of a method); these checks fail when someone adds an op without a case.
const caseTargets = new Set(
  Object.keys(CASES).map((k) => {
    const p = k.split('.');
    return p[0] === 'fn' || p[0] === 'F' ? p[1]! : p[0]!;
  }),
);

test('every Tensor method with a PyTorch counterpart has a value case', () => {
  // Metadata, read-back, autograd and RNG members are covered by creation/ops-grad/random tests;
  // cuda() needs a GPU (errors.test.ts checks it throws without one).
  const elsewhere = new Set([
    'constructor',
    'onEscape',
    'handle',
    'isDisposed',
    'dispose',
    'shape',
    'dtype',
    'device',
    'ndim',
    'strides',
    'numel',
    'size',
    'isContiguous',
    'toString',
    'data',
    'dataNumbers',
    'item',
    'tolist',
    'cuda',
    'uniform_',
    'normal_',
    'requiresGrad',
    'requiresGrad_',
    'grad',
    'isLeaf',
    'gradFn',
    'retainGrad',
    'backward',
    'to',
    'pinMemory', // no values of its own: test/engine/amp.test.ts
  ]);
  const missing = Object.getOwnPropertyNames(Tensor.prototype).filter((m) => !elsewhere.has(m) && !caseTargets.has(m));
  assert.deepEqual(missing, []);
  assert.ok(caseTargets.has('to'), 'to() has cases (to.int32, ...)');
});

test('every linalg function has a value case', () => {
  const missing = Object.keys(linalg).filter(
    (n) => !Object.keys(CASES).some((k) => k === `linalg.${n}` || k.startsWith(`linalg.${n}.`)),
  );
  assert.deepEqual(missing, []);
});

test('every ops.ts and nn.functional function has a value case', () => {
  const missingOps = Object.keys(ops).filter((n) => !caseTargets.has(n));
  const missingF = Object.keys(F).filter((n) => !caseTargets.has(n));
  assert.deepEqual({ missingOps, missingF }, { missingOps: [], missingF: [] });
});
