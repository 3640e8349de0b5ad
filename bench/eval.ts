// Benchmark (not a test): leave-one-out Recall@{1,10,100,1000} on random SOP-sized embeddings
// (60,502 x 2,048 float32, 11,316 classes), ours against PyTorch on the same data and threads.
//
//   npx tsc -p tsconfig.json && node dist/bench/eval.js [--n 60502] [--d 2048] [--classes 11316]
//        [--ks 1,10,100,1000] [--threads <cores>] [--budget-mb 256] [--metric cosine|l2] [--repeat 1] [--no-torch]
//        [--python PATH (default: the venv of scripts/python-bench-env.sh)]
//
// The parent writes the embeddings (raw float32) and labels (raw int64) to a temporary directory;
// a node child (this file with --worker) and a Python child (bench/eval_torch.py, current PyTorch)
// each load them and time only the evaluation. Each child reports its own peak
// RSS, so both figures include the 0.5 GB of embeddings and nothing of the other side. Both use
// the same queries per chunk (from the memory budget) and the same thread count (ATen, MKL). Recall values must
// agree (random data has no ties). With --repeat R the two sides alternate R times and the best time of each is
// compared (the least disturbed by other load). CPU seconds are reported too: on a shared machine they vary less
// with the other load than wall time does (spinning thread pools inflate both sides alike).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, readSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Generator, randn, tensor, empty, tidy, setNumThreads, getNumThreads, buildInfo } from '../src/engine/index.js';
import { recallAtK, chunkRowsForBudget, type RetrievalMetric } from '../src/ml/eval/index.js';
import { benchPython } from './python.js';

interface SideResult {
  seconds: number;
  /** User + system CPU seconds of the evaluation (all threads). */
  cpuSeconds: number;
  recall: Record<string, number>;
  maxRssMB: number;
}

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '60502' },
    d: { type: 'string', default: '2048' },
    classes: { type: 'string', default: '11316' },
    ks: { type: 'string', default: '1,10,100,1000' },
    python: { type: 'string' },
    threads: { type: 'string', default: String(availableParallelism()) },
    'budget-mb': { type: 'string', default: '256' },
    metric: { type: 'string', default: 'cosine' },
    seed: { type: 'string', default: '0' },
    'no-torch': { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    worker: { type: 'string' },
  },
});
const n = Number(flags.n),
  d = Number(flags.d),
  classes = Number(flags.classes),
  threads = Number(flags.threads);
const ks = flags.ks!.split(',').map(Number);
const budget = Number(flags['budget-mb']) * 2 ** 20;
const metric = flags.metric as RetrievalMetric;
if (metric !== 'cosine' && metric !== 'l2') throw new Error(`--metric must be cosine or l2, got ${flags.metric}`);
const rows = chunkRowsForBudget(n, 4, [metric], budget);
const childEnv = {
  ...process.env,
  OMP_NUM_THREADS: String(threads),
  OPENBLAS_NUM_THREADS: String(threads),
  MKL_NUM_THREADS: String(threads),
};

if (flags.worker !== undefined) worker(flags.worker);
else main();

