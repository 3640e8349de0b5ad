// Calibration of the memory budget (src/ml/run/memory-budget.ts): short `dml train` runs (three
// steps) and a `dml embed` of the run's checkpoint, each in a child that reports its peak resident
// set size (VmHWM), beside the budget's estimate for the same settings. Run it after `npm run build`:
//   nice -n 19 node dist/bench/memory.js [arch:side:batch ...]
// It prints the table that memory-budget.ts quotes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImage } from '../test/ml/data/helpers.js';
import { resolveConfig } from '../src/ml/run/config/resolve.js';
import { estimateInferenceMemory, estimateTrainingMemory } from '../src/ml/run/memory-budget.js';

const child = fileURLToPath(new URL('../test/faults/rss-child.js', import.meta.url));
const DEFAULT = [
  'resnet18:28:8',
  'resnet18:64:32',
  'resnet18:112:32',
  'resnet50:64:16',
  'resnet50:112:32',
  'resnet50:112:64',
  'vit_tiny_patch16:112:32',
];
const CLASSES = 4;

function peakMiB(argv: string[]): number {
  const r = spawnSync(process.execPath, [child, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = /DML_MAX_RSS_KB (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr.slice(-2000)}`);
  return Number(m[1]) / 1024;
}

const root = mkdtempSync(path.join(tmpdir(), 'dml-bench-memory-'));
try {
  const cases = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT;
  // Three steps of each batch size (data.limitTrain would take the first class only); the test
  // split is small (evaluation is not what is measured).
  for (const batch of new Set(cases.map((c) => Number(c.split(':')[2]))))
    for (let i = 0; i < 3 * batch; i++)
      await writeImage(path.join(root, `train${batch}`, `c${i % CLASSES}`, `${i}.jpg`), 128, 128, { seed: i });
  for (let i = 0; i < 8; i++)
    await writeImage(path.join(root, 'test', `t${i % 2}`, `${i}.jpg`), 128, 128, { seed: 1000 + i });
  const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
  console.log(
    '| arch | side | batch | train est. MiB | train VmHWM MiB | ratio | embed est. MiB | embed VmHWM MiB | ratio |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of cases) {
    const [arch, side, batch] = c.split(':') as [string, string, string];
    const out = path.join(root, `run-${c.replace(/:/g, '-')}`);
    const keys = [
      'preset=none',
      'data.kind=folder',
      `data.train=${path.join(root, `train${batch}`)}`,
      `data.test=${path.join(root, 'test')}`,
      `model.arch=${arch}`,
      `data.imageSize=${side}`,
      `data.resize=${side}`,
      `batchSize=${batch}`,
      'epochs=1',
      'data.workers=1',
      'threads=2',
      'memoryLimitMB=1000000',
      `out=${out}`,
    ];
    const cfg = resolveConfig({ overrides: keys });
    const train = estimateTrainingMemory(cfg, { numClasses: CLASSES });
    const trained = peakMiB(['train', ...keys, '--quiet']);
    const infer = estimateInferenceMemory({
      ...cfg.model,
      imageSize: cfg.data.imageSize,
      inChannels: 3,
      batch: Number(batch),
    });
    const embedded = peakMiB([
      'embed',
      '--checkpoint',
      out,
      '--dir',
      path.join(root, `train${batch}`),
      '--out',
      path.join(root, 'e.safetensors'),
      '--batch',
      batch,
      '--workers',
      '1',
      '--quiet',
    ]);
    console.log(
      `| ${arch} | ${side} | ${batch} | ${mib(train.total)} | ${trained.toFixed(0)} | ` +
        `${(train.total / 2 ** 20 / trained).toFixed(2)} | ${mib(infer.total)} | ${embedded.toFixed(0)} | ` +
        `${(infer.total / 2 ** 20 / embedded).toFixed(2)} |`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
