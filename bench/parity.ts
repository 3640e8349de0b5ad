// bench/parity: the shared PyTorch baseline (../shared/baselines/torch_reference.py) and our
// fashion-mnist-parity preset (same ResNet-18 28 px, batch 128, lr 0.05, warm-cosine, label smoothing)
// run one after the other on this machine; prints Recall@1 and training images/s side by side.
//   node dist/bench/parity.js [--epochs 3] [--threads 2] [--bench-steps N]
// With --bench-steps, only the training-step speed is compared (no full run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { benchPython } from './python.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'bench-steps': { type: 'string', default: '0' },
    python: { type: 'string' },
  },
});
const baseline = path.resolve(repo, '../shared/baselines/torch_reference.py');
if (!existsSync(baseline)) throw new Error(`baseline not found at ${baseline}`);

function lastJson(out: string): Record<string, unknown> {
  const lines = out
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

const benchSteps = Number(values['bench-steps']);
const py = spawnSync(
  benchPython(values.python),
  [
    baseline,
    '--epochs',
    values.epochs!,
    '--threads',
    values.threads!,
    ...(benchSteps ? ['--bench-steps', String(benchSteps)] : []),
  ],
  { encoding: 'utf8', maxBuffer: 1 << 26 },
);
if (py.status !== 0) throw new Error(`PyTorch baseline failed:\n${py.stderr}`);
const pyRes = lastJson(py.stdout);

const out = mkdtempSync(path.join(tmpdir(), 'dml-parity-'));
const ts = spawnSync(
  process.execPath,
  [path.join(repo, 'dist/bench/parity_ts.js'), values.epochs!, values.threads!, String(benchSteps), out],
  { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] },
);
if (ts.status !== 0) throw new Error('TypeScript run failed');
const tsRes = lastJson(ts.stdout);

if (benchSteps) {
  const a = tsRes.images_per_s as number,
    b = pyRes.images_per_s as number;
  console.log(
    `training step, batch 128, ${values.threads} threads: TS ${tsRes.ms_per_step} ms (${a} img/s)  PyTorch ` +
      `${pyRes.ms_per_step} ms (${b} img/s)  throughput ratio TS/PyTorch ${(a / b).toFixed(2)}`,
  );
} else {
  type Recall = Record<'cosine' | 'l2', Record<string, number>>;
  const recTs = tsRes.final_recall as Recall,
    recPy = pyRes.final_recall as Recall;
  console.log(`${values.epochs} epochs, ${values.threads} threads`);
  for (const m of ['cosine', 'l2'] as const) {
    const rTs = recTs[m]['1']!,
      rPy = recPy[m]['1']!;
    console.log(
      `${m} R@1: TS ${rTs.toFixed(2)}  PyTorch ${rPy.toFixed(2)}  difference ${(rTs - rPy).toFixed(2)} points`,
    );
  }
  const a = tsRes.train_images_per_s as number,
    b = pyRes.train_images_per_s as number;
  console.log(`train images/s: TS ${a.toFixed(1)}  PyTorch ${b.toFixed(1)}  ratio TS/PyTorch ${(a / b).toFixed(2)}`);
}
