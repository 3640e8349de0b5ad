// The input gate (src/engine/serialize/input-gate.ts): every file a command opens by path is
// stat()ed first and refused unless it is a regular file within its format's size. A FIFO named
// as --list, --checkpoint, --config, serve --gallery, model.pretrained, an IDX file of data.root,
// a run's metrics.jsonl or CUB's images.txt used to block the command forever (open() waits for a
// writer); /dev/zero in those places read until memory ran out. Now each fails at once, naming
// the file and why, within the fault suite's RSS bound.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkInputFile,
  readInputFile,
  readInputFileSync,
  readInputTextSync,
} from '../../src/engine/serialize/input-gate.js';
import { makeCheckpoint } from '../server/helpers.js';
import { writeImage } from '../ml/data/helpers.js';
import { writeSyntheticIdx } from '../ml/data/synthetic-idx.js';

const child = fileURLToPath(new URL('./rss-child.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dml-gate-'));
const f = (name: string): string => path.join(root, name);
/** The fault suite's bound (test/faults/matrix.test.ts): libtorch loaded is ~220 MB. */
const RSS_LIMIT_MB = 450;
/** A command that reaches its error at once takes seconds here; a FIFO that blocks never ends. */
const TIMEOUT_MS = 60_000;

/** A FIFO at `file`, and a symbolic link to /dev/zero at `zero`. */
function hostile(file: string, zero: string): void {
  execFileSync('mkfifo', [file]);
  symlinkSync('/dev/zero', zero);
}

test('the gate refuses a FIFO, a device and a directory before opening them, and files over the limit', async () => {
  const fifo = f('unit.fifo');
  execFileSync('mkfifo', [fifo]);
  const t0 = Date.now();
  for (const [file, kind] of [
    [fifo, 'a FIFO'],
    ['/dev/zero', 'a character device'],
    [root, 'a directory'],
  ] as const) {
    const why = new RegExp(`^Error: --list ${file}: cannot read list file: it is ${kind}, not a regular file$`);
    assert.throws(() => checkInputFile(file, { format: 'list', from: '--list' }), why);
    assert.throws(() => readInputFileSync(file, { format: 'list', from: '--list' }), why);
    await assert.rejects(readInputFile(file, { format: 'list', from: '--list' }), why);
  }
  assert.ok(Date.now() - t0 < 5000, 'no read waited');
  assert.throws(
    () => readInputFileSync(f('absent.yaml'), { format: 'config' }),
    /absent\.yaml: cannot read config: no such file/,
  );

  const big = f('big.yaml');
  writeFileSync(big, Buffer.alloc(5 << 20, 0x20));
  assert.throws(
    () => readInputTextSync(big, { format: 'config', from: '--config' }),
    new RegExp(
      '^Error: --config .*big\\.yaml: cannot read config: it is 5 MiB, more than the 4 MiB a config can be ' +
        '\\(DML_MAX_CONFIG_BYTES raises it\\)$',
    ),
  );
  assert.throws(
    () => readInputFileSync(big, { format: 'config', maxBytes: 100 }),
    /more than the 100 bytes a config can be$/,
  );
  process.env.DML_MAX_CONFIG_BYTES = '6M';
  try {
    assert.equal(readInputFileSync(big, { format: 'config' }).length, 5 << 20);
  } finally {
    delete process.env.DML_MAX_CONFIG_BYTES;
  }
  writeFileSync(f('ok.txt'), 'hello');
  assert.equal(readInputTextSync(f('ok.txt'), { format: 'list' }), 'hello');
  assert.equal((await readInputFile(f('ok.txt'), { format: 'list' })).toString(), 'hello');
});

interface Case {
  name: string;
  /** What the one-line error must name: the file, and the reason. */
  expect: RegExp;
  argv: string[];
}
const cases: Case[] = [];

