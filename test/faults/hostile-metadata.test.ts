// Issue 26's smaller hostile cases: a checkpoint whose trainer metadata has wrong types or an
// absurd input size, a full disk, and the temp files a killed `embed --out` / `export --out` left.
// Each used to end in a raw TypeError, an allocation of gigabytes, an error that named no file, or
// litter that stayed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MAX_SAFETENSORS_HEADER_BYTES,
  MAX_SAFETENSORS_TENSORS,
  readSafetensors,
  writeSafetensors,
} from '../../src/engine/serialize/safetensors.js';
import { writeFileAtomicSync } from '../../src/engine/serialize/file-io.js';
import { checkTrainerState } from '../../src/ml/run/checkpoint-state.js';
import { MetricsLog } from '../../src/ml/train/metrics-log.js';
import { parseServeArgs } from '../../src/cli/serve.js';
import { makeCheckpoint } from '../server/helpers.js';
import { writeImage } from '../ml/data/helpers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const rssChild = fileURLToPath(new URL('./rss-child.js', import.meta.url));
/** The fault suite's bound (test/faults/matrix.test.ts): libtorch loaded is ~220 MB. */
const RSS_LIMIT_MB = 450;
const root = mkdtempSync(path.join(tmpdir(), 'dml-hostile-meta-'));
const gallery = path.join(root, 'gallery');
let good = '';
let state: Record<string, unknown> = {};

/** A copy of the good checkpoint whose trainer state is `edit(state)`. */
function withState(name: string, edit: (s: Record<string, unknown>) => unknown): string {
  const c = readSafetensors(new Uint8Array(readFileSync(good)), good);
  const file = path.join(root, name);
  const s = structuredClone(state);
  writeFileSync(file, writeSafetensors(c.tensors, { ...c.metadata, 'dml.trainer': JSON.stringify(edit(s) ?? s) }));
  return file;
}

const dml = (...argv: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [cli, ...argv], { encoding: 'utf8', timeout: 120_000 });

before(async () => {
  for (const c of ['a', 'b']) mkdirSync(path.join(gallery, c), { recursive: true });
  for (let i = 0; i < 4; i++)
    await writeImage(path.join(gallery, i % 2 ? 'b' : 'a', `${i}.png`), 20, 16, { seed: i, format: 'png' });
  good = await makeCheckpoint(path.join(root, 'good.safetensors'));
  const c = readSafetensors(new Uint8Array(readFileSync(good)), good);
  state = JSON.parse(c.metadata['dml.trainer']!) as Record<string, unknown>;
});
after(() => rmSync(root, { recursive: true, force: true }));

test('trainer metadata of the wrong types is refused naming the file and the field', () => {
  assert.doesNotThrow(() => checkTrainerState(state, 'good.safetensors'));
  const cases: Array<[(s: Record<string, unknown>) => unknown, RegExp]> = [
    [() => [], /field 'dml\.trainer' is \[\] \(an array\), expected an object/],
    [(s) => void (s.epoch = 'seven'), /field 'epoch' is "seven" \(a string\), expected an integer/],
    [(s) => void (s.config = null), /field 'config' is null \(null\), expected an object/],
    [(s) => void ((s.config as { model: unknown }).model = 3), /field 'config\.model' is 3 \(a number\)/],
    [
      (s) => void ((s.config as { model: Record<string, unknown> }).model.arch = 5),
      /field 'config\.model\.arch' is 5 \(a number\), expected a string/,
    ],
    [
      (s) => void ((s.config as { data: Record<string, unknown> }).data.imageSize = 'big'),
      /field 'config\.data\.imageSize' is "big" \(a string\), expected an integer in 1\.\.2048/,
    ],
    [
      (s) => void ((s.config as { model: Record<string, unknown> }).model.numFeatures = -4),
      /field 'config\.model\.numFeatures' is -4/,
    ],
    [(s) => void (s.extra = 'x'), /field 'extra' is "x" \(a string\), expected an object/],
    // Nested 100,000 deep: describing it (JSON.stringify) or walking it (toOverrides) overflowed the stack.
    [
      (s) =>
        void ((s.config as { data: Record<string, unknown> }).data.other = JSON.parse(
          `${'['.repeat(1e5)}${']'.repeat(1e5)}`,
        )),
      /field 'config\.data\.other' is … \(an array\), expected a value, a list of values or an object of values/,
    ],
  ];
  for (const [edit, why] of cases) {
    const s = structuredClone(state);
    const v = edit(s) ?? s;
    assert.throws(
      () => checkTrainerState(v, 'ck.safetensors'),
      new RegExp(`^Error: checkpoint ck\\.safetensors: trainer metadata ${why.source}`),
    );
  }
});

