// Losses that compare each embedding with a learnable per-class table (classifier weights,
// proxies, centres) instead of with the other samples. The table is a registered parameter
// (PyTorch key `weight`, `proxies` or `centers`), so it is trained by the optimiser alongside the
// model and saved in the loss module's stateDict.
import { type Tensor, Generator, empty, nn, normalize } from '../../../engine/index.js';
import { type Batch, type EmbeddingRegularizerOptions, MetricLoss } from './base.js';
import {
  checkClassRange,
  checkFinite,
  checkSameDtype,
  finiteNumber,
  LossInputError,
  positiveInteger,
} from '../../utils/validate.js';
import { makeRegularizer, type Regularizer, type RegularizerName } from '../../regularizers/index.js';

export interface ClassTableOptions extends EmbeddingRegularizerOptions {
  numClasses: number;
  embeddingSize: number;
  /** Seed of the table's N(0, 1) initialisation (default: the global generator). */
  seed?: number;
  /** Adds weightRegWeight · R(table) to the loss, rows = classes (PML's weight_regularizer). */
  weightRegularizer?: Regularizer | RegularizerName;
  /** Default 1. */
  weightRegWeight?: number;
}

export abstract class ClassTableLoss extends MetricLoss {
  readonly pairwise = false;
  protected override readonly usesTuples: boolean = false;
  readonly numClasses: number;
  readonly embeddingSize: number;
  readonly weightRegularizer: Regularizer | undefined;
  readonly weightRegWeight: number;

  constructor(
    where: string,
    readonly tableName: string,
    o: ClassTableOptions,
  ) {
    super(o);
    this.weightRegularizer = o.weightRegularizer === undefined ? undefined : makeRegularizer(where, o.weightRegularizer);
    this.weightRegWeight = o.weightRegWeight ?? 1;
    finiteNumber(where, 'weightRegWeight', this.weightRegWeight);
    positiveInteger(where, 'numClasses', o.numClasses);
    positiveInteger(where, 'embeddingSize', o.embeddingSize);
    this.numClasses = o.numClasses;
    this.embeddingSize = o.embeddingSize;
    const t = empty([o.numClasses, o.embeddingSize]);
    nn.init.normal_(t, 0, 1, o.seed === undefined ? undefined : new Generator(o.seed));
    this.registerParameter(tableName, t);
  }

  /** The learnable [numClasses, embeddingSize] table. */
  get table(): Tensor {
    return this.param(this.tableName)!;
  }

  protected override checkParameters(x: Tensor, labels: readonly number[]): void {
    const d = x.shape[1]!;
    if (d !== this.embeddingSize)
      throw new LossInputError(
        this.name,
        'embeddings',
        `have dimension ${d} but the loss was built for embeddingSize ${this.embeddingSize}`,
      );
    checkSameDtype(this.name, x, this.table, this.tableName);
    checkClassRange(this.name, labels, this.numClasses);
    checkFinite(this.name, this.table, this.tableName); // a diverged table, named, not a NaN loss
  }

  protected override regularization(b: Batch): Tensor | null {
    const e = super.regularization(b);
    if (!this.weightRegularizer) return e;
    const w = this.weightRegularizer.forward(this.table).mul(this.weightRegWeight);
    return e === null ? w : e.add(w);
  }

  /** cos(x_i, w_k) for all samples and classes: [n, C]. */
  protected cosines(x: Tensor): Tensor {
    return normalize(x).matmul(normalize(this.table).t());
  }
}
