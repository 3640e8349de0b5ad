// Units of the server without a server: gallery reading, exact search against brute force,
// multipart parsing, admission control, content sniffing and preprocessing. This file starts no
// inference workers, so its own thread may use the engine (ExactIndex).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadGallery } from '../../src/server/gallery.js';
import { ExactIndex } from '../../src/server/exact-index.js';
import { parseMultipart, boundaryOf } from '../../src/server/multipart.js';
import { Limiter } from '../../src/server/limiter.js';
import { ApiError, QueueFullError } from '../../src/server/errors.js';
import { sniffImageType, preprocessSpec, inputSizeOf } from '../../src/server/preprocess.js';
import { staleReason, makeCacheMeta } from '../../src/server/index-cache.js';
import { resolveConfig } from '../../src/ml/run/config/resolve.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dml-serve-unit-'));
  dirs.push(d);
  return d;
}

test('loadGallery reads list files: comments, header, relative and .. paths, labels as class names', () => {
  const d = tmp();
  mkdirSync(path.join(d, 'lists'));
  writeFileSync(path.join(d, 'lists', 'g.txt'), '# a comment\npath,label\nimgs/a.png,7\n\n../up.png,3\n/abs/b.png,7\n');
  const g = loadGallery(path.join(d, 'lists', 'g.txt'));
  assert.equal(g.kind, 'list');
  assert.deepEqual(g.classNames, ['3', '7']);
  assert.deepEqual(
    g.items.map((i) => [i.id, i.path, i.label, i.classIndex]),
    [
      [0, 'imgs/a.png', '7', 1],
      [1, '../up.png', '3', 0],
      [2, path.relative(path.join(d, 'lists'), '/abs/b.png'), '7', 1],
    ],
  );
  assert.equal(g.items[1]!.file, path.join(d, 'up.png'));
  assert.match(g.items[0]!.where, /g\.txt:3$/);
});

test('loadGallery errors name the file and line', () => {
  const d = tmp();
  const f = path.join(d, 'bad.txt');
  writeFileSync(f, 'a.png,1\nb.png,one\n');
  assert.throws(
    () => loadGallery(f),
    (e: Error) => e.message.includes(`${f}:2`),
  );
  assert.throws(() => loadGallery(path.join(d, 'missing.txt')), /does not exist/);
  writeFileSync(path.join(d, 'empty.txt'), '# nothing\n');
  assert.throws(() => loadGallery(path.join(d, 'empty.txt')), /no samples/);
});

test('loadGallery reads image-folder trees, one class per subfolder', () => {
  const d = tmp();
  for (const [cls, files] of [
    ['dog', ['1.png', 'sub/2.jpg']],
    ['cat', ['x.webp', 'notes.txt']],
  ] as const) {
    for (const f of files) {
      mkdirSync(path.dirname(path.join(d, cls, f)), { recursive: true });
      writeFileSync(path.join(d, cls, f), 'x');
    }
  }
  const g = loadGallery(d);
  assert.equal(g.kind, 'folder');
  assert.deepEqual(g.classNames, ['cat', 'dog']);
  assert.deepEqual(
    g.items.map((i) => [i.path, i.label]),
    [
      ['cat/x.webp', 'cat'],
      ['dog/1.png', 'dog'],
      ['dog/sub/2.jpg', 'dog'],
    ],
  );
});

/** Deterministic pseudo-random floats. */
function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

function bruteForce(
  g: Float32Array,
  n: number,
  dim: number,
  q: Float32Array,
  k: number,
  metric: 'cosine' | 'l2',
): { id: number; s: number }[] {
  const qn = Math.hypot(...q);
  const all = Array.from({ length: n }, (_, i) => {
    const row = g.subarray(i * dim, (i + 1) * dim);
    let dot = 0,
      d2 = 0;
    for (let j = 0; j < dim; j++) {
      dot += row[j]! * q[j]!;
      d2 += (row[j]! - q[j]!) ** 2;
    }
    return { id: i, s: metric === 'cosine' ? dot / (Math.hypot(...row) * qn) : Math.sqrt(d2) };
  });
  all.sort((a, b) => (metric === 'cosine' ? b.s - a.s : a.s - b.s));
  return all.slice(0, k);
}

