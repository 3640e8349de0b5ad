// bench/engine: the engine against PyTorch on the same libtorch, same thread count, in one run.
//   node dist/bench/engine.js [--threads 2] [--scale 1] [--rounds 1]
//        [--python PATH (default: the venv of scripts/python-bench-env.sh)]
// Measures per-op dispatch overhead (1-element add), training steps of a small CNN, of ResNet-18
// (3x3 stem, no max-pool) on 28x28x1 at batch 128, of ResNet-50 and ViT-S/16 at 224 px batch 16, and the
// resident memory after 100 and 1,000 small-CNN steps (the goal: flat within 5%). The PyTorch side is
// bench/engine_torch.py, run afterwards as a child process so the two never share the CPU.
// --scale multiplies every iteration count (e.g. 0.05 for a quick smoke run). --rounds N alternates the
// two sides N times and keeps each row's best time per side, so that a slow spell of a shared machine
// (steal time) does not land on one side only; memory rows come from the first round.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  tensor,
  randn,
  randint,
  liveTensors,
  setNumThreads,
  getNumThreads,
  manualSeed,
  buildInfo,
  Generator,
  type Tensor,
  type nn,
} from '../src/engine/index.js';
import { ResNet, VitSmall, makeStep, smallCnn } from './models.js';
import { benchPython, runPythonJson } from './python.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    scale: { type: 'string', default: '1' },
    python: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const threads = Number(values.threads);
const scale = Number(values.scale);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
const n = (k: number): number => Math.max(1, Math.round(k * scale));

// ---- measurements ----

/** Wall-clock and process CPU time (all threads) per step: other jobs on a shared machine inflate
 * the first, the second shows the work done. */
function timeSteps(model: nn.Module, x: Tensor, y: Tensor, warmup: number, steps: number): [number, number] {
  const s = makeStep(model, x, y);
  for (let i = 0; i < warmup; i++) s.step();
  const c = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < steps; i++) s.step();
  const ms = (performance.now() - t) / steps;
  const cpu = process.cpuUsage(c);
  s.dispose();
  return [ms, (cpu.user + cpu.system) / 1e3 / steps];
}

function addOverhead(iters: number): number {
  const a = tensor(new Float32Array([1])),
    b = tensor(new Float32Array([2]));
  let best = Infinity;
  const block = Math.max(1, Math.floor(iters / 10)); // 30 short blocks, as the PyTorch side
  for (let rep = 0; rep < 30; rep++) {
    const t = performance.now();
    for (let i = 0; i < block; i++) {
      const r = a.add(b);
      r.dispose(); // Python frees the previous result when the name is rebound
    }
    best = Math.min(best, ((performance.now() - t) / block) * 1e3);
  }
  a.dispose();
  b.dispose();
  return best;
}

const rssMb = (): number => process.memoryUsage().rss / 2 ** 20;

interface Results {
  add_us: number;
  cnn_ms: number;
  cnn_cpu_ms: number;
  resnet18_ms: number;
  resnet18_cpu_ms: number;
  resnet50_ms: number;
  resnet50_cpu_ms: number;
  resnet50_cl_ms: number;
  vits_ms: number;
  vits_cpu_ms: number;
  rss_mb_100: number;
  rss_mb_1000: number;
}

function runTs(): Results & { liveAfter: number; liveBefore: number } {
  setNumThreads(threads);
  manualSeed(0);
  const g = new Generator(1);
  const liveBefore = liveTensors();
  const add_us = addOverhead(n(200_000));
  log(`TS add ${add_us.toFixed(2)} µs`);

  // Memory first, so the resident size reflects small-CNN training and not the ResNets' peaks
  // (the allocator keeps freed memory for reuse).
  let x = randn([32, 1, 28, 28], { generator: g }),
    y = randint(0, 10, [32], { generator: g });
  const s = makeStep(smallCnn(), x, y);
  let rss_mb_100 = NaN;
  for (let i = 1; i <= n(1000); i++) {
    s.step();
    if (i === n(100)) rss_mb_100 = rssMb();
  }
  const rss_mb_1000 = rssMb();
  s.dispose();
  x.dispose();
  y.dispose();
  log(`TS RSS ${rss_mb_100.toFixed(0)} → ${rss_mb_1000.toFixed(0)} MiB`);

  x = randn([32, 1, 28, 28], { generator: g });
  y = randint(0, 10, [32], { generator: g });
  const [cnn_ms, cnn_cpu_ms] = timeSteps(smallCnn(), x, y, n(10), n(100));
  log(`TS small CNN ${cnn_ms.toFixed(1)} ms`);
  x.dispose();
  y.dispose();

  x = randn([128, 1, 28, 28], { generator: g });
  y = randint(0, 10, [128], { generator: g });
  const [resnet18_ms, resnet18_cpu_ms] = timeSteps(new ResNet('basic', [2, 2, 2, 2], 1, 10, true), x, y, 1, n(4));
  log(`TS ResNet-18 ${resnet18_ms.toFixed(0)} ms`);
  x.dispose();
  y.dispose();

  x = randn([16, 3, 224, 224], { generator: g });
  y = randint(0, 1000, [16], { generator: g });
  const [resnet50_ms, resnet50_cpu_ms] = timeSteps(
    new ResNet('bottleneck', [3, 4, 6, 3], 3, 1000, false),
    x,
    y,
    1,
    n(3),
  );
  log(`TS ResNet-50 ${resnet50_ms.toFixed(0)} ms`);
  // Channels-last: weights and input in NHWC strides (torch.channels_last), the layout then carries through.
  const xcl = x.contiguous('channelsLast');
  const [resnet50_cl_ms] = timeSteps(
    new ResNet('bottleneck', [3, 4, 6, 3], 3, 1000, false).toMemoryFormat('channelsLast'),
    xcl,
    y,
    1,
    n(3),
  );
  xcl.dispose();
  log(`TS ResNet-50 channels-last ${resnet50_cl_ms.toFixed(0)} ms`);
  const [vits_ms, vits_cpu_ms] = timeSteps(new VitSmall(), x, y, 1, n(3));
  log(`TS ViT-S/16 ${vits_ms.toFixed(0)} ms`);
  x.dispose();
  y.dispose();

  return {
    add_us,
    cnn_ms,
    cnn_cpu_ms,
    resnet18_ms,
    resnet18_cpu_ms,
    resnet50_ms,
    resnet50_cpu_ms,
    resnet50_cl_ms,
    vits_ms,
    vits_cpu_ms,
    rss_mb_100,
    rss_mb_1000,
    liveBefore,
    liveAfter: liveTensors(),
  };
}

