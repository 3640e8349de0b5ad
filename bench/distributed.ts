// bench/distributed: training images/s of the fashion-mnist preset (ResNet-18, global batch 128) as
// 1 process × 2 threads, 1 × 1, 2 processes × 1 thread (the launcher) and 2 simulated nodes × 1
// process × 1 thread on loopback, beside PyTorch DDP (Gloo) on the same model in the same run; the
// scaling efficiency, the time per step spent in communication, and one all-reduce of the
// gradients on its own (both sides).
// Both sides run twice with 2 processes: buckets all-reduced after backward (dml's default) and
// overlapped with backward (distributed.overlap=true; PyTorch's DDP), which says what overlapping is
// worth here. Each configuration
// runs --rounds times, alternating, and keeps its best.
//   node dist/bench/distributed.js [--steps 20] [--warmup 2] [--rounds 2]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { benchPython } from './python.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const cli = path.join(repo, 'dist/src/cli/main.js');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    python: { type: 'string' },
    'allreduce-worker': { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps),
  warmup = Number(values.warmup);

// One all-reduce of a ResNet-18-sized gradient (11.2 M floats), in a process of a 2-rank job.
if (values['allreduce-worker']) {
  const { distributed, randn, tidy } = await import('../src/engine/index.js');
  const g = distributed.ProcessGroup.fromEnv()!;
  const flat = randn([11_172_165]);
  tidy(() => g.allReduce(flat));
  g.barrier();
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) tidy(() => g.allReduce(flat));
  const ms = (performance.now() - t0) / 5;
  g.barrier();
  if (g.rank === 0) console.log(JSON.stringify({ allreduce_ms: ms }));
  g.destroy();
  process.exit(0);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

interface Row {
  label: string;
  imagesPerS: number;
  commMsPerStep: number | null;
}

/** Reads a run's metrics: images/s over the steps after warm-up, and communication per step. */
function measure(label: string, out: string): Row {
  const log = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number | string>);
  const train = log.filter((e) => e.type === 'train');
  const a = train[warmup - 1]!,
    b = train[train.length - 1]!;
  const imagesPerS =
    (128 * ((b.step as number) - (a.step as number))) / ((b.elapsed as number) - (a.elapsed as number));
  const epoch = log.find((e) => e.type === 'epoch')!;
  const comm = typeof epoch.commSeconds === 'number' ? (epoch.commSeconds * 1000) / train.length : null;
  return { label, imagesPerS, commMsPerStep: comm };
}

const data = ['evalEvery=0', 'epochs=1', 'logEvery=1', `data.limitTrain=${128 * (steps + warmup)}`];
const tmp = mkdtempSync(path.join(tmpdir(), 'dml-bench-dist-'));

function runTs(label: string, args: string[]): Row {
  const out = path.join(tmp, label.replace(/\W+/g, '-'));
  const r = spawnSync(process.execPath, [cli, 'train', ...args, ...data, `out=${out}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${label} failed:\n${r.stderr}`);
  return measure(label, out);
}

async function runNodes(label: string): Promise<Row> {
  const out = path.join(tmp, 'nodes');
  const port = String(await freePort());
  const node = (rank: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const p = spawn(
        process.execPath,
        [
          cli,
          'train',
          '--nnodes',
          '2',
          '--node-rank',
          String(rank),
          '--nproc-per-node',
          '1',
          '--master-addr',
          '127.0.0.1',
          '--master-port',
          port,
          'threads=1',
          ...data,
          `out=${out}`,
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${label}: node ${rank} exited ${code}`))));
    });
  await Promise.all([node(0), node(1)]);
  return measure(label, out);
}

function runTorch(nproc: number, threads: number, overlap = true): { images_per_s: number; allreduce_ms: number } {
  const r = spawnSync(
    benchPython(values.python),
    [
      path.join(repo, 'bench/distributed_torch.py'),
      '--nproc',
      String(nproc),
      '--threads',
      String(threads),
      '--steps',
      String(steps),
      '--warmup',
      String(warmup),
      '--overlap',
      overlap ? 'yes' : 'no',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`PyTorch DDP bench failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { images_per_s: number; allreduce_ms: number };
}

async function allReduceTs(): Promise<number> {
  const port = String(await freePort());
  const outs = await Promise.all(
    [0, 1].map(
      (rank) =>
        new Promise<string>((resolve, reject) => {
          const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--allreduce-worker'], {
            env: {
              ...process.env,
              RANK: String(rank),
              WORLD_SIZE: '2',
              MASTER_ADDR: '127.0.0.1',
              MASTER_PORT: port,
              OMP_NUM_THREADS: '1',
            },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let s = '';
          p.stdout.on('data', (d: Buffer) => {
            s += d.toString();
          });
          p.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`all-reduce worker exited ${code}`))));
        }),
    ),
  );
  return (JSON.parse(outs[0]!.trim()) as { allreduce_ms: number }).allreduce_ms;
}

