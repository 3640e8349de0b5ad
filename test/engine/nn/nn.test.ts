// nn: module naming equal to PyTorch's state_dict keys, state-dict loading rules, train/eval,
// BatchNorm/LayerNorm/pool modules against PyTorch (nn.json from make_engine_fixtures.py), default
// initialisation equal to PyTorch's under the same seed, and the Module API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  nn,
  tensor,
  zeros,
  ones,
  randn,
  tidy,
  liveTensors,
  noGrad,
  manualSeed,
  Generator,
  type Tensor,
} from '../../../src/engine/index.js';
import { loadFixture, fromFix, assertMatches, assertMatchesValue, type FixTensor } from '../engine-helpers.js';

interface BnCase {
  kind: 'BatchNorm1d' | 'BatchNorm2d';
  numFeatures: number;
  options: { affine?: boolean; momentum?: number | null; eps?: number; trackRunningStats?: boolean };
  weight?: FixTensor;
  bias?: FixTensor;
  inputs: FixTensor[];
  eval_input: FixTensor;
  train_outputs: FixTensor[];
  eval_output: FixTensor;
  buffers: Record<string, FixTensor>;
}
interface NnFixture {
  keys: Record<'cnn' | 'nested', [string, number[], string][]>;
  cnn: {
    state_dict: Record<string, FixTensor>;
    input: FixTensor;
    train_output: FixTensor;
    eval_output: FixTensor;
    buffers_after_train: Record<string, FixTensor>;
  };
  batchnorm: Record<string, BnCase>;
  layernorm: {
    input: FixTensor;
    noAffine: FixTensor;
    affine: { weight: FixTensor; bias: FixTensor; output: FixTensor };
  };
  pools: Record<string, FixTensor>;
}
const fx = loadFixture<NnFixture>('nn.json');

// The same two models the fixture script builds in PyTorch.
const smallCnn = (): nn.Sequential =>
  new nn.Sequential(
    new nn.Conv2d(1, 4, 3),
    new nn.BatchNorm2d(4),
    new nn.ReLU(),
    new nn.Flatten(),
    new nn.Linear(4 * 4 * 4, 3),
  );
const nestedModel = (): nn.Sequential =>
  new nn.Sequential(
    new nn.Sequential(new nn.Linear(5, 6), new nn.BatchNorm1d(6, { affine: false })),
    new nn.LayerNorm(6, 1e-5, false),
    new nn.Dropout(0.3),
    new nn.Linear(6, 2, false),
    new nn.BatchNorm1d(2, { trackRunningStats: false }),
    new nn.LayerNorm([2]),
  );
const entries = (sd: Map<string, Tensor>): [string, number[], string][] =>
  [...sd].map(([k, t]) => [k, t.shape, t.dtype]);
const fixSd = (): Map<string, Tensor> => new Map(Object.entries(fx.cnn.state_dict).map(([k, v]) => [k, fromFix(v)]));

test("state_dict keys, order, shapes and dtypes equal PyTorch's for the same models", () => {
  tidy(() => {
    const cnn = smallCnn(),
      nested = nestedModel();
    assert.deepEqual(entries(cnn.stateDict()), fx.keys.cnn);
    assert.deepEqual(entries(nested.stateDict()), fx.keys.nested);
    cnn.dispose();
    nested.dispose();
  });
});

test("default initialisation equals PyTorch's under the same global seed", () => {
  tidy(() => {
    // The fixture model was built right after torch.manual_seed(0): Linear/Conv draw
    // kaiming_uniform(a=√5) weights then U(±1/√fan_in) biases from the global stream, in order.
    manualSeed(0);
    const cnn = smallCnn();
    for (const [k, t] of cnn.stateDict()) assertMatches(t, fx.cnn.state_dict[k]!, k, { rtol: 0, atol: 0 });
    cnn.dispose();
  });
});

test("a Sequential CNN forward in train and eval mode, and its running stats, equal PyTorch's", () => {
  const before = liveTensors();
  const cnn = smallCnn();
  tidy(() => {
    cnn.loadStateDict(fixSd());
    const x = fromFix(fx.cnn.input);
    cnn.train();
    assertMatches(cnn.forward(x), fx.cnn.train_output, 'train output');
    const sd = cnn.stateDict();
    for (const [k, v] of Object.entries(fx.cnn.buffers_after_train)) assertMatches(sd.get(k)!, v, k);
    cnn.eval();
    assertMatches(cnn.forward(x), fx.cnn.eval_output, 'eval output');
    assert.equal(x.isDisposed, false, 'Sequential frees its intermediates, never its input');
  });
  cnn.dispose();
  assert.equal(liveTensors(), before);
});

