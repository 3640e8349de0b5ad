// The registry is the one list of losses: the README's list and the class-table flags come from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ClassTableLoss,
  createLoss,
  LOSS_NAMES,
  LOSS_SPECS,
  LogitLoss,
  MetricLoss,
  needsClassTable,
  type LossName,
} from '../../../src/ml/losses/index.js';
import { lossListMarkdown } from '../../../src/ml/losses/registry.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

test("the README's list of losses is the registry", () => {
  const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
  const m = /<!-- loss-names:start -->([\s\S]*?)<!-- loss-names:end -->/.exec(readme);
  assert.ok(m, 'README has the loss-names markers');
  // On a mismatch: npm run build && node scripts/update-readme-keys.mjs
  assert.equal(m[1], lossListMarkdown());
  for (const name of LOSS_NAMES) assert.ok(m[1]!.includes(`\`${name}\``), name);
});

test('classTable is declared exactly for the losses that keep a per-class table', () => {
  for (const name of LOSS_NAMES) {
    const table = needsClassTable(name);
    const o = table ? { numClasses: 3, embeddingSize: 4, seed: 1 } : {};
    const l = (createLoss as (n: LossName, o: object) => MetricLoss | LogitLoss)(name, o);
    assert.equal(l instanceof ClassTableLoss, table, name);
    l.dispose();
  }
  assert.equal(needsClassTable('no-such-loss'), false);
});

test('every name is a spec or one of its aliases, each once', () => {
  const declared = LOSS_SPECS.flatMap((s) => [s.name, ...('aliases' in s ? s.aliases.map((a) => a.name) : [])]);
  assert.deepEqual(declared, LOSS_NAMES);
  assert.equal(new Set(LOSS_NAMES).size, LOSS_NAMES.length);
});
