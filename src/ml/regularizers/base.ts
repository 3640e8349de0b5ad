// Regularizers: a penalty on a matrix whose rows are embeddings (an embedding regularizer) or
// class vectors (a weight regularizer on a loss's table), as pytorch-metric-learning attaches them
// to its losses: loss + weight · regularizer(rows).
import type { Tensor } from '../../engine/index.js';
import { makeReducer, type Reducer, type ReducerLike } from '../reducers/index.js';
import { checkMatrix } from '../utils/validate.js';

export interface Regularizer {
  readonly name: string;
  /** The penalty of the rows of x [n, d]: a scalar. */
  forward(x: Tensor): Tensor;
}

export interface RegularizerOptions {
  /** How the per-row terms become the penalty (default 'mean'; SparseCentersRegularizer: a DivisorReducer). */
  reducer?: ReducerLike;
}

/** A regularizer made of one term per row (or per pair of rows), reduced like a loss's terms. */
export abstract class BaseRegularizer implements Regularizer {
  abstract readonly name: string;
  readonly reducer: Reducer;
  constructor(o: RegularizerOptions = {}, fallback: ReducerLike = 'mean') {
    this.reducer = makeReducer('regularizer', o.reducer ?? fallback);
  }
  /** The terms and, for a DivisorReducer, the divisor. */
  protected abstract terms(x: Tensor): { losses: Tensor; divisor?: number };
  forward(x: Tensor): Tensor {
    checkMatrix(this.name, x, 'rows');
    const { losses, divisor } = this.terms(x);
    const n = losses.numel();
    // PML hands a regularizer's reducer the row numbers as labels: every row is its own class.
    const rows = Array.from({ length: n }, (_, i) => i);
    return this.reducer.reduce({
      losses,
      kind: 'element',
      indices: [rows],
      labels: rows,
      part: 'loss',
      divisor,
      embeddings: x,
    });
  }
}
