// A cross-fitted linear probe: the held-out cross-entropy of softmax regression on the embeddings,
// an upper bound (in expectation) on H(Y|Z), so H(Y) - CE is a lower bound on I(Z;Y) (the
// Barber-Agakov variational bound the paper's discriminative view rests on).
//
// Why cross-fitting: a probe scored on its own training points can memorise them (2048 weights
// per class against ~5 SOP images per class), its CE then falls toward 0 and the "MI" toward
// H(Y) whatever the embedding. Every point is instead scored by a probe that never saw it: the
// points are split into F stratified folds, F probes are each trained on F-1 folds and score the
// remaining one, and the out-of-fold cross-entropies are averaged over all N points.
import {
  type Tensor,
  tensor,
  tidy,
  noGrad,
  keep,
  zeros,
  randint,
  Generator,
  nn,
  optim,
  getNumThreads,
  setNumThreads,
} from '../../engine/index.js';
import { checkEmbeddings, labelArray, type Labels } from '../eval/common.js';
import { STREAM, rngFor } from '../random.js';

export interface LinearProbeOptions {
  /** Cross-fitting folds (default 5), stratified by class. */
  folds?: number;
  /** Adam steps per fit (default 300), the learning rate cosine-annealed to 0. */
  steps?: number;
  /** Peak learning rate (default 0.05; features are standardised with the training fold's statistics). */
  lr?: number;
  /**
   * L2 penalty (weightDecay / 2) ||W||^2 on the weights, not the biases. A list (default
   * [1e-4, 1e-3, 1e-2, 1e-1, 1]) is searched inside each training fold: 20% of it (stratified)
   * validates each value, and the best one is refit on the whole training fold. The held-out fold
   * never takes part in the choice, so the out-of-fold CE stays honest. Few points per class in
   * many dimensions (SOP) need the strong end, well-separated classes the weak end.
   */
  weightDecay?: number | readonly number[];
  /** Minibatch size when a training set is larger (default 4096); else full batch. */
  batchSize?: number;
  /** Seed of the fold split and minibatch draws (default 0). */
  seed?: number;
  /** Called after each optimiser step of each fit with the steps done and the total of all fits. */
  onProgress?: (done: number, total: number) => void;
}

export interface ProbeResult {
  /** Mean out-of-fold cross-entropy, nats. */
  crossEntropy: number;
  /** Out-of-fold accuracy. */
  accuracy: number;
  folds: number;
  classes: number;
  /** The weight decay used in each fold. */
  weightDecays: number[];
}

/** Maps arbitrary integer labels to 0..C-1 (sorted order). */
export function denseLabels(labels: Int32Array): { y: Int32Array; classes: number } {
  const values = [...new Set(labels)].sort((a, b) => a - b);
  const map = new Map(values.map((v, i) => [v, i]));
  return { y: Int32Array.from(labels, (v) => map.get(v)!), classes: values.length };
}

/**
 * Stratified fold of every point: each class's points, shuffled, are dealt round-robin from a
 * random fold. `streams` tell apart several fold assignments drawn from one seed.
 */
export function stratifiedFolds(y: Int32Array, folds: number, seed = 0, ...streams: number[]): Int32Array {
  const rng = rngFor(seed, STREAM.folds, ...streams);
  const byClass = new Map<number, number[]>();
  y.forEach((c, i) => {
    const l = byClass.get(c);
    if (l) l.push(i);
    else byClass.set(c, [i]);
  });
  const fold = new Int32Array(y.length);
  for (const idx of byClass.values()) {
    rng.shuffle(idx);
    const offset = rng.int(0, folds);
    idx.forEach((p, j) => {
      fold[p] = (offset + j) % folds;
    });
  }
  return fold;
}

interface ProbeFit {
  w: Tensor;
  b: Tensor;
}

/** Softmax regression on standardised x [n, D] (int64 labels y), full batch or minibatches. */
function fitProbe(
  x: Tensor,
  y: Tensor,
  classes: number,
  wd: number,
  steps: number,
  lr: number,
  batch: number,
  gen: Generator,
  onStep?: () => void,
): ProbeFit {
  const n = x.shape[0]!,
    d = x.shape[1]!;
  const w = keep(zeros([d, classes], { requiresGrad: true }));
  const b = keep(zeros([classes], { requiresGrad: true }));
  const opt = new optim.Adam([w, b], { lr });
  try {
    for (let s = 0; s < steps; s++) {
      opt.paramGroups[0]!.lr = lr * 0.5 * (1 + Math.cos((Math.PI * s) / steps));
      tidy(() => {
        let xb = x,
          yb = y;
        if (n > batch) {
          const bi = randint(0, n, [batch], { generator: gen });
          xb = x.indexSelect(0, bi);
          yb = y.indexSelect(0, bi);
        }
        const loss = nn.functional.crossEntropy(xb.mm(w).add(b), yb).add(
          w
            .square()
            .sum()
            .mul(wd / 2),
        );
        opt.zeroGrad();
        loss.backward();
        opt.step();
      });
      onStep?.();
    }
  } finally {
    opt.dispose();
  }
  return { w, b };
}

/** Summed cross-entropy and correct count of a fit on (x, y). */
function scoreProbe(fit: ProbeFit, x: Tensor, y: Tensor): { ce: number; correct: number } {
  return noGrad(() =>
    tidy(() => {
      const logits = x.mm(fit.w).add(fit.b);
      return {
        ce: nn.functional.crossEntropy(logits, y, { reduction: 'sum' }).item(),
        correct: logits.argmax(1).eq(y).sum().item(),
      };
    }),
  );
}

