// OpenMP's wait policy: passive on a busy machine unless the user chose one, set before libgomp reads
// its environment (when the addon loads), and checked in what libgomp itself reports (OMP_DISPLAY_ENV).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { applyOmpWaitDefault } from '../../src/engine/omp-env.js';

const engine = new URL('../../src/engine/index.js', import.meta.url).href;
const ompEnv = new URL('../../src/engine/omp-env.js', import.meta.url).href;

test('applyOmpWaitDefault: PASSIVE when the load reaches the cores, unless the user set a variable', () => {
  const busy: NodeJS.ProcessEnv = { PATH: '/bin' };
  assert.equal(applyOmpWaitDefault(busy, 2.0, 2), 'busy');
  assert.deepEqual(busy, { PATH: '/bin', OMP_WAIT_POLICY: 'PASSIVE' });
  const quiet: NodeJS.ProcessEnv = { PATH: '/bin' };
  assert.equal(applyOmpWaitDefault(quiet, 1.9, 2), 'quiet');
  assert.deepEqual(quiet, { PATH: '/bin' });
  const active: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'ACTIVE' };
  assert.equal(applyOmpWaitDefault(active, 9, 2), 'user');
  assert.deepEqual(active, { OMP_WAIT_POLICY: 'ACTIVE' });
  const spin: NodeJS.ProcessEnv = { GOMP_SPINCOUNT: '10000' };
  assert.equal(applyOmpWaitDefault(spin, 9, 2), 'user');
  assert.deepEqual(spin, { GOMP_SPINCOUNT: '10000' });
});

/** libgomp's spin count as it reports it at start-up, and the process's stdout, for `script` in a fresh process. */
function run(script: string, env: Record<string, string> = {}): { spin: string; out: string } {
  const clean = { ...process.env };
  for (const k of ['OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'OMP_DISPLAY_ENV']) delete clean[k];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...clean, ...env, OMP_DISPLAY_ENV: 'VERBOSE' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const m = /GOMP_SPINCOUNT = '(\d+)'/.exec(r.stderr);
  assert.ok(m, `libgomp printed no GOMP_SPINCOUNT:\n${r.stderr}`);
  return { spin: m[1]!, out: r.stdout.trim() };
}

const load = `const e = await import(${JSON.stringify(engine)}); e.setNumThreads(2);`;
// A load reading injected before the engine loads: its own call then finds the choice made.
const loadAs = (avg: number): string =>
  `const o = await import(${JSON.stringify(ompEnv)}); o.applyOmpWaitDefault(process.env, ${avg}, 2); ${load}`;

test('libgomp spins on a quiet machine and is passive on a busy one; the user’s own setting wins', () => {
  // 300000 is libgomp's own default spin count, 0 passive.
  assert.equal(run(loadAs(0.5)).spin, '300000');
  assert.equal(run(loadAs(3)).spin, '0');
  assert.equal(run(loadAs(3), { GOMP_SPINCOUNT: '300000' }).spin, '300000');
  assert.notEqual(run(loadAs(3), { OMP_WAIT_POLICY: 'ACTIVE' }).spin, '0');
});

test('the engine decides by itself when it loads, from the real load average', () => {
  const r = run(`${load} console.log(e.ompWaitChoice());`);
  assert.ok(r.out === 'busy' || r.out === 'quiet', r.out);
  assert.equal(r.spin, r.out === 'busy' ? '0' : '300000');
});

test('a worker thread that loads the engine gets the policy its main thread set (the server’s pool)', () => {
  const script =
    `const o = await import(${JSON.stringify(ompEnv)}); o.applyOmpWaitDefault(process.env, 3, 2);` +
    `const { Worker } = await import('node:worker_threads');` +
    `const w = new Worker(${JSON.stringify(`import(${JSON.stringify(engine)}).then((e) => e.setNumThreads(2));`)},` +
    ` { eval: true }); await new Promise((r) => w.once('exit', r));`;
  assert.equal(run(script).spin, '0');
});