test('loadStateDict: strict refuses missing and unexpected keys, non-strict reports them, shapes must match', () => {
  tidy(() => {
    const cnn = smallCnn();
    const sd = fixSd();
    sd.delete('0.bias');
    sd.set('extra.weight', zeros([1]));
    assert.throws(() => cnn.loadStateDict(sd), /missing keys \[0\.bias\], unexpected keys \[extra\.weight\]/);
    const r = cnn.loadStateDict(sd, false);
    assert.deepEqual(r, { missingKeys: ['0.bias'], unexpectedKeys: ['extra.weight'] });
    assertMatches((cnn.child('0') as nn.Conv2d).weight, fx.cnn.state_dict['0.weight']!, 'loaded despite the extra key');
    const bad = fixSd();
    bad.set('4.weight', zeros([3, 63]));
    assert.throws(
      () => cnn.loadStateDict(bad),
      /shape mismatch for '4\.weight': module has \[3,64\], state dict has \[3,63\]/,
    );
    // A plain object works too, and values are copied: changing the source later changes nothing.
    const lin = new nn.Linear(2, 1);
    const w = tensor([[1, 2]], { dtype: 'float32' });
    lin.loadStateDict({ weight: w, bias: tensor([0.5]) });
    noGrad(() => w.fill_(9));
    assert.deepEqual(lin.weight.tolist(), [[1, 2]]);
    assert.equal(lin.weight.requiresGrad, true, 'loading keeps parameters trainable');
    // Non-persistent buffers are not part of the state dict.
    lin.registerBuffer('scratch', zeros([2]), false);
    assert.deepEqual([...lin.stateDict().keys()], ['weight', 'bias']);
    assert.deepEqual(
      [...lin.namedBuffers()].map(([k]) => k),
      ['scratch'],
    );
    cnn.dispose();
    lin.dispose();
  });
});

test('stateDict values share storage with the module and carry no graph', () => {
  tidy(() => {
    const lin = new nn.Linear(2, 2);
    const sd = lin.stateDict();
    const w = sd.get('weight')!;
    assert.equal(w.requiresGrad, false);
    noGrad(() => w.fill_(3));
    assert.deepEqual(lin.weight.dataNumbers(), [3, 3, 3, 3]);
    lin.dispose();
  });
});

test('train()/eval() switch every submodule; Dropout is the identity in eval', () => {
  tidy(() => {
    const m = nestedModel();
    assert.ok([...m.namedModules()].every(([, x]) => x.training));
    m.eval();
    assert.ok([...m.namedModules()].every(([, x]) => !x.training));
    m.train();
    assert.ok([...m.namedModules()].every(([, x]) => x.training));
    assert.deepEqual(
      [...m.namedModules()].map(([k]) => k),
      ['', '0', '0.0', '0.1', '1', '2', '3', '4', '5'],
    );

    const drop = new nn.Dropout(0.25);
    const x = randn([2000], { generator: new Generator(1) })
      .abs()
      .add(1);
    drop.eval();
    assert.deepEqual(drop.forward(x).dataNumbers(), x.dataNumbers());
    drop.train();
    const y = drop.forward(x);
    const zeroed = y.eq(0).float().mean().item();
    assert.ok(zeroed > 0.2 && zeroed < 0.3, `about p of the elements are dropped (${zeroed})`);
    // Survivors are scaled by 1/(1-p) so the expectation is unchanged.
    const kept = y.maskedSelect(y.ne(0)).div(x.maskedSelect(y.ne(0)));
    assert.ok(Math.abs(kept.max().item() - 1 / 0.75) < 1e-5 && Math.abs(kept.min().item() - 1 / 0.75) < 1e-5);
    assert.throws(() => new nn.Dropout(1.5), /p must be in \[0, 1\]/);
    m.dispose();
  });
});