test('ExactIndex matches brute force for cosine and L2, across chunk boundaries', () => {
  const n = 53,
    dim = 12;
  const g = randoms(n * dim, 3);
  for (const chunkRows of [7, 53, 1000]) {
    const ix = new ExactIndex(g, n, dim, chunkRows);
    try {
      for (const metric of ['cosine', 'l2'] as const) {
        const queries = randoms(3 * dim, 11);
        const r = ix.search(queries, 3, 10, metric);
        assert.equal(r.k, 10);
        for (let qi = 0; qi < 3; qi++) {
          const want = bruteForce(g, n, dim, queries.subarray(qi * dim, (qi + 1) * dim), 10, metric);
          assert.deepEqual(
            Array.from(r.ids.subarray(qi * 10, qi * 10 + 10)),
            want.map((w) => w.id),
            `${metric} chunk ${chunkRows} query ${qi}`,
          );
          want.forEach((w, j) => assert.ok(Math.abs(r.scores[qi * 10 + j]! - w.s) < 1e-4));
        }
      }
      // k beyond the gallery is capped; a stored vector comes back as given.
      assert.equal(ix.search(g.subarray(0, dim), 1, 500, 'cosine').k, n);
      assert.deepEqual(Array.from(ix.vector(5)), Array.from(g.subarray(5 * dim, 6 * dim)));
      const self = ix.search(g.subarray(5 * dim, 6 * dim), 1, 1, 'l2');
      assert.equal(self.ids[0], 5);
      assert.ok(self.scores[0]! < 1e-3);
      assert.throws(() => ix.vector(n), RangeError);
      assert.throws(() => ix.search(new Float32Array(5), 1, 1, 'cosine'), RangeError);
    } finally {
      ix.dispose();
    }
  }
});

test('ExactIndex accepts SharedArrayBuffer-backed embeddings', () => {
  const sab = new Float32Array(new SharedArrayBuffer(4 * 4 * 2));
  sab.set([1, 0, 0, 1, 1, 1, -1, 0]);
  const ix = new ExactIndex(sab, 4, 2);
  try {
    assert.deepEqual(Array.from(ix.search(Float32Array.from([1, 0.1]), 1, 2, 'cosine').ids), [0, 2]);
  } finally {
    ix.dispose();
  }
});