before(async () => {
  const gallery = f('gallery');
  for (const c of ['a', 'b']) mkdirSync(path.join(gallery, c), { recursive: true });
  for (let i = 0; i < 4; i++)
    await writeImage(path.join(gallery, i % 2 ? 'b' : 'a', `${i}.png`), 20, 16, { seed: i, format: 'png' });
  const good = await makeCheckpoint(f('good.safetensors'));
  const out = f('out');
  mkdirSync(out);
  const idx = f('idx');
  writeSyntheticIdx(idx, 8, 4, 12);
  const train = (...extra: string[]): string[] => [
    'train',
    'batchSize=16',
    'model.smallInput=true',
    'threads=1',
    'epochs=1',
    `out=${path.join(out, 'run')}`,
    ...extra,
  ];
  const kinds = [
    ['fifo', 'a FIFO'],
    ['zero', 'a character device'],
  ] as const;
  const places: Array<{ name: string; file: (k: string) => string; argv: (file: string) => string[] }> = [
    {
      name: 'embed --list',
      file: (k) => f(`list-${k}.txt`),
      argv: (x) => ['embed', '--checkpoint', good, '--list', x, '--out', path.join(out, 'e.safetensors')],
    },
    {
      name: 'eval --checkpoint',
      file: (k) => f(`ck-${k}.safetensors`),
      argv: (x) => ['eval', '--checkpoint', x],
    },
    {
      name: 'embed --checkpoint',
      file: (k) => f(`ck2-${k}.safetensors`),
      argv: (x) => ['embed', '--checkpoint', x, '--dir', gallery, '--out', path.join(out, 'e.safetensors')],
    },
    {
      name: 'train --config',
      file: (k) => f(`cfg-${k}.yaml`),
      argv: (x) => train(`data.root=${idx}`, '--config', x),
    },
    {
      name: 'serve --gallery',
      file: (k) => f(`gallery-${k}.txt`),
      argv: (x) => ['serve', '--checkpoint', good, '--gallery', x, '--port', '0', '-q'],
    },
    {
      name: 'train model.pretrained',
      file: (k) => f(`pretrained-${k}.pth`),
      argv: (x) => train(`data.root=${idx}`, `model.pretrained=${x}`),
    },
    {
      name: 'train data.root IDX',
      file: (k) => path.join(f(`idx-${k}`), 'train-labels-idx1-ubyte.gz'),
      argv: (x) => train(`data.root=${path.dirname(x)}`),
    },
    {
      name: 'report metrics.jsonl',
      file: (k) => path.join(f(`run-${k}`), 'metrics.jsonl'),
      argv: (x) => ['report', path.dirname(x), '--out', path.join(out, 'r.html')],
    },
    {
      name: 'prepare cub images.txt',
      file: (k) => path.join(f(`cub-${k}`), 'images.txt'),
      argv: (x) => ['prepare', 'cub', '--root', path.dirname(x), '--out', path.join(out, 'cub')],
    },
  ];
  for (const p of places) {
    const [fifo, zero] = [p.file('fifo'), p.file('zero')];
    for (const x of [fifo, zero]) {
      const dir = path.dirname(x);
      mkdirSync(dir, { recursive: true });
      if (path.basename(dir).startsWith('idx-'))
        for (const n of readdirSync(idx)) writeFileSync(path.join(dir, n), readFileSync(path.join(idx, n)));
      rmSync(x, { force: true });
    }
    hostile(fifo, zero);
    for (const [k, kind] of kinds) {
      const file = k === 'fifo' ? fifo : zero;
      const esc = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      cases.push({
        name: `${p.name} ${k}`,
        expect: new RegExp(`${esc}.*it is ${kind}, not a regular file`),
        argv: p.argv(file),
      });
    }
  }
});
after(() => rmSync(root, { recursive: true, force: true }));

interface Outcome {
  code: number | null;
  stderr: string;
  timedOut: boolean;
  rssMB: number | null;
  ms: number;
}

function runCase(c: Case): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = Date.now();
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
    p.on('close', (code) => {
      clearTimeout(timer);
      const m = /DML_MAX_RSS_KB (\d+)/.exec(stderr);
      resolve({ code, stderr, timedOut, rssMB: m ? Number(m[1]) / 1024 : null, ms: Date.now() - t0 });
    });
  });
}

test(
  'a FIFO or /dev/zero in each place a command reads a file fails at once, naming it, in bounded memory',
  { timeout: 600_000 },
  async () => {
    assert.equal(cases.length, 18);
    const queue = [...cases];
    const problems: string[] = [];
    await Promise.all(
      [0, 1].map(async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          const o = await runCase(c);
          const msg = o.stderr
            .replace(/\nDML_MAX_RSS_KB \d+\n?$/, '')
            .trim()
            .slice(-400);
          if (o.timedOut) problems.push(`${c.name}: hung (killed after ${TIMEOUT_MS / 1000} s)`);
          else if (o.code !== 1 && o.code !== 2) problems.push(`${c.name}: exit ${o.code}: ${msg}`);
          else if (!c.expect.test(o.stderr)) problems.push(`${c.name}: the error is not ${c.expect}: ${msg}`);
          if (o.rssMB !== null && o.rssMB > RSS_LIMIT_MB)
            problems.push(`${c.name}: peak RSS ${o.rssMB.toFixed(0)} MB > ${RSS_LIMIT_MB} MB`);
        }
      }),
    );
    assert.deepEqual(problems, []);
  },
);
