// Index tuples: which (anchor, positive) and (anchor, negative) pairs, or which (anchor, positive,
// negative) triplets, a loss looks at. Built from labels (all valid ones) or returned by a miner.
// They are plain JS arrays: batches are small (hundreds of rows), the selection logic reads
// naturally as loops, and arrays have no native memory to free.
import { type Tensor, tensor } from '../../engine/index.js';
import { LossInputError } from './validate.js';

/** Positive pairs (a1[k], p[k]) and negative pairs (a2[k], n[k]); ordered, so (i, j) and (j, i) both appear. */
export interface PairTuples {
  readonly kind: 'pairs';
  readonly a1: readonly number[];
  readonly p: readonly number[];
  readonly a2: readonly number[];
  readonly n: readonly number[];
}
/** Triplets (a[k], p[k], n[k]): label(a) = label(p), a ≠ p, label(n) ≠ label(a). */
export interface TripletTuples {
  readonly kind: 'triplets';
  readonly a: readonly number[];
  readonly p: readonly number[];
  readonly n: readonly number[];
}
export type MinedTuples = PairTuples | TripletTuples;

/**
 * Every ordered positive pair (same label) and negative pair (different labels), row-major. The
 * second index points into `ref` when one is given (a reference set such as a cross-batch memory,
 * where row i of the batch and row i of ref are different samples); without one it points into
 * the batch itself, and i ≠ j.
 */
export function allPairs(labels: readonly number[], ref?: readonly number[]): PairTuples {
  const a1: number[] = [],
    p: number[] = [],
    a2: number[] = [],
    n: number[] = [];
  const len = labels.length;
  const other = ref ?? labels;
  for (let i = 0; i < len; i++) {
    for (let j = 0; j < other.length; j++) {
      if (ref === undefined && i === j) continue;
      if (labels[i] === other[j]) {
        a1.push(i);
        p.push(j);
      } else {
        a2.push(i);
        n.push(j);
      }
    }
  }
  return { kind: 'pairs', a1, p, a2, n };
}

/** Every valid triplet, ordered by anchor, then positive, then negative (p and n in `ref` when given). */
export function allTriplets(labels: readonly number[], ref?: readonly number[]): TripletTuples {
  const a: number[] = [],
    p: number[] = [],
    n: number[] = [];
  const len = labels.length;
  const other = ref ?? labels;
  for (let i = 0; i < len; i++) {
    for (let j = 0; j < other.length; j++) {
      if ((ref === undefined && j === i) || other[j] !== labels[i]) continue;
      for (let k = 0; k < other.length; k++) {
        if (other[k] === labels[i]) continue;
        a.push(i);
        p.push(j);
        n.push(k);
      }
    }
  }
  return { kind: 'triplets', a, p, n };
}

/** Pairs from any tuples: triplets give their (a, p) and (a, n) pairs; none gives all pairs. */
export function toPairs(t: MinedTuples | undefined, labels: readonly number[], ref?: readonly number[]): PairTuples {
  if (t === undefined) return allPairs(labels, ref);
  if (t.kind === 'pairs') return t;
  return { kind: 'pairs', a1: t.a, p: t.p, a2: t.a, n: t.n };
}

/**
 * Triplets from any tuples: pairs are joined on their anchor (every mined positive of an anchor
 * with every mined negative of the same anchor); none gives all triplets.
 */
export function toTriplets(
  t: MinedTuples | undefined,
  labels: readonly number[],
  ref?: readonly number[],
): TripletTuples {
  if (t === undefined) return allTriplets(labels, ref);
  if (t.kind === 'triplets') return t;
  const negOf = new Map<number, number[]>();
  t.a2.forEach((a, k) => {
    const l = negOf.get(a);
    if (l) l.push(t.n[k]!);
    else negOf.set(a, [t.n[k]!]);
  });
  const a: number[] = [],
    p: number[] = [],
    n: number[] = [];
  t.a1.forEach((anc, k) => {
    for (const neg of negOf.get(anc) ?? []) {
      a.push(anc);
      p.push(t.p[k]!);
      n.push(neg);
    }
  });
  return { kind: 'triplets', a, p, n };
}

/**
 * Checks tuples against the batch: indices in range and positives/negatives consistent with labels.
 * With `ref`, anchors are rows of the batch and positives/negatives rows of ref.
 */
export function checkTuples(
  where: string,
  t: MinedTuples,
  labels: readonly number[],
  argument = 'indices',
  ref?: readonly number[],
): void {
  const other = ref ?? labels;
  const check = (name: string, arr: readonly number[], of: readonly number[] = labels): void => {
    const len = of.length;
    const what = of === labels ? 'the batch' : 'the reference set';
    for (let k = 0; k < arr.length; k++) {
      const v = arr[k]!;
      if (!Number.isInteger(v) || v < 0 || v >= len)
        throw new LossInputError(where, argument, `.${name}[${k}] = ${v} is not a row of ${what} (0..${len - 1})`);
    }
  };
  const same = (name: string, a: readonly number[], b: readonly number[]): void => {
    if (a.length !== b.length)
      throw new LossInputError(
        where,
        argument,
        `.${name}: index arrays of different lengths (${a.length} vs ${b.length})`,
      );
  };
  const pos = (a: readonly number[], p: readonly number[]): void => {
    for (let k = 0; k < a.length; k++) {
      if ((ref === undefined && a[k] === p[k]) || labels[a[k]!] !== other[p[k]!])
        throw new LossInputError(
          where,
          argument,
          `: (${a[k]}, ${p[k]}) is not a positive pair (distinct rows, same label)`,
        );
    }
  };
  const neg = (a: readonly number[], n: readonly number[]): void => {
    for (let k = 0; k < a.length; k++) {
      if (labels[a[k]!] === other[n[k]!])
        throw new LossInputError(where, argument, `: (${a[k]}, ${n[k]}) is not a negative pair (different labels)`);
    }
  };
  if (t.kind === 'pairs') {
    same('a1/p', t.a1, t.p);
    same('a2/n', t.a2, t.n);
    check('a1', t.a1);
    check('p', t.p, other);
    check('a2', t.a2);
    check('n', t.n, other);
    pos(t.a1, t.p);
    neg(t.a2, t.n);
  } else if (t.kind === 'triplets') {
    same('a/p', t.a, t.p);
    same('a/n', t.a, t.n);
    check('a', t.a);
    check('p', t.p, other);
    check('n', t.n, other);
    pos(t.a, t.p);
    neg(t.a, t.n);
  } else {
    throw new LossInputError(
      where,
      argument,
      `must be pairs or triplets, got kind '${String((t as { kind: unknown }).kind)}'`,
    );
  }
}

/** An int64 index tensor on the given device (via a typed array: tensor(number[]) is far slower). */
export function indexTensor(values: readonly number[], device: string): Tensor {
  return tensor(Int32Array.from(values), { dtype: 'int64', device });
}

/** A bool [rows, cols] mask with true at (r[k], c[k]). */
export function maskFrom(
  rows: readonly number[],
  cols: readonly number[],
  nRows: number,
  nCols: number,
  device: string,
): Tensor {
  const m = new Uint8Array(nRows * nCols);
  for (let k = 0; k < rows.length; k++) m[rows[k]! * nCols + cols[k]!] = 1;
  return tensor(m, { shape: [nRows, nCols], dtype: 'bool', device });
}

/** Sorted distinct labels. */
export function distinct(labels: readonly number[]): number[] {
  return [...new Set(labels)].sort((x, y) => x - y);
}
