// Files carry no device: tensors are written from contiguous CPU copies (whatever their device or
// strides) and loaded onto the device asked for (PyTorch's map_location). On a CPU-only build the
// CUDA side is checked through the device strings the loader accepts and refuses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { arange, buildInfo, loadTensors, saveTensors, tensorsFromBuffer, tidy } from '../../../src/engine/index.js';
import { checkLoadDevice } from '../../../src/engine/io.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dml-devio-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The safetensors header: JSON after an 8-byte little-endian length. */
function header(file: string): Record<string, Record<string, unknown>> {
  const b = readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  return JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, Record<string, unknown>>;
}

test('saved tensors are contiguous CPU bytes with no device or strides in the file', () => {
  const file = path.join(dir, 'strided.safetensors');
  const src = tidy(() => {
    const base = arange(0, 24, 1, { dtype: 'float32' });
    return {
      t: base.reshape([4, 6]).t(), // transposed: non-contiguous
      nhwc: base.reshape([1, 2, 3, 4]).contiguous('channelsLast'),
      moved: base.to('cpu'), // what a model's .to('cpu') path hands the writer
    };
  });
  assert.equal(src.t.isContiguous(), false);
  saveTensors(file, new Map(Object.entries(src)));
  const h = header(file);
  for (const k of ['t', 'nhwc', 'moved'])
    assert.deepEqual(Object.keys(h[k]!).sort(), ['data_offsets', 'dtype', 'shape'], `${k}: only dtype, shape, offsets`);
  const { tensors } = loadTensors(file, { format: 'weights' }, { device: 'cpu' });
  for (const [k, t] of Object.entries(src)) {
    const back = tensors.get(k)!;
    assert.equal(back.device, 'cpu');
    assert.ok(back.isContiguous(), `${k} loads contiguous`);
    assert.deepEqual(back.shape, t.shape);
    assert.deepEqual(back.tolist(), t.tolist(), `${k}: values in logical order`);
    back.dispose();
    t.dispose();
  }
});

test('the loader takes cpu, cuda and cuda:N, and refuses a device this build cannot place tensors on', () => {
  const file = path.join(dir, 'one.safetensors');
  const one = arange(0, 3, 1, { dtype: 'float32' });
  saveTensors(file, new Map([['w', one]]));
  one.dispose();
  const bytes = new Uint8Array(readFileSync(file));
  for (const bad of ['gpu', 'cuda:', 'cuda:x', 'cpu:0', 'CUDA'])
    assert.throws(
      () => checkLoadDevice(bad, 'load'),
      new RegExp(`load: device must be cpu, cuda or cuda:N, got '${bad}'`),
    );
  assert.throws(() => loadTensors(file, { format: 'weights' }, { device: 'gpu' }), /one\.safetensors\): device must/);
  const b = buildInfo();
  const gpus = b.cudaAvailable ? b.cudaDeviceCount : 0;
  for (const device of ['cuda', 'cuda:0']) {
    if (gpus === 0) {
      // A CPU-only build (or no GPU): refused by name, before any tensor is built.
      assert.throws(
        () => tensorsFromBuffer(bytes, 'one', { device }),
        new RegExp(`one\\): device ${device}: (this libtorch has no CUDA|no GPU is visible); load to cpu`),
      );
    } else {
      const { tensors } = tensorsFromBuffer(bytes, 'one', { device });
      assert.match(tensors.get('w')!.device, /^cuda:0$/);
      assert.deepEqual(tensors.get('w')!.tolist(), [0, 1, 2]);
      tensors.get('w')!.dispose();
    }
  }
  assert.throws(() => checkLoadDevice(`cuda:${gpus}`, 'load'), /load: device cuda:\d+: /);
});
