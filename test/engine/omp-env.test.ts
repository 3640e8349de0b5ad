// OpenMP's wait policy is PASSIVE unless the user chose one: set before libgomp reads its environment
// (when the addon loads), and checked in what libgomp itself reports (OMP_DISPLAY_ENV).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { applyOmpWaitDefault } from '../../src/engine/omp-env.js';

const engine = new URL('../../src/engine/index.js', import.meta.url).href;
const ompEnv = new URL('../../src/engine/omp-env.js', import.meta.url).href;

test('applyOmpWaitDefault sets PASSIVE only where neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set', () => {
  const bare: NodeJS.ProcessEnv = { PATH: '/bin' };
  assert.equal(applyOmpWaitDefault(bare), 'default');
  assert.deepEqual(bare, { PATH: '/bin', OMP_WAIT_POLICY: 'PASSIVE' });
  const active: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'ACTIVE' };
  assert.equal(applyOmpWaitDefault(active), 'user');
  assert.deepEqual(active, { OMP_WAIT_POLICY: 'ACTIVE' });
  const spin: NodeJS.ProcessEnv = { GOMP_SPINCOUNT: '10000' };
  assert.equal(applyOmpWaitDefault(spin), 'user');
  assert.deepEqual(spin, { GOMP_SPINCOUNT: '10000' });
});

/** libgomp's spin count as it reports it at start-up, in a fresh process running `script`. */
function spinCount(script: string, env: Record<string, string>): string {
  const clean = { ...process.env };
  for (const k of ['OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'OMP_DISPLAY_ENV']) delete clean[k];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...clean, ...env, OMP_DISPLAY_ENV: 'VERBOSE' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const m = /GOMP_SPINCOUNT = '(\d+)'/.exec(r.stderr);
  assert.ok(m, `libgomp printed no GOMP_SPINCOUNT:\n${r.stderr}`);
  return m[1]!;
}

const LOAD = `const e = await import(${JSON.stringify(engine)}); e.setNumThreads(2);`;

test('loading the engine makes libgomp passive (spin count 0); the user’s own setting wins', () => {
  assert.equal(spinCount(LOAD, {}), '0');
  // 300000 is libgomp's own default spin count: what a process gets that chose it.
  assert.equal(spinCount(LOAD, { GOMP_SPINCOUNT: '300000' }), '300000');
  assert.notEqual(spinCount(LOAD, { OMP_WAIT_POLICY: 'ACTIVE' }), '0');
});

test('a worker thread that loads the engine gets the policy its main thread set (the server’s pool)', () => {
  const script =
    `const { applyOmpWaitDefault } = await import(${JSON.stringify(ompEnv)}); applyOmpWaitDefault();` +
    `const { Worker } = await import('node:worker_threads');` +
    `const w = new Worker(${JSON.stringify(`import(${JSON.stringify(engine)}).then((e) => e.setNumThreads(2));`)},` +
    ` { eval: true }); await new Promise((r) => w.once('exit', r));`;
  assert.equal(spinCount(script, {}), '0');
});
