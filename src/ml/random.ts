// The library's one seedable PRNG (xoshiro128**, seeded through splitmix32), its one normal sampler
// and its one way of deriving streams from a run seed. Samplers, augmentation, the MI probe and the
// report all draw from here, so a seed plus a named stream fixes every random choice bit for bit,
// whichever worker thread makes it. (The engine's libtorch generators, src/engine/random.ts, are a
// different thing: they drive libtorch's own kernels.)

/** The full generator state: four 32-bit words. Plain JSON, for checkpoints. */
export interface RngState {
  s: [number, number, number, number];
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** Murmur3's 32-bit finaliser: a bijection on uint32 with good avalanche. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Splits an integer (up to 2^53, negative allowed) into its low and high 32-bit words. */
function splitInteger(n: number, what: string): [number, number] {
  if (!Number.isSafeInteger(n)) throw new RangeError(`Rng: ${what} must be a safe integer, got ${n}`);
  const lo = n >>> 0;
  const hi = Math.floor(n / TWO_POW_32) >>> 0;
  return [lo, hi];
}

export class Rng {
  #s = new Uint32Array(4);

  /** seed: any safe integer; equal seeds give equal streams. */
  constructor(seed = 0) {
    const [lo, hi] = splitInteger(seed, 'seed');
    // splitmix32 from the two seed words so that nearby seeds give unrelated states.
    let x = (lo ^ fmix32(hi ^ 0x3c6ef372)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.#s[i] = fmix32(x);
    }
    this.#ensureNonZero();
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  #ensureNonZero(): void {
    // xoshiro's only fixed point; unreachable from the seeding above but possible through setState.
    if ((this.#s[0]! | this.#s[1]! | this.#s[2]! | this.#s[3]!) === 0) this.#s[0] = 0x9e3779b9;
  }

  /** Next raw 32-bit output (xoshiro128**). */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform double in [lo, hi) with 53 random bits. */
  uniform(lo = 0, hi = 1): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    const u = (a * 67108864 + b) / TWO_POW_53;
    return lo + (hi - lo) * u;
  }

  /** Uniform integer in [lo, hiExclusive), unbiased (rejection sampling). */
  int(lo: number, hiExclusive: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hiExclusive)) {
      throw new RangeError(`Rng.int: bounds must be integers, got [${lo}, ${hiExclusive})`);
    }
    const span = hiExclusive - lo;
    if (span <= 0) throw new RangeError(`Rng.int: empty range [${lo}, ${hiExclusive})`);
    if (span <= TWO_POW_32) {
      // Reject the top partial bucket so every value has the same number of preimages.
      const limit = TWO_POW_32 - (TWO_POW_32 % span);
      let x: number;
      do x = this.nextUint32();
      while (x >= limit);
      return lo + (x % span);
    }
    let x: number;
    const limit = TWO_POW_53 - (TWO_POW_53 % span);
    do x = (this.nextUint32() >>> 5) * 67108864 + (this.nextUint32() >>> 6);
    while (x >= limit);
    return lo + (x % span);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.uniform() < p;
  }

  /** Standard normal by Box–Muller; one pair of uniforms per draw, so the state stays four words. */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher–Yates in place; returns the array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`Rng.permutation: n must be a non-negative integer, got ${n}`);
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /**
   * A child generator for stream `offset` (e.g. an epoch, a batch, a worker). It depends on this
   * generator's current state and the offset only, and does not advance this generator, so
   * `rng.fork(e).fork(b)` names a stream reproducibly.
   */
  fork(offset: number): Rng {
    const [lo, hi] = splitInteger(offset, 'fork offset');
    const child = new Rng(0);
    const mixLo = fmix32(lo ^ 0x7f4a7c15);
    const mixHi = fmix32(hi ^ 0x94d049bb);
    for (let i = 0; i < 4; i++) {
      const k = Math.imul(i + 1, 0x9e3779b9) >>> 0;
      child.#s[i] = fmix32((this.#s[i]! ^ fmix32(mixLo + k) ^ rotl(mixHi, i * 8 + 1)) >>> 0);
    }
    child.#ensureNonZero();
    return child;
  }

  clone(): Rng {
    return Rng.fromState(this.getState());
  }

  getState(): RngState {
    return { s: [this.#s[0]!, this.#s[1]!, this.#s[2]!, this.#s[3]!] };
  }

  setState(state: RngState): void {
    const s = state?.s;
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)) {
      throw new TypeError(`Rng.setState: expected { s: [four uint32] }, got ${JSON.stringify(state)}`);
    }
    this.#s.set(s);
    this.#ensureNonZero();
  }
}

/**
 * The generator for stream `streams` of run seed `seed`: `new Rng(seed).fork(s1).fork(s2)...`.
 * This fork chain is the library's only seed-mixing rule; every derived stream goes through it.
 */
export function rngFor(seed: number, ...streams: number[]): Rng {
  let r = new Rng(seed);
  for (const s of streams) r = r.fork(s);
  return r;
}

/** A uint32 seed for stream `streams` of `seed`, for generators that take a number (libtorch's manualSeed). */
export function mixSeed(seed: number, ...streams: number[]): number {
  return rngFor(seed, ...streams).nextUint32();
}

/**
 * Names of the streams drawn from one run seed, so that no two consumers share one. They sit at
 * multiples of 2^32, beyond any epoch or batch index, because the loaders' per-sample streams
 * (sampleRng) fork by epoch directly.
 */
export const STREAM = {
  /** Which samples form each batch (samplers; one sub-stream per epoch). */
  batches: 1 * TWO_POW_32,
  /** The in-memory IDX sources' crop and flip (one sub-stream per epoch and batch). */
  idxAugment: 2 * TWO_POW_32,
  /** libtorch's global generator (dropout) on ranks > 0 (one sub-stream per rank). */
  rank: 3 * TWO_POW_32,
  /** The MI probe's stratified folds. */
  folds: 4 * TWO_POW_32,
  /** The report's subsamples, t-SNE initialisation, PCA test directions and example queries. */
  report: 5 * TWO_POW_32,
  /** PartialFC's class samples (one sub-stream per step, then per shard). */
  classSample: 6 * TWO_POW_32,
  /** The random miners' generators (distance-weighted, uniform histogram). */
  miners: 7 * TWO_POW_32,
} as const;

/** The per-sample augmentation stream the loaders use: one per (seed, epoch, batch, position). */
export function sampleRng(seed: number, epoch: number, batchIndex: number, position: number): Rng {
  return rngFor(seed, epoch, batchIndex, position);
}
