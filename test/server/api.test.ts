// The HTTP API end to end on a loopback server: every endpoint, every error status, and path
// traversal attempts. The test's own thread never uses the tensor engine (the server's workers do).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import {
  makeFixture,
  removeFixture,
  serve,
  fetchJson,
  pngImage,
  type GalleryFixture,
  type ErrorBody,
} from './helpers.js';
import type { RunningServer, QueryResponse } from '../../src/server/index.js';

let fx: GalleryFixture;
let srv: RunningServer;
let base: string;
const MAX_UPLOAD = 64 * 1024;
const MAX_PIXELS = 64 * 64;

before(async () => {
  fx = await makeFixture();
  srv = await serve({
    checkpoint: fx.checkpoint,
    gallery: fx.list,
    maxUploadBytes: MAX_UPLOAD,
    maxPixels: MAX_PIXELS,
    maxJsonBytes: 16 * 1024,
    requestTimeoutMs: 1000,
  });
  base = srv.url;
});
after(async () => {
  await srv?.close();
  removeFixture(fx);
});

/** A request with the path exactly as given (fetch would normalise dot segments itself). */
function rawGet(path: string): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          body: Buffer.concat(chunks).toString('latin1'),
          type: res.headers['content-type'],
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function assertError(r: { status: number; body: unknown }, status: number, code: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const e = (r.body as ErrorBody).error;
  assert.equal(e.code, code, JSON.stringify(r.body));
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
}