test('parseMultipart finds the file part and small fields', () => {
  const b = '----x7';
  const body = Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="k"\r\n\r\n5\r\n`),
    Buffer.from(
      `--${b}\r\nContent-Disposition: form-data; name="image"; filename="q \\"1\\".png"\r\nContent-Type: ` +
        `image/png\r\n\r\n`,
    ),
    Buffer.from([0x89, 0x50, 0x0d, 0x0a, 0x2d, 0x2d, 0x00]),
    Buffer.from(`\r\n--${b}--\r\n`),
  ]);
  const ct = `multipart/form-data; boundary=${b}`;
  assert.equal(boundaryOf(ct), b);
  assert.equal(boundaryOf('multipart/form-data; boundary="a b"'), 'a b');
  const r = parseMultipart(body, ct);
  assert.equal(r.fields.get('k'), '5');
  assert.equal(r.file!.filename, 'q "1".png');
  assert.equal(r.file!.contentType, 'image/png');
  assert.deepEqual([...r.file!.data], [0x89, 0x50, 0x0d, 0x0a, 0x2d, 0x2d, 0x00]);
  assert.throws(
    () => parseMultipart(body, 'multipart/form-data'),
    (e: ApiError) => e.status === 400 && e.code === 'bad_multipart',
  );
  assert.throws(
    () => parseMultipart(body.subarray(0, 80), ct),
    (e: ApiError) => e.code === 'bad_multipart',
  );
  assert.throws(
    () => parseMultipart(Buffer.from('nothing here'), ct),
    (e: ApiError) => e.code === 'bad_multipart',
  );
});

test('Limiter runs at most maxActive, queues maxQueue, refuses the rest and drops aborted waiters', async () => {
  const l = new Limiter(2, 1);
  const gates: (() => void)[] = [];
  const job = (): Promise<number> => new Promise((resolve) => gates.push(() => resolve(gates.length)));
  const a = l.run(job),
    b = l.run(job);
  const ctl = new AbortController();
  const c = l.run(job, ctl.signal);
  await assert.rejects(l.run(job), (e: Error) => e instanceof QueueFullError && (e as ApiError).status === 503);
  assert.deepEqual(
    { ...l.stats(), completed: 0 },
    { active: 2, queued: 1, maxActive: 2, maxQueue: 1, completed: 0, failed: 0, rejected: 1 },
  );
  ctl.abort();
  gates[0]!();
  await a;
  await assert.rejects(c, (e: ApiError) => e.status === 499);
  const d = l.run(job);
  gates[1]!();
  await b;
  await new Promise((r) => setImmediate(r));
  gates[2]!();
  await d;
  assert.equal(l.stats().active, 0);
  assert.equal(l.stats().completed, 3);
  assert.throws(() => new Limiter(0, 1), RangeError);
});

test('sniffImageType goes by magic bytes', () => {
  assert.equal(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'jpeg');
  assert.equal(sniffImageType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'png');
  assert.equal(sniffImageType(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'webp');
  assert.equal(sniffImageType(Buffer.from('RIFF\0\0\0\0WAVEfmt ')), null);
  assert.equal(sniffImageType(Buffer.from('GIF89a')), null);
  assert.equal(sniffImageType(Buffer.from('<svg')), null);
  assert.equal(sniffImageType(new Uint8Array(0)), null);
});

test('preprocessSpec: the test transform of the checkpoint data set', () => {
  const img = resolveConfig({ overrides: ['data.kind=folder', 'data.imageSize=224', 'data.resize=256'] });
  const s = preprocessSpec(img, 3, 1000);
  assert.deepEqual(
    s.transforms.map((t) => t.type),
    ['Resize', 'CenterCrop', 'ToTensor'],
  );
  assert.deepEqual(inputSizeOf(s), [224, 224]);
  assert.equal(s.options.channels, 3);
  assert.equal(s.options.maxPixels, 1000);
  const fm = preprocessSpec(resolveConfig({}), 1, 1000);
  assert.deepEqual(inputSizeOf(fm), [28, 28], 'Fashion-MNIST checkpoints take 28×28 grey images');
  assert.equal(fm.options.channels, 1);
  assert.deepEqual(inputSizeOf(preprocessSpec(img, 3, 1000, { imageSize: 64, resize: 72 })), [64, 64]);
  assert.throws(() => preprocessSpec(img, 4, 1000), /1 \(grey\) or 3/);
});

test('staleReason says why a cache does not fit', () => {
  const gallery = {
    source: 'g',
    kind: 'list' as const,
    classNames: ['a'],
    items: [{ id: 0, file: '/x', path: 'x', label: 'a', classIndex: 0, where: 'g:1' }],
  };
  const want = makeCacheMeta({ checkpointSha256: 'c', preprocess: 'p', galleryFingerprint: 'f', gallery, dim: 4 });
  assert.equal(staleReason(want, want, [1, 4]), null);
  assert.match(staleReason({ ...want, checkpointSha256: 'other' }, want, [1, 4])!, /checkpoint/);
  assert.match(staleReason({ ...want, preprocess: 'q' }, want, [1, 4])!, /preprocessing/);
  assert.match(staleReason({ ...want, labels: ['b'] }, want, [1, 4])!, /labels/);
  assert.match(staleReason({ ...want, galleryFingerprint: 'g' }, want, [1, 4])!, /changed/);
  assert.match(staleReason(want, want, [1, 5])!, /shape/);
  assert.match(staleReason(null, want, [1, 4])!, /no index metadata/);
});