/** Multiply-adds of one probe step below which the probe runs on one thread. */
export const SERIAL_PROBE_MACS = 1 << 22;

const take = (t: Tensor, idx: number[]): Tensor => t.indexSelect(0, tensor(idx, { dtype: 'int64' }));

/** Out-of-fold cross-entropy and accuracy of a softmax-regression probe on x [N, D]. */
export function crossFittedProbe(x: Tensor, labels: Labels, o: LinearProbeOptions = {}): ProbeResult {
  const { n } = checkEmbeddings(x, 'crossFittedProbe');
  const { y, classes } = denseLabels(labelArray(labels, n));
  const folds = Math.min(o.folds ?? 5, n);
  if (!Number.isInteger(folds) || folds < 2)
    throw new RangeError(`crossFittedProbe: needs >= 2 folds and points, got ${folds}`);
  const steps = o.steps ?? 300,
    lr = o.lr ?? 0.05,
    batch = o.batchSize ?? 4096,
    seed = o.seed ?? 0;
  const grid =
    typeof o.weightDecay === 'number' ? [o.weightDecay] : [...(o.weightDecay ?? [1e-4, 1e-3, 1e-2, 1e-1, 1])];
  if (grid.length === 0 || grid.some((v) => !(v >= 0)))
    throw new RangeError('crossFittedProbe: weightDecay must be >= 0');
  const fold = stratifiedFolds(y, folds, seed);
  const gen = new Generator(seed);
  // Every fold fits each candidate weight decay on its inner split, then refits the chosen one.
  const totalSteps = folds * (grid.length > 1 ? grid.length + 1 : 1) * steps;
  let stepsDone = 0;
  const onStep = o.onProgress ? (): void => o.onProgress!(++stepsDone, totalSteps) : undefined;
  const yAll = tensor(y, { dtype: 'int64' });
  const x32 = x.dtype === 'float32' ? x : x.to('float32');
  // Thousands of tiny steps: below ~4M multiply-adds a step, OpenMP's hand-offs cost more than the
  // second core gives (32 points x 8 dims: 1.28 s on 2 threads vs 0.40 s on 1; 2000 x 128 x 50
  // classes: 5.3 vs 2.8 s, a loaded 2-core machine). Restored whatever happens.
  const threads = getNumThreads();
  const serial = threads > 1 && Math.min(n, batch) * x.shape[1]! * classes < SERIAL_PROBE_MACS;
  if (serial) setNumThreads(1);
  let ceSum = 0,
    correct = 0;
  const chosen: number[] = [];
  try {
    for (let f = 0; f < folds; f++) {
      const trainIdx: number[] = [],
        testIdx: number[] = [];
      fold.forEach((v, i) => (v === f ? testIdx : trainIdx).push(i));
      if (testIdx.length === 0) continue;
      const r = tidy(() => {
        const xtr0 = take(x32, trainIdx);
        const mu = xtr0.mean(0, true);
        const sd = xtr0.std(0, 1, true).clampMin(1e-6);
        const xtr = xtr0.sub(mu).div(sd);
        const ytr = take(yAll, trainIdx);
        let wd = grid[0]!;
        if (grid.length > 1) {
          // Inner split of the training fold: 1 part in 5 validates the weight decay.
          const inner = stratifiedFolds(
            Int32Array.from(trainIdx, (i) => y[i]!),
            5,
            seed,
            1 + f,
          );
          const fit: number[] = [],
            val: number[] = [];
          inner.forEach((v, j) => (v === 0 ? val : fit).push(j));
          let best = Infinity;
          for (const cand of grid) {
            const m = fitProbe(take(xtr, fit), take(ytr, fit), classes, cand, steps, lr, batch, gen, onStep);
            const ce = scoreProbe(m, take(xtr, val), take(ytr, val)).ce;
            m.w.dispose();
            m.b.dispose();
            if (ce < best) {
              best = ce;
              wd = cand;
            }
          }
        }
        const m = fitProbe(xtr, ytr, classes, wd, steps, lr, batch, gen, onStep);
        try {
          return { ...scoreProbe(m, take(x32, testIdx).sub(mu).div(sd), take(yAll, testIdx)), wd };
        } finally {
          m.w.dispose();
          m.b.dispose();
        }
      });
      ceSum += r.ce;
      correct += r.correct;
      chosen.push(r.wd);
    }
  } finally {
    if (serial) setNumThreads(threads);
    if (x32 !== x) x32.dispose();
    yAll.dispose();
  }
  return { crossEntropy: ceSum / n, accuracy: correct / n, folds, classes, weightDecays: chosen };
}

/** Mean cross-entropy (nats) of given classifier logits [N, C] against labels in 0..C-1. */
export function logitsCrossEntropy(logits: Tensor, labels: Labels): { crossEntropy: number; accuracy: number } {
  if (logits.ndim !== 2)
    throw new RangeError(`logitsCrossEntropy: expected [N, C] logits, got [${logits.shape.join(', ')}]`);
  const [n, c] = logits.shape as [number, number];
  const l = labelArray(labels, n);
  for (const v of l) if (v < 0 || v >= c) throw new RangeError(`logitsCrossEntropy: label ${v} outside 0..${c - 1}`);
  return noGrad(() =>
    tidy(() => {
      const y = tensor(l, { dtype: 'int64' });
      const lg = logits.to('float64');
      return {
        crossEntropy: nn.functional.crossEntropy(lg, y).item(),
        accuracy: lg.argmax(1).eq(y).sum().item() / n,
      };
    }),
  );
}
