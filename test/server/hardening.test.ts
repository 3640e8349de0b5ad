// Serving hardening: the Host header (DNS rebinding against a loopback server), an optional token
// (Bearer, or the cookie the page gets from /?token=), shedding uploads before reading them when
// the queue is full, and one log line per 10 s for 503s instead of one per request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { makeFixture, removeFixture, serve, type GalleryFixture } from './helpers.js';
import type { RunningServer } from '../../src/server/index.js';
import { Limiter } from '../../src/server/limiter.js';
import sharp from 'sharp';

let fx: GalleryFixture;
before(async () => {
  fx = await makeFixture(2);
});
after(() => removeFixture(fx));

/** A raw request, so that Host and Cookie are exactly what the test says. */
function raw(
  srv: RunningServer,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: Uint8Array,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, method, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a loopback server answers to loopback names only', async () => {
  const srv = await serve({ checkpoint: fx.checkpoint, gallery: fx.folder });
  try {
    assert.equal((await raw(srv, '/api/health', { host: `localhost:${srv.port}` })).status, 200);
    assert.equal((await raw(srv, '/api/health', { host: `127.0.0.1:${srv.port}` })).status, 200);
    assert.equal((await raw(srv, '/api/health', { host: `[::1]:${srv.port}` })).status, 200);
    const evil = await raw(srv, '/api/health', { host: `attacker.example:${srv.port}` });
    assert.equal(evil.status, 403);
    assert.equal((JSON.parse(evil.body) as { error: { code: string } }).error.code, 'forbidden_host');
    const page = await raw(srv, '/', { host: 'rebind.attacker.example' });
    assert.equal(page.status, 403);
  } finally {
    await srv.close();
  }
  const open = await serve({ checkpoint: fx.checkpoint, gallery: fx.folder, allowedHosts: ['search.example'] });
  try {
    assert.equal((await raw(open, '/api/health', { host: 'search.example' })).status, 200);
    assert.equal((await raw(open, '/api/health', { host: `localhost:${open.port}` })).status, 403);
  } finally {
    await open.close();
  }
});

