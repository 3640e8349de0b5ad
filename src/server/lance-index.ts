// LanceDB as the gallery index, for galleries too large to hold in memory: vectors live in a
// Lance table on disk (written batch by batch while the gallery is embedded, never all in memory),
// and searches run in LanceDB's own Rust threads. Loaded with a dynamic import so the server runs
// without the package when --index lancedb is not asked for. Exhaustive (exact) search by default;
// from `annThreshold` rows an IVF-PQ index is built for cosine search (approximate).
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readInputTextSync } from '../engine/serialize/input-gate.js';
import path from 'node:path';
import type { Connection, Table } from '@lancedb/lancedb';
import type { Metric } from './exact-index.js';
import type { Hits } from './protocol.js';
import { staleReason, type CacheMeta } from './index-cache.js';

type LanceModule = typeof import('@lancedb/lancedb');

const TABLE = 'gallery';
const META_FILE = 'dml-index.json';

/** The LanceDB package, or an error that says how to get it. */
export async function loadLanceDb(): Promise<LanceModule> {
  try {
    return await import('@lancedb/lancedb');
  } catch (e) {
    throw new Error(
      `--index lancedb needs the npm package @lancedb/lancedb 0.31.0 and its native binary for ${process.platform}-` +
        `${process.arch} ` +
        `(npm install --save-exact @lancedb/lancedb@0.31.0): ${(e as Error).message}`,
      { cause: e },
    );
  }
}

export interface LanceOptions {
  /** Build an IVF-PQ index (approximate cosine search) once the table has this many rows. */
  annThreshold?: number;
}

export class LanceIndex {
  readonly kind = 'lancedb';
  #annMetric: Metric | null = null;

  private constructor(
    readonly dir: string,
    readonly size: number,
    readonly dim: number,
    private readonly db: Connection,
    private readonly table: Table,
  ) {}

  /**
   * Opens the table in `dir` if its recorded metadata matches `expected`; null (with the reason
   * passed to onStale) when it must be rebuilt.
   */
  static async open(
    dir: string,
    expected: CacheMeta,
    onStale: (why: string) => void = () => undefined,
  ): Promise<LanceIndex | null> {
    const metaFile = path.join(dir, META_FILE);
    if (!existsSync(metaFile)) return null;
    let meta: unknown;
    try {
      meta = JSON.parse(readInputTextSync(metaFile, { format: 'json' }));
    } catch (e) {
      onStale(`unreadable ${metaFile}: ${(e as Error).message}`);
      return null;
    }
    const why = staleReason(meta, expected, [expected.count, expected.dim]);
    if (why) {
      onStale(why);
      return null;
    }
    const lancedb = await loadLanceDb();
    const db = await lancedb.connect(dir);
    if (!(await db.tableNames()).includes(TABLE)) {
      onStale('no gallery table');
      db.close();
      return null;
    }
    const table = await db.openTable(TABLE);
    const rows = await table.countRows();
    if (rows !== expected.count) {
      onStale(`table holds ${rows} rows`);
      table.close();
      db.close();
      return null;
    }
    const ix = new LanceIndex(dir, rows, expected.dim, db, table);
    ix.#annMetric = (meta as { annMetric?: Metric }).annMetric ?? null;
    return ix;
  }

  /**
   * Writes a new table from batches of (ids, vectors) in any order, then the metadata file last,
   * so an interrupted build is never mistaken for a complete one.
   */
  static async build(
    dir: string,
    dim: number,
    meta: CacheMeta,
    batches: AsyncIterable<{ ids: readonly number[]; vectors: Float32Array }>,
    o: LanceOptions = {},
  ): Promise<LanceIndex> {
    const lancedb = await loadLanceDb();
    mkdirSync(dir, { recursive: true });
    rmSync(path.join(dir, META_FILE), { force: true });
    const db = await lancedb.connect(dir);
    let table: Table | null = null;
    let size = 0;
    for await (const b of batches) {
      if (b.vectors.length !== b.ids.length * dim)
        throw new Error(`LanceIndex.build: batch of ${b.ids.length} ids has ${b.vectors.length} floats, not ×${dim}`);
      const rows = b.ids.map((id, i) => ({ id, vector: b.vectors.subarray(i * dim, (i + 1) * dim) }));
      if (!table) table = await db.createTable(TABLE, rows, { mode: 'overwrite' });
      else await table.add(rows);
      size += rows.length;
    }
    if (!table) throw new Error('LanceIndex.build: the gallery is empty');
    // id lookups (GET /api/query?id=) without a full scan.
    await table.createIndex('id', { config: lancedb.Index.btree(), replace: true });
    let annMetric: Metric | null = null;
    if (o.annThreshold !== undefined && size >= o.annThreshold) {
      await table.createIndex('vector', { config: lancedb.Index.ivfPq({ distanceType: 'cosine' }), replace: true });
      annMetric = 'cosine';
    }
    writeFileSync(path.join(dir, META_FILE), JSON.stringify({ ...meta, annMetric }));
    const ix = new LanceIndex(dir, size, dim, db, table);
    ix.#annMetric = annMetric;
    return ix;
  }

  /** k nearest items: cosine similarity (cosine) or Euclidean distance (l2), as ExactIndex reports them. */
  async search(vector: Float32Array, k: number, metric: Metric): Promise<Hits> {
    if (vector.length !== this.dim)
      throw new RangeError(`vector has ${vector.length} values, the index holds ${this.dim}-d embeddings`);
    let q = this.table.vectorSearch(vector).distanceType(metric).limit(Math.min(k, this.size)).select(['id']);
    // The IVF-PQ index was trained for cosine; other metrics scan exhaustively.
    if (this.#annMetric !== null && this.#annMetric !== metric) q = q.bypassVectorIndex();
    else if (this.#annMetric !== null) q = q.nprobes(32).refineFactor(8);
    const rows = (await q.toArray()) as { id: number; _distance: number }[];
    const ids = Int32Array.from(rows, (r) => Number(r.id));
    // LanceDB's cosine distance is 1 − cos; its l2 is the squared distance.
    const scores = Float64Array.from(rows, (r) =>
      metric === 'cosine' ? 1 - r._distance : Math.sqrt(Math.max(0, r._distance)),
    );
    return { ids, scores };
  }

  /** The stored embedding of a gallery item. */
  async vector(id: number): Promise<Float32Array> {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new RangeError(`id ${id} is outside the gallery`);
    const rows = (await this.table.query().where(`id = ${id}`).select(['vector']).limit(1).toArray()) as {
      vector: { toArray(): Float32Array };
    }[];
    if (rows.length === 0) throw new Error(`gallery item ${id} is missing from the Lance table`);
    return Float32Array.from(rows[0]!.vector.toArray());
  }

  get approximate(): boolean {
    return this.#annMetric !== null;
  }

  close(): void {
    this.table.close();
    this.db.close();
  }
}