const best = <T extends { imagesPerS: number } | { images_per_s: number }>(a: T | null, b: T): T => {
  const v = (x: T): number => ('imagesPerS' in x ? x.imagesPerS : x.images_per_s);
  return a === null || v(b) > v(a) ? b : a;
};
let one2: Row | null = null,
  one1: Row | null = null,
  two: Row | null = null,
  twoOverlap: Row | null = null,
  nodes: Row | null = null;
type Py = ReturnType<typeof runTorch>;
let pt12: Py | null = null,
  pt11: Py | null = null,
  pt21: Py | null = null,
  pt21n: Py | null = null;
let arTs = Infinity;
for (let round = 0; round < Number(values.rounds); round++) {
  one2 = best(one2, runTs('1 process x 2 threads', ['threads=2']));
  pt12 = best(pt12, runTorch(1, 2));
  one1 = best(one1, runTs('1 process x 1 thread', ['threads=1']));
  pt11 = best(pt11, runTorch(1, 1));
  two = best(two, runTs('2 processes x 1 thread', ['--nproc-per-node', '2', 'threads=1']));
  twoOverlap = best(
    twoOverlap,
    runTs('  same, all-reduce overlapped', ['--nproc-per-node', '2', 'threads=1', 'distributed.overlap=true']),
  );
  pt21 = best(pt21, runTorch(2, 1));
  pt21n = best(pt21n, runTorch(2, 1, false));
  nodes = best(nodes, await runNodes('2 nodes x 1 process x 1 thread'));
  arTs = Math.min(arTs, await allReduceTs());
}
if (!one2 || !one1 || !two || !twoOverlap || !nodes || !pt12 || !pt11 || !pt21 || !pt21n)
  throw new Error('--rounds must be at least 1');

const pyBy: Record<string, number> = {
  [one2.label]: pt12.images_per_s,
  [one1.label]: pt11.images_per_s,
  [two.label]: pt21n.images_per_s,
  [twoOverlap.label]: pt21.images_per_s,
};
console.log(
  `fashion-mnist preset (ResNet-18, 28 px, global batch 128), ${steps} steps after ${warmup} warm-up, best of ` +
    `${values.rounds}; PyTorch = DDP over Gloo, same model`,
);
console.log('configuration                      TS img/s   comm ms/step   PyTorch img/s   TS/PyTorch');
console.log('(PyTorch beside "2 processes": the same buckets after backward; beside "overlapped": DDP)');
for (const r of [one2, one1, two, twoOverlap, nodes]) {
  const py = pyBy[r.label];
  console.log(
    `${r.label.padEnd(34)} ${r.imagesPerS.toFixed(1).padStart(8)}   ` +
      `${(r.commMsPerStep === null ? '-' : r.commMsPerStep.toFixed(0)).padStart(12)}   ` +
      `${(py === undefined ? '-' : py.toFixed(1)).padStart(13)}   ` +
      `${py === undefined ? '-' : (r.imagesPerS / py).toFixed(2)}`,
  );
}
console.log(
  `scaling, same 2 cores:  2 processes / 1 process x 2 threads = ${(two.imagesPerS / one2.imagesPerS).toFixed(2)} ` +
    `(PyTorch DDP ${(pt21.images_per_s / pt12.images_per_s).toFixed(2)})`,
);
console.log(
  `scaling efficiency vs one 1-thread process: 2 processes / (2 x 1 process) = ` +
    `${(two.imagesPerS / (2 * one1.imagesPerS)).toFixed(2)} (PyTorch DDP ` +
    `${(pt21.images_per_s / (2 * pt11.images_per_s)).toFixed(2)}); 2 nodes: ` +
    `${(nodes.imagesPerS / (2 * one1.imagesPerS)).toFixed(2)}`,
);
console.log(
  `one all-reduce of the 42.6 MB gradient, 2 ranks on loopback: TS ${arTs.toFixed(1)} ms, PyTorch ` +
    `${pt21.allreduce_ms.toFixed(1)} ms`,
);
console.log(
  `what overlapping all-reduce with backward is worth, 2 processes: TS ` +
    `${(twoOverlap.imagesPerS / two.imagesPerS).toFixed(2)}x, PyTorch (DDP vs the same buckets after backward) ` +
    `${(pt21.images_per_s / pt21n.images_per_s).toFixed(2)}x`,
);
console.log(
  '(comm ms/step: time a step spends in communication that is not hidden behind backward, waiting for the slower ' +
    'rank included)',
);
