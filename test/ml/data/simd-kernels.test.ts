// The pixel kernels' AVX2 versions against their scalar loops (DML_NO_SIMD=1, in a child process)
// on random images: the same bytes. Both paths are also checked against Pillow by
// torchvision-parity, on whichever one this CPU runs; on a CPU without AVX2 both runs here are
// scalar and the test checks only that they agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cases, outputs } from './kernel-cases.js';

test("resize, colour jitter and ToTensor: the kernels this CPU runs give the scalar loops' bytes", () => {
  const engineImage = fileURLToPath(new URL('../../../src/engine/image.js', import.meta.url));
  const helpers = fileURLToPath(new URL('./kernel-cases.js', import.meta.url));
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const m = await import(${JSON.stringify(helpers)});
    const simd = (await import(${JSON.stringify(engineImage)})).imageKernelsUseSimd();
    process.stdout.write(JSON.stringify({ simd, out: m.outputs(m.cases()).map((b) => ` +
        `Buffer.from(b).toString('base64')) }));`,
    ],
    {
      env: { ...process.env, DML_NO_SIMD: '1' },
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  assert.equal(child.status, 0, child.stderr);
  const scalar = JSON.parse(child.stdout) as { simd: boolean; out: string[] };
  assert.equal(scalar.simd, false, 'DML_NO_SIMD=1 turns the vector kernels off');
  const list = cases(),
    ours = outputs(list);
  assert.equal(ours.length, scalar.out.length);
  ours.forEach((b, i) => assert.deepEqual(Buffer.from(b), Buffer.from(scalar.out[i]!, 'base64'), `output ${i}`));
});