test(
  'BatchNorm1d/2d (affine, affine=false, momentum=None, untracked) train, eval and running stats equal ' + "PyTorch's",
  () => {
    for (const [name, c] of Object.entries(fx.batchnorm)) {
      tidy(() => {
        const Ctor = c.kind === 'BatchNorm2d' ? nn.BatchNorm2d : nn.BatchNorm1d;
        const bn = new Ctor(c.numFeatures, c.options);
        if (c.weight)
          noGrad(() => {
            bn.weight!.copy_(fromFix(c.weight!));
            bn.bias!.copy_(fromFix(c.bias!));
          });
        assert.equal(bn.weight === null, c.options.affine === false, `${name}: affine=false has no weight`);
        bn.train();
        const outs = c.inputs.map((x) => bn.forward(fromFix(x)));
        assertMatchesValue(outs, c.train_outputs, `${name} train`);
        bn.eval();
        assertMatches(bn.forward(fromFix(c.eval_input)), c.eval_output, `${name} eval`);
        const sd = bn.stateDict();
        for (const [k, v] of Object.entries(c.buffers)) assertMatches(sd.get(k)!, v, `${name} ${k}`);
        const bufferKeys = [...sd.keys()].filter((k) => k !== 'weight' && k !== 'bias');
        assert.deepEqual(bufferKeys, Object.keys(c.buffers), `${name}: the same buffers as PyTorch`);
        bn.dispose();
      });
    }
    assert.throws(() => new nn.BatchNorm2d(3).forward(zeros([2, 3])), /BatchNorm2d: expected 4D input, got 2D/);
    assert.throws(
      () => new nn.BatchNorm1d(3).forward(zeros([2, 3, 1, 1])),
      /BatchNorm1d: expected 2D or 3D input, got 4D/,
    );
    assert.throws(() => new nn.BatchNorm1d(0), /numFeatures must be a positive integer/);
  },
);

test("LayerNorm with and without elementwise affine equals PyTorch's", () => {
  tidy(() => {
    const x = fromFix(fx.layernorm.input);
    const plain = new nn.LayerNorm(4, 1e-5, false);
    assert.equal(plain.parameters().length, 0, 'elementwise_affine=false has no parameters');
    assertMatches(plain.forward(x), fx.layernorm.noAffine, 'noAffine');
    const ln = new nn.LayerNorm([3, 4], 1e-2);
    assert.deepEqual([...ln.stateDict().keys()], ['weight', 'bias']);
    ln.loadStateDict({ weight: fromFix(fx.layernorm.affine.weight), bias: fromFix(fx.layernorm.affine.bias) });
    assertMatches(ln.forward(x), fx.layernorm.affine.output, 'affine');
    plain.dispose();
    ln.dispose();
  });
});

test("pool modules equal PyTorch's", () => {
  tidy(() => {
    const x = fromFix(fx.pools.input!);
    const mods: Record<string, nn.Module> = {
      'MaxPool2d(3,{stride:2,padding:1})': new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
      'AvgPool2d(2)': new nn.AvgPool2d(2),
      'AvgPool2d(3,{stride:1,padding:1,countIncludePad:false})': new nn.AvgPool2d(3, {
        stride: 1,
        padding: 1,
        countIncludePad: false,
      }),
      'AdaptiveAvgPool2d(1)': new nn.AdaptiveAvgPool2d(1),
      'AdaptiveAvgPool2d([2,3])': new nn.AdaptiveAvgPool2d([2, 3]),
    };
    assert.deepEqual(
      Object.keys(mods).sort(),
      Object.keys(fx.pools)
        .filter((k) => k !== 'input')
        .sort(),
    );
    for (const [k, m] of Object.entries(mods)) assertMatches(m.forward(x), fx.pools[k]!, k);
  });
});

test('Module API: parameters, buffers, children, apply, zeroGrad, numParameters, registration rules', () => {
  const before = liveTensors();
  tidy(() => {
    const m = smallCnn();
    assert.deepEqual(
      [...m.namedParameters()].map(([k]) => k),
      ['0.weight', '0.bias', '1.weight', '1.bias', '4.weight', '4.bias'],
    );
    assert.deepEqual(
      [...m.namedBuffers()].map(([k]) => k),
      ['1.running_mean', '1.running_var', '1.num_batches_tracked'],
    );
    assert.equal(m.numParameters(), 4 * 9 + 4 + 4 + 4 + 64 * 3 + 3);
    assert.ok(m.parameters().every((p) => p.requiresGrad && p.isLeaf));
    assert.deepEqual(
      [...m.namedChildren()].map(([k]) => k),
      ['0', '1', '2', '3', '4'],
    );
    assert.ok(m.child('1') instanceof nn.BatchNorm2d);
    const visited: string[] = [];
    m.apply((x) => visited.push(x.constructor.name));
    assert.deepEqual(
      visited,
      ['Conv2d', 'BatchNorm2d', 'ReLU', 'Flatten', 'Linear', 'Sequential'],
      'children first, then the module',
    );
    // zeroGrad clears gradients a backward pass produced.
    m.forward(randn([2, 1, 6, 6]))
      .sum()
      .backward();
    assert.ok(m.parameters().every((p) => p.grad !== null));
    m.zeroGrad();
    assert.ok(m.parameters().every((p) => p.grad === null));
    // Re-registering disposes the replaced tensor; names with dots are refused.
    const lin = new nn.Linear(2, 2);
    const old = lin.weight;
    lin.registerParameter('weight', ones([2, 2]));
    assert.equal(old.isDisposed, true);
    assert.equal(lin.weight.requiresGrad, true);
    assert.throws(() => lin.registerParameter('a.b', zeros([1])), /invalid member name 'a\.b'/);
    assert.throws(() => lin.registerBuffer('', zeros([1])), /invalid member name ''/);
    assert.throws(() => new nn.Linear(0, 2), /inFeatures must be a positive integer/);
    assert.throws(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /divisible by groups 2/);
    const noBias = new nn.Linear(3, 2, false);
    assert.equal(noBias.bias, null);
    assert.deepEqual([...noBias.stateDict().keys()], ['weight']);
    // Identity hands back its input; Flatten keeps the batch dim.
    const x = zeros([2, 3, 4]);
    assert.equal(new nn.Identity().forward(x), x);
    assert.deepEqual(new nn.Flatten().forward(x).shape, [2, 12]);
    assert.deepEqual(new nn.ReLU().forward(tensor([-1, 2])).tolist(), [0, 2]);
    m.dispose();
    lin.dispose();
    noBias.dispose();
  });
  assert.equal(liveTensors(), before, 'Module.dispose() frees parameters and buffers');
});

