// Cross-batch memory (Wang et al., "Cross-Batch Memory for Embedding Learning", CVPR 2020), as
// pytorch-metric-learning's CrossBatchMemory: a FIFO of past embeddings and labels that every
// batch is compared with, so a small batch sees as many pairs as a large one. Embeddings drift
// slowly once training has settled, which is what makes the stored (detached) ones still useful.
import { type Tensor, noGrad, tensor, tidy, zeros } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner, type Reference } from './shared/base.js';
import { zeroLoss } from '../reducers/index.js';
import { allPairs, type MinedTuples } from '../utils/tuples.js';
import { checkLabels, checkMatrix, LossInputError, positiveInteger } from '../utils/validate.js';

export interface CrossBatchMemoryOptions {
  /** The embeddings' dimension. */
  embeddingSize: number;
  /** Rows kept (default 1024). */
  memorySize?: number;
  /**
   * Selects the tuples between the batch and the memory (it must implement mineAgainst); default:
   * the wrapped loss's own miner (as it is at each call), else every pair.
   */
  miner?: Miner;
  /**
   * Calls (training steps) that use the wrapped loss on the batch alone, storing nothing, before
   * the memory starts (default 0). The XBM paper starts the memory once the embeddings drift
   * slowly, after a warm-up; pytorch-metric-learning has no such option (0 is its behaviour).
   */
  startAfter?: number;
}

/**
 * Each call first writes the batch (detached) into the memory, oldest rows overwritten first, then
 * computes the wrapped loss with the batch as anchors and the memory (the batch just written
 * included) as the reference set: every pair, or the miner's tuples, minus each row's pair with
 * its own stored copy. With forwardMasked(), only the masked rows are written and only the others
 * are anchors (then no pair is dropped, as no anchor is stored). The wrapped loss must take a
 * reference set (contrastive, triplet, multi-similarity, NT-Xent, margin, angular, circle,
 * intra-pair variance, NCA, SNR contrastive, SupCon, TCM, tuplet margin).
 *
 * Several processes: give it to DistributedLossWrapper (the trainer does), which gathers the
 * global batch first, so every rank writes the same rows and the memory stays identical across
 * ranks — the same memory, values and gradients as one process on the global batch.
 * Buffers `embedding_memory` [memorySize, embeddingSize], `label_memory` [memorySize] and
 * `queue` [3] (next row, whether it has wrapped around, calls so far) are saved with the loss, so a
 * resumed run keeps its memory.
 */
export class CrossBatchMemory extends MetricLoss {
  readonly name = 'CrossBatchMemory';
  readonly pairwise: boolean;
  readonly embeddingSize: number;
  readonly memorySize: number;
  readonly startAfter: number;
  constructor(
    readonly loss: MetricLoss,
    o: CrossBatchMemoryOptions,
  ) {
    super();
    positiveInteger(this.name, 'embeddingSize', o.embeddingSize);
    this.embeddingSize = o.embeddingSize;
    this.memorySize = o.memorySize ?? 1024;
    positiveInteger(this.name, 'memorySize', this.memorySize);
    if (!loss.supportsRef)
      throw new RangeError(`${this.name}: ${loss.name} does not compare a batch with a reference set`);
    this.miner = o.miner;
    this.startAfter = o.startAfter ?? 0;
    if (!Number.isInteger(this.startAfter) || this.startAfter < 0)
      throw new RangeError(`${this.name}: startAfter must be a non-negative integer, got ${this.startAfter}`);
    this.checkMiner(this.memoryMiner);
    this.pairwise = loss.pairwise;
    this.registerModule('loss', loss as never);
    this.registerBuffer('embedding_memory', zeros([this.memorySize, this.embeddingSize]));
    this.registerBuffer('label_memory', zeros([this.memorySize], { dtype: 'int64' }));
    this.registerBuffer('queue', zeros([3], { dtype: 'int64' }));
  }
  get embeddingMemory(): Tensor {
    return this.buffer('embedding_memory')!;
  }
  get labelMemory(): Tensor {
    return this.buffer('label_memory')!;
  }
  /** The miner used against the memory: this wrapper's, else the wrapped loss's. */
  get memoryMiner(): Miner | undefined {
    return this.miner ?? this.loss.miner;
  }
  private checkMiner(m: Miner | undefined): void {
    if (m && !m.mineAgainst)
      throw new RangeError(`${this.name}: ${m.name} cannot mine against a memory (no mineAgainst)`);
  }
  /** The next row to write, whether the memory has been filled once, and the calls so far. */
  get queueState(): { next: number; filled: boolean; calls: number } {
    const [next, filled, calls] = this.buffer('queue')!.dataNumbers() as [number, number, number];
    return { next, filled: filled !== 0, calls };
  }
  /** Rows in use: all of them once filled. */
  get size(): number {
    const q = this.queueState;
    return q.filled ? this.memorySize : q.next;
  }
  resetQueue(): void {
    noGrad(() => {
      this.embeddingMemory.zero_();
      this.labelMemory.zero_();
      this.buffer('queue')!.zero_();
    });
  }

  /** The loss of the batch against the memory, after writing the whole batch into it. */
  override forward(embeddings: Tensor, labels: Tensor, indices?: MinedTuples, ref?: Reference): Tensor {
    if (indices !== undefined)
      throw new LossInputError(this.name, 'indices', 'are chosen against the memory (give a miner instead)');
    if (ref !== undefined) throw new LossInputError(this.name, 'ref', 'is the memory itself');
    return this.step(embeddings, labels, null);
  }

