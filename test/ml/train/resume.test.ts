// --resume continues bit-for-bit: a run killed with SIGKILL mid-epoch and resumed ends with exactly
// the weights of an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticIdx } from '../data/synthetic-idx.js';
import { loadTensors, toRaw } from '../../../src/engine/index.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/main.js');

function args(data: string, out: string): string[] {
  return [
    cli,
    'train',
    `data.root=${data}`,
    `out=${out}`,
    'epochs=3',
    'batchSize=16',
    'model.smallInput=true',
    'model.numFeatures=32',
    'threads=1',
    'logEvery=1',
    'seed=7',
  ];
}

/** Every tensor of a run's last checkpoint (model, optimizer state, RNG state) as raw bytes. */
function checkpointTensors(run: string): Map<string, Buffer> {
  const { tensors } = loadTensors(path.join(run, 'last.safetensors'));
  const out = new Map<string, Buffer>();
  for (const [k, t] of tensors) {
    out.set(k, Buffer.from(toRaw(t).data));
    t.dispose();
  }
  return out;
}

test('kill -9 mid-epoch, resume, same final checkpoint as an uninterrupted run', { timeout: 240_000 }, async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dml-resume-'));
  const data = path.join(root, 'data');
  writeSyntheticIdx(data, 16, 4, 12);

  const full = path.join(root, 'full');
  const r = spawnSync(process.execPath, args(data, full), { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);

  const cut = path.join(root, 'cut');
  const child = spawn(process.execPath, args(data, cut), { stdio: ['ignore', 'pipe', 'pipe'] });
  // Wait for the first epoch's checkpoint, then for a few steps of epoch 2, then SIGKILL.
  const ckpt = path.join(cut, 'last.safetensors');
  const metrics = path.join(cut, 'metrics.jsonl');
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error('child finished before it could be killed'));
        return;
      }
      if (!existsSync(ckpt) || !existsSync(metrics)) return;
      const steps = readFileSync(metrics, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; epoch: number });
      if (steps.some((s) => s.type === 'train' && s.epoch === 2)) {
        clearInterval(timer);
        child.kill('SIGKILL');
        resolve();
      }
    }, 5);
  });
  await new Promise((res) => child.once('exit', res));
  assert.ok(statSync(ckpt).size > 0);
  const resumed = spawnSync(process.execPath, [...args(data, cut), '--resume'], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed from/);
  const a = checkpointTensors(full),
    b = checkpointTensors(cut);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  assert.ok(a.size > 100);
  for (const [k, v] of a) assert.ok(v.equals(b.get(k)!), `tensor ${k} differs after resume`);
  // The metrics log reads as one run: the killed run's steps past its checkpoint are gone.
  const log = (run: string): string[] =>
    readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const { type, epoch, step, loss } = JSON.parse(l) as Record<string, unknown>;
        return JSON.stringify({ type, epoch, step, loss });
      });
  assert.deepEqual(log(cut), log(full));
});
