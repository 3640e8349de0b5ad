// The dataset table is the one place a dataset is described: the config's kinds, the presets,
// dml prepare and the pipelines of training, evaluation and dml embed all read it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DATASET_KINDS, DATASET_SPECS, datasetSpec } from '../../../../src/ml/run/datasets/index.js';
import { datasetPipelines } from '../../../../src/ml/run/datasets/pipelines.js';
import { configKey } from '../../../../src/ml/run/config/keys.js';
import { resolveConfig } from '../../../../src/ml/run/config/resolve.js';
import { PRESETS, PRESET_WEIGHTS } from '../../../../src/ml/run/presets.js';
import { testPipelineFor } from '../../../../src/ml/run/pipelines.js';
import { command as prepare } from '../../../../src/cli/prepare.js';

test('data.kind accepts exactly the kinds of the dataset table', () => {
  assert.deepEqual(configKey('data.kind')?.choices, DATASET_KINDS);
  assert.deepEqual(
    DATASET_SPECS.map((s) => s.kind),
    ['fashion-mnist', 'cub', 'cars', 'sop', 'inshop', 'list', 'folder'],
  );
  assert.throws(() => datasetSpec('mnist'), /unknown data\.kind 'mnist'/);
});

test('each preset comes from its dataset file: its data.kind, runs/<preset>, and the weights it names', () => {
  const declared = DATASET_SPECS.flatMap((s) => Object.keys(s.presets ?? {}).map((name) => [name, s.kind] as const));
  assert.deepEqual(Object.keys(PRESETS).sort(), declared.map(([n]) => n).sort());
  for (const [name, kind] of declared) {
    const c = resolveConfig({ preset: name });
    assert.deepEqual([c.data.kind, c.out], [kind, `runs/${name}`], name);
  }
  assert.deepEqual(Object.keys(PRESET_WEIGHTS).sort(), [
    'cars',
    'cars-vit',
    'cub',
    'cub-vit',
    'inshop',
    'inshop-vit',
    'sop',
    'sop-vit',
  ]);
});

test('dml prepare offers the datasets that declare a preparer, with their help lines', () => {
  const preparable = DATASET_SPECS.filter((s) => s.prepare).map((s) => s.kind);
  assert.deepEqual(preparable, ['cub', 'cars', 'sop', 'inshop']);
  assert.match(prepare.help, new RegExp(`^usage: dml prepare ${preparable.join('\\|')} --root`));
  for (const s of DATASET_SPECS) if (s.prepare) assert.ok(prepare.help.includes(s.prepare.help), s.kind);
});

test("dml embed's test pipeline is the one the dataset's evaluation loaders use", () => {
  const transforms = (kind: string, extra: string[] = []): string =>
    JSON.stringify(testPipelineFor(resolveConfig({ overrides: [`data.kind=${kind}`, ...extra] }), 3).toSpec());
  for (const s of DATASET_SPECS) {
    const cfg = resolveConfig({ overrides: [`data.kind=${s.kind}`] });
    const { test: own } = datasetPipelines(s.transforms, cfg.data, { channels: 3 });
    assert.equal(transforms(s.kind), JSON.stringify(own.toSpec()), s.kind);
  }
  // data.resize: the shorter side for CUB-like photos, both sides for Cars and SOP (the reference's).
  const resizeOf = (kind: string): unknown =>
    (JSON.parse(transforms(kind)) as { transforms: { type: string; size: unknown }[] }).transforms[0]!.size;
  assert.deepEqual(['cub', 'inshop', 'list', 'folder', 'cars', 'sop'].map(resizeOf), [
    256,
    256,
    256,
    256,
    [256, 256],
    [256, 256],
  ]);
  // In-memory 28-px data: any image becomes 28×28, or the side a model requires.
  const fm = resolveConfig();
  assert.deepEqual(
    testPipelineFor(fm, 1)
      .toSpec()
      .transforms.map((t) => t.type),
    ['Resize', 'CenterCrop', 'ToTensor'],
  );
  assert.deepEqual(testPipelineFor(fm, 1, 32).toSpec().transforms[1], { type: 'CenterCrop', size: [32, 32] });
});
