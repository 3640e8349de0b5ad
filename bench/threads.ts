// bench/threads: training throughput on a quiet and on a busy machine, per OpenMP wait policy and
// thread count, to choose the toolkit's default (README, "Threads on a busy machine").
//   node dist/bench/threads.js [--rounds 3] [--seconds 3] [--burners 2] [--models cnn,resnet18]
//        [--variants 0,1,4 (their order below)] [--conditions quiet,busy]
// Each variant runs in a child process (libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when
// the addon loads), trains for --seconds after two warm-up steps and reports images/s; the figure is
// the median of --rounds children. "busy" starts --burners shell loops (`while :; do :; done`) at the
// bench's own priority for the duration of each child, as other jobs on a shared machine would be.
// Variants: libgomp's own default (GOMP_SPINCOUNT=300000, what libgomp uses when neither variable is
// set), neither variable (the engine then chooses: PASSIVE when the load average reaches the cores),
// OMP_WAIT_POLICY=PASSIVE itself, a short spin (GOMP_SPINCOUNT=10000), and one thread.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    burners: { type: 'string', default: '2' },
    models: { type: 'string', default: 'cnn,resnet18' },
    // Which variants, by their number in the list below (default: all), and which conditions.
    variants: { type: 'string' },
    conditions: { type: 'string', default: 'quiet,busy' },
    child: { type: 'string' },
    threads: { type: 'string' },
  },
});

type Model = 'cnn' | 'resnet18';

async function child(model: Model, threads: number, seconds: number): Promise<void> {
  const { randn, randint, setNumThreads, manualSeed } = await import('../src/engine/index.js');
  const { ResNet, makeStep, smallCnn } = await import('./models.js');
  setNumThreads(threads);
  manualSeed(0);
  const batch = model === 'cnn' ? 32 : 128;
  const x = randn([batch, 1, 28, 28]);
  const y = randint(0, 10, [batch]);
  const net = model === 'cnn' ? smallCnn() : new ResNet('basic', [2, 2, 2, 2], 1, 10, true);
  const s = makeStep(net, x, y);
  for (let i = 0; i < 2; i++) s.step();
  let steps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || steps < 2) {
    s.step();
    steps++;
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ imgPerS: (steps * batch * 1000) / ms, steps }));
  s.dispose();
}

interface Variant {
  name: string;
  env: Record<string, string>;
  threads: number;
}

/** Processes to stop if the bench itself is stopped (Ctrl-C): burners would otherwise spin on. */
const live = new Set<ChildProcess>();
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    for (const p of live) p.kill('SIGKILL');
    process.exit(130);
  });

function start(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  live.add(p);
  p.once('exit', () => live.delete(p));
  return p;
}

async function runChild(v: Variant, model: Model, seconds: number, burners: number): Promise<number> {
  const procs: ChildProcess[] = [];
  for (let i = 0; i < burners; i++) procs.push(start('sh', ['-c', 'while :; do :; done']));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.OMP_WAIT_POLICY;
    delete env.GOMP_SPINCOUNT;
    delete env.OMP_NUM_THREADS;
    const args = ['--child', model, '--threads', String(v.threads), '--seconds', String(seconds)];
    const c = start(process.execPath, [fileURLToPath(import.meta.url), ...args], { ...env, ...v.env });
    let out = '';
    let err = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => c.once('close', resolve));
    if (code !== 0) throw new Error(`child ${v.name} ${model} failed: ${err}`);
    return (JSON.parse(out.trim().split('\n').at(-1)!) as { imgPerS: number }).imgPerS;
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const seconds = Number(values.seconds);
  if (values.child) return child(values.child as Model, Number(values.threads), seconds);
  const rounds = Number(values.rounds);
  const burners = Number(values.burners);
  const cores = availableParallelism();
  const variants: Variant[] = [
    { name: `libgomp default, ${cores} threads`, env: { GOMP_SPINCOUNT: '300000' }, threads: cores },
    // Neither variable: the engine chooses by the load average when it loads the addon (passive when busy).
    { name: `dml default (by load), ${cores} threads`, env: {}, threads: cores },
    { name: `OMP_WAIT_POLICY=PASSIVE, ${cores} threads`, env: { OMP_WAIT_POLICY: 'PASSIVE' }, threads: cores },
    { name: `GOMP_SPINCOUNT=10000, ${cores} threads`, env: { GOMP_SPINCOUNT: '10000' }, threads: cores },
    { name: 'libgomp default, 1 thread', env: { GOMP_SPINCOUNT: '300000' }, threads: 1 },
  ];
  const chosen = values.variants ? values.variants.split(',').map(Number) : variants.map((_, i) => i);
  variants.splice(0, variants.length, ...variants.filter((_, i) => chosen.includes(i)));
  const models = values.models.split(',') as Model[];
  const conditions = values.conditions.split(',').map((c) => c === 'busy');
  console.log(`cores ${cores}, ${rounds} rounds of ${seconds} s, busy = ${burners} burners; load ${loadavg()[0]}`);
  for (const model of models) {
    for (const busy of conditions) {
      // Rounds outermost, so that a slow spell of the machine spreads over every variant.
      const got = variants.map(() => [] as number[]);
      for (let r = 0; r < rounds; r++)
        for (const [i, v] of variants.entries()) got[i]!.push(await runChild(v, model, seconds, busy ? burners : 0));
      for (const [i, v] of variants.entries()) {
        const xs = got[i]!;
        console.log(
          `${model}\t${busy ? 'busy ' : 'quiet'}\t${v.name.padEnd(40)}\t${median(xs).toFixed(0)} img/s` +
            `\t(${xs.map((x) => x.toFixed(0)).join(', ')})`,
        );
      }
    }
  }
  console.log(`load at the end ${loadavg()[0]}`);
}

await main();