test('with a token: Bearer or the page cookie, nothing else', async () => {
  const token = 's3cret-token-42';
  const srv = await serve({ checkpoint: fx.checkpoint, gallery: fx.folder, token });
  try {
    const none = await raw(srv, '/api/health');
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.equal((await raw(srv, '/api/health', { authorization: 'Bearer wrong-token-00' })).status, 401);
    assert.equal((await raw(srv, '/api/health', { authorization: `Bearer ${token}` })).status, 200);
    assert.equal((await raw(srv, '/')).status, 401);
    const page = await raw(srv, `/?token=${token}`);
    assert.equal(page.status, 200);
    const cookie = String(page.headers['set-cookie']);
    assert.match(cookie, /^dml_token=s3cret-token-42; HttpOnly; SameSite=Strict; Path=\//);
    assert.equal((await raw(srv, '/api/image/0', { cookie: 'dml_token=s3cret-token-42' })).status, 200);
    assert.equal((await raw(srv, '/api/image/0', { cookie: 'dml_token=nope' })).status, 401);
  } finally {
    await srv.close();
  }
});

test('a full queue refuses uploads before reading them, and 503s are summed in the log', async () => {
  const l = new Limiter(1, 0);
  assert.equal(l.full(), false);
  let release: () => void = () => {};
  const job = l.run(
    () =>
      new Promise<void>((r) => {
        release = r;
      }),
  );
  assert.equal(l.full(), true);
  assert.equal(l.reject().status, 503);
  assert.equal(l.stats().rejected, 1);
  release();
  await job;
  assert.equal(l.full(), false);

  const logs: string[] = [];
  const srv = await serve({
    checkpoint: fx.checkpoint,
    gallery: fx.folder,
    maxConcurrent: 1,
    maxQueue: 0,
    log: (m) => logs.push(m),
  });
  try {
    const png = new Uint8Array(fx.bytes.get('lime/1.png')!);
    const results = await Promise.all(
      Array.from({ length: 24 }, () => raw(srv, '/api/query?k=2', { 'content-type': 'image/png' }, 'POST', png)),
    );
    const statuses = results.map((r) => r.status);
    assert.ok(
      statuses.every((s) => s === 200 || s === 503),
      statuses.join(', '),
    );
    assert.ok(statuses.includes(503), `no request was shed: ${statuses.join(', ')}`);
    assert.ok(statuses.includes(200));
    assert.equal(logs.filter((m) => /503|queue_full/.test(m)).length, 0, 'no line per refused request');
    // And it recovers at once.
    assert.equal((await raw(srv, '/api/query?k=2', { 'content-type': 'image/png' }, 'POST', png)).status, 200);
  } finally {
    await srv.close();
  }
});

test(
  'the default upload limit follows the model input (16 px: 4 Mpx); gallery images keep 40 Mpx; --max-pixels sets ' +
    'both',
  async () => {
    const big = await sharp({
      create: { width: 2100, height: 2000, channels: 3, background: { r: 40, g: 90, b: 200 } },
    })
      .png()
      .toBuffer();
    const fine = await sharp({
      create: { width: 1900, height: 2000, channels: 3, background: { r: 40, g: 90, b: 200 } },
    })
      .png()
      .toBuffer();
    const post = (srv: RunningServer, body: Buffer): ReturnType<typeof raw> =>
      raw(
        srv,
        '/api/query?k=1',
        { host: `127.0.0.1:${srv.port}`, 'content-type': 'image/png', 'content-length': String(body.length) },
        'POST',
        body,
      );
    const srv = await serve({ checkpoint: fx.checkpoint, gallery: fx.folder });
    try {
      const stats = JSON.parse((await raw(srv, '/api/stats', { host: `127.0.0.1:${srv.port}` })).body) as {
        model: { maxQueryPixels: number };
      };
      assert.equal(stats.model.maxQueryPixels, 4_000_000);
      const r = await post(srv, big);
      assert.equal(r.status, 422);
      const e = (JSON.parse(r.body) as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'image_too_large');
      assert.match(
        e.message,
        new RegExp(
          /2100×2000 = 4200000 pixels exceeds this server's upload limit of 4000000 \(derived from the /.source +
            /model's 16×16 input; dml serve --max-pixels sets it\)/.source,
        ),
      );
      assert.equal((await post(srv, fine)).status, 200);
    } finally {
      await srv.close();
    }
    const loose = await serve({ checkpoint: fx.checkpoint, gallery: fx.folder, maxPixels: 5_000_000 });
    try {
      assert.equal((await post(loose, big)).status, 200);
    } finally {
      await loose.close();
    }
  },
);

test('a non-loopback address needs a token or --insecure, and keeps the Host check', async () => {
  // The wildcard address: reachable from other machines.
  await assert.rejects(
    serve({ checkpoint: fx.checkpoint, gallery: fx.folder, host: '0.0.0.0' }),
    /refusing to listen on 0\.0\.0\.0 \(0\.0\.0\.0\) without a token: .*--token TOKEN .*--insecure/,
  );
  const logs: string[] = [];
  const open = await serve({
    checkpoint: fx.checkpoint,
    gallery: fx.folder,
    host: '0.0.0.0',
    insecure: true,
    log: (m) => logs.push(m),
  });
  try {
    assert.ok(
      logs.some((m) => /--insecure: listening on 0\.0\.0\.0 without a token/.test(m)),
      logs.join('\n'),
    );
    assert.equal((await raw(open, '/api/health', { host: `127.0.0.1:${open.port}` })).status, 200);
    // DNS rebinding: a name the attacker controls is refused however the server was bound.
    assert.equal((await raw(open, '/api/health', { host: `evil.example:${open.port}` })).status, 403);
    assert.equal((await raw(open, '/api/image/0', { host: 'evil.example' })).status, 403);
  } finally {
    await open.close();
  }
  const named = await serve({
    checkpoint: fx.checkpoint,
    gallery: fx.folder,
    host: '0.0.0.0',
    token: 's3cret-token-42',
    extraAllowedHosts: ['search.example'],
  });
  try {
    const auth = { authorization: 'Bearer s3cret-token-42' };
    assert.equal((await raw(named, '/api/health', { ...auth, host: 'search.example' })).status, 200);
    assert.equal((await raw(named, '/api/health', { ...auth, host: 'evil.example' })).status, 403);
  } finally {
    await named.close();
  }
});

test('loopback in any spelling is loopback: the Host check and no token needed', async () => {
  for (const host of ['::ffff:127.0.0.1', '127.1', 'localhost']) {
    const srv = await serve({ checkpoint: fx.checkpoint, gallery: fx.folder, host });
    try {
      assert.equal((await raw(srv, '/api/health', { host: `evil.example:${srv.port}` })).status, 403, host);
    } finally {
      await srv.close();
    }
  }
});

test('client mistakes get 4xx without a logged stack: bad cookie, lowercase scheme, float32 overflow', async () => {
  const token = 's3cret-token-42';
  const logs: string[] = [];
  const srv = await serve({ checkpoint: fx.checkpoint, gallery: fx.folder, token, log: (m) => logs.push(m) });
  try {
    const startup = logs.length;
    // Not valid percent-encoding: no token, so 401, not 500.
    assert.equal((await raw(srv, '/api/health', { cookie: 'dml_token=%E0%A4%A' })).status, 401);
    // RFC 7235: the scheme is case-insensitive.
    assert.equal((await raw(srv, '/api/health', { authorization: `bearer ${token}` })).status, 200);
    assert.equal((await raw(srv, '/api/health', { authorization: `BEARER ${token}` })).status, 200);
    const vector = (v: unknown[]) =>
      raw(
        srv,
        '/api/query/vector',
        { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        'POST',
        Buffer.from(JSON.stringify({ vector: v })),
      );
    const r = await vector([1e39, ...Array<number>(15).fill(0)]);
    assert.equal(r.status, 400);
    const e = (JSON.parse(r.body) as { error: { message: string } }).error;
    assert.match(e.message, /"vector"\[0\] = 1e\+39 is beyond float32's range/);
    assert.deepEqual(logs.slice(startup), [], 'nothing logged for client errors');
  } finally {
    await srv.close();
  }
});
