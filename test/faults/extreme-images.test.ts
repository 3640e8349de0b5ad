// Images of extreme aspect ratio: a 1 × 65535 strip resized so that its shorter side is the
// model's 224 pixels would be 224 × 14.7 million pixels (9.9 GB of float32). It must be refused,
// naming the file, in bounded memory; --skip-bad skips it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { makeCheckpoint } from '../server/helpers.js';
import { writeImage } from '../ml/data/helpers.js';

const child = fileURLToPath(new URL('./rss-child.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dml-extreme-'));
after(() => rmSync(root, { recursive: true, force: true }));
/** The fault suite's bound (test/faults/matrix.test.ts). */
const RSS_LIMIT_MB = 450;

test('a 1 × 65535 image is refused naming it, in bounded memory, and --skip-bad skips it', async () => {
  const checkpoint = await makeCheckpoint(path.join(root, 'm.safetensors'), { imageSize: 224 });
  mkdirSync(path.join(root, 'img', 'a'), { recursive: true });
  const strip = path.join(root, 'img', 'a', 'strip.png');
  const create = { width: 1, height: 65535, channels: 3 as const, background: { r: 9, g: 200, b: 30 } };
  await sharp({ create }).png().toFile(strip);
  await writeImage(path.join(root, 'img', 'a', 'ok.png'), 32, 32, { seed: 1 });
  const embed = (...extra: string[]) =>
    spawnSync(
      process.execPath,
      [child, 'embed', '--checkpoint', checkpoint, '--dir', `${root}/img`, '--out', `${root}/e.safetensors`, ...extra],
      { encoding: 'utf8', timeout: 120_000 },
    );
  const r = embed('--workers', '0');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /strip\.png: cannot decode image: .*exceeds 65536 pixels per side/);
  const rss = Number(/DML_MAX_RSS_KB (\d+)/.exec(r.stderr)?.[1]) / 1024;
  assert.ok(rss < RSS_LIMIT_MB, `peak RSS ${rss} MB`);
  const skipped = embed('--workers', '0', '--skip-bad');
  assert.equal(skipped.status, 0, skipped.stderr);
  assert.match(skipped.stderr, /skipped 1 unreadable image/);
});
