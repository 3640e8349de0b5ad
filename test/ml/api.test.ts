// The library's train(): the same overwrite guard as dml train (in the library's words), and a quiet
// run that reports its progress to a callback instead of the console.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train, type TrainProgress } from '../../src/ml/api.js';
import { writeSyntheticIdx } from './data/synthetic-idx.js';

/** Runs fn with stdout and stderr captured; returns what they received. */
async function captured<T>(fn: () => Promise<T>): Promise<{ value: T; printed: string }> {
  const chunks: string[] = [];
  const saved = { out: process.stdout.write, err: process.stderr.write, log: console.log, warn: console.warn };
  const keep = ((s: string | Uint8Array) => {
    chunks.push(String(s));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = keep;
  process.stderr.write = keep;
  console.log = (...a: unknown[]) => void chunks.push(a.join(' '));
  console.warn = console.log;
  try {
    return { value: await fn(), printed: chunks.join('') };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    Object.assign(console, { log: saved.log, warn: saved.warn });
  }
}

test(
  'train(): quiet with a progress callback; refuses an existing run unless force or resume',
  { timeout: 120_000 },
  async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'dml-api-train-'));
    try {
      const data = path.join(root, 'data');
      writeSyntheticIdx(data, 8, 4, 12);
      const out = path.join(root, 'run');
      const overrides = [
        `data.root=${data}`,
        'batchSize=8',
        'model.smallInput=true',
        'model.numFeatures=8',
        'threads=1',
        'epochs=1',
        'data.workers=0',
        `out=${out}`,
      ];
      const seen: TrainProgress[] = [];
      const first = await captured(() => train({ overrides }, { quiet: true, onProgress: (p) => seen.push(p) }));
      assert.equal(first.printed, '');
      assert.equal(first.value.epochs, 1);
      assert.ok(existsSync(path.join(out, 'last.safetensors')));
      // 40 training images, batch 8: one call per batch, in order, each with a finite loss.
      assert.deepEqual(
        seen.map((p) => [p.epoch, p.epochs, p.batch, p.batches, p.step]),
        [1, 2, 3, 4, 5].map((b) => [1, 1, b, 5, b]),
      );
      assert.ok(seen.every((p) => Number.isFinite(p.loss) && p.imagesPerSecond > 0));

      await assert.rejects(
        train({ overrides }, { quiet: true }),
        (e: Error) =>
          e.message.startsWith(`train(): ${out} already holds a run (last.safetensors, best.safetensors)`) &&
          e.message.includes('`resume: true`') &&
          e.message.includes('`force: true`') &&
          !e.message.includes('--'),
      );
      // A run on other data: the message offers no force (not a run to replace by reflex) but another folder.
      const other = path.join(root, 'other');
      writeSyntheticIdx(other, 8, 4, 12, 2);
      await assert.rejects(
        train({ overrides: [...overrides, `data.root=${other}`] }, { quiet: true }),
        /holds a run on other data \(data\.root .*\): give this run its own folder with out=DIR/,
      );
      const again = await captured(() => train({ overrides }, { quiet: true, force: true }));
      assert.equal(again.printed, '');
      assert.equal(again.value.epochs, 1);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test("train(): the run's warnings go to log (not the console when quiet) and come back in the result", async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dml-api-warn-'));
  try {
    const data = path.join(root, 'data');
    writeSyntheticIdx(data, 8, 4, 12);
    // 40 training images at batch 16: 2 steps an epoch, and the last 8 images dropped.
    const overrides = [
      `data.root=${data}`,
      'batchSize=16',
      'model.smallInput=true',
      'model.numFeatures=8',
      'threads=1',
      'epochs=1',
      'data.workers=0',
      `out=${path.join(root, 'run')}`,
    ];
    const lines: string[] = [];
    const r = await captured(() => train({ overrides }, { quiet: true, log: (l) => lines.push(l) }));
    assert.equal(r.printed, '');
    assert.ok(
      r.value.warnings.some((w) => /2 steps/.test(w)),
      r.value.warnings.join('\n'),
    );
    assert.ok(
      r.value.warnings.some((w) => /8 of the 40 training images/.test(w)),
      r.value.warnings.join('\n'),
    );
    for (const w of r.value.warnings) assert.ok(lines.includes(`warning: ${w}`), `logged: ${w}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
