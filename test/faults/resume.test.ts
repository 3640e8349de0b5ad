// Resume after the faults a run meets in practice: temporary files of a checkpoint write killed
// half-way, a last checkpoint that is missing or corrupt while best.safetensors is fine, and a
// resume with nothing to resume from next to an old metrics log.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticIdx } from '../ml/data/synthetic-idx.js';
import { readSafetensors, writeSafetensors } from '../../src/engine/serialize/safetensors.js';
import { CHECKSUM_KEY, tensorChecksums } from '../../src/engine/serialize/integrity.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dml-resume-faults-'));
after(() => rmSync(root, { recursive: true, force: true }));
const data = path.join(root, 'data');
writeSyntheticIdx(data, 8, 4, 12);
const common = [
  `data.root=${data}`,
  'batchSize=16',
  'model.smallInput=true',
  'model.numFeatures=16',
  'threads=1',
  'logEvery=1',
];
const dml = (...a: string[]) =>
  spawnSync(process.execPath, [cli, 'train', ...common, ...a], { encoding: 'utf8', timeout: 120_000 });
const steps = (run: string): number[] =>
  readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number })
    .filter((e) => e.type === 'train')
    .map((e) => e.step);

test("temporary files of a dead writer are removed at start; a live writer's are kept", { timeout: 120_000 }, () => {
  const out = path.join(root, 'stale');
  assert.equal(dml(`out=${out}`, 'epochs=1').status, 0);
  // A pid far above the kernel's default pid_max is never a live process.
  const dead = path.join(out, '.last.safetensors.4999999.a1b2c3d4e5f6.tmp');
  const live = path.join(out, `.best.safetensors.${process.pid}.0a0b0c0d0e0f.tmp`);
  writeFileSync(dead, 'half a checkpoint');
  writeFileSync(live, 'being written');
  const r = dml(`out=${out}`, 'epochs=2', '--resume');
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /removed .*\.last\.safetensors\.4999999\.a1b2c3d4e5f6\.tmp, left by a checkpoint write that was interrupted/,
  );
  assert.ok(!existsSync(dead));
  assert.ok(existsSync(live));
});

test('a missing or corrupt last checkpoint falls back to best.safetensors, saying so', { timeout: 180_000 }, () => {
  for (const damage of ['missing', 'corrupt'] as const) {
    const out = path.join(root, `fallback-${damage}`);
    assert.equal(dml(`out=${out}`, 'epochs=1').status, 0);
    const last = path.join(out, 'last.safetensors');
    if (damage === 'missing') unlinkSync(last);
    else truncateSync(last, 100);
    const r = dml(`out=${out}`, 'epochs=2', '--resume');
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      damage === 'missing'
        ? /last\.safetensors does not exist: resuming from .*best\.safetensors \(epoch 1\)/
        : /last\.safetensors is unreadable \(.*\): resuming from .*best\.safetensors \(epoch 1\)/,
    );
    assert.match(r.stdout, /resumed from .*best\.safetensors: 1 epochs done/);
    assert.match(r.stdout, /after 2 epochs/);
    // One step per batch, each once: the log reads as one run.
    const s = steps(out);
    assert.deepEqual(
      s,
      [...new Set(s)].sort((a, b) => a - b),
    );
  }
});

test('--resume with no checkpoint starts afresh and keeps the old log aside', { timeout: 120_000 }, () => {
  const out = path.join(root, 'nothing');
  assert.equal(dml(`out=${out}`, 'epochs=1').status, 0);
  const before = steps(out);
  for (const f of ['last.safetensors', 'best.safetensors']) unlinkSync(path.join(out, f));
  const r = dml(`out=${out}`, 'epochs=1', '--resume');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /no checkpoint in .*; starting fresh/);
  assert.deepEqual(steps(out), before, 'the new log holds this run once, not appended to the old one');
  assert.ok(readdirSync(out).some((f) => /^metrics\.jsonl\.\d+\.old$/.test(f)));
});

test(
  '--resume refuses a last checkpoint whose optimizer state holds NaN, naming the tensor',
  { timeout: 120_000 },
  () => {
    const out = path.join(root, 'nan');
    assert.equal(dml(`out=${out}`, 'epochs=1').status, 0);
    const last = path.join(out, 'last.safetensors');
    const c = readSafetensors(new Uint8Array(readFileSync(last)), last);
    const name = [...c.tensors.keys()].find((k) => k.startsWith('optim.') && k.endsWith('momentum_buffer'))!;
    const t = c.tensors.get(name)!;
    const values = new Float32Array(t.data.slice().buffer);
    values[0] = Number.NaN;
    const tensors = new Map(c.tensors).set(name, { ...t, data: new Uint8Array(values.buffer) });
    // Checksums that match: the file is as written, and what was written is not sane.
    writeFileSync(last, writeSafetensors(tensors, { ...c.metadata, [CHECKSUM_KEY]: tensorChecksums(tensors) }));
    const r = dml(`out=${out}`, 'epochs=2', '--resume');
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `last\\.safetensors: optimizer state tensor '${name.replace(/\./g, '\\.')}' holds NaN or infinite values: ` +
          'the run cannot continue from it \\(.*best\\.safetensors may be sound\\)',
      ),
    );
    // Before: one step, then a NaN loss blamed on the lr, calling this file the last good checkpoint.
    assert.doesNotMatch(r.stderr, /loss became NaN/);
  },
);
