// dml serve's command line: argument parsing, --help, usage errors, and a real start / query /
// SIGTERM cycle in a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { command, parseServeArgs } from '../../src/cli/serve.js';
import { makeFixture, removeFixture, fetchJson } from '../server/helpers.js';

test('parseServeArgs maps flags to server options', () => {
  const o = parseServeArgs([
    '--checkpoint',
    'c.safetensors',
    '--gallery',
    'g.txt',
    '--port',
    '0',
    '--index',
    'lancedb',
    '--index-cache',
    'db',
    '--workers',
    '2',
    '--queue',
    '0',
    '--max-upload-mb',
    '0.5',
    '--max-pixels',
    '1000',
    '--timeout-ms',
    '500',
    '--image-size',
    '64',
    '-q',
  ]);
  assert.notEqual(o, 'help');
  if (o === 'help') return;
  assert.equal(o.checkpoint, 'c.safetensors');
  assert.equal(o.gallery, 'g.txt');
  assert.equal(o.port, 0);
  assert.equal(o.host, '127.0.0.1', 'loopback unless told otherwise');
  assert.equal(o.index, 'lancedb');
  assert.equal(o.indexCache, 'db');
  assert.equal(o.workers, 2);
  assert.equal(o.maxQueue, 0);
  assert.equal(o.maxUploadBytes, 524288);
  assert.equal(o.maxPixels, 1000);
  assert.equal(o.jobTimeoutMs, 500);
  assert.equal(o.imageSize, 64);
  assert.equal(o.log, undefined);
  const d = parseServeArgs(['--checkpoint', 'c', '--gallery', 'g']);
  assert.ok(d !== 'help' && d.port === 8080 && d.index === 'exact' && typeof d.log === 'function');
  assert.equal(parseServeArgs(['--help']), 'help');
  // --allowed-host adds to the default names ('*': any name); --insecure is passed on.
  const h = parseServeArgs(['--checkpoint', 'c', '--gallery', 'g', '--allowed-host', 'Search.Example', '--insecure']);
  assert.ok(h !== 'help');
  assert.deepEqual(h.extraAllowedHosts, ['search.example']);
  assert.equal(h.allowedHosts, undefined);
  assert.equal(h.insecure, true);
  const any = parseServeArgs(['--checkpoint', 'c', '--gallery', 'g', '--allowed-host', '*']);
  assert.ok(any !== 'help' && any.allowedHosts === null);
  for (const bad of [
    [],
    ['--checkpoint', 'c'],
    ['--gallery', 'g'],
    ['--checkpoint', 'c', '--gallery', 'g', '--index', 'faiss'],
    ['--checkpoint', 'c', '--gallery', 'g', '--port', '70000'],
    ['--checkpoint', 'c', '--gallery', 'g', '--workers', '0'],
    ['--checkpoint', 'c', '--gallery', 'g', '--workers', '1.5'],
    ['--checkpoint', 'c', '--gallery', 'g', '--bogus'],
    ['--checkpoint', 'c', '--gallery', 'g', 'extra'],
  ]) {
    // UsageError, or parseArgs's own error (dml's main turns it into exit 2 with "did you mean").
    assert.throws(
      () => parseServeArgs(bad),
      (e: Error) => e.name === 'Error' || String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_'),
      bad.join(' '),
    );
  }
});

test('the command prints help with 0 and usage errors with 2', async () => {
  const logs: string[] = [];
  const orig = { log: console.log, error: console.error };
  console.log = (s: string) => logs.push(s);
  console.error = (s: string) => logs.push(s);
  try {
    assert.equal(await command.run(['--help']), 0);
    assert.match(logs.join('\n'), /usage: dml serve --checkpoint FILE --gallery LIST\|DIR/);
    assert.equal(await command.run(['--gallery', 'g']), 2);
    assert.match(logs.join('\n'), /--checkpoint is required/);
  } finally {
    Object.assign(console, orig);
  }
  assert.equal(typeof command.summary, 'string');
});

