// The standing fault suite: hostile files of each kind (checkpoint, .pt, IDX/gz, config, list,
// image, metrics log) through each command that reads them. Every run must end with a one-line
// error naming the file (exit 1, or 2 for a refused argument), within a peak RSS bound (measured
// by test/faults/rss-child.ts), without hanging or aborting, and leave no output or temp file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGzip, gzipSync } from 'node:zlib';
import { makeCheckpoint } from '../server/helpers.js';
import { writeImage } from '../ml/data/helpers.js';
import { writeSyntheticIdx } from '../ml/data/synthetic-idx.js';

const child = fileURLToPath(new URL('./rss-child.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dml-matrix-'));
const gallery = path.join(root, 'gallery');
const out = path.join(root, 'out');
/** A Node process with libtorch loaded is ~220 MB here; a hostile input may add little. */
const RSS_LIMIT_MB = 450;
const TIMEOUT_MS = 60_000;

interface Case {
  name: string;
  file: string;
  argv: string[];
  code?: 1 | 2;
}
const cases: Case[] = [];
const f = (name: string): string => path.join(root, name);

/** PNG signature + an IHDR chunk declaring w×h, and no image data (the CRC is not checked by the header read). */
function pngHeader(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(13);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    len,
    Buffer.from('IHDR'),
    ihdr,
    Buffer.alloc(4),
  ]);
}

/** A safetensors file whose header announces a 1 GB tensor that is not there. */
function lyingSafetensors(): Buffer {
  const header = Buffer.from(
    JSON.stringify({ 'model.conv1.weight': { dtype: 'F32', shape: [250_000_000], data_offsets: [0, 1_000_000_000] } }),
  );
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, Buffer.alloc(64)]);
}

async function gzipBomb(file: string, headBytes: Buffer, extra: number): Promise<void> {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield headBytes;
    const zeros = Buffer.alloc(1 << 20);
    for (let sent = 0; sent < extra; sent += zeros.length) yield zeros;
  }
  await pipeline(Readable.from(chunks()), createGzip({ level: 1 }), createWriteStream(file));
}

/** A copy of the synthetic IDX set with one file replaced. */
function idxVariant(name: string, file: string, bytes: Buffer | null, base: string): string {
  const dir = f(name);
  mkdirSync(dir);
  for (const x of readdirSync(base)) writeFileSync(path.join(dir, x), readFileSync(path.join(base, x)));
  if (bytes) writeFileSync(path.join(dir, file), bytes);
  return dir;
}