function runTorch(): Results & { threads: number; torch: string } {
  return runPythonJson<Results & { threads: number; torch: string }>(
    benchPython(values.python),
    path.join(repo, 'bench/engine_torch.py'),
    [String(threads), String(scale)],
  );
}

/** Each timing field's (…_ms, …_us) minimum over the rounds; the rest (RSS, counts) from the first. */
function bestOf<T extends Results>(runs: T[]): T {
  const out = { ...runs[0]! };
  for (const k of Object.keys(out) as (keyof Results)[]) {
    if (!/_(ms|us)$/.test(k)) continue;
    (out[k] as number) = Math.min(...runs.map((r) => r[k]));
  }
  return out;
}

function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

function main(): void {
  const t0 = performance.now();
  const tsRuns: ReturnType<typeof runTs>[] = [];
  const pyRuns: ReturnType<typeof runTorch>[] = [];
  for (let r = 0; r < rounds; r++) {
    if (rounds > 1) log(`round ${r + 1}/${rounds}`);
    tsRuns.push(runTs());
    log('running the PyTorch side...');
    pyRuns.push(runTorch());
  }
  const ts = bestOf(tsRuns);
  const py = bestOf(pyRuns);
  const growth = (r: Results): number => ((r.rss_mb_1000 - r.rss_mb_100) / r.rss_mb_100) * 100;
  const rows: [string, number, number, number][] = [
    ['add, 1 element (µs/op)', ts.add_us, py.add_us, 2],
    ['small CNN train step, batch 32 (ms)', ts.cnn_ms, py.cnn_ms, 1],
    ['  CPU time per step, all threads (ms)', ts.cnn_cpu_ms, py.cnn_cpu_ms, 1],
    ['ResNet-18 28x28x1 train step, batch 128 (ms)', ts.resnet18_ms, py.resnet18_ms, 0],
    ['  CPU time per step, all threads (ms)', ts.resnet18_cpu_ms, py.resnet18_cpu_ms, 0],
    ['ResNet-50 224 px train step, batch 16 (ms)', ts.resnet50_ms, py.resnet50_ms, 0],
    ['  CPU time per step, all threads (ms)', ts.resnet50_cpu_ms, py.resnet50_cpu_ms, 0],
    ['ResNet-50 224 px channels-last, both sides (ms)', ts.resnet50_cl_ms, py.resnet50_cl_ms, 0],
    ['ResNet-50 TS channels-last vs PyTorch NCHW (ms)', ts.resnet50_cl_ms, py.resnet50_ms, 0],
    ['ViT-S/16 224 px train step, batch 16 (ms)', ts.vits_ms, py.vits_ms, 0],
    ['  CPU time per step, all threads (ms)', ts.vits_cpu_ms, py.vits_cpu_ms, 0],
    [`RSS after ${n(100)} small-CNN steps (MiB)`, ts.rss_mb_100, py.rss_mb_100, 0],
    [`RSS after ${n(1000)} small-CNN steps (MiB)`, ts.rss_mb_1000, py.rss_mb_1000, 0],
  ];
  const info = buildInfo();
  console.log(
    `engine benchmark: libtorch ${info.torchVersion} (TS, ${getNumThreads()} threads) vs PyTorch ${py.torch} (` +
      `${py.threads} threads), scale ${scale}${rounds > 1 ? `, best of ${rounds} alternating rounds` : ''}`,
  );
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(
    `${'measurement'.padEnd(w)}  ${'TS'.padStart(9)}  ${'PyTorch'.padStart(9)}  ${'TS/PyTorch'.padStart(10)}`,
  );
  for (const [name, a, b, digits] of rows) {
    console.log(
      `${name.padEnd(w)}  ${a.toFixed(digits).padStart(9)}  ${b.toFixed(digits).padStart(9)}  ` +
        `${(a / b).toFixed(2).padStart(10)}`,
    );
  }
  console.log(
    `${'RSS growth between the two (%)'.padEnd(w)}  ${growth(ts).toFixed(1).padStart(9)}  ` +
      `${growth(py).toFixed(1).padStart(9)}`,
  );
  console.log(
    `live tensors before/after the TS run: ${ts.liveBefore}/${ts.liveAfter}; total time ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}

main();
