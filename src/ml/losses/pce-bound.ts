// The paper's claim "CE bounds PCE", measured on a training batch: the plain cross-entropy of the
// model's classifier next to the PCE whose soft means use that classifier's softmax (softMean
// 'head') with λ = λ_max(ZᵀZ)/(2n). No gradient; float64 whatever the model's dtype.
import { type Tensor, Generator, noGrad, randperm, tensor, tidy } from '../../engine/index.js';
import { pairwiseCrossEntropy, pceLambdaEigen } from './pce.js';

export interface PceBoundSample {
  /** Cross-entropy of the classifier's logits (no label smoothing), nats. */
  ce: number;
  /** PCE = tightness + contrastive with p = softmax(logits). */
  pce: number;
  tightness: number;
  contrastive: number;
  lambda: number;
}

/** features [n, d] and the classifier's logits [n, K] of the same batch; labels in [0, K). */
export function measurePceBound(features: Tensor, logits: Tensor, labels: ArrayLike<number>): PceBoundSample {
  const [n, k] = logits.shape as [number, number];
  if (features.shape[0] !== n || labels.length !== n)
    throw new RangeError(`measurePceBound: ${features.shape[0]} features, ${n} logit rows and ${labels.length} labels`);
  for (const y of Array.from(labels))
    if (!Number.isInteger(y) || y < 0 || y >= k)
      throw new RangeError(`measurePceBound: label ${y} is outside the classifier's ${k} classes`);
  return noGrad(() =>
    tidy(() => {
      const z = features.detach().double(),
        s = logits.detach().double();
      const idx = tensor(Array.from(labels), { dtype: 'int64', device: s.device }).unsqueeze(1);
      const ce = s.logSoftmax(1).gather(1, idx).mean().neg().item();
      const lambda = pceLambdaEigen(z);
      const parts = pairwiseCrossEntropy(z, Array.from(labels), k, s.softmax(1), lambda);
      const tightness = parts.tightness.item(),
        contrastive = parts.contrastive.item();
      return { ce, pce: tightness + contrastive, tightness, contrastive, lambda };
    }),
  );
}

/** Means over measured batches (one 'bound' record of a run's metrics.jsonl per epoch). */
export interface PceBoundSummary {
  ce: number;
  pce: number;
  tightness: number;
  contrastive: number;
  lambda: number;
  /** Mean of CE − PCE. */
  ceMinusPce: number;
  /** Fraction of the measured batches where CE ≥ PCE. */
  ceAbovePce: number;
  /** Batches measured (a multi-process run counts each rank's slice). */
  batches: number;
}

const FIELDS = 7; // batches, ce, pce, tightness, contrastive, lambda, CE ≥ PCE count

/** Sums of measurements, kept as numbers so that ranks can add theirs with one all-reduce. */
export class PceBoundAccumulator {
  #s: number[] = new Array<number>(FIELDS).fill(0);
  add(m: PceBoundSample): void {
    const s = this.#s;
    s[0]! += 1;
    s[1]! += m.ce;
    s[2]! += m.pce;
    s[3]! += m.tightness;
    s[4]! += m.contrastive;
    s[5]! += m.lambda;
    if (m.ce >= m.pce) s[6]! += 1;
  }
  sums(): number[] {
    return [...this.#s];
  }
  setSums(v: readonly number[]): void {
    if (v.length !== FIELDS) throw new RangeError(`PceBoundAccumulator: expected ${FIELDS} sums, got ${v.length}`);
    this.#s = [...v];
  }
  mean(): PceBoundSummary | null {
    const [n, ce, pce, t, c, l, holds] = this.#s as [number, number, number, number, number, number, number];
    if (n === 0) return null;
    return {
      ce: ce / n,
      pce: pce / n,
      tightness: t / n,
      contrastive: c / n,
      lambda: l / n,
      ceMinusPce: (ce - pce) / n,
      ceAbovePce: holds / n,
      batches: n,
    };
  }
}

/**
 * Means of measurePceBound over random batches of batchSize samples (the last, shorter one too
 * when it has ≥ 2 samples), e.g. a checkpoint's training-class embeddings. Seeded: repeatable.
 */
export function measurePceBoundBatched(
  features: Tensor,
  logits: Tensor,
  labels: ArrayLike<number>,
  o: { batchSize: number; seed?: number },
): PceBoundSummary | null {
  const n = labels.length;
  if (!Number.isInteger(o.batchSize) || o.batchSize < 2)
    throw new RangeError(`measurePceBoundBatched: batchSize must be an integer ≥ 2, got ${o.batchSize}`);
  const order = tidy(() => randperm(n, { generator: new Generator(o.seed ?? 0) }).dataNumbers());
  const acc = new PceBoundAccumulator();
  for (let s = 0; s + 2 <= n; s += o.batchSize) {
    const idx = order.slice(s, Math.min(n, s + o.batchSize));
    tidy(() => {
      const i = tensor(idx, { dtype: 'int64', device: features.device });
      acc.add(
        measurePceBound(
          features.indexSelect(0, i),
          logits.indexSelect(0, i),
          idx.map((j) => labels[j]!),
        ),
      );
    });
  }
  return acc.mean();
}
