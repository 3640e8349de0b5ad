// Own data gets its own run: no preset of Fashion-MNIST, a run folder named after the data, a stored
// configuration (config.yaml, checkpoints) that --resume continues and that a run on other data does
// not silently replace; unknown presets and losses get the nearest name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../../src/ml/run/config/resolve.js';
import { ConfigError } from '../../../src/ml/run/config/errors.js';
import { dataName } from '../../../src/ml/run/run-name.js';
import {
  CONFIG_FILE,
  DATA_SOURCE_KEYS,
  configChanges,
  readStoredConfig,
  resumeConfig,
  writeRunConfig,
} from '../../../src/ml/run/run-config.js';
import { saveCheckpoint } from '../../../src/ml/run/checkpoint.js';

const made: string[] = [];
const tmp = (prefix: string): string => {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const own = (dir: string): string[] => ['data.kind=folder', `data.train=${dir}/train`, `data.test=${dir}/test`];

test('own data without a preset starts from the key table, not Fashion-MNIST, in runs/<data name>', () => {
  const c = resolveConfig({ overrides: own('/srv/photos') });
  assert.deepEqual(
    [c.preset, c.out, c.model.arch, c.epochs, c.optim.lr],
    ['none', 'runs/photos', 'resnet50', 30, 0.02],
  );
  // out= wins; a named preset is kept; Fashion-MNIST stays the default run.
  assert.equal(resolveConfig({ overrides: [...own('/srv/photos'), 'out=runs/mine'] }).out, 'runs/mine');
  const cub = resolveConfig({ preset: 'cub', overrides: ['data.root=/data/CUB_200_2011'] });
  assert.deepEqual([cub.preset, cub.out], ['cub', 'runs/cub']);
  const fm = resolveConfig();
  assert.deepEqual(
    [fm.preset, fm.out, fm.model.arch, fm.epochs],
    ['fashion-mnist', 'runs/fashion-mnist', 'resnet18', 2],
  );
  assert.equal(resolveConfig({ preset: 'none' }).out, 'runs/latest');
});

test("the data's name: data.root's, the folder holding train and test, else the one path's", () => {
  const d = resolveConfig().data;
  assert.equal(dataName({ ...d, root: '/data/CUB_200_2011/' }), 'CUB_200_2011');
  assert.equal(dataName({ ...d, train: '/srv/photos/train', test: '/srv/photos/test' }), 'photos');
  assert.equal(dataName({ ...d, train: '/srv/lists/sop/train.txt', test: '/srv/lists/sop/test.txt' }), 'sop');
  // Paths that meet only at the root or the home folder: the training path's own name.
  assert.equal(dataName({ ...d, train: '/a/shoes.txt', test: '/b/test.txt' }), 'shoes');
  assert.equal(dataName({ ...d, train: path.join(homedir(), 'x'), test: path.join(homedir(), 'y') }), 'x');
  assert.equal(
    dataName({ ...d, train: '/srv/my photos (2024)/tr', test: '/srv/my photos (2024)/te' }),
    'my_photos_2024_',
  );
  assert.equal(dataName(d), 'latest');
});

test('unknown presets and losses are named with the nearest one, as usage errors of the argument', () => {
  const caught = (f: () => unknown): ConfigError => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e;
    }
    assert.fail('no error');
  };
  const p = caught(() => resolveConfig({ preset: 'cub-vitt' }));
  assert.equal(p.origin.kind, 'argument');
  assert.match(p.message, /unknown preset 'cub-vitt' \(did you mean cub-vit\?\) \(available: fashion-mnist, /);
  assert.match(p.message, /, none\)$/);
  const l = caught(() => resolveConfig({ overrides: ['loss.name=trpilet'] }));
  assert.equal(l.origin.kind, 'override');
  assert.match(l.message, /'loss\.name' must be one of cross-entropy, .*, got "trpilet" \(did you mean triplet\?\)/);
});

test('config.yaml holds the resolved configuration, and --config replays it', () => {
  const dir = tmp('dml-cfgyaml-');
  const c = resolveConfig({ overrides: [...own('/srv/photos'), 'epochs=3', 'loss.options.epsilon=0.2'] });
  const file = writeRunConfig(dir, c);
  assert.equal(path.basename(file), CONFIG_FILE);
  assert.deepEqual(resolveConfig({ file }), c);
  assert.deepEqual(readStoredConfig(dir)?.config, JSON.parse(JSON.stringify(c)));
});

test('a run folder: its checkpoint names its data; --resume continues its configuration', () => {
  const dir = tmp('dml-resume-cfg-');
  mkdirSync(dir, { recursive: true });
  const asked = [...own('/srv/photos'), `out=${dir}`, 'epochs=4'];
  const stored = resolveConfig({ overrides: [...asked, 'threads=7'] });
  saveCheckpoint(
    path.join(dir, 'last.safetensors'),
    {},
    {
      epoch: 1,
      step: 3,
      bestMetric: 0,
      bestEpoch: 1,
      scheduler: { lastStep: 3, baseLrs: [0.02] },
      optimizerGroups: [],
      config: stored,
      extra: {},
    },
  );
  const read = readStoredConfig(dir)!;
  assert.equal(read.source, path.join(dir, 'last.safetensors'));
  // Another data set into the same folder: the difference, by key.
  const other = resolveConfig({ overrides: [...own('/srv/cars'), `out=${dir}`] });
  assert.deepEqual(
    configChanges(read.config, other, DATA_SOURCE_KEYS).map((c) => c.key),
    ['data.train', 'data.test'],
  );
  // --resume with only out=: the stored run (its data, its 4 epochs), not the default preset.
  // (resumeConfig gets what the command line resolves to, as dml train --resume does.)
  const resume = (...overrides: string[]) => resumeConfig({ overrides }, resolveConfig({ overrides }));
  const bare = resolveConfig({ overrides: [`out=${dir}`] });
  const r = resume(`out=${dir}`, 'threads=1');
  assert.deepEqual(
    [r.cfg.data.train, r.cfg.epochs, r.cfg.threads, r.refused, r.moved],
    ['/srv/photos/train', 4, 1, [], []],
  );
  // Schedule keys cannot change, but for epochs (a run is extended: its schedule is recomputed, and
  // said); moved data can, and is said. Threads are this machine's: its cores unless the command says.
  assert.equal(resume(`out=${dir}`).cfg.threads, bare.threads);
  const changed = resume(`out=${dir}`, 'epochs=8', 'optim.lr=0.1');
  assert.deepEqual(
    [changed.refused, changed.rescheduled].map((l) => l.map((c) => [c.key, c.was, c.now])),
    [[['optim.lr', '0.02', '0.1']], [['epochs', '4', '8']]],
  );
  const extended = resume(`out=${dir}`, 'epochs=8');
  assert.deepEqual([extended.refused, extended.cfg.epochs], [[], 8]);
  const moved = resume(`out=${dir}`, 'data.train=/mnt/photos/train');
  assert.deepEqual([moved.refused, moved.moved.map((c) => c.key)], [[], ['data.train']]);
  // A folder without a run: a fresh start on what was asked.
  const empty = tmp('dml-resume-none-');
  const fresh = resolveConfig({ overrides: [`out=${empty}`] });
  assert.equal(resumeConfig({ overrides: [`out=${empty}`] }, fresh).source, null);
});
