// `dml train` across processes on loopback (the launcher, two simulated nodes, torchrun itself):
// the same parameters as one process with the same global batch, a bit-identical resume, sharded
// evaluation, and a killed rank that stops the job within the timeout without spoiling the last
// checkpoint.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTensors, tidy } from '../../src/engine/index.js';
import { writeSyntheticIdx } from '../ml/data/synthetic-idx.js';
import { childPids, freePort } from './helpers.js';
import { writeImage } from '../ml/data/helpers.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const root = mkdtempSync(path.join(tmpdir(), 'dml-dist-'));
// About 3 GB of runs by the end of this file.
after(() => rmSync(root, { recursive: true, force: true }));
const data = path.join(root, 'data');
// 5 training classes × 16 = 80 images: 4 steps of a global batch of 20.
writeSyntheticIdx(data, 16, 6, 12);
const common = [
  `data.root=${data}`,
  'batchSize=20',
  'model.smallInput=true',
  'model.numFeatures=16',
  'threads=1',
  'logEvery=1',
  'epochs=1',
  // A constant, moderate learning rate (see assertSameTraining): at 0.05, 4 steps of a 20-sample SyncBN run
  // turned float32 rounding into a 2 % divergence on AVX2 kernels; the warm-up would keep updates tiny.
  'optim.schedule=none',
  'optim.lr=0.005',
];
const dml = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8', timeout: 170_000 });

/** Largest absolute difference over the model's float parameters of two checkpoints. */
function paramDiff(a: string, b: string): number {
  const x = loadTensors(a).tensors,
    y = loadTensors(b).tensors;
  let worst = 0;
  for (const [k, t] of x) {
    if (!k.startsWith('model.') || !t.dtype.startsWith('float') || k.includes('running_')) continue;
    const u = y.get(k);
    assert.ok(u, `${b} lacks ${k}`);
    worst = Math.max(
      worst,
      tidy(() => t.sub(u).abs().max().item()),
    );
  }
  return worst;
}

/** float32's machine epsilon: one ulp of 1. */
const EPS32 = 2 ** -23;
/** Rounding of a value itself, in ulps of a tensor's largest value (a last-bit difference, carried 4 steps). */
const ROUNDING_ULPS = 2 ** 10;
/** Share of the run's largest parameter update that two equivalent runs may differ by. */
const UPDATE_SHARE = 1e-3;

/**
 * Asserts that `other` trained the same parameters as `one`. A data-parallel step sums the same terms as one
 * process in another order (per-rank partial sums, then the all-reduce), so the two differ by float32
 * rounding, which four steps carry forward; a slicing, gathering or averaging error instead changes the
 * gradients by a share of their size (one sample of 20 counted wrongly: 5 %), and so the parameters by a
 * share of their updates. Each tensor may therefore differ by ROUNDING_ULPS of its largest value plus
 * UPDATE_SHARE of U, the largest change any tensor made over the run (`one` against `init`, a run of the
 * same settings whose learning rate is too small to move anything). U, not the tensor's own update: a
 * gradient that is a cancelling sum (a BatchNorm bias) has a tiny update and an ordinary rounding error.
 * Measured (lr 0.005, the four cases below, libtorch 2.13's AVX-512, AVX2 and default kernels): every
 * difference beyond the ulps term was at most 1.3e-5 U, 80 times below the bound; an error of 5 % is 50
 * times above it.
 */
function assertSameTraining(one: string, other: string, init: string): void {
  const load = (run: string) => loadTensors(path.join(run, 'last.safetensors')).tensors;
  const [x, y, z] = [load(one), load(other), load(init)];
  const rows: { key: string; diff: number; size: number }[] = [];
  let largestUpdate = 0;
  for (const [k, t] of x) {
    const trained = k.startsWith('model.') || k.startsWith('loss.');
    if (!trained || !t.dtype.startsWith('float') || k.includes('running_')) continue;
    const u = y.get(k),
      t0 = z.get(k);
    assert.ok(u && t0, `${other} or ${init} lacks ${k}`);
    const [diff, update, size] = tidy(() => [
      t.sub(u).abs().max().item(),
      t.sub(t0).abs().max().item(),
      t.abs().max().item(),
    ]);
    largestUpdate = Math.max(largestUpdate, update);
    rows.push({ key: k, diff, size });
  }
  assert.ok(rows.length > 10 && largestUpdate > 0, `${rows.length} tensors compared, largest update ${largestUpdate}`);
  for (const { key, diff, size } of rows) {
    const tol = ROUNDING_ULPS * EPS32 * size + UPDATE_SHARE * largestUpdate;
    assert.ok(diff <= tol, `${key}: differs by ${diff} (largest value ${size}, run's largest update ${largestUpdate})`);
  }
}

