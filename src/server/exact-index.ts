// Exact nearest-neighbour search over gallery embeddings with the engine: one matmul per chunk of
// gallery rows and a top-k per chunk, then a top-k over the chunks' candidates, so memory stays at
// queries × chunk instead of queries × gallery. Runs inside a worker (it uses the engine).
import { type Tensor, tensor, tidy, noGrad, normalize, cat, addmm } from '../engine/index.js';

export type Metric = 'cosine' | 'l2';
export const METRICS: readonly Metric[] = ['cosine', 'l2'];

export interface SearchResult {
  /** Gallery ids, best first: queries × k' row-major, k' = min(k, gallery size). */
  ids: Int32Array;
  /** Cosine similarity (cosine; higher is closer) or Euclidean distance (l2; lower is closer), aligned with ids. */
  scores: Float64Array;
  k: number;
}

/**
 * One block of gallery rows, stored transposed ([dim, rows], contiguous): q @ Gᵀ is then a plain GEMM, ~1.7× faster
 * than over a transposed view.
 */
interface Chunk {
  start: number;
  rows: number;
  /** Embeddings, transposed. */
  rawT: Tensor;
  /** L2-normalised embeddings, transposed. */
  unitT: Tensor;
  /** Squared norms as a [1, rows] row. */
  sqnorm: Tensor;
}

export class ExactIndex {
  readonly size: number;
  readonly dim: number;
  readonly chunkRows: number;
  readonly #chunks: Chunk[] = [];

  /** data: size × dim float32 row-major (copied). chunkRows bounds the similarity block computed at once. */
  constructor(data: Float32Array, size: number, dim: number, chunkRows = 16384) {
    if (!(size > 0) || !(dim > 0) || data.length !== size * dim)
      throw new RangeError(`ExactIndex: ${data.length} floats is not ${size} × ${dim}`);
    const bad = firstNonFinite(data);
    if (bad >= 0)
      throw new RangeError(
        `ExactIndex: the embedding of gallery item ${Math.floor(bad / dim)} is not finite (NaN or infinite)`,
      );
    this.size = size;
    this.dim = dim;
    this.chunkRows = Math.max(1, Math.floor(chunkRows));
    try {
      for (let start = 0; start < size; start += this.chunkRows) {
        const rows = Math.min(this.chunkRows, size - start);
        // fromBuffer wants an ArrayBuffer-backed array: slice() copies out of a SharedArrayBuffer too.
        const part = data.slice(start * dim, (start + rows) * dim);
        this.#chunks.push(
          noGrad(() =>
            tidy(() => {
              const raw = tensor(part, { shape: [rows, dim] });
              return {
                start,
                rows,
                rawT: raw.t().contiguous(),
                unitT: normalize(raw).t().contiguous(),
                sqnorm: raw.square().sum(1).unsqueeze(0),
              };
            }),
          ),
        );
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** The stored embedding of a gallery item. */
  vector(id: number): Float32Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.size)
      throw new RangeError(`id ${id} is outside the gallery (0..${this.size - 1})`);
    const c = this.#chunks[Math.floor(id / this.chunkRows)]!;
    return tidy(
      () =>
        c.rawT
          .select(1, id - c.start)
          .contiguous()
          .data() as Float32Array,
    );
  }

  /** The k nearest gallery items of each of `count` queries (count × dim floats). */
  search(queries: Float32Array, count: number, k: number, metric: Metric): SearchResult {
    if (queries.length !== count * this.dim)
      throw new RangeError(`search: ${queries.length} floats is not ${count} × ${this.dim}`);
    if (firstNonFinite(queries) >= 0)
      throw new RangeError('search: the query embedding is not finite (NaN or infinite)');
    const r = this.#search(queries, count, k, metric, 'float32');
    // Euclidean distances of huge (finite) embeddings overflow float32: those are computed again in
    // float64, so no score is ever infinite (or null in JSON).
    return firstNonFinite(r.scores) < 0 ? r : this.#search(queries, count, k, metric, 'float64');
  }

  #search(queries: Float32Array, count: number, k: number, metric: Metric, dtype: 'float32' | 'float64'): SearchResult {
    const kk = Math.min(Math.max(1, Math.floor(k)), this.size);
    const own = queries.buffer instanceof ArrayBuffer ? queries : queries.slice();
    return noGrad(() =>
      tidy(() => {
        const q = tensor(own, { shape: [count, this.dim] }).to(dtype);
        const cosine = metric === 'cosine';
        const qn = cosine ? normalize(q) : q;
        const qsq = cosine ? null : q.square().sum(1, true);
        const vals: Tensor[] = [];
        const idxs: Tensor[] = [];
        for (const c of this.#chunks) {
          // cosine: q̂ · ĝ; l2: ||q − g||² = ||q||² + ||g||² − 2 q·g, clamped at 0 against rounding.
          const [unitT, rawT, sqnorm] =
            dtype === 'float32'
              ? [c.unitT, c.rawT, c.sqnorm]
              : [c.unitT.double(), c.rawT.double(), c.rawT.double().square().sum(0, true)];
          const s = cosine ? qn.mm(unitT) : addmm(sqnorm.expand(count, c.rows), q, rawT, 1, -2).add(qsq!).clampMin(0);
          const top = s.topk(Math.min(kk, c.rows), 1, cosine, true);
          vals.push(top.values);
          idxs.push(c.start === 0 ? top.indices : top.indices.add(c.start));
        }
        let values = vals.length === 1 ? vals[0]! : cat(vals, 1);
        let indices = idxs.length === 1 ? idxs[0]! : cat(idxs, 1);
        if (vals.length > 1) {
          const best = values.topk(kk, 1, cosine, true);
          values = best.values;
          indices = indices.gather(1, best.indices);
        }
        if (!cosine) values = values.sqrt();
        return {
          ids: indices.to('int32').contiguous().data() as Int32Array,
          scores: Float64Array.from(values.contiguous().data() as Float32Array | Float64Array),
          k: kk,
        };
      }),
    );
  }

  dispose(): void {
    for (const c of this.#chunks.splice(0)) {
      c.rawT.dispose();
      c.unitT.dispose();
      c.sqnorm.dispose();
    }
  }
}

/** Index of the first NaN or infinite value, or -1. */
function firstNonFinite(a: Float32Array | Float64Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}
