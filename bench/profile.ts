// bench/profile: one training step of the engine and of PyTorch under libtorch's own profiler, op by op.
//   node dist/bench/profile.js [--threads 2] [--python PATH (default: the venv of scripts/python-bench-env.sh)]
// For the small CNN (batch 32) and ResNet-18 at 28x28x1 (batch 128) of bench/models.ts, two warm-up
// steps and then three profiled steps (forward, cross-entropy, zero grads, backward, SGD step,
// loss.item(), as bench/models.ts's makeStep and bench/engine_torch.py's make_step do) on each side,
// with the same thread count; each op's calls and times are the median over the three steps (on a
// shared 2-core machine one step's elementwise ops can take 10x longer when an OpenMP worker waits
// for a core, on either side). Both sides use the legacy autograd profiler and PyTorch's key_averages() aggregation
// (src/native/profiler.cc), so the rows compare like for like: which ops one side calls that the other
// does not (copies, contiguous, fill_/zero_, casts, BatchNorm variants...) and where self time differs.
// The PyTorch side is bench/profile_torch.py, run afterwards as a child process.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  randn,
  randint,
  setNumThreads,
  getNumThreads,
  manualSeed,
  buildInfo,
  Generator,
  profile,
  type OpStat,
  type Tensor,
  type nn,
} from '../src/engine/index.js';
// The same models and step as bench/engine.
import { ResNet, smallCnn, makeStep } from './models.js';
import { benchPython, runPythonJson } from './python.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    python: { type: 'string' },
  },
});
const threads = Number(values.threads);
const WARMUP = 2;
const STEPS = 3;
const ROWS = 30;

/** What each side reports: the wall time of each profiled step and its ops. */
interface StepProfiles {
  step_ms: number[];
  steps: OpStat[][];
}
type Models<T> = Record<'cnn' | 'resnet18', T>;
interface ModelProfile {
  step_ms: number;
  ops: OpStat[];
}

