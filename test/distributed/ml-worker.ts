// One rank of the metric-learning library's multi-process scenarios (spawned by
// distributed.test.ts). Each rank computes the single-process answer itself from the same seeded
// data and reports it beside the distributed one.
import {
  tensor,
  tidy,
  nn,
  grad,
  manualSeed,
  randn,
  randint,
  distributed,
  noGrad,
  cat,
  zeros,
  type Tensor,
} from '../../src/engine/index.js';
import { evaluateRetrieval, evaluateRetrievalSharded, shardRange } from '../../src/ml/eval/index.js';
import {
  asTrainLoss,
  createLoss,
  CrossBatchMemory,
  sampleClasses,
  type LossName,
  type MetricLoss,
  type SoftmaxTableLoss,
} from '../../src/ml/losses/index.js';
import { MultiSimilarityMiner } from '../../src/ml/miners/index.js';
import { rngFor, STREAM } from '../../src/ml/random.js';
import { report } from './helpers.js';

type Group = distributed.ProcessGroup;

function maxDiff(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().max().item());
}

/** A report without its timing, for exact comparison. */
function strip(r: Record<string, unknown>): Record<string, unknown> {
  const { seconds: _s, ...rest } = r;
  return rest;
}

function retrieval(
  g: Group,
  features: Tensor,
  labels: Tensor,
  gallery: { features: Tensor; labels: Tensor } | null,
  o: { chunkRows?: number; ks: number[] },
): Record<string, unknown> {
  const single = evaluateRetrieval({ features, labels }, gallery, { ks: o.ks, nmi: true, chunkRows: o.chunkRows });
  const q = shardRange(features.shape[0]!, g.rank, g.worldSize);
  const mineQ = {
    features: features.narrow(0, q.start, q.end - q.start),
    labels: labels.narrow(0, q.start, q.end - q.start),
  };
  let mineG = null;
  if (gallery) {
    const s = shardRange(gallery.features.shape[0]!, g.rank, g.worldSize);
    mineG = {
      features: gallery.features.narrow(0, s.start, s.end - s.start),
      labels: gallery.labels.narrow(0, s.start, s.end - s.start),
    };
  }
  const sharded = evaluateRetrievalSharded(g, mineQ, mineG, { ks: o.ks, nmi: true, chunkRows: o.chunkRows });
  return { single: strip(single), sharded: strip(sharded) };
}

/** Model parameters' gradients of `loss` on the whole batch vs on rank slices with gathering + averaging. */
function lossGradients(g: Group, name: LossName, options: Record<string, unknown>): Record<string, unknown> {
  manualSeed(11);
  const n = 24,
    din = 6,
    dout = 4,
    classes = 6;
  const x = randn([n, din], { dtype: 'float64' });
  // Four samples of each class, in the class-balanced sampler's order.
  const y = tensor(
    Array.from({ length: n }, (_, i) => Math.floor(i / 4) % classes),
    { dtype: 'int64' },
  );
  const model = new nn.Linear(din, dout).to('float64');
  const make = (): ReturnType<typeof asTrainLoss> & { raw: ReturnType<typeof createLoss> } => {
    const raw = createLoss(name, { ...options } as never);
    raw.to('float64');
    return Object.assign(asTrainLoss(raw as never, g), { raw });
  };
  // Single process: the loss of the whole batch.
  const ref = createLoss(name, { ...options } as never);
  ref.to('float64');
  const refParams = [...model.parameters(), ...ref.parameters()];
  const refOut = model.forward(x);
  const refLoss = ref.forward(refOut, y);
  const refGrads = grad(refLoss, refParams);
  // This rank: its slice, the loss over the gathered batch, DDP's average, a gathered loss's own
  // parameters divided by the world size (what the trainer does).
  const loss = make();
  const { start, end } = shardRange(n, g.rank, g.worldSize);
  const feats = model.forward(x.narrow(0, start, end - start));
  const l = loss.compute({ features: feats, logits: feats }, y.narrow(0, start, end - start));
  const params = [...model.parameters(), ...loss.raw.parameters()];
  for (const p of params) p.grad = null;
  l.backward();
  g.reduceGradients(params);
  for (const p of loss.raw.parameters()) p.grad!.div_(g.worldSize);
  return {
    gathered: loss.gathered,
    value: l.item() / g.worldSize,
    refValue: refLoss.item(),
    diffs: params.map((p, i) => maxDiff(p.grad!, refGrads[i]!)),
    norms: refGrads.map((t) => tidy(() => t!.abs().max().item())),
  };
}