function metrics(run: string): Record<string, unknown>[] {
  return readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function train(name: string, args: string[], launcher: string[] = []): string {
  const out = path.join(root, name);
  const r = dml('train', ...launcher, ...common, ...args, `out=${out}`);
  assert.equal(r.status, 0, `${name}: ${r.stdout}\n${r.stderr}`);
  return out;
}

/** The same settings with a learning rate that cannot move a parameter: its checkpoint holds the initial ones. */
const initial = (name: string, args: string[]): string => train(`${name}-init`, [...args, 'optim.lr=1e-30']);

const cases: { name: string; args: string[]; nproc: number }[] = [
  // BatchNorm2d frozen, no feature norm: no statistic couples the samples. 20 rows over 3 ranks: 6/7/7.
  { name: 'no BatchNorm statistics, uneven slices', args: ['model.setBnEval=true', 'model.normLayer=none'], nproc: 3 },
  {
    name: 'synchronised BatchNorm (backbone and feature norm)',
    args: ['model.setBnEval=false', 'model.normLayer=batch', 'distributed.syncBn=true'],
    nproc: 2,
  },
  // With the all-reduce overlapped with backward, and a classifier that gets no gradient.
  {
    name: 'a pairwise loss over the gathered batch (triplet), overlapped all-reduce',
    args: ['model.setBnEval=true', 'model.normLayer=none', 'loss.name=triplet', 'distributed.overlap=true'],
    nproc: 2,
  },
  {
    name: 'a proxy loss with its own parameters (proxy-anchor)',
    args: ['model.setBnEval=true', 'model.normLayer=none', 'loss.name=proxy-anchor'],
    nproc: 2,
  },
  // PartialFC: each rank holds its slice of the 5 classes' table (3 + 2 rows); sample rate 1.
  {
    name: 'a softmax head sharded over the ranks (norm-softmax, loss.options.shard)',
    args: ['model.setBnEval=true', 'model.normLayer=none', 'loss.name=norm-softmax', 'loss.options.shard=true'],
    nproc: 2,
  },
];

for (const c of cases) {
  test(`data-parallel = one process after 4 steps: ${c.name}`, { timeout: 180_000 }, () => {
    const slug = c.name.replace(/\W+/g, '-');
    const one = train(`${slug}-1`, c.args);
    const many = train(`${slug}-n`, c.args, ['--nproc-per-node', String(c.nproc)]);
    // A sharded table is saved whole: the same loss keys and shapes as one process's.
    const lossShapes = (run: string): string[] =>
      [...loadTensors(path.join(run, 'last.safetensors')).tensors]
        .filter(([k]) => k.startsWith('loss.'))
        .map(([k, t]) => `${k} [${t.shape.join()}]`);
    assert.deepEqual(lossShapes(many), lossShapes(one));
    assertSameTraining(one, many, initial(slug, c.args));
    const a = metrics(one).filter((e) => e.type === 'train'),
      b = metrics(many).filter((e) => e.type === 'train');
    assert.equal(b.length, 4);
    // The losses: the same rounding budget, in ulps of the loss.
    a.forEach((e, i) => {
      const [l1, ln] = [e.loss as number, b[i]!.loss as number];
      assert.ok(Math.abs(l1 - ln) <= ROUNDING_ULPS * EPS32 * Math.abs(l1), `step ${i + 1}: ${l1} vs ${ln}`);
    });
    const epoch = metrics(many).find((e) => e.type === 'epoch')!;
    assert.equal(epoch.worldSize, c.nproc);
    assert.equal(typeof epoch.commSeconds, 'number');
    // Only rank 0 writes: one line per step, not one per rank.
    assert.equal(metrics(many).filter((e) => e.type === 'eval').length, 1);
  });
}

test('two simulated nodes on loopback train like one process', { timeout: 180_000 }, async () => {
  const args = ['model.setBnEval=true', 'model.normLayer=none'];
  const one = train('nodes-1', args);
  const out = path.join(root, 'nodes-2');
  const port = String(await freePort());
  const node = (rank: number) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
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
          ...common,
          ...args,
          `out=${out}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      p.on('exit', (code) => resolve({ code, err }));
    });
  const [n0, n1] = await Promise.all([node(0), node(1)]);
  assert.equal(n0.code, 0, n0.err);
  assert.equal(n1.code, 0, n1.err);
  assertSameTraining(one, out, initial('nodes', args));
});

test('resume in a multi-process run is bit-identical to an uninterrupted one', { timeout: 180_000 }, () => {
  const args = ['model.setBnEval=false', 'model.normLayer=batch', 'model.dropout=0.3'];
  const launcher = ['--nproc-per-node', '2'];
  const whole = train('resume-whole', [...args, 'epochs=2'], launcher);
  const part = train('resume-part', args, launcher);
  const r = dml('train', ...launcher, ...common, ...args, 'epochs=2', `out=${part}`, '--resume');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /resumed from .*last\.safetensors: 1 epochs done, step 4/);
  assert.equal(paramDiff(path.join(whole, 'last.safetensors'), path.join(part, 'last.safetensors')), 0);
  const w = loadTensors(path.join(whole, 'last.safetensors')).tensors;
  // Every rank's dropout stream is kept.
  assert.ok(w.has('rng.global') && w.has('rng.rank1'));
});

test(
  'resume with a sharded, sampled PartialFC head is bit-identical to an uninterrupted run',
  { timeout: 180_000 },
  () => {
    const args = [
      'model.setBnEval=true',
      'model.normLayer=none',
      'loss.name=cosface',
      'loss.options.shard=true',
      'loss.options.sampleRate=0.5',
      'loss.options.scale=8',
      'optim.name=adamw',
    ];
    const launcher = ['--nproc-per-node', '2'];
    const whole = train('pfc-whole', [...args, 'epochs=2'], launcher);
    const part = train('pfc-part', args, launcher);
    const r = dml('train', ...launcher, ...common, ...args, 'epochs=2', `out=${part}`, '--resume');
    assert.equal(r.status, 0, r.stderr);
    const w = loadTensors(path.join(whole, 'last.safetensors')).tensors,
      p = loadTensors(path.join(part, 'last.safetensors')).tensors;
    // Model, the whole table, AdamW's moments of every shard, and the count of class draws.
    for (const [k, t] of w) {
      if (!k.startsWith('model.') && !k.startsWith('loss.') && !k.startsWith('optim.')) continue;
      const u = p.get(k);
      assert.ok(u, `the resumed run lacks ${k}`);
      assert.equal(
        tidy(() => t.to('float64').sub(u.to('float64')).abs().max().item()),
        0,
        k,
      );
    }
    assert.equal(w.get('loss.sample_step')?.item(), 8);
  },
);

test('dml eval with 2 processes reports the figures of one process', { timeout: 180_000 }, () => {
  const run = train('eval', ['model.setBnEval=true', 'model.normLayer=none']);
  const ckpt = path.join(run, 'last.safetensors');
  const one = dml('eval', '--checkpoint', ckpt, '--json');
  const two = dml('eval', '--nproc-per-node', '2', '--checkpoint', ckpt, '--json');
  assert.equal(one.status, 0, one.stderr);
  assert.equal(two.status, 0, two.stderr);
  const parse = (s: string) => {
    const lines = s.trim().split('\n');
    assert.equal(lines.length, 1, `one report, from rank 0: ${s}`);
    const { seconds: _s, ...rest } = JSON.parse(lines[0]!) as Record<string, unknown>;
    return rest as { recall: Record<string, Record<string, number>>; mapAtR: number; queries: number; nmi: number };
  };
  const a = parse(one.stdout),
    b = parse(two.stdout);
  // Embeddings of a batch split differently may differ in the last float bit; Recall@K does not.
  assert.deepEqual(b.recall, a.recall);
  assert.equal(b.queries, a.queries);
  assert.ok(Math.abs(b.mapAtR - a.mapAtR) < 1e-3);
});

test('dml embed with 2 processes writes the same embeddings file as one', { timeout: 120_000 }, async () => {
  const run = train('embed', ['model.setBnEval=true', 'model.normLayer=none']);
  // A folder of class subfolders: 11 images over 3 classes.
  const dir = path.join(root, 'images');
  for (let i = 0; i < 11; i++)
    await writeImage(path.join(dir, `c${i % 3}`, `${i}.png`), 20, 16, { seed: i, format: 'png' });
  const a = path.join(root, 'e1.safetensors'),
    b = path.join(root, 'e2.safetensors');
  const r1 = dml(
    'embed',
    '--checkpoint',
    path.join(run, 'last.safetensors'),
    '--dir',
    dir,
    '--out',
    a,
    '--workers',
    '0',
  );
  assert.equal(r1.status, 0, r1.stderr);
  const r2 = dml(
    'embed',
    '--nproc-per-node',
    '2',
    '--checkpoint',
    path.join(run, 'last.safetensors'),
    '--dir',
    dir,
    '--out',
    b,
    '--workers',
    '0',
  );
  assert.equal(r2.status, 0, r2.stderr);
  const x = loadTensors(a),
    y = loadTensors(b);
  assert.equal(y.metadata.paths, x.metadata.paths);
  assert.deepEqual(y.tensors.get('labels')!.dataNumbers(), x.tensors.get('labels')!.dataNumbers());
  // The same model on other batches: kernels may split the sums differently, nothing more.
  const [fx, fy] = [x.tensors.get('features')!, y.tensors.get('features')!];
  const [diff, size] = tidy(() => [fx.sub(fy).abs().max().item(), fx.abs().max().item()]);
  assert.ok(diff <= ROUNDING_ULPS * EPS32 * size, `features differ by ${diff} (largest ${size})`);
});

/** A 2-process training run that goes on for minutes, once its first checkpoint is written. */
async function longRun(
  name: string,
  extra: string[] = [],
): Promise<{
  out: string;
  args: string[];
  launcher: ReturnType<typeof spawn>;
  exited: Promise<number | null>;
  stderr: () => string;
}> {
  const out = path.join(root, name);
  const args = [...common.filter((a) => !a.startsWith('epochs=')), 'epochs=400', 'evalEvery=0', ...extra, `out=${out}`];
  const launcher = spawn(process.execPath, [cli, 'train', '--nproc-per-node', '2', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  launcher.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => launcher.on('exit', (code) => resolve(code)));
  const t0 = Date.now();
  while (!existsSync(path.join(out, 'last.safetensors'))) {
    assert.ok(Date.now() - t0 < 90_000, `no checkpoint after 90 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { out, args, launcher, exited, stderr: () => stderr };
}

test(
  'a killed rank stops the job within the timeout, naming it; the last checkpoint resumes',
  { timeout: 180_000 },
  async () => {
    const { out, args, launcher, exited, stderr } = await longRun('kill', ['distributed.timeout=20']);
    // Kill rank 1 (the launcher's second child).
    const kids = childPids(launcher.pid!);
    assert.equal(kids.length, 2);
    const killedAt = Date.now();
    process.kill(kids[1]!, 'SIGKILL');
    const code = await exited;
    const took = (Date.now() - killedAt) / 1000;
    assert.notEqual(code, 0);
    assert.ok(took < 20, `the job took ${took} s to stop`);
    assert.match(stderr(), /rank 1 \(pid \d+\) was killed by SIGKILL/);
    assert.match(stderr(), /rank 0\/2: .* lost rank 1/);
    // The last checkpoint is whole: a resumed run continues from it and finishes.
    const saved = metrics(out).filter((e) => e.type === 'epoch').length;
    const r = dml(
      'train',
      '--nproc-per-node',
      '2',
      ...args.filter((a) => !a.startsWith('epochs=')),
      `epochs=${saved + 1}`,
      '--resume',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /resumed from/);
  },
);

test(
  'SIGTERM to the launcher reaches every worker, and the launcher exits with the signal',
  { timeout: 120_000 },
  async () => {
    const { launcher, exited, stderr } = await longRun('sigterm');
    const kids = childPids(launcher.pid!);
    launcher.kill('SIGTERM');
    assert.equal(await exited, 128 + 15, stderr());
    for (const pid of kids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} still runs`);
  },
);

test('torchrun launches dml workers (its agent hosts the store)', { timeout: 180_000 }, async () => {
  const args = ['model.setBnEval=true', 'model.normLayer=none'];
  const one = train('torchrun-1', args);
  const out = path.join(root, 'torchrun-2');
  // The test venv's torchrun (scripts/python-test-env.sh: the PyTorch of the addon's libtorch version, so its
  // store speaks the same protocol). Python 3.11's argparse needs explicit --redirects/--tee values.
  const r = spawnSync(
    path.join(repoRoot, '.cache/python-test/bin/python'),
    [
      '-m',
      'torch.distributed.run',
      '--nproc_per_node',
      '2',
      '--redirects',
      '2',
      '--tee',
      '2',
      '--master_port',
      String(await freePort()),
      '--no_python',
      process.execPath,
      cli,
      'train',
      ...common,
      ...args,
      `out=${out}`,
    ],
    { encoding: 'utf8', timeout: 170_000 },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assertSameTraining(one, out, initial('torchrun', args));
});

/** Runs `dml train` through the launcher without blocking the event loop: exit status, stderr, seconds. */
interface AsyncRun {
  code: number | null;
  stderr: string;
  seconds: number;
  /** Seconds from the start to the first stderr chunk matching `pattern`, if any. */
  secondsTo(pattern: RegExp): number | undefined;
}

function trainAsync(args: string[]): Promise<AsyncRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, 'train', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const chunks: { at: number; text: string }[] = [];
    p.stderr.on('data', (d: Buffer) => chunks.push({ at: Date.now(), text: d.toString() }));
    p.on('exit', (code) =>
      resolve({
        code,
        stderr: chunks.map((c) => c.text).join(''),
        seconds: (Date.now() - t0) / 1000,
        secondsTo: (pattern) => {
          const c = chunks.find((x) => pattern.test(x.text));
          return c && (c.at - t0) / 1000;
        },
      }),
    );
  });
}

test('a taken master port ends the job within seconds, naming the port', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const holder = createServer().listen(port, '127.0.0.1');
  await new Promise((r) => holder.once('listening', r));
  try {
    const out = path.join(root, 'taken-port');
    const r = await trainAsync(['--nproc-per-node', '2', '--master-port', String(port), ...common, `out=${out}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`another job uses port ${port}`), r.stderr);
    // Rank 1 would otherwise wait on the port's holder for the whole 60 s timeout. Timed from rank 0's
    // failure, not from the start: starting two processes takes a minute on a loaded machine.
    const failed = r.secondsTo(/it hosted the store/);
    assert.ok(failed !== undefined, r.stderr);
    assert.ok(r.seconds - failed < 15, `the job took ${r.seconds - failed} s to end after rank 0 failed`);
  } finally {
    holder.close();
  }
});