function profileSteps(model: nn.Module, x: Tensor, y: Tensor): StepProfiles {
  const s = makeStep(model, x, y);
  for (let i = 0; i < WARMUP; i++) s.step();
  const out: StepProfiles = { step_ms: [], steps: [] };
  for (let i = 0; i < STEPS; i++) {
    const t = performance.now();
    const { ops } = profile(() => s.step());
    out.step_ms.push(performance.now() - t);
    out.steps.push(ops);
  }
  s.dispose();
  x.dispose();
  y.dispose();
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Per op name, the median over the steps of its calls and times (0 in a step that lacks it). */
function medianProfile(p: StepProfiles): ModelProfile {
  const names = new Set(p.steps.flatMap((ops) => ops.map((o) => o.name)));
  const maps = p.steps.map((ops) => new Map(ops.map((o) => [o.name, o])));
  const of = (name: string, f: (o: OpStat) => number): number =>
    median(maps.map((m) => (m.has(name) ? f(m.get(name)!) : 0)));
  const ops = [...names].map((name) => ({
    name,
    calls: of(name, (o) => o.calls),
    cpuTotalUs: of(name, (o) => o.cpuTotalUs),
    selfCpuUs: of(name, (o) => o.selfCpuUs),
  }));
  return { step_ms: median(p.step_ms), ops: ops.filter((o) => o.calls > 0) };
}

function runTs(): Models<StepProfiles> {
  setNumThreads(threads);
  manualSeed(0);
  const g = new Generator(1);
  const cnn = profileSteps(
    smallCnn(),
    randn([32, 1, 28, 28], { generator: g }),
    randint(0, 10, [32], { generator: g }),
  );
  log(`TS small CNN profiled (${cnn.step_ms.map((t) => t.toFixed(0)).join(', ')} ms)`);
  const resnet18 = profileSteps(
    new ResNet('basic', [2, 2, 2, 2], 1, 10, true),
    randn([128, 1, 28, 28], { generator: g }),
    randint(0, 10, [128], { generator: g }),
  );
  log(`TS ResNet-18 profiled (${resnet18.step_ms.map((t) => t.toFixed(0)).join(', ')} ms)`);
  return { cnn, resnet18 };
}

function runTorch(): { threads: number; torch: string; models: Models<StepProfiles> } {
  return runPythonJson<{ threads: number; torch: string; models: Models<StepProfiles> }>(
    benchPython(values.python),
    path.join(repo, 'bench/profile_torch.py'),
    [String(threads), String(WARMUP), String(STEPS)],
  );
}

function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

const ms = (us: number): string => (us / 1e3).toFixed(2);
const sum = (ops: readonly OpStat[], f: (o: OpStat) => number): number => ops.reduce((s, o) => s + f(o), 0);

function report(title: string, ts: ModelProfile, py: ModelProfile): void {
  const a = new Map(ts.ops.map((o) => [o.name, o]));
  const b = new Map(py.ops.map((o) => [o.name, o]));
  const self = (p: ModelProfile): string => ms(sum(p.ops, (o) => o.selfCpuUs));
  const calls = (p: ModelProfile): number => sum(p.ops, (o) => o.calls);
  console.log(
    `\n== ${title}: profiled step (median) ${ts.step_ms.toFixed(0)} ms TS, ${py.step_ms.toFixed(0)} ms ` +
      `PyTorch; self CPU ${self(ts)} vs ${self(py)} ms; op calls ${calls(ts)} vs ${calls(py)}`,
  );
  const both = [...a.keys()]
    .filter((n) => b.has(n))
    .map((name) => ({ name, t: a.get(name)!, p: b.get(name)! }))
    .sort((x, y) => Math.abs(y.t.selfCpuUs - y.p.selfCpuUs) - Math.abs(x.t.selfCpuUs - x.p.selfCpuUs));
  const w = Math.max(24, ...both.slice(0, ROWS).map((r) => r.name.length));
  const header = ['calls TS', 'calls PT', 'self ms TS', 'self ms PT', 'Δ ms'];
  console.log(`${'op (on both sides)'.padEnd(w)}  ${header.map((h) => h.padStart(10)).join('  ')}`);
  for (const { name, t, p } of both.slice(0, ROWS)) {
    const cells = [t.calls, p.calls, ms(t.selfCpuUs), ms(p.selfCpuUs), ms(t.selfCpuUs - p.selfCpuUs)];
    const mark = t.calls !== p.calls ? ' *' : '';
    console.log(`${name.padEnd(w)}  ${cells.map((c) => String(c).padStart(10)).join('  ')}${mark}`);
  }
  const rest = both.slice(ROWS);
  if (rest.length > 0) {
    const differ = rest.filter((r) => r.t.calls !== r.p.calls).map((r) => `${r.name} ${r.t.calls}/${r.p.calls}`);
    const restSelf = (side: 't' | 'p'): string =>
      ms(
        sum(
          rest.map((r) => r[side]),
          (o) => o.selfCpuUs,
        ),
      );
    console.log(
      `(${rest.length} more ops on both sides, self ${restSelf('t')} vs ${restSelf('p')} ms` +
        (differ.length > 0 ? `; call counts differ: ${differ.join(', ')})` : '; same call counts)'),
    );
  }
  console.log('* call counts differ');
  for (const [side, mine, other] of [
    ['TS', ts.ops, b],
    ['PyTorch', py.ops, a],
  ] as const) {
    const only = mine.filter((o) => !other.has(o.name));
    console.log(
      `only on the ${side} side: ` +
        (only.length === 0 ? 'none' : only.map((o) => `${o.name} ×${o.calls} (${ms(o.selfCpuUs)} ms self)`).join(', ')),
    );
  }
}

function main(): void {
  const t0 = performance.now();
  const ts = runTs();
  log('running the PyTorch side...');
  const py = runTorch();
  const info = buildInfo();
  console.log(
    `profile of one training step: libtorch ${info.torchVersion} (TS, ${getNumThreads()} threads) vs PyTorch ` +
      `${py.torch} (${py.threads} threads), after ${WARMUP} warm-up steps; legacy autograd profiler, CPU events; ` +
      `per op the median of ${STEPS} profiled steps`,
  );
  report('small CNN, batch 32 of 1x28x28', medianProfile(ts.cnn), medianProfile(py.models.cnn));
  report(
    'ResNet-18 (3x3 stem, no max-pool), batch 128 of 1x28x28',
    medianProfile(ts.resnet18),
    medianProfile(py.models.resnet18),
  );
  console.log(`\ntotal time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

main();
