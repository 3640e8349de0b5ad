// The index cache: written on the first start, reused on the next, rebuilt when the gallery or the
// checkpoint changes or the file is damaged; and a 1-channel (grey) checkpoint over a folder tree.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, utimesSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeFixture, removeFixture, makeCheckpoint, serve, fetchJson, type GalleryFixture } from './helpers.js';
import type { QueryResponse, ServeOptions } from '../../src/server/index.js';

let fx: GalleryFixture;
before(async () => {
  fx = await makeFixture();
});
after(() => removeFixture(fx));

interface Stats {
  index: { builtFrom: string; cache: string | null };
}

async function startAndQuery(
  o: Partial<ServeOptions>,
  logs: string[] = [],
): Promise<{ builtFrom: string; top: QueryResponse }> {
  const srv = await serve({ checkpoint: fx.checkpoint, gallery: fx.list, log: (l) => logs.push(l), ...o });
  try {
    const s = await fetchJson<Stats>(`${srv.url}/api/stats`);
    const q = await fetchJson<QueryResponse>(`${srv.url}/api/query?id=4&k=6`);
    assert.equal(q.status, 200);
    return { builtFrom: s.body.index.builtFrom, top: q.body };
  } finally {
    await srv.close();
  }
}

const idsOf = (r: QueryResponse): number[] => r.neighbours.map((n) => n.id);

test('the exact index cache is written, reused, and rebuilt when stale', async () => {
  const cache = path.join(fx.dir, 'cache', 'gallery.safetensors');
  const first = await startAndQuery({ indexCache: cache });
  assert.equal(first.builtFrom, 'embedded');
  assert.ok(existsSync(cache));
  const header = readFileSync(cache)
    .subarray(8, 8 + Number(readFileSync(cache).readBigUInt64LE(0)))
    .toString('utf8');
  assert.match(header, /"embeddings"/);
  assert.match(header, /cherry\/0\.png/, 'the gallery paths travel in the metadata');
  const mtime = statSync(cache).mtimeMs;

  const second = await startAndQuery({ indexCache: cache });
  assert.equal(second.builtFrom, 'cache');
  assert.deepEqual(idsOf(second.top), idsOf(first.top));
  second.top.neighbours.forEach((n, i) => assert.ok(Math.abs(n.score - first.top.neighbours[i]!.score) < 1e-6));
  assert.equal(statSync(cache).mtimeMs, mtime, 'a valid cache is not rewritten');

  // A gallery file rewritten (new mtime) makes the cache stale.
  const img = path.join(fx.folder, 'lime', '3.png');
  const later = new Date(Date.now() + 5000);
  utimesSync(img, later, later);
  const logs: string[] = [];
  const third = await startAndQuery({ indexCache: cache }, logs);
  assert.equal(third.builtFrom, 'embedded');
  assert.ok(
    logs.some((l) => /stale \(gallery files changed/.test(l)),
    logs.join('\n'),
  );

  // Embeddings altered on disk (a valid file, wrong numbers) fail a checksum and are rebuilt.
  const bytes = readFileSync(cache);
  const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
  bytes.writeFloatLE(123.5, dataStart + 4 * 7);
  writeFileSync(cache, bytes);
  const logsT: string[] = [];
  assert.equal((await startAndQuery({ indexCache: cache }, logsT)).builtFrom, 'embedded');
  assert.ok(
    // The engine's per-tensor checksum (integrity.ts) now catches it first, as an unreadable file.
    logsT.some((l) =>
      /stale \(its embeddings do not match their checksum\)|tensor 'embeddings' does not match its checksum/.test(l),
    ),
    logsT.join('\n'),
  );

  // Another checkpoint too.
  const other = await makeCheckpoint(path.join(fx.dir, 'other.safetensors'), { seed: 2, epoch: 8 });
  const logs2: string[] = [];
  const r = await startAndQuery({ indexCache: cache, checkpoint: other }, logs2);
  assert.equal(r.builtFrom, 'embedded');
  assert.ok(
    logs2.some((l) => /another checkpoint/.test(l)),
    logs2.join('\n'),
  );

  // A damaged file is reported and replaced, never fatal.
  writeFileSync(cache, 'garbage');
  const logs3: string[] = [];
  assert.equal((await startAndQuery({ indexCache: cache }, logs3)).builtFrom, 'embedded');
  assert.ok(
    logs3.some((l) => /unreadable/.test(l)),
    logs3.join('\n'),
  );
  assert.ok(readFileSync(cache).length > 1000, 'and rewritten');
});

test('a gallery with a missing image fails to start with the list file and line', async () => {
  const list = path.join(fx.dir, 'lists', 'broken.txt');
  writeFileSync(list, readFileSync(fx.list));
  appendFileSync(list, '../gallery/cherry/missing.png,0\n');
  await assert.rejects(
    serve({ checkpoint: fx.checkpoint, gallery: list }),
    (e: Error) => /broken\.txt:16/.test(e.message) && /missing\.png/.test(e.message),
  );
  await assert.rejects(
    serve({ checkpoint: path.join(fx.dir, 'nope.safetensors'), gallery: fx.list }),
    /nope\.safetensors: checkpoint not found/,
  );
  await assert.rejects(serve({ checkpoint: fx.list, gallery: fx.list }), /cannot load the model/);
});

test('a grey (1-channel) checkpoint serves a folder-tree gallery', async () => {
  const grey = await makeCheckpoint(path.join(fx.dir, 'grey.safetensors'), { inChannels: 1, numFeatures: 24 });
  const srv = await serve({ checkpoint: grey, gallery: fx.folder });
  try {
    const s = await fetchJson<{
      model: { inChannels: number; dim: number };
      gallery: { kind: string; classes: number };
    }>(`${srv.url}/api/stats`);
    assert.equal(s.body.model.inChannels, 1);
    assert.equal(s.body.model.dim, 24);
    assert.deepEqual(s.body.gallery.kind, 'folder');
    const r = await fetchJson<QueryResponse>(`${srv.url}/api/query?k=1&label=sky`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: new Uint8Array(fx.bytes.get('sky/3.png')!),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.neighbours[0]!.path, 'sky/3.png');
    assert.equal(r.body.neighbours[0]!.label, 'sky');
    assert.equal(r.body.neighbours[0]!.sameClass, true);
  } finally {
    await srv.close();
  }
});