before(async () => {
  for (const c of ['a', 'b']) mkdirSync(path.join(gallery, c), { recursive: true });
  for (let i = 0; i < 4; i++)
    await writeImage(path.join(gallery, i % 2 ? 'b' : 'a', `${i}.png`), 20, 16, { seed: i, format: 'png' });
  mkdirSync(out);
  const good = await makeCheckpoint(f('good.safetensors'));
  const goodBytes = readFileSync(good);

  // Checkpoints, through every command that loads one.
  const ckpts: Array<[string, Buffer]> = [
    ['ck-random.safetensors', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24))],
    ['ck-empty.safetensors', Buffer.alloc(0)],
    ['ck-lying.safetensors', lyingSafetensors()],
    ['ck-truncated.safetensors', goodBytes.subarray(0, goodBytes.length >> 1)],
  ];
  for (const [name, bytes] of ckpts) {
    writeFileSync(f(name), bytes);
    cases.push(
      { name: `eval ${name}`, file: name, argv: ['eval', '--checkpoint', f(name)] },
      { name: `mi ${name}`, file: name, argv: ['mi', '--checkpoint', f(name)] },
      {
        name: `embed ${name}`,
        file: name,
        argv: [
          'embed',
          '--checkpoint',
          f(name),
          '--dir',
          gallery,
          '--out',
          path.join(out, 'e.safetensors'),
          '--workers',
          '0',
        ],
      },
      {
        name: `export ${name}`,
        file: name,
        argv: ['export', '--onnx', '--checkpoint', f(name), '--out', path.join(out, 'm.onnx')],
      },
      {
        name: `serve ${name}`,
        file: name,
        argv: ['serve', '--checkpoint', f(name), '--gallery', gallery, '--port', '0', '-q'],
      },
    );
  }

  // Training inputs: IDX files, pretrained weights, configs.
  const idx = f('idx-good');
  writeSyntheticIdx(idx, 8, 4, 12);
  const train = (name: string, file: string, ...extra: string[]): Case => ({
    name,
    file,
    argv: [
      'train',
      'batchSize=16',
      'model.smallInput=true',
      'threads=1',
      'epochs=1',
      `out=${path.join(out, 'run')}`,
      ...extra,
    ],
  });
  const labelsHead = Buffer.from([0, 0, 8, 1, 0, 0, 0, 80]);
  const bombDir = idxVariant('idx-bomb', 'train-labels-idx1-ubyte.gz', null, idx);
  await gzipBomb(
    path.join(bombDir, 'train-labels-idx1-ubyte.gz'),
    Buffer.concat([labelsHead, Buffer.alloc(80, 1)]),
    256 << 20,
  );
  const images = readFileSync(path.join(idx, 'train-images-idx3-ubyte.gz'));
  const absurd = Buffer.from([0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
  const idxCases: Array<[string, string, Buffer | null]> = [
    ['idx-bomb', 'train-labels-idx1-ubyte.gz', null],
    ['idx-truncated', 'train-images-idx3-ubyte.gz', images.subarray(0, images.length >> 1)],
    ['idx-absurd-dims', 'train-images-idx3-ubyte.gz', gzipSync(absurd)],
    [
      'idx-count-mismatch',
      'train-labels-idx1-ubyte.gz',
      gzipSync(Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, 0, 79]), Buffer.alloc(79, 1)])),
    ],
    ['idx-not-gzip', 't10k-labels-idx1-ubyte.gz', Buffer.from('this is not gzip data at all')],
  ];
  for (const [name, file, bytes] of idxCases) {
    const dir = name === 'idx-bomb' ? bombDir : idxVariant(name, file, bytes, idx);
    cases.push(train(`train data ${name}`, file, `data.root=${dir}`));
  }
  writeFileSync(f('pt-random.pt'), Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 40503) & 0xff)));
  writeFileSync(f('pt-zip-truncated.pt'), Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200, 7)]));
  for (const name of ['pt-random.pt', 'pt-zip-truncated.pt', 'ck-lying.safetensors'])
    cases.push(train(`train pretrained ${name}`, name, `data.root=${idx}`, `model.pretrained=${f(name)}`));
  const configs: Array<[string, string]> = [
    [
      'cfg-aliases.yaml',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\n` +
        `${Array.from({ length: 8 }, (_, i) => {
          const name = String.fromCharCode(98 + i);
          const refs = new Array<string>(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ');
          return `${name}: &${name} [${refs}]`;
        }).join('\n')}\n`,
    ],
    ['cfg-proto.yaml', 'model:\n  __proto__:\n    polluted: 1\n'],
    ['cfg-binary.yaml', String.fromCharCode(...Array.from({ length: 512 }, (_, i) => (i * 7919) % 256))],
    ['cfg-list.yaml', '- 1\n- 2\n'],
    ['cfg-huge-line.yaml', `seed: ${'9'.repeat(8 << 20)}\n`],
  ];
  for (const [name, text] of configs) {
    writeFileSync(f(name), text, 'latin1');
    cases.push(train(`train config ${name}`, name, `data.root=${idx}`, '--config', f(name)));
  }

  // Lists and images through dml embed (no --skip-bad: the first bad entry stops the run).
  const good0 = path.join(gallery, 'a', '0.png');
  const lists: Array<[string, string]> = [
    ['list-binary.txt', String.fromCharCode(0, 1, 2, 255, 254, 10, 0, 0, 13, 10)],
    ['list-long-line.txt', `${'x'.repeat(4 << 20)},1\n`],
    ['list-missing.txt', `${good0},0\n${path.join(root, 'nope.png')},1\n`],
    ['list-dev-zero.txt', `${good0},0\n/dev/zero,1\n`],
  ];
  for (const [name, text] of lists) {
    writeFileSync(f(name), text, 'latin1');
    const named = name === 'list-missing.txt' ? 'nope.png' : name === 'list-dev-zero.txt' ? '/dev/zero' : name;
    cases.push({
      name: `embed list ${name}`,
      file: named,
      argv: [
        'embed',
        '--checkpoint',
        good,
        '--list',
        f(name),
        '--out',
        path.join(out, 'e.safetensors'),
        '--workers',
        '0',
      ],
    });
  }
  const imgs: Array<[string, Buffer]> = [
    ['img-pixel-bomb.png', pngHeader(100_000, 100_000)],
    ['img-truncated.png', readFileSync(good0).subarray(0, 40)],
    ['img-empty.png', Buffer.alloc(0)],
    ['img-text.png', Buffer.from('GIF89a but not really')],
  ];
  for (const [name, bytes] of imgs) {
    const dir = f(`gallery-${name}`);
    mkdirSync(path.join(dir, 'a'), { recursive: true });
    writeFileSync(path.join(dir, 'a', '0.png'), readFileSync(good0));
    writeFileSync(path.join(dir, 'a', name), bytes);
    cases.push({
      name: `embed image ${name}`,
      file: name,
      argv: ['embed', '--checkpoint', good, '--dir', dir, '--out', path.join(out, 'e.safetensors'), '--workers', '0'],
    });
  }

  // A run folder whose metrics log is garbage.
  const run = f('run-bad-log');
  mkdirSync(run);
  writeFileSync(path.join(run, 'metrics.jsonl'), '{"type":"train","epoch":1,"step":1,"loss":1}\n\u0000\u0001garbage\n');
  cases.push({
    name: 'report metrics.jsonl',
    file: 'metrics.jsonl',
    argv: ['report', run, '--out', path.join(out, 'r.html')],
  });
});
after(() => rmSync(root, { recursive: true, force: true }));

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  timedOut: boolean;
  rssMB: number | null;
}

function runCase(c: Case): Promise<Outcome> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, ...c.argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '',
      timedOut = false;
    p.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 1 << 16) stderr += b.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, TIMEOUT_MS);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /DML_MAX_RSS_KB (\d+)/.exec(stderr);
      resolve({ code, signal, stderr, timedOut, rssMB: m ? Number(m[1]) / 1024 : null });
    });
  });
}

test(
  'every hostile file ends its command with an error naming it: no abort, no hang, bounded memory, nothing left behind',
  { timeout: 900_000 },
  async () => {
    assert.ok(cases.length >= 40, `${cases.length} cases`);
    const results: Array<{ c: Case; o: Outcome }> = [];
    const queue = [...cases];
    await Promise.all(
      [0, 1].map(async () => {
        for (let c = queue.shift(); c; c = queue.shift()) results.push({ c, o: await runCase(c) });
      }),
    );
    const problems: string[] = [];
    let maxRss = 0;
    for (const { c, o } of results) {
      const msg = o.stderr
        .replace(/\nDML_MAX_RSS_KB \d+\n?$/, '')
        .trim()
        .split('\n')
        .slice(-3)
        .join(' | ')
        .slice(0, 400);
      if (o.timedOut) problems.push(`${c.name}: hung (killed after ${TIMEOUT_MS / 1000} s)`);
      else if (o.signal) problems.push(`${c.name}: killed by ${o.signal}: ${msg}`);
      else if (o.code !== (c.code ?? 1) && !(c.code === undefined && o.code === 2))
        problems.push(`${c.name}: exit ${o.code}: ${msg}`);
      else if (!o.stderr.includes(c.file)) problems.push(`${c.name}: the error does not name ${c.file}: ${msg}`);
      if (o.rssMB === null) problems.push(`${c.name}: no RSS line`);
      else {
        maxRss = Math.max(maxRss, o.rssMB);
        if (o.rssMB > RSS_LIMIT_MB) problems.push(`${c.name}: peak RSS ${o.rssMB.toFixed(0)} MB > ${RSS_LIMIT_MB} MB`);
      }
    }
    const left = readdirSync(out, { recursive: true })
      .map(String)
      .filter((x) => (x !== 'run' && !x.startsWith(`run${path.sep}`)) || /\.tmp$/.test(x));
    if (left.length) problems.push(`left behind in the output folder: ${left.join(', ')}`);
    const runDir = path.join(out, 'run');
    if (existsSync(runDir)) {
      const files = readdirSync(runDir).filter((x) => /safetensors|\.tmp$/.test(x));
      if (files.length) problems.push(`a failed training left ${files.join(', ')}`);
    }
    console.log(
      `fault matrix: ${results.length} hostile inputs, ${results.filter((r) => r.o.signal).length} aborts, ` +
        `${results.filter((r) => r.o.timedOut).length} hangs, peak RSS ${maxRss.toFixed(0)} MB`,
    );
    assert.deepEqual(problems, []);
  },
);
