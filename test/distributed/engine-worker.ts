// One rank of the engine's multi-process scenarios (spawned by distributed.test.ts with the
// torchrun variables set). Each scenario computes the single-process reference itself, from the
// same seeded data, and reports the largest differences.
import { tensor, tidy, nn, grad, manualSeed, randn, distributed, type Tensor } from '../../src/engine/index.js';
import { report } from './helpers.js';

const { ProcessGroup } = distributed;

function maxDiff(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().max().item());
}

/** Rows [start, end) of the global batch that a rank holds (uneven when n % size != 0). */
function slice(n: number, rank: number, size: number): [number, number] {
  return [Math.floor((rank * n) / size), Math.floor(((rank + 1) * n) / size)];
}

const scenarios: Record<string, (g: distributed.ProcessGroup) => Record<string, unknown>> = {
  collectives(g) {
    const r = g.rank;
    const t = tensor([r + 1, 10 * (r + 1)], { dtype: 'float64' });
    g.allReduce(t, 'sum');
    const sum = t.dataNumbers();
    const m = tensor([r, -r], { dtype: 'int64' });
    g.allReduce(m, 'max');
    const avg = tensor([2 * r], { dtype: 'float32' });
    g.allReduce(avg, 'avg');
    const b = tensor(r === 1 ? [7, 8, 9] : [0, 0, 0], { dtype: 'float32' });
    const c = tensor(
      r === 1
        ? [
            [1, 2],
            [3, 4],
          ]
        : [
            [0, 0],
            [0, 0],
          ],
      { dtype: 'float64' },
    );
    g.broadcast([b, c], 1);
    const parts = g.allGather(tensor([r, r * r], { dtype: 'int32' })).map((p) => p.dataNumbers());
    const rows = Array.from({ length: r + 1 }, (_, i) => [r, i]);
    const vparts = g.allGatherVariable(tensor(rows, { dtype: 'float32' })).map((p) => p.tolist());
    g.store.set(`k${r}`, `hello from ${r}`);
    const other = g.store.get(`k${(r + 1) % g.worldSize}`);
    g.barrier();
    return {
      sum,
      max: m.dataNumbers(),
      avg: avg.dataNumbers(),
      bcast: [b.dataNumbers(), c.dataNumbers()],
      parts,
      vparts,
      other,
    };
  },

  // Synchronised BatchNorm on each rank's slice == BatchNorm on the whole batch: output, input
  // gradient, weight/bias gradients (summed over ranks) and running statistics.
  syncbn(g) {
    manualSeed(5);
    const n = 7,
      C = 3;
    const x = randn([n, C, 4, 5], { dtype: 'float64' }).mul(2).add(1);
    const upstream = randn([n, C, 4, 5], { dtype: 'float64' });
    const ref = new nn.BatchNorm2d(C).to('float64');
    const mine = new nn.BatchNorm2d(C).to('float64');
    tidy(() => {
      ref.weight!.detach().copy_(tensor([0.5, 1.5, -1], { dtype: 'float64' }));
      mine.weight!.detach().copy_(tensor([0.5, 1.5, -1], { dtype: 'float64' }));
    });
    distributed.convertSyncBatchNorm(mine, g);
    const [s, e] = slice(n, g.rank, g.worldSize);
    const xr = x.detach().requiresGrad_(true);
    const yRef = ref.forward(xr);
    const [gx, gw, gb] = grad(yRef.mul(upstream).sum(), [xr, ref.weight!, ref.bias!]) as Tensor[];
    const xl = x
      .narrow(0, s, e - s)
      .detach()
      .requiresGrad_(true);
    const y = mine.forward(xl);
    const [glx, glw, glb] = grad(y.mul(upstream.narrow(0, s, e - s)).sum(), [xl, mine.weight!, mine.bias!]) as Tensor[];
    g.allReduce([glw!, glb!], 'sum');
    return {
      rows: e - s,
      out: maxDiff(y, yRef.narrow(0, s, e - s)),
      gradInput: maxDiff(glx!, gx!.narrow(0, s, e - s)),
      gradWeight: maxDiff(glw!, gw!),
      gradBias: maxDiff(glb!, gb!),
      runningMean: maxDiff(mine.runningMean!, ref.runningMean!),
      runningVar: maxDiff(mine.runningVar!, ref.runningVar!),
    };
  },

  // Gradient all-reduce: the average of the ranks' mean-loss gradients, each weighted by its share
  // of the batch, equals the full batch's gradient.
  grads(g) {
    manualSeed(3);
    const n = 10;
    const model = new nn.Sequential(new nn.Linear(6, 5), new nn.ReLU(), new nn.Linear(5, 2)).to('float64');
    const x = randn([n, 6], { dtype: 'float64' });
    const target = randn([n, 2], { dtype: 'float64' });
    const full = model.parameters().map((p) => grad(model.forward(x).sub(target).square().mean(), [p])[0]!);
    // Another rank's model starts elsewhere: the broadcast makes it rank 0's.
    if (g.rank !== 0) for (const p of model.parameters()) tidy(() => p.detach().add_(1));
    distributed.broadcastModule(model, g);
    const [s, e] = slice(n, g.rank, g.worldSize);
    const reducer = new distributed.GradientReducer(g, model.parameters(), { bucketBytes: 64, overlap: false });
    const loss = model
      .forward(x.narrow(0, s, e - s))
      .sub(target.narrow(0, s, e - s))
      .square()
      .mean()
      .mul(((e - s) * g.worldSize) / n);
    loss.backward();
    const info = reducer.reduce();
    return { diffs: model.parameters().map((p, i) => maxDiff(p.grad!, full[i]!)), info };
  },

  // Overlapped reduction over three steps: buckets start during backward from the second step on
  // (the first learns the layout), a parameter that never gets a gradient keeps none, and every
  // step's result is the full-batch gradient.
  overlap(g) {
    manualSeed(8);
    const n = 9;
    const model = new nn.Sequential(
      new nn.Linear(6, 32),
      new nn.ReLU(),
      new nn.Linear(32, 32),
      new nn.ReLU(),
      new nn.Linear(32, 3),
    ).to('float64');
    const unused = new nn.Linear(3, 2).to('float64');
    const params = [...model.parameters(), ...unused.parameters()];
    distributed.broadcastModule(model, g);
    const reducer = new distributed.GradientReducer(g, params, { bucketBytes: 2000, overlap: true });
    const [s, e] = slice(n, g.rank, g.worldSize);
    const steps: Record<string, unknown>[] = [];
    for (let step = 0; step < 3; step++) {
      const x = randn([n, 6], { dtype: 'float64' });
      const full = model.parameters().map((p) => grad(model.forward(x).square().mean(), [p])[0]!);
      for (const p of params) p.grad = null;
      reducer.prepare();
      model
        .forward(x.narrow(0, s, e - s))
        .square()
        .mean()
        .mul(((e - s) * g.worldSize) / n)
        .backward();
      const info = reducer.reduce();
      steps.push({
        info,
        diffs: model.parameters().map((p, i) => maxDiff(p.grad!, full[i]!)),
        unusedGrad: unused.parameters().map((p) => p.grad === null),
      });
    }
    reducer.dispose();
    return { steps };
  },

  // Channels-last parameters (NHWC strides): the broadcast and the gradient buckets, both plain and
  // overlapped, copy by logical index, so the averaged gradients are the full batch's, in the same layout.
  channelsLast(g) {
    manualSeed(11);
    const n = 7;
    const out: Record<string, unknown> = {};
    for (const overlap of [false, true]) {
      const model = new nn.Sequential(
        new nn.Conv2d(3, 4, 3, { padding: 1 }),
        new nn.ReLU(),
        new nn.Conv2d(4, 2, 3, { bias: false }),
      ).to('float64');
      model.toMemoryFormat('channelsLast');
      if (g.rank !== 0) for (const p of model.parameters()) tidy(() => p.detach().add_(1));
      distributed.broadcastModule(model, g);
      const x = randn([n, 3, 6, 5], { dtype: 'float64' }).contiguous('channelsLast');
      const full = model.parameters().map((p) => grad(model.forward(x).square().mean(), [p])[0]!);
      const reducer = new distributed.GradientReducer(g, model.parameters(), { bucketBytes: 256, overlap });
      const [s, e] = slice(n, g.rank, g.worldSize);
      reducer.prepare();
      model
        .forward(x.narrow(0, s, e - s))
        .square()
        .mean()
        .mul(((e - s) * g.worldSize) / n)
        .backward();
      reducer.reduce();
      reducer.dispose();
      out[overlap ? 'overlapped' : 'plain'] = {
        diffs: model.parameters().map((p, i) => maxDiff(p.grad!, full[i]!)),
        channelsLast: model.parameters().map((p) => p.ndim !== 4 || p.isContiguous('channelsLast')),
      };
    }
    return out;
  },

  // A rank that dies: the survivors' next collective fails, naming it.
  die(g) {
    g.barrier();
    const victim = Number(process.env.VICTIM ?? 1);
    if (g.rank === victim) {
      if (process.env.REPORT === '1') g.reportError('out of memory in step 3');
      process.exit(9);
    }
    const t0 = Date.now();
    try {
      for (let i = 0; i < 100; i++) g.allReduce(tensor([1]), 'sum');
      return { error: null };
    } catch (e) {
      const err = e as distributed.DistributedError;
      return {
        error: err.message,
        name: err.name,
        lostRanks: err.lostRanks,
        op: err.op,
        ms: Date.now() - t0,
        again: (() => {
          try {
            g.barrier();
            return 'no error';
          } catch (e2) {
            return (e2 as Error).message === err.message ? 'same' : (e2 as Error).message;
          }
        })(),
      };
    }
  },

  // A peer that is alive but never joins the collective: the timeout, and a diagnosis saying so.
  slow(g) {
    if (g.rank === 1) {
      const until = Date.now() + 6000;
      while (Date.now() < until) {
        /* busy, not in the barrier */
      }
      return { rank1: 'done' };
    }
    const t0 = Date.now();
    try {
      g.barrier();
      return { error: null };
    } catch (e) {
      return {
        error: (e as Error).message,
        lostRanks: (e as distributed.DistributedError).lostRanks,
        ms: Date.now() - t0,
      };
    }
  },

  // The differentiable all-reduce's gradient is the sum of the ranks' upstream gradients.
  autograd(g) {
    const x = tensor([1, 2], { dtype: 'float64' }).requiresGrad_(true);
    const y = g.allReduceAutograd(x.mul(g.rank + 1));
    const [gx] = grad(y.mul(tensor([g.rank + 1, 1], { dtype: 'float64' })).sum(), [x]) as Tensor[];
    return { y: y.dataNumbers(), gx: gx!.dataNumbers() };
  },
};

if (process.env.DML_TEST_WORKER === '1') {
  const name = process.argv[2] ?? '';
  const timeoutMs = Number(process.env.DML_TEST_TIMEOUT_MS ?? 20_000);
  const file = process.env.DML_TEST_FILESTORE;
  const g = file
    ? new ProcessGroup({
        rank: Number(process.env.RANK),
        worldSize: Number(process.env.WORLD_SIZE),
        store: { kind: 'file', path: file },
        timeoutMs,
      })
    : ProcessGroup.fromEnv({ timeoutMs });
  if (!g) throw new Error('no launch environment');
  const run = scenarios[name];
  if (!run) throw new Error(`unknown scenario ${name}`);
  const result = run(g);
  report({ rank: g.rank, ...result });
  if (name !== 'die' && name !== 'slow') g.leave();
  else g.destroy();
}