/** Child: load the files into one preallocated tensor (no second copy), time recallAtK. */
function worker(dir: string): void {
  setNumThreads(threads);
  const x = empty([n, d]);
  const fd = openSync(path.join(dir, 'x.f32'), 'r');
  const block = 4096;
  const buf = new Float32Array(block * d);
  for (let s = 0; s < n; s += block) {
    const r = Math.min(block, n - s);
    readSync(fd, new Uint8Array(buf.buffer, 0, r * d * 4), 0, r * d * 4, s * d * 4);
    tidy(() => {
      x.narrow(0, s, r).copy_(tensor(buf.subarray(0, r * d), { shape: [r, d] }));
    });
  }
  closeSync(fd);
  const labels = new BigInt64Array(n);
  const yfd = openSync(path.join(dir, 'y.i64'), 'r');
  readSync(yfd, new Uint8Array(labels.buffer), 0, n * 8, 0);
  closeSync(yfd);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const recall = recallAtK(x, labels, ks, { metric, memoryBudgetBytes: budget });
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const out: SideResult = {
    seconds,
    cpuSeconds: (c1.user + c1.system) / 1e6,
    recall,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function runChild(cmd: string, args: string[]): SideResult {
  const r = spawnSync(cmd, args, { env: childEnv, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as SideResult;
}

function main(): void {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const pyScript = path.resolve(here, '../../bench/eval_torch.py');
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-bench-eval-'));
  try {
    // Random data, written in blocks so the parent never holds the whole matrix.
    const gen = new Generator(Number(flags.seed));
    const fd = openSync(path.join(dir, 'x.f32'), 'w');
    for (let s = 0; s < n; s += 4096) {
      const r = Math.min(4096, n - s);
      const a = tidy(() => randn([r, d], { generator: gen }).data() as Float32Array);
      writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    }
    closeSync(fd);
    // SOP-like classes: n / classes images each (5.35 for SOP), in blocks (the data are i.i.d.).
    const y = BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.floor((i * classes) / n)));
    const yfd = openSync(path.join(dir, 'y.i64'), 'w');
    writeSync(yfd, new Uint8Array(y.buffer));
    closeSync(yfd);

    const info = buildInfo();
    console.log(`leave-one-out Recall@{${ks.join(',')}} by ${metric}, ${n} x ${d} float32, ${classes} classes`);
    console.log(
      `libtorch ${info.torchVersion} (BLAS ${info.blas}), ${threads} threads (this process had ${getNumThreads()}), ` +
        `budget ${flags['budget-mb']} MiB -> ${rows} queries per chunk, data ${((n * d * 4) / 2 ** 20).toFixed(0)} MiB`,
    );
    const self = fileURLToPath(import.meta.url);
    const passArgs = [
      '--n',
      String(n),
      '--d',
      String(d),
      '--classes',
      String(classes),
      '--ks',
      ks.join(','),
      '--threads',
      String(threads),
      '--budget-mb',
      flags['budget-mb']!,
      '--metric',
      metric,
    ];
    const torchArgs = [
      pyScript,
      path.join(dir, 'x.f32'),
      path.join(dir, 'y.i64'),
      String(n),
      String(d),
      ks.join(','),
      String(threads),
      String(rows),
      metric,
    ];
    const oursRuns: SideResult[] = [],
      torchRuns: SideResult[] = [];
    for (let r = 0; r < Number(flags.repeat); r++) {
      const o = runChild(process.execPath, [self, ...passArgs, '--worker', dir]);
      oursRuns.push(o);
      console.log(
        `dml-ts  ${o.seconds.toFixed(2)} s (CPU ${o.cpuSeconds.toFixed(1)} s)   peak RSS ${o.maxRssMB.toFixed(0)} ` +
          `MiB   recall ${fmt(o.recall)}`,
      );
      if (flags['no-torch']) continue;
      const t = runChild(benchPython(flags.python), torchArgs);
      torchRuns.push(t);
      console.log(
        `PyTorch ${t.seconds.toFixed(2)} s (CPU ${(t.cpuSeconds ?? NaN).toFixed(1)} s)   peak RSS ` +
          `${t.maxRssMB.toFixed(0)} MiB   recall ${fmt(t.recall)}`,
      );
    }
    if (flags['no-torch']) return;
    const best = (rs: SideResult[]): number => Math.min(...rs.map((x) => x.seconds));
    const bestCpu = (rs: SideResult[]): number => Math.min(...rs.map((x) => x.cpuSeconds ?? NaN));
    const diff = Math.max(
      ...ks.map((k) => Math.abs(oursRuns[0]!.recall[String(k)]! - torchRuns[0]!.recall[String(k)]!)),
    );
    console.log(
      `time ratio dml-ts / PyTorch = ${(best(oursRuns) / best(torchRuns)).toFixed(3)}x (best of ${oursRuns.length}; ` +
        `goal <= 1.0x); ` +
        `max |recall difference| = ${diff.toExponential(2)}`,
    );
    console.log(`CPU-time ratio dml-ts / PyTorch = ${(bestCpu(oursRuns) / bestCpu(torchRuns)).toFixed(3)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(r: Record<string, number>): string {
  return Object.entries(r)
    .map(([k, v]) => `R@${k}=${(100 * v).toFixed(3)}%`)
    .join(' ');
}
