// Hostile folder entries: a FIFO, /dev/zero, a symbolic link looping on itself, a link back up the
// tree and a directory named like an image. Reading them used to hang (FIFO), grow memory until
// killed (/dev/zero) or fail the whole scan (loops); now each is a bad image named in the error,
// which --skip-bad skips, and nothing hangs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImage } from '../ml/data/helpers.js';
import { makeCheckpoint } from '../server/helpers.js';
import { readImageBytes, readImageBytesSync } from '../../src/ml/data/image.js';
import { readImageFolder, readList } from '../../src/ml/data/list.js';
import { readInputFile, readInputFileSync, readInputTextSync } from '../../src/engine/serialize/input-gate.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dml-faults-'));
const gallery = path.join(root, 'gallery');
let checkpoint = '';

before(async () => {
  for (const c of ['c0', 'c1']) mkdirSync(path.join(gallery, c), { recursive: true });
  for (let i = 0; i < 4; i++)
    await writeImage(path.join(gallery, `c${i % 2}`, `good${i}.png`), 20, 16, { seed: i, format: 'png' });
  execFileSync('mkfifo', [path.join(gallery, 'c0', 'fifo.png')]);
  symlinkSync('/dev/zero', path.join(gallery, 'c0', 'zero.png'));
  symlinkSync('loop.png', path.join(gallery, 'c1', 'loop.png'));
  symlinkSync('..', path.join(gallery, 'c1', 'up'));
  mkdirSync(path.join(gallery, 'c1', 'folder.png'));
  checkpoint = await makeCheckpoint(path.join(root, 'model.safetensors'));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('reading special files fails at once with what they are', async () => {
  const cases: [string, RegExp][] = [
    ['c0/fifo.png', /it is a FIFO, not a regular file/],
    ['c0/zero.png', /it is a character device, not a regular file/],
    ['c1/loop.png', /too many levels of symbolic links/],
    ['c1/folder.png', /it is a directory, not a regular file/],
  ];
  for (const [rel, why] of cases) {
    const file = path.join(gallery, rel);
    assert.throws(
      () => readImageBytesSync(file),
      new RegExp(`^Error: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read image: ${why.source}`),
    );
    await assert.rejects(readImageBytes(file), why);
  }
});

test('a folder scan lists broken links as images and does not follow a link back up the tree', () => {
  const { samples, classNames } = readImageFolder(gallery);
  assert.deepEqual(classNames, ['c0', 'c1']);
  const names = samples.map((s) => path.relative(gallery, s.path)).sort();
  // c1/up -> gallery/: its c0 and c1 are walked once more from c1 (the images appear under c1 too),
  // but c1/up/c1/up is the folder already walked and is not entered again.
  assert.ok(names.includes('c1/loop.png'));
  assert.ok(
    names.every((n) => !n.includes('up/c1/up')),
    names.join(', '),
  );
});

test('dml embed --skip-bad skips every special file, and without it names the first', { timeout: 120_000 }, () => {
  const out = path.join(root, 'emb.safetensors');
  const r = spawnSync(
    process.execPath,
    [cli, 'embed', '--checkpoint', checkpoint, '--dir', gallery, '--out', out, '--skip-bad', '--workers', '0'],
    { encoding: 'utf8', timeout: 100_000 },
  );
  assert.equal(r.signal, null, `killed: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  for (const why of [
    /fifo\.png: cannot read image: it is a FIFO/,
    /zero\.png: cannot read image: it is a character device/,
    /loop\.png: cannot read image: too many levels/,
  ]) {
    assert.match(r.stderr, why);
  }
  const strict = spawnSync(
    process.execPath,
    [cli, 'embed', '--checkpoint', checkpoint, '--dir', gallery, '--out', out, '--workers', '0'],
    { encoding: 'utf8', timeout: 100_000 },
  );
  assert.equal(strict.signal, null);
  assert.equal(strict.status, 1);
  assert.match(strict.stderr, /cannot read image: (it is a|too many levels)/);
});

test('names that are not valid UTF-8 are skipped with a warning instead of failing the scan', async () => {
  const dir = path.join(root, 'names');
  mkdirSync(path.join(dir, 'good'), { recursive: true });
  await writeImage(path.join(dir, 'good', 'ok.png'), 20, 16, { seed: 1, format: 'png' });
  const badFolder = Buffer.concat([Buffer.from(`${dir}/bad`), Buffer.from([0xff])]);
  mkdirSync(badFolder);
  const badFile = Buffer.concat([Buffer.from(`${dir}/good/x`), Buffer.from([0xfe]), Buffer.from('.png')]);
  writeFileSync(badFile, readFileSync(path.join(dir, 'good', 'ok.png')));
  const warnings: string[] = [];
  const r = readImageFolder(dir, undefined, (m) => warnings.push(m));
  assert.deepEqual(r.classNames, ['good']);
  assert.deepEqual(
    r.samples.map((s) => path.basename(s.path)),
    ['ok.png'],
  );
  assert.deepEqual(warnings.sort(), [
    `skipping ${dir}/bad\\xff: its name is not valid UTF-8`,
    `skipping ${dir}/good/x\\xfe.png: its name is not valid UTF-8`,
  ]);
});

test('a pseudo-file that stats as 0 bytes (/proc) is read to its end within its limit, not as empty', async () => {
  const status = '/proc/self/status';
  // The case this covers: stat says 0 bytes, reads say otherwise.
  assert.equal(statSync(status).size, 0);
  const text = readInputTextSync(status, { format: 'list' });
  assert.match(text, /^Name:\t/);
  assert.match(text, /\nVmHWM:/);
  assert.match((await readInputFile(status, { format: 'list' })).toString(), /^Name:\t/);
  // Parsed, it fails on its first line, by name, as any other file of the wrong kind would.
  assert.throws(
    () => readList(status, 'data.train'),
    /^Error: \/proc\/self\/status:1: expected 'path,label' with an integer label, got 'Name:/,
  );
  // Bounded like any file: more bytes than the format allows are refused while reading.
  const why = new RegExp(
    '--list /proc/self/status: cannot read list file: it reports 0 bytes \\(a pseudo-file\\) but reads more ' +
      'than the 64 bytes a list file can be',
  );
  assert.throws(() => readInputFileSync(status, { format: 'list', from: '--list', maxBytes: 64 }), why);
  await assert.rejects(readInputFile(status, { format: 'list', from: '--list', maxBytes: 64 }), why);
  // An empty regular file is still empty.
  const empty = path.join(root, 'empty.txt');
  writeFileSync(empty, '');
  assert.equal(readInputFileSync(empty, { format: 'list' }).length, 0);
});