test('dml serve starts, answers, and shuts down on SIGTERM', async () => {
  const fx = await makeFixture(2);
  const serveJs = fileURLToPath(new URL('../../src/cli/serve.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(serveJs)}); process.exitCode = await ` +
        `m.command.run(process.argv.slice(1));`,
      '--',
      '--checkpoint',
      fx.checkpoint,
      '--gallery',
      fx.folder,
      '--port',
      '0',
      '--index-cache',
      `${fx.dir}/index.safetensors`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '',
    err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before listening:\n${out}\n${err}`)));
    setTimeout(() => reject(new Error(`not listening after 20 s:\n${out}\n${err}`)), 20_000).unref();
  });
  const h = await fetchJson(`${url}/api/health`);
  assert.deepEqual(h.body, { status: 'ok', gallery: 6 });
  const q = await fetchJson<{ neighbours: unknown[] }>(`${url}/api/query?id=1&k=3`);
  assert.equal(q.body.neighbours.length, 3);
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', resolve);
    child.kill('SIGTERM');
  });
  assert.equal(code, 0, err);
  assert.match(err, /dml serve: gallery .*: 6 images in 3 classes/);
  assert.match(err, /index cache written to/);
  assert.match(err, /SIGTERM, shutting down/);
  removeFixture(fx);
});

test('an absurd --image-size stops dml serve with a message, not an abort', async () => {
  const fx = await makeFixture(1);
  const serveJs = fileURLToPath(new URL('../../src/cli/serve.js', import.meta.url));
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(serveJs)}); process.exitCode = await ` +
        `m.command.run(process.argv.slice(1));`,
      '--',
      '--checkpoint',
      fx.checkpoint,
      '--gallery',
      fx.folder,
      '--port',
      '0',
      '--image-size',
      '70000',
      '-q',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.notEqual(r.status, null, `killed by ${r.signal}: ${r.stderr}`);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /size\S* 70000 is over the 8192-pixel limit/);
  assert.doesNotMatch(r.stderr, /terminate called|Aborted|FATAL ERROR/);
  removeFixture(fx);
});

test(
  'SIGTERM under load: every request in flight gets its answer, then dml serve exits 0',
  { timeout: 120_000 },
  async () => {
    const fx = await makeFixture(2);
    const serveJs = fileURLToPath(new URL('../../src/cli/serve.js', import.meta.url));
    for (let round = 0; round < 3; round++) {
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(serveJs)}); process.exitCode = await ` +
            `m.command.run(process.argv.slice(1));`,
          '--',
          '--checkpoint',
          fx.checkpoint,
          '--gallery',
          fx.folder,
          '--port',
          '0',
          '--workers',
          '2',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '',
        err = '';
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        setTimeout(() => reject(new Error(`not listening after 30 s:\n${out}\n${err}`)), 30_000).unref();
      });
      const body = new Uint8Array(fx.bytes.get('lime/1.png')!);
      const requests = Array.from({ length: 16 }, () =>
        fetch(`${url}/api/query?k=3`, { method: 'POST', headers: { 'content-type': 'image/png' }, body }).then(
          (r) => r.status,
          (e: Error) => `failed: ${String((e.cause as Error | undefined)?.message ?? e.message)}`,
        ),
      );
      await new Promise((r) => setTimeout(r, 30));
      child.kill('SIGTERM');
      const statuses = await Promise.all(requests);
      assert.equal(await exited, 0, err);
      for (const s of statuses)
        assert.ok(s === 200 || s === 503, `round ${round}: a request got ${String(s)}; all: ${statuses.join(', ')}`);
      assert.ok(
        statuses.filter((s) => s === 200).length > 0,
        `round ${round}: nothing was answered: ${statuses.join(', ')}`,
      );
    }
    removeFixture(fx);
  },
);