test('dml embed refuses hostile trainer metadata and an 8192-pixel input, naming them', { timeout: 300_000 }, () => {
  const out = path.join(root, 'e.safetensors');
  const cases: Array<[string, RegExp]> = [
    [
      withState('arch.safetensors', (s) => void ((s.config as { model: Record<string, unknown> }).model.arch = 5)),
      /arch\.safetensors: trainer metadata field 'config\.model\.arch' is 5 \(a number\), expected a string/,
    ],
    [
      withState(
        'huge.safetensors',
        (s) => void ((s.config as { data: Record<string, unknown> }).data.imageSize = 8192),
      ),
      // data.imageSize's range is the 2048 a trained model is run at, so the metadata check names it.
      new RegExp(
        "huge\\.safetensors: trainer metadata field 'config\\.data\\.imageSize' is 8192 \\(a number\\), " +
          'expected an integer in 1\\.\\.2048',
      ),
    ],
  ];
  for (const [file, why] of cases) {
    const r = dml('embed', '--checkpoint', file, '--dir', gallery, '--out', out, '--workers', '0');
    assert.equal(r.status, 1, String(r.stderr));
    assert.match(String(r.stderr), why);
    assert.doesNotMatch(String(r.stderr), /TypeError/);
  }
  assert.ok(!existsSync(out));
});

test('serve --image-size is bounded like a checkpoint input', () => {
  const base = ['--checkpoint', good, '--gallery', gallery];
  assert.throws(
    () => parseServeArgs([...base, '--image-size', '8192']),
    /--image-size must be an integer >= 1 and <= 2048, got '8192'/,
  );
  assert.throws(() => parseServeArgs([...base, '--resize', '100000']), /--resize must be an integer >= 1 and <= 8192/);
  const ok = parseServeArgs([...base, '--image-size', '224']);
  assert.ok(ok !== 'help' && ok.imageSize === 224);
});

test('a full disk names the file being written, and leaves no temp file', () => {
  const dir = path.join(root, 'full');
  mkdirSync(dir);
  // A real ENOSPC: /dev/full refuses every write with it.
  symlinkSync('/dev/full', path.join(dir, 'metrics.jsonl'));
  const log = new MetricsLog(dir, true);
  assert.throws(
    () => log.record({ type: 'train', epoch: 1, step: 1, loss: 1 }),
    new RegExp(`^Error: ${path.join(dir, 'metrics.jsonl')}: cannot write: no space left on device \\(ENOSPC\\)$`),
  );
  // A checkpoint write on a disk that fills up half-way (writeSync made to fail as the kernel would).
  const target = path.join(dir, 'best.safetensors');
  const real = fs.writeSync;
  fs.writeSync = (() => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      errno: -28,
      syscall: 'write',
    });
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  try {
    assert.throws(
      () => writeFileAtomicSync(target, [new Uint8Array(1024)]),
      new RegExp(`^Error: ${target}: cannot write: no space left on device \\(ENOSPC\\)$`),
    );
  } finally {
    fs.writeSync = real;
    syncBuiltinESMExports();
  }
  assert.deepEqual(readdirSync(dir).sort(), ['metrics.jsonl']);
});

test(
  'the temp file a killed embed --out or export --out left is removed by the next run, with a note',
  { timeout: 300_000 },
  () => {
    const dir = path.join(root, 'outs');
    mkdirSync(dir);
    // A pid that is not running (above Linux's largest pid_max), as a killed writer's would be.
    const stale = (target: string): string => {
      const f = path.join(dir, `.${path.basename(target)}.999999999.a1b2c3d4e5f6.tmp`);
      writeFileSync(f, 'half a file');
      return f;
    };
    const emb = path.join(dir, 'e.safetensors');
    const onnx = path.join(dir, 'm.onnx');
    const [s1, s2] = [stale(emb), stale(onnx)];
    const r1 = dml('embed', '--checkpoint', good, '--dir', gallery, '--out', emb, '--workers', '0', '-q');
    assert.equal(r1.status, 0, String(r1.stderr));
    assert.match(String(r1.stderr), new RegExp(`note: removed ${s1.replace(/\./g, '\\.')}, left by an earlier write`));
    const r2 = dml('export', '--checkpoint', good, '--out', onnx, '-q');
    assert.equal(r2.status, 0, String(r2.stderr));
    assert.match(String(r2.stderr), /note: removed .*m\.onnx\.999999999\.a1b2c3d4e5f6\.tmp/);
    assert.ok(!existsSync(s1) && !existsSync(s2));
    assert.deepEqual(readdirSync(dir).sort(), ['e.safetensors', 'm.onnx']);
  },
);

