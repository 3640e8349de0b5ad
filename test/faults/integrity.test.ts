// Tensor checksums (src/engine/serialize/integrity.ts): checkpoints record each tensor's SHA-256,
// and a flipped bit in a weight, which safetensors' own checks cannot see, is refused by every
// reader and by dml verify, naming the file and the tensor. Files without checksums still load,
// with a one-line note.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECKSUM_KEY, verifyChecksums } from '../../src/engine/serialize/integrity.js';
import { readSafetensors, writeSafetensors } from '../../src/engine/serialize/safetensors.js';
import { makeCheckpoint } from '../server/helpers.js';
import { writeImage } from '../ml/data/helpers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dml-integrity-'));
const run = path.join(root, 'run');
const gallery = path.join(root, 'gallery');
const TENSOR = 'model.conv1.weight';
let good = '';
let flipped = '';
let unchecked = '';

/** A copy of `src` with one bit of `tensor`'s bytes flipped. */
function flipBit(src: string, dst: string, tensor: string): void {
  const buf = new Uint8Array(readFileSync(src));
  const t = readSafetensors(buf, src).tensors.get(tensor);
  assert.ok(t, `${tensor} in ${src}`);
  buf[t.data.byteOffset + 5]! ^= 0x10;
  writeFileSync(dst, buf);
}

before(async () => {
  mkdirSync(run);
  for (const c of ['a', 'b']) mkdirSync(path.join(gallery, c), { recursive: true });
  for (let i = 0; i < 4; i++)
    await writeImage(path.join(gallery, i % 2 ? 'b' : 'a', `${i}.png`), 20, 16, { seed: i, format: 'png' });
  good = await makeCheckpoint(path.join(run, 'best.safetensors'));
  flipped = path.join(run, 'last.safetensors');
  flipBit(good, flipped, TENSOR);
  // The same checkpoint as an older dml-ts wrote it: no checksums in its metadata.
  const c = readSafetensors(new Uint8Array(readFileSync(good)), good);
  const { [CHECKSUM_KEY]: _sums, ...rest } = c.metadata;
  unchecked = path.join(root, 'old.safetensors');
  writeFileSync(unchecked, writeSafetensors(c.tensors, rest));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('a checkpoint records a checksum per tensor, and a flipped bit fails it, naming the tensor', () => {
  const c = readSafetensors(new Uint8Array(readFileSync(good)), good);
  const sums = JSON.parse(c.metadata[CHECKSUM_KEY]!) as Record<string, string>;
  assert.deepEqual(Object.keys(sums).sort(), [...c.tensors.keys()].sort());
  assert.equal(verifyChecksums(c.tensors, c.metadata, good), 'verified');
  const d = readSafetensors(new Uint8Array(readFileSync(flipped)), flipped);
  assert.throws(
    () => verifyChecksums(d.tensors, d.metadata, flipped),
    new RegExp(`last\\.safetensors: tensor '${TENSOR}' does not match its checksum`),
  );
  const o = readSafetensors(new Uint8Array(readFileSync(unchecked)), unchecked);
  assert.equal(verifyChecksums(o.tensors, o.metadata, unchecked), 'absent');
  // A checksum table that leaves a tensor out, or names one that is not there, is a damaged header.
  const sumsLess = { ...c.metadata, [CHECKSUM_KEY]: JSON.stringify({ ...sums, [TENSOR]: undefined }) };
  assert.throws(() => verifyChecksums(c.tensors, sumsLess, good), /has no checksum/);
  const extra = { ...c.metadata, [CHECKSUM_KEY]: JSON.stringify({ ...sums, ghost: 'x' }) };
  assert.throws(() => verifyChecksums(c.tensors, extra, good), /'ghost' has a checksum but is missing/);
});

const dml = (...argv: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [cli, ...argv], { encoding: 'utf8', timeout: 120_000 });

test('dml embed and dml eval refuse a flipped bit, naming the file and the tensor', { timeout: 300_000 }, () => {
  const out = path.join(root, 'e.safetensors');
  for (const argv of [
    ['embed', '--checkpoint', flipped, '--dir', gallery, '--out', out, '--workers', '0'],
    ['eval', '--checkpoint', flipped],
  ]) {
    const r = dml(...argv);
    assert.equal(r.status, 1, `${argv[0]}: ${String(r.stderr)}`);
    assert.match(String(r.stderr), new RegExp(`last\\.safetensors: tensor '${TENSOR}' does not match its checksum`));
  }
  const ok = dml('embed', '--checkpoint', good, '--dir', gallery, '--out', out, '--workers', '0');
  assert.equal(ok.status, 0, String(ok.stderr));
  assert.doesNotMatch(String(ok.stderr), /no tensor checksums/);
  const old = dml('embed', '--checkpoint', unchecked, '--dir', gallery, '--out', out, '--workers', '0');
  assert.equal(old.status, 0, String(old.stderr));
  assert.equal(String(old.stderr).match(/note: .*old\.safetensors has no tensor checksums/g)?.length, 1);
});

test('dml verify: a line per checkpoint, exit 1 when one is damaged, 0 when none is', { timeout: 120_000 }, () => {
  const r = dml('verify', run);
  assert.equal(r.status, 1, String(r.stderr));
  const lines = String(r.stdout).trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^ok +.*best\.safetensors: \d+ tensors, every checksum matches$/);
  assert.match(lines[1]!, new RegExp(`^DAMAGED +.*last\\.safetensors: tensor '${TENSOR}' does not match`));

  const one = dml('verify', good, unchecked);
  assert.equal(one.status, 0, String(one.stderr));
  assert.match(String(one.stdout), /^ok .*\nunchecked +.*old\.safetensors: \d+ tensors, readable, but it records no/);

  const copy = path.join(root, 'truncated.safetensors');
  copyFileSync(good, copy);
  writeFileSync(copy, readFileSync(copy).subarray(0, 1000));
  const bad = dml('verify', copy);
  assert.equal(bad.status, 1);
  assert.match(String(bad.stdout), /^DAMAGED +.*truncated\.safetensors/);
  assert.equal(dml('verify').status, 2);
});