const postImage = (
  body: Uint8Array | string,
  type: string,
  query = '',
): Promise<{ status: number; body: QueryResponse & ErrorBody; headers: Headers }> =>
  fetchJson<QueryResponse & ErrorBody>(`${base}/api/query${query}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });

test('health, stats and gallery describe the server', async () => {
  const h = await fetchJson(`${base}/api/health`);
  assert.equal(h.status, 200);
  assert.deepEqual(h.body, { status: 'ok', gallery: 13 });
  const s = await fetchJson<{
    gallery: { size: number; classes: number; kind: string };
    model: Record<string, unknown>;
    index: Record<string, unknown>;
    queue: Record<string, number>;
  }>(`${base}/api/stats`);
  assert.equal(s.status, 200);
  assert.deepEqual(s.body.gallery, { source: 'gallery.txt', kind: 'list', size: 13, classes: 3 });
  assert.equal(s.body.model.arch, 'resnet18');
  assert.equal(s.body.model.dim, 32);
  assert.equal(s.body.model.epoch, 7);
  assert.equal(s.body.model.checkpoint, 'best.safetensors');
  assert.deepEqual(s.body.model.inputSize, [16, 16]);
  assert.equal(s.body.index.kind, 'exact');
  assert.equal(s.body.index.size, 13);
  for (const k of ['active', 'queued', 'maxActive', 'maxQueue', 'completed', 'rejected', 'workers'])
    assert.equal(typeof s.body.queue[k], 'number', k);
  assert.ok(!JSON.stringify(s.body).includes(fx.dir), 'stats must not reveal server paths');
  const g = await fetchJson<{ size: number; classes: string[] }>(`${base}/api/gallery`);
  assert.deepEqual(g.body, { size: 13, classes: ['0', '1', '2'] });
  const r = await fetchJson<{ items: { id: number; label: string; imageUrl: string }[] }>(
    `${base}/api/gallery/random?n=5`,
  );
  assert.equal(r.body.items.length, 5);
  assert.equal(new Set(r.body.items.map((i) => i.id)).size, 5);
  for (const it of r.body.items) assert.equal(it.imageUrl, `/api/image/${it.id}`);
  assertError(await fetchJson(`${base}/api/gallery/random?n=0`), 400, 'bad_request');
});

test('the web page and its script are served with a CSP', async () => {
  const r = await fetch(`${base}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type')!, /text\/html/);
  assert.match(r.headers.get('content-security-policy')!, /script-src 'self'/);
  const html = await r.text();
  assert.match(html, /<script src="\/app.js"><\/script>/);
  const js = await fetch(`${base}/app.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type')!, /javascript/);
  assert.match(await js.text(), /\/api\/query/);
});

test('GET /api/query?id= ranks the gallery, leaves the query out and marks classes', async () => {
  const r = await fetchJson<QueryResponse>(`${base}/api/query?id=0&k=5`);
  assert.equal(r.status, 200);
  const q = r.body;
  assert.equal(q.neighbours.length, 5);
  assert.equal(q.queryLabel, '0');
  assert.deepEqual(q.query, { kind: 'id', id: 0, path: '../gallery/cherry/0.png' });
  assert.ok(
    q.neighbours.every((n) => n.id !== 0),
    'the query itself is not its own neighbour',
  );
  for (let i = 1; i < q.neighbours.length; i++)
    assert.ok(q.neighbours[i - 1]!.score >= q.neighbours[i]!.score, 'cosine scores descend');
  for (const n of q.neighbours) {
    assert.equal(n.sameClass, n.label === '0');
    assert.ok(Math.abs(n.distance - (1 - n.score)) < 1e-6);
    assert.equal(n.imageUrl, `/api/image/${n.id}`);
    assert.ok(!n.path.startsWith('/'), 'paths are relative to the gallery');
  }
  const l2 = await fetchJson<QueryResponse>(`${base}/api/query?id=0&k=12&metric=l2`);
  assert.equal(l2.status, 200);
  assert.equal(l2.body.metric, 'l2');
  assert.equal(l2.body.neighbours.length, 12, 'k is capped at the gallery size minus the query');
  for (let i = 1; i < 12; i++)
    assert.ok(l2.body.neighbours[i - 1]!.distance <= l2.body.neighbours[i]!.distance, 'L2 distances ascend');
  for (const n of l2.body.neighbours) assert.equal(n.score, n.distance);
});

test('GET /api/query rejects bad ids, k and metrics', async () => {
  assertError(await fetchJson(`${base}/api/query`), 400, 'bad_id');
  assertError(await fetchJson(`${base}/api/query?id=abc`), 400, 'bad_id');
  assertError(await fetchJson(`${base}/api/query?id=-1`), 400, 'bad_id');
  assertError(await fetchJson(`${base}/api/query?id=1.5`), 400, 'bad_id');
  assertError(await fetchJson(`${base}/api/query?id=13`), 404, 'not_found');
  assertError(await fetchJson(`${base}/api/query?id=0&k=0`), 400, 'bad_k');
  assertError(await fetchJson(`${base}/api/query?id=0&k=101`), 400, 'bad_k');
  assertError(await fetchJson(`${base}/api/query?id=0&k=two`), 400, 'bad_k');
  assertError(await fetchJson(`${base}/api/query?id=0&metric=dot`), 400, 'bad_metric');
});

test('POST /api/query with a raw PNG finds the same gallery image first', async () => {
  const bytes = fx.bytes.get('lime/2.png')!;
  const r = await postImage(bytes, 'image/png', '?k=3&label=1');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.neighbours.length, 3);
  assert.equal(r.body.neighbours[0]!.path, '../gallery/lime/2.png');
  assert.ok(r.body.neighbours[0]!.score > 0.9999);
  assert.equal(r.body.queryLabel, '1');
  assert.equal(r.body.neighbours[0]!.sameClass, true);
  assert.deepEqual(r.body.query, { kind: 'image' });
  // Without a label the class marks are absent.
  const u = await postImage(bytes, 'image/png', '?k=2');
  assert.equal(u.status, 200);
  assert.equal(u.body.queryLabel, undefined);
  assert.ok(u.body.neighbours.every((n) => n.sameClass === undefined));
  assertError(await postImage(bytes, 'image/png', '?label=nope'), 400, 'bad_request');
});

test('POST /api/query takes multipart uploads, JPEG, WebP and octet-stream', async () => {
  const bytes = fx.bytes.get('sky/1.png')!;
  const form = new FormData();
  form.set('k', '4');
  form.set('image', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'query.png');
  const m = await fetchJson<QueryResponse>(`${base}/api/query?label=2`, { method: 'POST', body: form });
  assert.equal(m.status, 200, JSON.stringify(m.body));
  assert.equal(m.body.k, 4);
  assert.equal(m.body.neighbours[0]!.path, '../gallery/sky/1.png');
  const jpeg = await sharp(bytes).jpeg({ quality: 95 }).toBuffer();
  const j = await postImage(jpeg, 'image/jpeg', '?k=1');
  assert.equal(j.status, 200, JSON.stringify(j.body));
  assert.equal(j.body.neighbours[0]!.label, '2');
  const webp = await sharp(bytes).webp({ lossless: true }).toBuffer();
  const w = await postImage(webp, 'image/webp', '?k=1');
  assert.equal(w.status, 200);
  assert.equal(w.body.neighbours[0]!.path, '../gallery/sky/1.png');
  // The type is told by magic bytes, so a mislabelled or untyped upload still works.
  assert.equal((await postImage(bytes, 'application/octet-stream', '?k=1')).status, 200);
  assert.equal((await postImage(bytes, 'image/jpeg', '?k=1')).status, 200);
  const empty = new FormData();
  empty.set('k', '3');
  assertError(await fetchJson(`${base}/api/query`, { method: 'POST', body: empty }), 400, 'bad_multipart');
});

test('415 for uploads that are not JPEG, PNG or WebP', async () => {
  assertError(await postImage('hello', 'text/plain'), 415, 'unsupported_media_type');
  assertError(await postImage('not really a png', 'image/png'), 415, 'unsupported_media_type');
  const gif = await sharp(fx.bytes.get('lime/0.png')!).gif().toBuffer();
  assertError(await postImage(gif, 'image/gif'), 415, 'unsupported_media_type');
  assertError(await postImage(gif, 'image/png'), 415, 'unsupported_media_type');
  assertError(await postImage(new Uint8Array(0), 'image/png'), 400, 'bad_request');
});

test('413 for uploads over the size limit, declared or streamed', async () => {
  const big = Buffer.alloc(MAX_UPLOAD + 1, 0);
  big.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const r = await postImage(big, 'image/png');
  assertError(r, 413, 'payload_too_large');
  // Chunked, no Content-Length: cut while streaming.
  const chunks = [big.subarray(0, 40_000), big.subarray(40_000)];
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      const x = chunks.shift();
      if (x) c.enqueue(x);
      else c.close();
    },
  });
  const s = await fetchJson(`${base}/api/query`, {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  assertError(s, 413, 'payload_too_large');
  // The server still answers afterwards.
  assert.equal((await fetchJson(`${base}/api/health`)).status, 200);
});

test('422 for images over the pixel limit and for undecodable ones', async () => {
  const huge = await sharp({ create: { width: 100, height: 100, channels: 3, background: { r: 10, g: 20, b: 30 } } })
    .png()
    .toBuffer();
  const r = await postImage(huge, 'image/png');
  assertError(r, 422, 'image_too_large');
  assert.match(r.body.error.message, /10000 pixels exceeds the limit of 4096/);
  const png = fx.bytes.get('cherry/0.png')!;
  const broken = Buffer.concat([png.subarray(0, 40), Buffer.alloc(60, 7)]);
  assertError(await postImage(broken, 'image/png'), 422, 'undecodable_image');
  const jpegHeaderOnly = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
  assertError(await postImage(jpegHeaderOnly, 'image/jpeg'), 422, 'undecodable_image');
});

test('POST /api/query/vector searches with a given embedding', async () => {
  const dim = 32;
  const v = Array.from({ length: dim }, (_, i) => Math.sin(i + 1));
  const r = await fetchJson<QueryResponse>(`${base}/api/query/vector`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ vector: v, k: 4, metric: 'l2' }),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.neighbours.length, 4);
  assert.equal(r.body.metric, 'l2');
  assert.deepEqual(r.body.query, { kind: 'vector' });
  const withLabel = await fetchJson<QueryResponse>(`${base}/api/query/vector?k=2`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ vector: v, label: '1' }),
  });
  assert.equal(withLabel.body.neighbours.length, 2);
  assert.equal(withLabel.body.queryLabel, '1');
  const post = (body: string, type = 'application/json'): Promise<{ status: number; body: unknown }> =>
    fetchJson(`${base}/api/query/vector`, { method: 'POST', headers: { 'content-type': type }, body });
  assertError(await post(JSON.stringify({ vector: [1, 2, 3] })), 400, 'bad_vector');
  assertError(await post(JSON.stringify({ vector: ['a', ...v.slice(1)] })), 400, 'bad_vector');
  assertError(await post(JSON.stringify({ vector: v.map(() => Infinity) })), 400, 'bad_vector');
  assertError(await post(JSON.stringify({ v })), 400, 'bad_vector');
  assertError(await post(JSON.stringify([v])), 400, 'bad_json');
  assertError(await post('{"vector": [1,'), 400, 'bad_json');
  assertError(await post(JSON.stringify({ vector: v, k: 0 })), 400, 'bad_k');
  assertError(await post(JSON.stringify({ vector: v, metric: 'manhattan' })), 400, 'bad_metric');
  assertError(await post(JSON.stringify({ vector: v }), 'text/plain'), 415, 'unsupported_media_type');
  assertError(await post(JSON.stringify({ vector: new Array(5000).fill(0.123456789) })), 413, 'payload_too_large');
});

test('GET /api/image/:id serves gallery images by id only', async () => {
  const r = await fetch(`${base}/api/image/6`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'image/png');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), fx.bytes.get('lime/2.png'));
  // The list's '..' entry is a gallery item like any other: reachable by its id...
  const out = await fetch(`${base}/api/image/12`);
  assert.equal(out.status, 200);
  assert.deepEqual(Buffer.from(await out.arrayBuffer()), readFileSync(fx.outside));
  // ...but nothing is ever served by a path from the request.
  assertError(await fetchJson(`${base}/api/image/13`), 404, 'not_found');
  assertError(await fetchJson(`${base}/api/image/abc`), 400, 'bad_id');
  assertError(await fetchJson(`${base}/api/image/-1`), 400, 'bad_id');
  assertError(await fetchJson(`${base}/api/image/0x1`), 400, 'bad_id');
  assertError(await fetchJson(`${base}/api/image/%31`), 400, 'bad_id');
  for (const p of [
    '/api/image/..%2F..%2Foutside%2Fsecret.png',
    '/api/image/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/api/image/..%5c..%5cwin.ini',
    '/api/image/12%00.png',
  ]) {
    const x = await rawGet(p);
    assert.equal(x.status, 400, `${p}: ${x.body}`);
    assert.match(x.body, /"code":"bad_id"/);
  }
  for (const p of [
    '/api/image/../../outside/secret.png',
    '/api/image/%2e%2e/%2e%2e/etc/passwd',
    '/../../etc/passwd',
    '/api/image/0/../../../etc/passwd',
    '//etc/passwd',
  ]) {
    const x = await rawGet(p);
    assert.equal(x.status, 404, `${p}: ${x.body}`);
    assert.match(x.type!, /application\/json/);
    assert.ok(!x.body.includes('root:'), p);
  }
});

test('unknown routes get 404 and wrong methods 405, as JSON', async () => {
  assertError(await fetchJson(`${base}/api/nope`), 404, 'not_found');
  assertError(await fetchJson(`${base}/etc/passwd`), 404, 'not_found');
  const d = await fetchJson(`${base}/api/query?id=1`, { method: 'DELETE' });
  assertError(d, 405, 'method_not_allowed');
  assert.equal(d.headers.get('allow'), 'GET, POST');
  assertError(await fetchJson(`${base}/api/health`, { method: 'POST' }), 405, 'method_not_allowed');
});

test('a stalled upload gets 408 as JSON', async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = connect(srv.port, '127.0.0.1', () => {
      sock.write(
        `POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n`,
      );
      sock.write(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    });
    let data = '';
    sock.on('data', (c) => {
      data += c.toString('latin1');
    });
    sock.on('close', () => resolve(data));
    sock.on('error', reject);
    setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within 8 s: ${data}`));
    }, 8000).unref();
  });
  assert.match(reply, /^HTTP\/1\.1 408/);
  assert.match(reply, /"code":"timeout"/);
});

test('the gallery images are still decodable and the server healthy after all that', async () => {
  const r = await postImage(await pngImage([200, 30, 40], 1), 'image/png', '?k=1');
  assert.equal(r.status, 200);
  assert.equal(r.body.neighbours[0]!.path, '../gallery/cherry/1.png');
  const s = await fetchJson<{ queue: { active: number; queued: number; workerRestarts: number } }>(`${base}/api/stats`);
  assert.equal(s.body.queue.active, 0);
  assert.equal(s.body.queue.queued, 0);
  assert.equal(s.body.queue.workerRestarts, 0);
});