test(
  'dml report --out naming a FIFO replaces it instead of blocking until a reader comes',
  { timeout: 300_000 },
  () => {
    const run = path.join(root, 'report-run');
    mkdirSync(run);
    writeFileSync(path.join(run, 'best.safetensors'), readFileSync(good));
    writeFileSync(
      path.join(run, 'metrics.jsonl'),
      '{"type":"train","epoch":1,"step":1,"loss":1,"lr":0.1}\n{"type":"epoch","epoch":1,"step":1}\n',
    );
    const fifo = path.join(root, 'report.fifo');
    spawnSync('mkfifo', [fifo]);
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'report',
        run,
        '--out',
        fifo,
        '--no-mi',
        '--max-points',
        '4',
        '--examples',
        '1',
        '--misses',
        '0',
        '--iterations',
        '10',
        '-q',
        `data.train=${gallery}`,
        `data.test=${gallery}`,
      ],
      { encoding: 'utf8', timeout: 200_000 },
    );
    assert.equal(r.signal, null, 'blocked on the FIFO');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.statSync(fifo).isFile());
    assert.match(readFileSync(fifo, 'utf8'), /^<!doctype html>/i);
  },
);

test('a header listing more tensors than any checkpoint has is refused before they are built', () => {
  const many = new Map(
    Array.from({ length: MAX_SAFETENSORS_TENSORS + 1 }, (_, i) => [
      `t${i}`,
      { dtype: 'float32' as const, shape: [0], data: new Uint8Array(0) },
    ]),
  );
  const bytes = writeSafetensors(many);
  assert.throws(() => readSafetensors(bytes, 'many.safetensors'), /many\.safetensors.*more than 65536 tensors/);
  many.delete('t0');
  assert.equal(readSafetensors(writeSafetensors(many), 'ok').tensors.size, MAX_SAFETENSORS_TENSORS);
});

test('a 100 MB header of 500k tensors is refused before it is parsed, in bounded memory', async () => {
  // 500k entries with long names: within the 100 MB header cap, and ~640 MB of Maps once parsed.
  const pad = 'x'.repeat(140);
  const entries = Array.from(
    { length: 500_000 },
    (_, i) => `"${pad}${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`,
  );
  const header = Buffer.from(`{${entries.join(',')}}`);
  entries.length = 0;
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  const file = path.join(root, 'many-big.safetensors');
  writeFileSync(file, Buffer.concat([length, header]));
  assert.ok(header.length > 90e6 && header.length < MAX_SAFETENSORS_HEADER_BYTES);
  const r = spawnSync(process.execPath, [rssChild, 'eval', '--checkpoint', file], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /many-big\.safetensors: the header lists more than 65536 tensors \(refused before parsing/);
  const rss = /DML_MAX_RSS_KB (\d+)/.exec(r.stderr);
  assert.ok(rss, r.stderr);
  assert.ok(Number(rss[1]) / 1024 < RSS_LIMIT_MB, `peak RSS ${Number(rss[1]) / 1024} MB`);
  rmSync(file);
});

test('the header bound counts JSON syntax outside strings only, and bounds metadata too', () => {
  // Names and metadata full of the characters the scan counts, inside strings, are a valid file.
  const odd = 'w,:{["\\'.repeat(2000);
  const t = new Map([[odd, { dtype: 'float32' as const, shape: [1], data: new Uint8Array(4) }]]);
  const ok = readSafetensors(writeSafetensors(t, { note: ',:{['.repeat(500_000) }), 'odd');
  assert.deepEqual([...ok.tensors.keys()], [odd]);
  // A metadata object of 2M keys lists one member at the top, yet would build 2M strings.
  const keys = Array.from({ length: 2_000_000 }, (_, i) => `"${i}":""`).join(',');
  const header = Buffer.from(`{"__metadata__":{${keys}}}`);
  const bytes = Buffer.concat([Buffer.alloc(8), header]);
  bytes.writeBigUInt64LE(BigInt(header.length));
  assert.throws(
    () => readSafetensors(bytes, 'meta.safetensors'),
    /meta\.safetensors: the header holds more than \d+ JSON values/,
  );
});
