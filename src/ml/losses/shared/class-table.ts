// Losses that compare each embedding with a learnable per-class table (classifier weights,
// proxies, centres) instead of with the other samples. The table is a registered parameter
// (PyTorch key `weight`, `proxies` or `centers`), so it is trained by the optimiser alongside the
// model and saved in the loss module's stateDict.
import { type Tensor, Generator, cat, empty, nn, normalize } from '../../../engine/index.js';
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
import { mixSeed } from '../../random.js';

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

/** Rows per independently seeded block of a large table. */
const INIT_BLOCK = 4096;

/**
 * Rows [start, end) of the N(0, 1) table of `total` classes that `seed` determines, the same
 * whichever slice is asked for, so a table sharded over any number of processes starts as one
 * process's. Up to INIT_BLOCK classes the table is one draw from Generator(seed) (a slice draws it
 * whole and keeps its rows); larger tables are drawn in blocks of INIT_BLOCK rows, block b from
 * Generator(mixSeed(seed, b)), so a slice costs only its own blocks. Without a seed, rows come from
 * the global generator.
 */
function initialRows(total: number, d: number, r: { start: number; end: number }, seed?: number): Tensor {
  const draw = (n: number, s?: number): Tensor =>
    nn.init.normal_(empty([n, d]), 0, 1, s === undefined ? undefined : new Generator(s));
  if (seed === undefined) return draw(r.end - r.start);
  const slice = (t: Tensor, from: number, to: number): Tensor => {
    if (from === 0 && to === t.shape[0]) return t;
    const out = t.narrow(0, from, to - from).clone();
    t.dispose();
    return out;
  };
  if (total <= INIT_BLOCK) return slice(draw(total, seed), r.start, r.end);
  const parts: Tensor[] = [];
  for (let b = Math.floor(r.start / INIT_BLOCK); b * INIT_BLOCK < r.end; b++) {
    const b0 = b * INIT_BLOCK,
      b1 = Math.min(b0 + INIT_BLOCK, total);
    parts.push(slice(draw(b1 - b0, mixSeed(seed, b)), Math.max(r.start, b0) - b0, Math.min(r.end, b1) - b0));
  }
  if (parts.length === 1) return parts[0]!;
  const t = cat(parts);
  for (const p of parts) p.dispose();
  return t;
}

export abstract class ClassTableLoss extends MetricLoss {
  readonly pairwise = false;
  override readonly usesTuples: boolean = false;
  readonly numClasses: number;
  readonly embeddingSize: number;
  readonly weightRegularizer: Regularizer | undefined;
  readonly weightRegWeight: number;

  /**
   * rowsPerClass > 1 gives a [numClasses · rowsPerClass, embeddingSize] table, class k's rows
   * being k · rowsPerClass ... (k + 1) · rowsPerClass - 1 (SoftTriple's centres, sub-centre ArcFace).
   * `rows`: the classes whose vectors this table holds (default all): a PartialFC shard holds a
   * contiguous slice of them.
   */
  constructor(
    where: string,
    readonly tableName: string,
    o: ClassTableOptions,
    rowsPerClass = 1,
    rows?: { start: number; end: number },
  ) {
    super(o);
    this.weightRegularizer =
      o.weightRegularizer === undefined ? undefined : makeRegularizer(where, o.weightRegularizer);
    this.weightRegWeight = o.weightRegWeight ?? 1;
    finiteNumber(where, 'weightRegWeight', this.weightRegWeight);
    positiveInteger(where, 'numClasses', o.numClasses);
    positiveInteger(where, 'embeddingSize', o.embeddingSize);
    this.numClasses = o.numClasses;
    this.embeddingSize = o.embeddingSize;
    const r = rows ?? { start: 0, end: o.numClasses };
    this.registerParameter(
      tableName,
      initialRows(
        o.numClasses * rowsPerClass,
        o.embeddingSize,
        { start: r.start * rowsPerClass, end: r.end * rowsPerClass },
        o.seed,
      ),
    );
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

  protected override regularization(b: Batch): Tensor | null {
    const e = super.regularization(b);
    if (!this.weightRegularizer) return e;
    const w = this.weightRegularizer.forward(this.table).mul(this.weightRegWeight);
    return e === null ? w : e.add(w);
  }

  /** cos(x_i, w_k) for all samples and the table's classes (or the given rows of it): [n, C]. */
  protected cosines(x: Tensor, rows: Tensor = this.table): Tensor {
    return normalize(x).matmul(normalize(rows).t());
  }
}