/**
 * A cross-batch memory over several SGD steps: one process on the global batch against this rank
 * on its slice, gathered (asTrainLoss wraps it in DistributedLossWrapper) and DDP-averaged. Per step:
 * the loss value, the model's gradients, and the memory's rows and labels.
 */
function memorySteps(
  g: Group,
  name: LossName,
  options: Record<string, unknown>,
  mined: boolean,
): Record<string, unknown> {
  manualSeed(13);
  const n = 12,
    din = 6,
    dout = 4,
    steps = 5,
    memorySize = 30;
  const batches = Array.from({ length: steps }, () => ({
    x: randn([n, din], { dtype: 'float64' }),
    y: randint(0, 4, [n]),
  }));
  const build = (): CrossBatchMemory => {
    const inner = createLoss(name, { ...options } as never) as MetricLoss;
    const xbm = new CrossBatchMemory(inner, {
      embeddingSize: dout,
      memorySize,
      miner: mined ? new MultiSimilarityMiner({ epsilon: 0.2 }) : undefined,
    });
    return xbm.to('float64');
  };
  const refModel = new nn.Linear(din, dout).to('float64');
  const model = new nn.Linear(din, dout).to('float64');
  model.loadStateDict(refModel.stateDict());
  const refXbm = build(),
    xbm = build();
  const loss = asTrainLoss(xbm, g);
  const { start, end } = shardRange(n, g.rank, g.worldSize);
  const out: Record<string, number>[] = [];
  for (const { x, y } of batches) {
    const refValue = refXbm.forward(refModel.forward(x), y);
    const refGrads = grad(refValue, refModel.parameters());
    const own = model.forward(x.narrow(0, start, end - start));
    const l = loss.compute({ features: own, logits: own }, y.narrow(0, start, end - start));
    const params = model.parameters();
    for (const p of params) p.grad = null;
    l.backward();
    g.reduceGradients(params);
    out.push({
      value: l.item() / g.worldSize,
      refValue: refValue.item(),
      grad: Math.max(...params.map((p, i) => maxDiff(p.grad!, refGrads[i]!))),
      gradScale: Math.max(...refGrads.map((t) => tidy(() => t!.abs().max().item()))),
      memory: maxDiff(xbm.embeddingMemory, refXbm.embeddingMemory),
      labels: maxDiff(xbm.labelMemory, refXbm.labelMemory),
    });
    noGrad(() => {
      params.forEach((p) => p.sub_(p.grad!.mul(0.5)));
      refModel.parameters().forEach((p, i) => p.sub_(refGrads[i]!.mul(0.5)));
    });
  }
  return { gathered: loss.gathered, steps: out, filled: xbm.queueState.filled };
}

/**
 * PartialFC sharded over the ranks (each holds its slice of the classes) against one process's head
 * over the same global batch: rate 1 against the full head, rate 0.5 against the full head
 * restricted to the classes the ranks drew. Model gradients averaged over ranks (DDP), each shard's
 * own divided by the world size and not reduced (what the trainer does).
 */
