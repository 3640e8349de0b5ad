// Batch samplers: which sample indices form each batch of an epoch. Deterministic given (seed, epoch),
// so a resumed run sees exactly the batches the interrupted one would have.

/** Mulberry32: tiny, fast, seedable; good enough to shuffle indices. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** A per-epoch stream derived from the run seed. */
export const epochRng = (seed: number, epoch: number): (() => number) => mulberry32((seed * 1_000_003 + epoch * 7919 + 17) >>> 0);

export function shuffleInPlace<T>(a: T[], rnd: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export interface BatchSampler {
  /** Batches of one epoch (drop-last: every batch is full). */
  epoch(epoch: number): number[][];
  readonly batchesPerEpoch: number;
}

/** Shuffled batches of batchSize, dropping the incomplete last one. */
export class RandomBatchSampler implements BatchSampler {
  readonly batchesPerEpoch: number;
  constructor(readonly size: number, readonly batchSize: number, readonly seed = 0) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`RandomBatchSampler: batchSize must be a positive integer, got ${batchSize}`);
    this.batchesPerEpoch = Math.floor(size / batchSize);
    if (this.batchesPerEpoch === 0) throw new RangeError(`RandomBatchSampler: ${size} samples cannot fill one batch of ${batchSize}`);
  }
  epoch(epoch: number): number[][] {
    const order = shuffleInPlace(Array.from({ length: this.size }, (_, i) => i), epochRng(this.seed, epoch));
    const out: number[][] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++) out.push(order.slice(b * this.batchSize, (b + 1) * this.batchSize));
    return out;
  }
}

/**
 * Class-balanced batches: batchSize / m classes per batch, m samples each — the reference's
 * RandomReplacedIdentitySampler: classes are drawn without replacement within a batch, and a class
 * with fewer than m samples is sampled with replacement. An epoch has floor(N / batchSize) batches.
 */
export class ClassBalancedSampler implements BatchSampler {
  readonly batchesPerEpoch: number;
  readonly byClass: Map<number, number[]>;
  constructor(readonly labels: ArrayLike<number>, readonly batchSize: number, readonly m: number, readonly seed = 0) {
    if (!Number.isInteger(m) || m < 1) throw new RangeError(`ClassBalancedSampler: samples per class must be a positive integer, got ${m}`);
    if (!Number.isInteger(batchSize) || batchSize % m !== 0) {
      throw new RangeError(`ClassBalancedSampler: batch size ${batchSize} is not divisible by samples per class ${m}`);
    }
    this.byClass = new Map();
    for (let i = 0; i < labels.length; i++) {
      const c = labels[i]!;
      if (!this.byClass.has(c)) this.byClass.set(c, []);
      this.byClass.get(c)!.push(i);
    }
    const classesPerBatch = batchSize / m;
    if (this.byClass.size < classesPerBatch) {
      throw new RangeError(`ClassBalancedSampler: batch needs ${classesPerBatch} classes of ${m} samples, the data has only ${this.byClass.size} classes`);
    }
    this.batchesPerEpoch = Math.floor(labels.length / batchSize);
    if (this.batchesPerEpoch === 0) throw new RangeError(`ClassBalancedSampler: ${labels.length} samples cannot fill one batch of ${batchSize}`);
  }
  epoch(epoch: number): number[][] {
    const rnd = epochRng(this.seed, epoch);
    const classes = [...this.byClass.keys()].sort((a, b) => a - b);
    const per = this.batchSize / this.m;
    const out: number[][] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      const chosen = shuffleInPlace([...classes], rnd).slice(0, per);
      const batch: number[] = [];
      for (const c of chosen) {
        const pool = this.byClass.get(c)!;
        if (pool.length >= this.m) batch.push(...shuffleInPlace([...pool], rnd).slice(0, this.m));
        else for (let k = 0; k < this.m; k++) batch.push(pool[Math.floor(rnd() * pool.length)]!);
      }
      out.push(batch);
    }
    return out;
  }
}