test('Module.to(dtype) casts parameters and float buffers, keeps integer buffers, stays trainable', () => {
  tidy(() => {
    const m = smallCnn().to('float64');
    const sd = m.stateDict();
    assert.equal(sd.get('0.weight')!.dtype, 'float64');
    assert.equal(sd.get('1.running_mean')!.dtype, 'float64');
    assert.equal(sd.get('1.num_batches_tracked')!.dtype, 'int64');
    assert.ok(m.parameters().every((p) => p.requiresGrad && p.isLeaf));
    const y = m.forward(randn([2, 1, 6, 6], { dtype: 'float64' }));
    assert.equal(y.dtype, 'float64');
    m.dispose();
  });
});

test('Module.to outside any tidy scope leaves only the moved parameters and buffers alive', () => {
  const m = smallCnn();
  const before = liveTensors();
  m.to('float64');
  assert.equal(liveTensors(), before, 'the old tensors are freed, no intermediate casts are left');
  m.to('float64');
  assert.equal(liveTensors(), before, 'a no-op cast too');
  m.dispose();
  assert.equal(liveTensors(), before - m.parameters().length - m.buffers().length);
});

test('nn.init: gains, fans and initialiser ranges, reproducible with a generator', () => {
  tidy(() => {
    const { init } = nn;
    assert.equal(init.calculateGain('relu'), Math.SQRT2);
    assert.equal(init.calculateGain('tanh'), 5 / 3);
    assert.equal(init.calculateGain('leaky_relu', Math.sqrt(5)), Math.sqrt(2 / 6));
    assert.deepEqual(init.fans(zeros([8, 4, 3, 3])), { fanIn: 36, fanOut: 72 });
    assert.throws(() => init.fans(zeros([3])), /at least 2 dims/);
    const w = zeros([64, 100]);
    init.kaimingUniform_(w, { a: Math.sqrt(5), generator: new Generator(3) });
    // kaiming_uniform(a=√5) on fan_in 100 is U(±1/√100).
    assert.ok(w.abs().max().item() <= 0.1 && w.abs().max().item() > 0.09);
    const w2 = zeros([64, 100]);
    init.kaimingUniform_(w2, { a: Math.sqrt(5), generator: new Generator(3) });
    assert.deepEqual(w2.dataNumbers(), w.dataNumbers());
    init.kaimingNormal_(w, { nonlinearity: 'relu', mode: 'fan_out', generator: new Generator(4) });
    const std = w.std().item();
    assert.ok(Math.abs(std - Math.SQRT2 / 8) < 0.01, `kaiming normal std ${std} vs ${Math.SQRT2 / 8}`);
    init.xavierUniform_(w, 1, new Generator(5));
    assert.ok(w.abs().max().item() <= Math.sqrt(6 / 164));
    init.constant_(w, 0.5);
    assert.equal(w.mean().item(), 0.5);
    init.zeros_(w);
    assert.equal(w.abs().sum().item(), 0);
    init.ones_(w);
    assert.equal(w.sum().item(), 6400);
    init.normal_(w, 2, 0.1, new Generator(6));
    assert.ok(Math.abs(w.mean().item() - 2) < 0.01);
    init.uniform_(w, -1, -0.5, new Generator(7));
    assert.ok(w.max().item() <= -0.5 && w.min().item() >= -1);
    // Initialisers work on parameters (they run under noGrad) without recording a graph.
    const lin = new nn.Linear(3, 3);
    init.zeros_(lin.weight);
    assert.equal(lin.weight.isLeaf, true);
    lin.dispose();
  });
});
