import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../../../src/ml/run/config/resolve.js';
import { PRESETS } from '../../../../src/ml/run/presets.js';
import { ConfigError } from '../../../../src/ml/run/config/errors.js';
import { CONFIG_KEY_LIST, configKey, getKey } from '../../../../src/ml/run/config/keys.js';
import { MAX_MODEL_INPUT_SIDE } from '../../../../src/ml/data/limits.js';

test('default preset is fashion-mnist with the paper recipe knobs', () => {
  const c = resolveConfig();
  assert.equal(c.preset, 'fashion-mnist');
  assert.equal(c.data.kind, 'fashion-mnist');
  assert.equal(c.loss.name, 'smooth-ce');
  assert.equal(c.loss.labelSmoothing, 0);
  assert.deepEqual(c.loss.options, {}); // smooth-ce's own ε default, 0.1, applies
  assert.equal(c.optim.weightDecay, 5e-4);
  assert.equal(c.optim.noBiasDecay, true);
  assert.equal(c.optim.schedule, 'warmcos');
});

test("the paper's presets", () => {
  const cub = resolveConfig({ preset: 'cub' });
  assert.deepEqual([cub.model.arch, cub.epochs, cub.optim.lr], ['resnet50', 30, 0.02]);
  const cars = resolveConfig({ preset: 'cars' });
  assert.deepEqual([cars.epochs, cars.optim.lr, cars.model.normLayer], [100, 0.05, 'batch']);
  for (const p of ['sop', 'inshop']) {
    const c = resolveConfig({ preset: p });
    assert.deepEqual(
      [c.epochs, c.optim.lr, c.optim.momentum, c.optim.nesterov, c.model.normLayer],
      [100, 0.003, 0.99, true, 'batch'],
    );
  }
  assert.ok(Object.keys(PRESETS).includes('fashion-mnist-parity'));
});

test('overrides are typed and unknown keys are refused by name', () => {
  const c = resolveConfig({
    overrides: ['epochs=5', 'optim.lr=0.01', 'optim.nesterov=false', 'recallKs=1,10', 'model.normLayer=layer'],
  });
  assert.deepEqual(
    [c.epochs, c.optim.lr, c.optim.nesterov, c.recallKs, c.model.normLayer],
    [5, 0.01, false, [1, 10], 'layer'],
  );
  assert.throws(() => resolveConfig({ overrides: ['optim.lrr=1'] }), /unknown config key 'optim.lrr'/);
  assert.throws(() => resolveConfig({ overrides: ['epochs=ten'] }), /'epochs' needs a number/);
  assert.throws(() => resolveConfig({ overrides: ['epochs=0'] }), /'epochs' must be an integer in \[1, ∞\), got 0/);
  assert.throws(() => resolveConfig({ overrides: ['optim.nesterov=yes'] }), /needs true or false/);
  assert.throws(() => resolveConfig({ overrides: ['noequals'] }), /expected key=value/);
  assert.throws(() => resolveConfig({ preset: 'nope' }), /unknown preset 'nope'/);
  const cached = resolveConfig({ overrides: ['data.cache=decoded', 'data.cacheMB=512'] });
  assert.deepEqual([cached.data.cache, cached.data.cacheMB], ['decoded', 512]);
  assert.throws(
    () => resolveConfig({ overrides: ['data.cache=pixels'] }),
    /'data\.cache' must be one of none, encoded, decoded, got "pixels"/,
  );
  assert.throws(
    () => resolveConfig({ overrides: ['data.cacheMB=-1'] }),
    /'data\.cacheMB' must be a number in \[0, ∞\), got -1/,
  );
});

test('config files in JSON and YAML, with errors naming the file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-cfg-'));
  const y = path.join(dir, 'run.yaml');
  writeFileSync(y, 'preset: cub\nepochs: 7\noptim:\n  lr: 0.1\n');
  const c = resolveConfig({ file: y, overrides: ['epochs=8'] });
  assert.deepEqual([c.preset, c.epochs, c.optim.lr], ['cub', 8, 0.1]);
  const j = path.join(dir, 'bad.json');
  writeFileSync(j, '{"optim": {"momentum": "high"}}');
  assert.throws(
    () => resolveConfig({ file: j }),
    new RegExp(`${j.replace(/[/.]/g, '\\$&')}: 'optim.momentum' must be a number`),
  );
  writeFileSync(j, '{"epochs": 3,');
  assert.throws(() => resolveConfig({ file: j }), /cannot parse config/);
});

test('every number has a range: negative limits, absurd sizes and thread counts are refused, naming the key', () => {
  const cases: [string, RegExp][] = [
    ['data.limitTrain=-5', /'data\.limitTrain' must be an integer in \[0, ∞\), got -5/],
    ['data.imageSize=100000', /'data\.imageSize' must be an integer in \[1, 2048\], got 100000/],
    // Capped where embed, eval and serve cap a trained model's input, so a run can always be evaluated.
    ['data.imageSize=4096', /'data\.imageSize' must be an integer in \[1, 2048\], got 4096/],
    ['threads=5000', /'threads' must be an integer in \[1, 1024\], got 5000/],
    ['model.dropout=1', /'model\.dropout' must be a number in \[0, 1\), got 1/],
    ['optim.momentum=-0.1', /'optim\.momentum' must be a number in \[0, 1\), got -0\.1/],
    ['seed=1.5', /'seed' must be an integer in \[0, 4294967295\], got 1\.5/],
    ['logEvery=0', /'logEvery' must be an integer in \[1, ∞\), got 0/],
    ['data.workers=-1', /'data\.workers' must be an integer in \[0, 256\], got -1/],
  ];
  for (const [arg, re] of cases) assert.throws(() => resolveConfig({ overrides: [arg] }), re, arg);
  assert.equal(configKey('data.imageSize')?.max, MAX_MODEL_INPUT_SIDE);
  assert.equal(resolveConfig({ overrides: [`data.imageSize=${MAX_MODEL_INPUT_SIDE}`] }).data.imageSize, 2048);
  for (const preset of Object.keys(PRESETS)) assert.doesNotThrow(() => resolveConfig({ preset }), preset);
});

