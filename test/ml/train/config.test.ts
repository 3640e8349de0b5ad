import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveConfig, PRESETS } from '../../../src/ml/train/config.js';

test('default preset is fashion-mnist with the paper recipe knobs', () => {
  const c = resolveConfig();
  assert.equal(c.preset, 'fashion-mnist');
  assert.equal(c.data.kind, 'fashion-mnist');
  assert.equal(c.loss.name, 'smooth-ce');
  assert.equal(c.loss.labelSmoothing, 0.1);
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
    assert.deepEqual([c.epochs, c.optim.lr, c.optim.momentum, c.optim.nesterov, c.model.normLayer], [100, 0.003, 0.99, true, 'batch']);
  }
  assert.ok(Object.keys(PRESETS).includes('fashion-mnist-parity'));
});

test('overrides are typed and unknown keys are refused by name', () => {
  const c = resolveConfig({ overrides: ['epochs=5', 'optim.lr=0.01', 'optim.nesterov=false', 'recallKs=1,10', 'model.normLayer=layer'] });
  assert.deepEqual([c.epochs, c.optim.lr, c.optim.nesterov, c.recallKs, c.model.normLayer], [5, 0.01, false, [1, 10], 'layer']);
  assert.throws(() => resolveConfig({ overrides: ['optim.lrr=1'] }), /unknown config key 'optim.lrr'/);
  assert.throws(() => resolveConfig({ overrides: ['epochs=ten'] }), /'epochs' needs a number/);
  assert.throws(() => resolveConfig({ overrides: ['epochs=0'] }), /'epochs' must be a positive integer/);
  assert.throws(() => resolveConfig({ overrides: ['optim.nesterov=yes'] }), /needs true or false/);
  assert.throws(() => resolveConfig({ overrides: ['noequals'] }), /expected key=value/);
  assert.throws(() => resolveConfig({ preset: 'nope' }), /unknown preset 'nope'/);
  const cached = resolveConfig({ overrides: ['data.cache=decoded', 'data.cacheMB=512'] });
  assert.deepEqual([cached.data.cache, cached.data.cacheMB], ['decoded', 512]);
  assert.throws(() => resolveConfig({ overrides: ['data.cache=pixels'] }), /data.cache must be none, encoded or decoded, got 'pixels'/);
  assert.throws(() => resolveConfig({ overrides: ['data.cacheMB=-1'] }), /data.cacheMB must be a number >= 0/);
});

test('config files in JSON and YAML, with errors naming the file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-cfg-'));
  const y = path.join(dir, 'run.yaml');
  writeFileSync(y, 'preset: cub\nepochs: 7\noptim:\n  lr: 0.1\n');
  const c = resolveConfig({ file: y, overrides: ['epochs=8'] });
  assert.deepEqual([c.preset, c.epochs, c.optim.lr], ['cub', 8, 0.1]);
  const j = path.join(dir, 'bad.json');
  writeFileSync(j, '{"optim": {"momentum": "high"}}');
  assert.throws(() => resolveConfig({ file: j }), new RegExp(`${j.replace(/[/.]/g, '\\$&')}: 'optim.momentum' must be a number`));
  writeFileSync(j, '{"epochs": 3,');
  assert.throws(() => resolveConfig({ file: j }), /cannot parse config/);
});