test('a client that stalls on the store does not hold a finished run', { timeout: 420_000 }, async () => {
  // A held run would wait out distributed.timeout: at 300 s that stands far above what load does to the
  // plain run's time (34 s quiet, 68 s on a busy machine), so the bound below holds on any machine.
  const args = ['model.setBnEval=true', 'model.normLayer=none', 'distributed.timeout=300'];
  const plain = await trainAsync(['--nproc-per-node', '2', ...common, ...args, `out=${path.join(root, 'stall-0')}`]);
  assert.equal(plain.code, 0, plain.stderr);
  const port = await freePort();
  const run = trainAsync([
    '--nproc-per-node',
    '2',
    '--master-port',
    String(port),
    ...common,
    ...args,
    `out=${path.join(root, 'stall-1')}`,
  ]);
  // Once the store listens: one byte of a request, then nothing, until the run is over.
  let stalled: Socket | null = null;
  const started = Date.now();
  while (!stalled && Date.now() - started < 60_000) {
    stalled = await new Promise<Socket | null>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(null));
    });
    if (!stalled) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(stalled, 'the store never listened');
  stalled.on('error', () => {});
  stalled.write(Buffer.from([0]));
  const r = await run;
  stalled.destroy();
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.seconds < plain.seconds + 150, `${r.seconds} s with a stalled client, ${plain.seconds} s without`);
});

test('launcher flags are checked', () => {
  const r = dml('train', '--nnodes', '2', ...common);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--nnodes > 1 needs --master-addr/);
  const p = dml('train', '--nproc-per-node', 'two', ...common);
  assert.match(p.stderr, /--nproc-per-node must be an integer/);
});