test('__proto__ and constructor keys are unknown keys naming the file, never a way into Object.prototype', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-proto-'));
  const json = path.join(dir, 'p.json');
  writeFileSync(json, '{"data": {"__proto__": {"polluted": 1}}}');
  assert.throws(
    () => resolveConfig({ file: json }),
    new RegExp(`${json.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: unknown config key 'data\\.__proto__'`),
  );
  const yaml = path.join(dir, 'p.yaml');
  writeFileSync(yaml, 'model:\n  constructor:\n    x: 1\n');
  assert.throws(() => resolveConfig({ file: yaml }), /p\.yaml: unknown config key 'model\.constructor'/);
  assert.throws(() => resolveConfig({ overrides: ['__proto__.x=1'] }), /unknown config key '__proto__\.x'/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('~ in path keys is the home folder, as in a shell', () => {
  const c = resolveConfig({
    overrides: ['data.root=~/data/CUB_200_2011', 'model.pretrained=~/w/r50.pth', 'out=~', 'data.train=rel/~x'],
  });
  assert.equal(c.data.root, path.join(homedir(), 'data/CUB_200_2011'));
  assert.equal(c.model.pretrained, path.join(homedir(), 'w/r50.pth'));
  assert.equal(c.out, homedir());
  assert.equal(c.data.train, 'rel/~x');
});

test("the ViT presets follow Open Metric Learning's DINO ViT-S/16 configs", () => {
  const rows = Object.fromEntries(
    ['cub-vit', 'cars-vit', 'sop-vit', 'inshop-vit'].map((p) => {
      const c = resolveConfig({ preset: p });
      assert.equal(c.model.arch, 'vit_small_patch16', p);
      assert.deepEqual(
        [c.optim.name, c.optim.lr, c.optim.schedule, c.loss.name],
        ['adamw', 1e-5, 'none', 'triplet'],
        p,
      );
      return [
        p,
        [
          c.batchSize / c.loss.samplesPerClass,
          c.loss.samplesPerClass,
          c.optim.weightDecay,
          c.loss.options.mining,
          c.loss.options.smooth ?? false,
        ],
      ];
    }),
  );
  // n_labels × n_instances, weight decay, mining, soft margin: train_{cub,cars,sop,inshop}.yaml.
  assert.deepEqual(rows, {
    'cub-vit': [8, 4, 0, 'all', true],
    'cars-vit': [20, 10, 0, 'all', true],
    'sop-vit': [32, 6, 0, 'hard', false],
    'inshop-vit': [30, 4, 0.01, 'hard', true],
  });
});

test('errors are ConfigErrors carrying the key and where its value came from, as data', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-origin-'));
  const file = path.join(dir, 'run.json');
  writeFileSync(file, '{"epochs": 0, "optim": {"lr": 0.1}}');
  const caught = (f: () => unknown): ConfigError => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e;
    }
    assert.fail('no error');
  };
  const fromOverride = caught(() => resolveConfig({ file, overrides: ['epochs=1', 'optim.lr=0'] }));
  assert.deepEqual([fromOverride.key, fromOverride.origin], ['optim.lr', { kind: 'override', arg: 'optim.lr=0' }]);
  const fromFile = caught(() => resolveConfig({ file }));
  assert.deepEqual([fromFile.key, fromFile.origin], ['epochs', { kind: 'file', file }]);
  // A later override fixes what the file set: the file's value is never checked on its own.
  assert.equal(resolveConfig({ file, overrides: ['epochs=2'] }).epochs, 2);
  const fromPreset = caught(() => resolveConfig({ overrides: ['optim.schedule=step'] }));
  assert.deepEqual([fromPreset.key, fromPreset.origin], ['optim.lrStep', { kind: 'preset', preset: 'fashion-mnist' }]);
  const unknown = caught(() => resolveConfig({ overrides: ['optim.lrr=1'] }));
  assert.deepEqual([unknown.key, unknown.origin.kind], ['optim.lrr', 'override']);
  assert.equal(caught(() => resolveConfig({ overrides: ['noequals'] })).key, null);
});

test('every path key expands ~, whatever its section: the table types them, nothing lists them again', () => {
  const paths = CONFIG_KEY_LIST.filter((k) => k.type === 'path').map((k) => k.key);
  assert.ok(paths.length >= 7, paths.join(' '));
  const c = resolveConfig({ overrides: paths.map((k) => `${k}=~/x`) });
  for (const k of paths) assert.equal(getKey(c, k), path.join(homedir(), 'x'), k);
});
