// PartialFC benchmark (not a test): an ArcFace head over 100k classes × 512 dimensions, the full
// head against sampled heads (PartialFC's sampleRate), and optionally the table sharded over
// processes. One step = the head's forward and backward from a batch of embeddings, then SGD with
// momentum on the table. Each variant runs in its own process, so the peak resident memory it
// reports (VmHWM) is its own; "step overhead" is the peak minus the memory after the table and
// momentum buffer exist, i.e. what a step adds (logits, normalised rows, gradients).
//
//   npx tsc -p tsconfig.json && node dist/bench/partial-fc.js [--classes 100000] [--dim 512]
//        [--batch 128] [--steps 5] [--rates 1,0.1] [--shards 0] [--threads 2] [--json]
//
// --shards N adds the full-rate and smallest-rate heads sharded over N local processes (each holds
// classes/N rows; figures per rank, rank 0's).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  distributed,
  manualSeed,
  optim,
  randint,
  randn,
  setNumThreads,
  tidy,
  type Tensor,
} from '../src/engine/index.js';
import { ArcFaceLoss } from '../src/ml/losses/index.js';

const { values: flags } = parseArgs({
  options: {
    classes: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '512' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '5' },
    rates: { type: 'string', default: '1,0.1' },
    shards: { type: 'string', default: '0' },
    threads: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const CLASSES = Number(flags.classes),
  DIM = Number(flags.dim),
  BATCH = Number(flags.batch),
  STEPS = Number(flags.steps),
  SHARDS = Number(flags.shards),
  THREADS = Number(flags.threads);
const RATES = flags.rates.split(',').map(Number);
for (const [k, v] of [
  ['classes', CLASSES],
  ['dim', DIM],
  ['batch', BATCH],
  ['steps', STEPS],
  ['threads', THREADS],
] as const)
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${k} must be a positive integer, got '${flags[k]}'`);
if (!(Number.isInteger(SHARDS) && SHARDS >= 0)) throw new Error(`--shards must be 0 or more, got '${flags.shards}'`);
for (const r of RATES) if (!(r > 0 && r <= 1)) throw new Error(`--rates: each rate must be in (0, 1], got ${r}`);

interface Result {
  rate: number;
  shards: number;
  /** Classes in the softmax of a step (on this rank). */
  sampled: number;
  medianMs: number;
  stepMs: number[];
  afterInitMb: number;
  peakMb: number;
}

/** Resident memory now and at its peak, in MiB (Linux /proc). */
function memory(): { rss: number; peak: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** One variant, in this process (a child of the driver, or one rank of a sharded run). */
function runVariant(rate: number): Result {
  setNumThreads(THREADS);
  const group = distributed.ProcessGroup.fromEnv({ timeoutMs: 600_000 });
  const loss = new ArcFaceLoss({
    numClasses: CLASSES,
    embeddingSize: DIM,
    seed: 1,
    sampleRate: rate,
    ...(group ? { shard: group } : {}),
  });
  const opt = new optim.SGD([{ params: [loss.table] }], { lr: 0.1, momentum: 0.9 });
  manualSeed(2 + (group?.rank ?? 0));
  const world = group?.worldSize ?? 1;
  const local = Math.floor(BATCH / world);
  // Warm the momentum buffer into existence (one step) before measuring the resident baseline.
  const step = (): { ms: number; sampled: number } =>
    tidy(() => {
      const x = randn([local, DIM]).requiresGrad_(true);
      const y = randint(0, CLASSES, [local]);
      const t0 = performance.now();
      const l: Tensor = loss.forward(x, y);
      opt.zeroGrad();
      l.backward();
      if (group) loss.table.grad!.div_(world);
      opt.step();
      const ms = performance.now() - t0;
      const g = loss.table.grad!;
      // Rows of the table the step touched: the classes in its softmax.
      const sampled = tidy(() => g.abs().sum(1).gt(0).sum().item());
      return { ms, sampled };
    });
  step();
  const afterInit = memory().rss;
  const times: number[] = [];
  let sampled = 0;
  for (let i = 0; i < STEPS; i++) {
    const s = step();
    times.push(s.ms);
    sampled = s.sampled;
  }
  const sorted = [...times].sort((a, b) => a - b);
  group?.leave();
  return {
    rate,
    shards: world,
    sampled,
    medianMs: sorted[Math.floor(sorted.length / 2)]!,
    stepMs: times,
    afterInitMb: afterInit,
    peakMb: memory().peak,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Runs one variant in `world` fresh processes; rank 0's result. */
async function spawnVariant(rate: number, world: number): Promise<Result> {
  const port = await freePort();
  const script = fileURLToPath(import.meta.url);
  const args = [script, '--child', String(rate), ...process.argv.slice(2).filter((a) => a !== '--json')];
  const runs = Array.from(
    { length: world },
    (_, rank) =>
      new Promise<string>((resolve, reject) => {
        const env =
          world > 1
            ? { RANK: String(rank), WORLD_SIZE: String(world), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) }
            : {};
        const p = spawn(process.execPath, args, {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('exit', (code) =>
          code === 0 ? resolve(out) : reject(new Error(`rate ${rate} rank ${rank}: exit ${code}`)),
        );
      }),
  );
  const outs = await Promise.all(runs);
  return JSON.parse(outs[0]!.trim().split('\n').pop()!) as Result;
}

if (flags.child !== undefined) {
  console.log(JSON.stringify(runVariant(Number(flags.child))));
} else {
  const results: Result[] = [];
  for (const r of RATES) results.push(await spawnVariant(r, 1));
  if (SHARDS > 1) for (const r of [1, Math.min(...RATES)]) results.push(await spawnVariant(r, SHARDS));
  if (flags.json) console.log(JSON.stringify({ classes: CLASSES, dim: DIM, batch: BATCH, results }));
  else {
    const full = results.find((r) => r.rate === 1 && r.shards === 1);
    console.log(
      `ArcFace head, ${CLASSES} classes × ${DIM} dims, batch ${BATCH}, ${STEPS} steps (+1 warm-up), ` +
        `${THREADS} threads, SGD momentum on the table`,
    );
    console.log('rate   procs  classes/step  step ms (median)  peak RSS MiB  step overhead MiB  vs full head');
    for (const r of results) {
      const over = r.peakMb - r.afterInitMb;
      const vs =
        full && r !== full
          ? `${(full.medianMs / r.medianMs).toFixed(2)}× faster, ${(full.peakMb - r.peakMb).toFixed(0)} MiB less peak`
          : '';
      console.log(
        `${r.rate.toFixed(2).padEnd(6)} ${String(r.shards).padEnd(6)} ${String(r.sampled).padEnd(13)} ` +
          `${r.medianMs.toFixed(1).padEnd(17)} ${r.peakMb.toFixed(0).padEnd(13)} ${over.toFixed(0).padEnd(18)} ${vs}`,
      );
    }
  }
}