function partialFc(g: Group, name: LossName, options: Record<string, unknown>, rate: number): Record<string, unknown> {
  manualSeed(13);
  const n = 25,
    din = 6,
    d = 4,
    classes = 11;
  const x = randn([n, din], { dtype: 'float64' });
  // Rate 1: most classes present. Sampled: three classes, so each shard draws others at random
  // (and with three ranks, the last holds no class of the batch).
  const labels = Array.from({ length: n }, (_, i) => (rate === 1 ? (i * 7) % classes : [0, 3, 7][i % 3]!));
  const y = tensor(labels, { dtype: 'int64' });
  const model = new nn.Linear(din, d).to('float64');
  const full = createLoss(name, {
    ...options,
    numClasses: classes,
    embeddingSize: d,
    seed: 5,
  } as never) as SoftmaxTableLoss;
  full.to('float64');
  const table = full.table.detach();
  // The classes the sharded run draws: every rank's draw is reproducible from the seed and step.
  const drawn: number[] = [];
  for (let r = 0; r < g.worldSize; r++) {
    const { start, end } = shardRange(classes, r, g.worldSize);
    drawn.push(...sampleClasses(labels, start, end, rate, rngFor(5, STREAM.classSample, 0, start)));
  }
  const remap = new Map(drawn.map((c, i) => [c, i]));
  const ref = createLoss(name, { ...options, numClasses: drawn.length, embeddingSize: d } as never) as SoftmaxTableLoss;
  ref.to('float64');
  ref.loadStateDict(new Map([[ref.tableName, table.index([tensor(drawn, { dtype: 'int64' })])]]));
  const refLoss = ref.forward(
    model.forward(x),
    tensor(
      labels.map((c) => remap.get(c)!),
      { dtype: 'int64' },
    ),
  );
  const refGrads = grad(refLoss, [...model.parameters(), ref.table]);
  // This rank: its slice of the batch and of the classes.
  const shard = createLoss(name, {
    ...options,
    numClasses: classes,
    embeddingSize: d,
    seed: 5,
    sampleRate: rate,
    shard: g,
  } as never) as SoftmaxTableLoss;
  shard.to('float64');
  const { start: c0, end: c1 } = shard.classRange;
  shard.loadStateDict(
    new Map<string, Tensor>([
      [shard.tableName, table.narrow(0, c0, c1 - c0)],
      ...(rate < 1 ? [['sample_step', tensor([0], { dtype: 'int64' })] as [string, Tensor]] : []),
    ]),
  );
  const { start, end } = shardRange(n, g.rank, g.worldSize);
  const l = shard.forward(model.forward(x.narrow(0, start, end - start)), y.narrow(0, start, end - start));
  const params = [...model.parameters()];
  for (const p of [...params, shard.table]) p.grad = null;
  l.backward();
  g.reduceGradients(params);
  shard.table.grad!.div_(g.worldSize);
  // The reference's table gradient, at this rank's classes (zero where a class was not drawn).
  const mine = Array.from({ length: c1 - c0 }, (_, i) => remap.get(c0 + i));
  const refTable = tidy(() =>
    cat(
      mine.map((k) =>
        k === undefined ? zeros([1, d], { dtype: 'float64' }) : refGrads[params.length]!.narrow(0, k, 1),
      ),
    ),
  );
  return {
    value: l.item() / g.worldSize,
    refValue: refLoss.item(),
    drawn: drawn.length,
    diffs: [...params.map((p, i) => maxDiff(p.grad!, refGrads[i]!)), maxDiff(shard.table.grad!, refTable)],
    norms: refGrads.map((t) => tidy(() => t!.abs().max().item())),
  };
}

const scenarios: Record<string, (g: Group) => Record<string, unknown>> = {
  'xbm-contrastive': (g) => memorySteps(g, 'contrastive', {}, false),
  'xbm-multi-similarity-mined': (g) => memorySteps(g, 'multi-similarity', {}, true),
  'partial-fc-arcface': (g) => partialFc(g, 'arcface', { margin: 0.3, scale: 8 }, 1),
  'partial-fc-cosface': (g) => partialFc(g, 'cosface', { margin: 0.2, scale: 8 }, 0.5),
  'partial-fc-norm-softmax': (g) => partialFc(g, 'norm-softmax', { temperature: 0.2 }, 1),
  'partial-fc-proxy-nca': (g) => partialFc(g, 'proxy-nca', { scale: 3 }, 0.5),
  'partial-fc-arcface-sampled': (g) => partialFc(g, 'arcface', { margin: 0.3, scale: 8 }, 0.3),
  'retrieval-random'(g) {
    manualSeed(2);
    const f = randn([203, 16]);
    const y = randint(0, 7, [203]);
    return retrieval(g, f, y, null, { ks: [1, 2, 4, 8, 300] });
  },
  // Integer-valued embeddings: exact score ties everywhere, across shard and chunk borders.
  'retrieval-ties'(g) {
    manualSeed(4);
    const f = randint(-1, 2, [97, 3]).to('float64');
    const y = randint(0, 5, [97]);
    const loo = retrieval(g, f, y, null, { ks: [1, 3, 10], chunkRows: 7 });
    const gf = randint(-1, 2, [61, 3]).to('float64');
    const gy = randint(0, 5, [61]);
    const qg = retrieval(g, f, y, { features: gf, labels: gy }, { ks: [1, 3, 10], chunkRows: 7 });
    return { loo, qg };
  },
  triplet: (g) => lossGradients(g, 'triplet', { margin: 0.2 }),
  'multi-similarity': (g) => lossGradients(g, 'multi-similarity', {}),
  'proxy-anchor': (g) => lossGradients(g, 'proxy-anchor', { numClasses: 6, embeddingSize: 4, seed: 3 }),
};

if (process.env.DML_TEST_WORKER === '1') {
  const name = process.argv[2] ?? '';
  const g = distributed.ProcessGroup.fromEnv({ timeoutMs: 30_000 });
  if (!g) throw new Error('no launch environment');
  const run = scenarios[name];
  if (!run) throw new Error(`unknown scenario ${name}`);
  report({ rank: g.rank, ...run(g) });
  g.leave();
}
