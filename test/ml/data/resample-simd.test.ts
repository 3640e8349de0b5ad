// The resampler's AVX2 kernels against its scalar loops (DML_NO_SIMD=1, in a child process) on
// random images, boxes and sizes: the same bytes, including boxes that touch the end of the
// buffer, where the vector loads would overrun and the scalar path takes over. (The scalar and
// vector paths are each checked against Pillow by torchvision-parity on whichever this CPU runs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cases, resizeAll } from './resample-cases.js';

test('resizeBytes: the kernels this CPU runs (AVX2 where it has it) give the scalar loops\' bytes', () => {
  const engineImage = fileURLToPath(new URL('../../../src/engine/image.js', import.meta.url));
  const helpers = fileURLToPath(new URL('./resample-cases.js', import.meta.url));
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const m = await import(${JSON.stringify(helpers)});
    process.stdout.write(JSON.stringify({ simd: (await import(${JSON.stringify(engineImage)})).imageKernelsUseSimd(), out: m.resizeAll(m.cases()).map((b) => Buffer.from(b).toString('base64')) }));`], {
    env: { ...process.env, DML_NO_SIMD: '1' }, encoding: 'utf8', maxBuffer: 64 << 20,
  });
  assert.equal(child.status, 0, child.stderr);
  const scalar = JSON.parse(child.stdout) as { simd: boolean; out: string[] };
  assert.equal(scalar.simd, false, 'DML_NO_SIMD=1 turns the vector kernels off');
  const list = cases(), simd = resizeAll(list);
  list.forEach((k, i) => {
    assert.deepEqual(Buffer.from(simd[i]!), Buffer.from(scalar.out[i]!, 'base64'), `case ${i}: ${JSON.stringify(k)}`);
  });
});
