// --index lancedb: the same neighbours as the exact index, reuse of the database on restart, and
// the IVF-PQ path for large galleries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeFixture, removeFixture, serve, fetchJson, type GalleryFixture } from './helpers.js';
import { LanceIndex } from '../../src/server/lance-index.js';
import { makeCacheMeta } from '../../src/server/index-cache.js';
import type { QueryResponse, RunningServer } from '../../src/server/index.js';

let fx: GalleryFixture;
before(async () => {
  fx = await makeFixture();
});
after(() => removeFixture(fx));

async function queries(srv: RunningServer): Promise<QueryResponse[]> {
  const out: QueryResponse[] = [];
  for (const metric of ['cosine', 'l2']) {
    for (const id of [0, 5, 12]) {
      const r = await fetchJson<QueryResponse>(`${srv.url}/api/query?id=${id}&k=6&metric=${metric}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      out.push(r.body);
    }
    const up = await fetchJson<QueryResponse>(`${srv.url}/api/query?k=4&metric=${metric}&label=1`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: new Uint8Array(fx.bytes.get('lime/1.png')!),
    });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    out.push(up.body);
  }
  return out;
}

test('lancedb gives the exact index its neighbours and scores, and reopens its database', async () => {
  const exact = await serve({ checkpoint: fx.checkpoint, gallery: fx.list });
  let want: QueryResponse[];
  try {
    want = await queries(exact);
  } finally {
    await exact.close();
  }
  const dir = path.join(fx.dir, 'lance');
  for (const expectFrom of ['embedded', 'cache']) {
    const srv = await serve({ checkpoint: fx.checkpoint, gallery: fx.list, index: 'lancedb', indexCache: dir });
    try {
      const s = await fetchJson<{ index: { kind: string; builtFrom: string; approximate: boolean; size: number } }>(
        `${srv.url}/api/stats`,
      );
      assert.equal(s.body.index.kind, 'lancedb');
      assert.equal(s.body.index.builtFrom, expectFrom);
      assert.equal(s.body.index.approximate, false);
      const got = await queries(srv);
      got.forEach((g, i) => {
        const w = want[i]!;
        assert.deepEqual(
          g.neighbours.map((n) => n.id),
          w.neighbours.map((n) => n.id),
          `query ${i} (${w.metric})`,
        );
        g.neighbours.forEach((n, j) =>
          assert.ok(Math.abs(n.score - w.neighbours[j]!.score) < 1e-3, `score ${n.score} vs ${w.neighbours[j]!.score}`),
        );
        assert.deepEqual(
          g.neighbours.map((n) => n.sameClass),
          w.neighbours.map((n) => n.sameClass),
        );
      });
      const v = await fetchJson<QueryResponse>(`${srv.url}/api/query/vector`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ vector: new Array(32).fill(0.5), k: 3 }),
      });
      assert.equal(v.status, 200);
      assert.equal(v.body.neighbours.length, 3);
    } finally {
      await srv.close();
    }
    assert.ok(existsSync(path.join(dir, 'dml-index.json')));
  }
});

test('LanceIndex builds an IVF-PQ index from annThreshold rows and still finds stored vectors', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-lance-ann-'));
  const n = 2048,
    dim = 16;
  let s = 7;
  const data = Float32Array.from({ length: n * dim }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
  const items = Array.from({ length: n }, (_, id) => ({
    id,
    file: `/g/${id}.png`,
    path: `${id}.png`,
    label: String(id % 10),
    classIndex: id % 10,
    where: `g:${id + 1}`,
  }));
  const meta = makeCacheMeta({
    checkpointSha256: 'c',
    preprocess: 'p',
    galleryFingerprint: 'f',
    gallery: { source: 'g', kind: 'list', classNames: [], items },
    dim,
  });
  async function* batches(): AsyncGenerator<{ ids: number[]; vectors: Float32Array }> {
    for (let i = 0; i < n; i += 500) {
      const m = Math.min(500, n - i);
      yield { ids: Array.from({ length: m }, (_, j) => i + j), vectors: data.subarray(i * dim, (i + m) * dim) };
    }
  }
  const ix = await LanceIndex.build(dir, dim, meta, batches(), { annThreshold: 1000 });
  try {
    assert.equal(ix.size, n);
    assert.equal(ix.approximate, true);
    let found = 0;
    for (const id of [3, 500, 1999]) {
      const v = await ix.vector(id);
      assert.deepEqual(Array.from(v), Array.from(data.subarray(id * dim, (id + 1) * dim)));
      const hits = await ix.search(v, 5, 'cosine');
      assert.equal(hits.ids.length, 5);
      if (hits.ids[0] === id) found++;
      const l2 = await ix.search(v, 1, 'l2'); // exhaustive: the index was trained for cosine
      assert.equal(l2.ids[0], id);
      assert.ok(l2.scores[0]! < 1e-4);
    }
    assert.ok(found >= 2, `approximate search found ${found}/3 stored vectors first`);
  } finally {
    ix.close();
  }
  const reopened = await LanceIndex.open(dir, meta);
  assert.ok(reopened);
  assert.equal(reopened.approximate, true);
  reopened.close();
  const stale: string[] = [];
  assert.equal(await LanceIndex.open(dir, { ...meta, checkpointSha256: 'd' }, (w) => stale.push(w)), null);
  assert.match(stale[0]!, /another checkpoint/);
  rmSync(dir, { recursive: true, force: true });
});