  /**
   * Writes the rows where enqueueMask is true; the others are the anchors compared with the memory.
   * A mask with no row to write leaves the memory as it is (pytorch-metric-learning then takes its
   * unwritten zero rows for stored ones).
   */
  forwardMasked(embeddings: Tensor, labels: Tensor, enqueueMask: readonly boolean[]): Tensor {
    if (enqueueMask.length !== embeddings.shape[0])
      throw new LossInputError(
        this.name,
        'enqueueMask',
        `has ${enqueueMask.length} entries for ${String(embeddings.shape[0])} rows`,
      );
    return this.step(embeddings, labels, enqueueMask);
  }

  private step(x: Tensor, labels: Tensor, mask: readonly boolean[] | null): Tensor {
    checkMatrix(this.name, x, 'embeddings');
    const y = checkLabels(this.name, labels, x.shape[0]!);
    if (x.shape[1] !== this.embeddingSize)
      throw new LossInputError(
        this.name,
        'embeddings',
        `have dimension ${String(x.shape[1])} but the memory was built for embeddingSize ${this.embeddingSize}`,
      );
    const rows = (keep: boolean): number[] => y.flatMap((_, i) => ((mask?.[i] ?? true) === keep ? [i] : []));
    const enq = mask ? rows(true) : y.map((_, i) => i);
    if (enq.length > this.memorySize)
      throw new LossInputError(
        this.name,
        'embeddings',
        `has ${enq.length} rows to store but the memory holds ${this.memorySize}`,
      );
    const anchors = mask ? rows(false) : enq;
    const miner = this.memoryMiner;
    this.checkMiner(miner);
    const { calls } = this.queueState;
    this.setQueue(2, calls + 1);
    if (calls < this.startAfter) return this.loss.forward(x, labels);
    return tidy(() => {
      const slots = this.enqueue(x, y, enq);
      if (anchors.length === 0) return zeroLoss(x);
      const size = this.size;
      const memX = this.embeddingMemory.narrow(0, 0, size);
      const memY = this.labelMemory.narrow(0, 0, size);
      const memLabels = memY.dataNumbers();
      const q = mask ? x.indexSelect(0, tensor(Int32Array.from(anchors), { dtype: 'int64', device: x.device })) : x;
      const qy = anchors.map((i) => y[i]!);
      const qyT = tensor(Int32Array.from(qy), { dtype: 'int64', device: x.device });
      let tuples: MinedTuples = miner ? miner.mineAgainst!(q, qyT, memX, memY) : allPairs(qy, memLabels);
      // A row and its own stored copy are not a positive pair (PML's remove_self_comparisons).
      if (!mask) tuples = dropSelf(tuples, slots);
      return this.loss.forward(q, qyT, tuples, { embeddings: memX, labels: memY });
    });
  }

  /** Writes rows `which` of x (detached) at the queue's head; returns each written row's slot. */
  private enqueue(x: Tensor, y: readonly number[], which: readonly number[]): number[] {
    const { next, filled } = this.queueState;
    const m = this.memorySize;
    const slots = which.map((_, k) => (next + k) % m);
    noGrad(() => {
      if (this.embeddingMemory.dtype !== x.dtype || this.embeddingMemory.device !== x.device)
        this.registerBuffer('embedding_memory', this.embeddingMemory.to(x.dtype).to(x.device));
      if (which.length === 0) return;
      const idx = tensor(Int32Array.from(which), { dtype: 'int64', device: x.device });
      const src = x.detach().indexSelect(0, idx);
      const lab = tensor(Int32Array.from(which.map((i) => y[i]!)), { dtype: 'int64', device: x.device });
      // At most two contiguous runs: up to the end of the memory, then from its start.
      const first = Math.min(which.length, m - next);
      this.embeddingMemory.narrow(0, next, first).copy_(src.narrow(0, 0, first));
      this.labelMemory.narrow(0, next, first).copy_(lab.narrow(0, 0, first));
      const rest = which.length - first;
      if (rest > 0) {
        this.embeddingMemory.narrow(0, 0, rest).copy_(src.narrow(0, first, rest));
        this.labelMemory.narrow(0, 0, rest).copy_(lab.narrow(0, first, rest));
      }
      this.setQueue(0, (next + which.length) % m);
      this.setQueue(1, filled || next + which.length >= m ? 1 : 0);
    });
    return slots;
  }

  private setQueue(entry: number, value: number): void {
    noGrad(() => this.buffer('queue')!.narrow(0, entry, 1).fill_(value));
  }

  protected compute(_b: Batch): Tensor {
    throw new Error(`${this.name}: forward() runs the wrapped loss against the memory; compute() is not used`);
  }
}

/** The tuples without the positive pairs (a, p) where p is a's own slot in the memory. */
function dropSelf(t: MinedTuples, slots: readonly number[]): MinedTuples {
  if (t.kind === 'pairs') {
    const keep = t.a1.map((a, k) => t.p[k] !== slots[a]);
    return {
      kind: 'pairs',
      a1: t.a1.filter((_, k) => keep[k]),
      p: t.p.filter((_, k) => keep[k]),
      a2: t.a2,
      n: t.n,
    };
  }
  const keep = t.a.map((a, k) => t.p[k] !== slots[a]);
  return {
    kind: 'triplets',
    a: t.a.filter((_, k) => keep[k]),
    p: t.p.filter((_, k) => keep[k]),
    n: t.n.filter((_, k) => keep[k]),
  };
}
