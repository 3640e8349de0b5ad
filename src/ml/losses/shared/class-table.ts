// Losses that compare each embedding with a learnable per-class table (classifier weights,
// proxies, centres) instead of with the other samples. The table is a registered parameter
// (PyTorch key `weight`, `proxies` or `centers`), so it is trained by the optimiser alongside the
// model and saved in the loss module's stateDict.
import { type Tensor, Generator, empty, nn, normalize } from '../../../engine/index.js';
import { MetricLoss } from './base.js';
import { checkClassRange, checkFinite, checkSameDtype, LossInputError, positiveInteger } from '../../utils/validate.js';

export interface ClassTableOptions {
  numClasses: number;
  embeddingSize: number;
  /** Seed of the table's N(0, 1) initialisation (default: the global generator). */
  seed?: number;
}

export abstract class ClassTableLoss extends MetricLoss {
  readonly pairwise = false;
  override readonly usesTuples: boolean = false;
  readonly numClasses: number;
  readonly embeddingSize: number;

  /**
   * rowsPerClass > 1 gives a [numClasses · rowsPerClass, embeddingSize] table, class k's rows
   * being k · rowsPerClass ... (k + 1) · rowsPerClass - 1 (SoftTriple's centres, sub-centre ArcFace).
   */
  constructor(
    where: string,
    readonly tableName: string,
    o: ClassTableOptions,
    rowsPerClass = 1,
  ) {
    super();
    positiveInteger(where, 'numClasses', o.numClasses);
    positiveInteger(where, 'embeddingSize', o.embeddingSize);
    this.numClasses = o.numClasses;
    this.embeddingSize = o.embeddingSize;
    const t = empty([o.numClasses * rowsPerClass, o.embeddingSize]);
    nn.init.normal_(t, 0, 1, o.seed === undefined ? undefined : new Generator(o.seed));
    this.registerParameter(tableName, t);
  }

  /** The learnable [numClasses (· rowsPerClass), embeddingSize] table. */
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

  /** cos(x_i, w_k) for all samples and classes: [n, C]. */
  protected cosines(x: Tensor): Tensor {
    return normalize(x).matmul(normalize(this.table).t());
  }
}
