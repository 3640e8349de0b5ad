// Decompression bombs: a gzip IDX file whose stream runs far past what its header announces is
// refused after inflating the announced bytes, not after inflating everything (a 1 MB file used
// to reach 2.3 GB of memory before the size check).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGzip, gzipSync } from 'node:zlib';

const dir = mkdtempSync(path.join(tmpdir(), 'dml-bomb-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX label file announcing n labels, followed in the same gzip stream by `extra` zero bytes. */
async function writeBomb(file: string, n: number, extra: number): Promise<void> {
  const head = Buffer.alloc(8);
  head[2] = 0x08;
  head[3] = 1;
  head.writeUInt32BE(n, 4);
  async function* chunks(): AsyncGenerator<Buffer> {
    yield Buffer.concat([head, Buffer.alloc(n, 3)]);
    const zeros = Buffer.alloc(1 << 20);
    for (let sent = 0; sent < extra; sent += zeros.length) yield zeros;
  }
  await pipeline(Readable.from(chunks()), createGzip({ level: 1 }), createWriteStream(file));
}

test('a gzip IDX file that inflates past its header is refused with bounded memory', { timeout: 120_000 }, async () => {
  const file = path.join(dir, 'labels-idx1-ubyte.gz');
  await writeBomb(file, 1000, 384 * 2 ** 20);
  const idx = fileURLToPath(new URL('../../src/ml/data/idx.js', import.meta.url));
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const { readIdx } = await import(${JSON.stringify(idx)});
    let message = null;
    try { readIdx(${JSON.stringify(file)}); } catch (e) { message = e.message; }
    console.log(JSON.stringify({ message, maxRssMB: process.resourceUsage().maxRSS / 1024 }));`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { message: string | null; maxRssMB: number };
  assert.equal(out.message, `${file}: decompresses to more than the 1008 bytes its IDX header announces`);
  // The 384 MiB stream is never inflated (the process itself is ~50 MB).
  assert.ok(out.maxRssMB < 200, `max RSS ${out.maxRssMB} MB`);
});

test('a gzip IDX header announcing far more than its size allows is refused before inflating', () => {
  const idx = fileURLToPath(new URL('../../src/ml/data/idx.js', import.meta.url));
  // 2^31 one-byte labels, and one 65535 × 65535 image: a few hundred compressed bytes each.
  for (const dims of [[2 ** 31 - 1], [1, 65535, 65535]]) {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head[2] = 0x08;
    head[3] = dims.length;
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    const file = path.join(dir, `claims-${dims.join('x')}.gz`);
    writeFileSync(file, gzipSync(Buffer.concat([head, Buffer.alloc(1 << 16)])));
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      const { readIdx } = await import(${JSON.stringify(idx)});
      let message = null;
      try { readIdx(${JSON.stringify(file)}); } catch (e) { message = e.message; }
      console.log(JSON.stringify({ message, maxRssMB: process.resourceUsage().maxRSS / 1024 }));`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { message: string | null; maxRssMB: number };
    assert.match(out.message ?? '', /its IDX header announces \d+ bytes from \d+ compressed bytes, more than 64×/);
    assert.ok(out.maxRssMB < 200, `max RSS ${out.maxRssMB} MB`);
  }
});
