// The softmax heads over a class table (NormSoftmax, CosFace, ArcFace, ProxyNCA): each turns the
// cosines between embeddings and class vectors into logits, given each row's target column, and
// the cross-entropy, the PartialFC class sampling and the sharding across processes are here, once.
import { type Tensor, cat, tensor, type distributed } from '../../../engine/index.js';
import type { Batch, LossSplit } from './base.js';
import { ClassTableLoss, type ClassTableOptions } from './class-table.js';
import { reduce } from '../../reducers/index.js';
import { ceSplit, checkClassifierReducer, perSampleCrossEntropy, type ClassifierReducer } from './softmax.js';
import { gatherRowsWithGradient, sampleClasses, shardedCrossEntropy, targetColumns } from './partial-fc.js';
import { indexTensor } from '../../utils/tuples.js';
import { finiteNumber, LossInputError } from '../../utils/validate.js';
import { rngFor, STREAM } from '../../random.js';
import { shardRange } from '../../data/range.js';

export interface SoftmaxTableOptions extends ClassTableOptions {
  reduction?: ClassifierReducer;
  /**
   * PartialFC: each step's softmax uses the batch's own classes plus this share of all classes
   * drawn at random (default 1: every class, the plain head). In (0, 1].
   */
  sampleRate?: number;
  /**
   * PartialFC across processes: this rank holds only its contiguous slice of the classes
   * (shardRange), forward() gathers the global batch from every rank and returns world size × the
   * global batch's loss, as DistributedLossWrapper does, so DDP's average of the model's gradients
   * gives the single-process gradient. The slice's own gradient is then world size × its share:
   * divide it by the world size, and do not all-reduce it (it is not replicated).
   */
  shard?: distributed.ProcessGroup;
}

export abstract class SoftmaxTableLoss extends ClassTableLoss {
  readonly reduction: ClassifierReducer;
  readonly sampleRate: number;
  readonly shard: distributed.ProcessGroup | null;
  /** The classes this table holds: all, or this rank's slice. */
  readonly classRange: { readonly start: number; readonly end: number };
  readonly #seed: number;

  constructor(where: string, tableName: string, o: SoftmaxTableOptions) {
    const shard = o.shard && o.shard.worldSize > 1 ? o.shard : null;
    if (shard && o.numClasses < shard.worldSize)
      throw new RangeError(`${where}: ${o.numClasses} classes cannot be sharded over ${shard.worldSize} ranks`);
    const range = shard ? shardRange(o.numClasses, shard.rank, shard.worldSize) : { start: 0, end: o.numClasses };
    super(where, tableName, o, 1, shard ? range : undefined);
    this.classRange = range;
    this.shard = shard;
    // A regularizer would see only this rank's rows of the batch and of the table.
    if (shard && (this.embeddingRegularizer || this.weightRegularizer))
      throw new RangeError(`${where}: regularizers are not supported on a sharded head`);
    this.reduction = checkClassifierReducer(where, o.reduction ?? 'mean');
    this.sampleRate = o.sampleRate ?? 1;
    finiteNumber(where, 'sampleRate', this.sampleRate, { min: 0, max: 1, open: true });
    this.#seed = o.seed ?? 0;
    // The step count fixes each step's draw; as a buffer it is checkpointed, so a resumed run
    // draws what the interrupted one would have.
    if (this.sampleRate < 1) this.registerBuffer('sample_step', tensor([0], { dtype: 'int64' }));
  }

  /** Logits from cosines [n, S] and each row's target column among the S classes (-1: not there). */
  abstract headLogits(cos: Tensor, targets: readonly number[]): Tensor;

  /**
   * The full head's logits [n, numClasses] (one process, every class): with labels, the training
   * logits (margins on the true classes); without, the plain ones a prediction uses.
   */
  logits(x: Tensor, labels?: readonly number[]): Tensor {
    if (this.shard) throw new Error(`${this.name}: a sharded head has no full logits`);
    return this.headLogits(this.cosines(x), labels ?? new Array<number>(x.shape[0]!).fill(-1));
  }

  /** How many steps have drawn a class sample (the sample of step t is fixed by the seed and t). */
  get sampleStep(): number {
    return this.buffer('sample_step')?.item() ?? 0;
  }

  /** This step's logits, targets and labels (over the gathered batch when sharded). */
  private step(b: Batch): { logits: Tensor; targets: readonly number[]; labels: readonly number[]; x: Tensor } {
    const sampled = this.sampleRate < 1;
    if (!sampled && !this.shard)
      return { logits: this.logits(b.x, b.labels), targets: b.labels, labels: b.labels, x: b.x };
    const g = this.shard;
    const x = g ? gatherRowsWithGradient(g, b.x) : b.x;
    const labels = g ? cat(g.allGatherVariable(indexTensor(b.labels, b.device))).dataNumbers() : b.labels;
    const { start, end } = this.classRange;
    // The same draw on every rank for a replicated table; each shard its own.
    const step = this.sampleStep;
    const rng = rngFor(this.#seed, STREAM.classSample, step, start);
    if (sampled) this.buffer('sample_step')!.fill_(step + 1);
    const classes = sampleClasses(labels, start, end, this.sampleRate, rng);
    const rows =
      classes.length === end - start
        ? this.table
        : this.table.index([
            indexTensor(
              classes.map((c) => c - start),
              b.device,
            ),
          ]);
    const targets = targetColumns(labels, classes);
    return { logits: this.headLogits(this.cosines(x, rows), targets), targets, labels, x };
  }

  protected compute(b: Batch): Tensor {
    const s = this.step(b);
    if (!this.shard)
      return reduce(perSampleCrossEntropy(s.logits, s.targets), this.reduction, b.x, { labels: s.labels });
    const ce = shardedCrossEntropy(this.shard, s.logits, s.targets);
    return reduce(ce, this.reduction, s.x, { labels: s.labels }).mul(this.shard.worldSize);
  }

  protected override computeSplit(b: Batch): LossSplit {
    if (this.shard) throw new LossInputError(this.name, 'split()', 'is not available for a sharded head');
    const s = this.step(b);
    return ceSplit(s.logits, s.targets, this.reduction);
  }
}
