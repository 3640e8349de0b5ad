// The hand-written protobuf writer against known encodings (protobuf.dev's examples) and its reader,
// and the BN-folding algebra against the unfolded computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoWriter, readFields, asInt64, WireType } from '../../../src/ml/export/protobuf.js';
import { bnAffine, foldInputAffine, foldOutputAffine, normalizeRows } from '../../../src/ml/export/fold.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('varints, negative int64, strings and floats encode as protobuf does', () => {
  assert.equal(hex(new ProtoWriter().uint(1, 150).finish()), '089601');
  assert.equal(hex(new ProtoWriter().string(2, 'testing').finish()), '120774657374696e67');
  // int32/int64 -1: ten bytes of two's complement.
  assert.equal(hex(new ProtoWriter().int(3, -1).finish()), '18ffffffffffffffffff01');
  assert.equal(hex(new ProtoWriter().int(1, 2 ** 40).finish()), '08808080808020');
  assert.equal(hex(new ProtoWriter().float(2, 1).finish()), '150000803f');
  assert.throws(() => new ProtoWriter().uint(1, -1), RangeError);
  assert.throws(() => new ProtoWriter().uint(0, 1), RangeError);
});

test('nested messages and large byte blobs round-trip through readFields', () => {
  const blob = new Uint8Array(1000).map((_, i) => i & 0xff);
  const inner = new ProtoWriter().int(1, -5).bytes(9, blob).string(8, 'w');
  const outer = new ProtoWriter().uint(1, 7).message(7, inner).message(7, new ProtoWriter());
  const bytes = outer.finish();
  assert.equal(bytes.byteLength, outer.length);
  const f = readFields(bytes);
  assert.deepEqual(
    f.map((x) => [x.field, x.wire]),
    [
      [1, WireType.Varint],
      [7, WireType.Len],
      [7, WireType.Len],
    ],
  );
  assert.equal(f[2]!.bytes!.byteLength, 0);
  const g = readFields(f[1]!.bytes!);
  assert.equal(asInt64(g[0]!.varint!), -5);
  assert.deepEqual(g[1]!.bytes, blob);
  assert.equal(new TextDecoder().decode(g[2]!.bytes!), 'w');
  assert.throws(() => readFields(bytes.subarray(0, bytes.length - 3)), /truncated/);
});

test('BN folding matches the unfolded affine maps', () => {
  const bn = {
    runningMean: Float32Array.of(0.5, -1),
    runningVar: Float32Array.of(4, 0.25),
    weight: Float32Array.of(2, 3),
    bias: Float32Array.of(1, 0),
    eps: 0,
  };
  const a = bnAffine(bn);
  assert.deepEqual([...a.scale], [1, 6]);
  assert.deepEqual([...a.shift], [0.5, 6]);
  // conv/linear W [2 out, 2 in], b; then BN per output.
  const W = Float32Array.of(1, 2, 3, 4),
    b = Float32Array.of(0.5, -0.5),
    x = [0.3, -0.7];
  const lin = (w: Float32Array, bb: Float32Array, v: number[]): number[] =>
    [0, 1].map((o) => bb[o]! + w[o * 2]! * v[0]! + w[o * 2 + 1]! * v[1]!);
  const out = foldOutputAffine(W, b, a);
  const y = lin(W, b, x).map((v, o) => v * a.scale[o]! + a.shift[o]!);
  lin(out.weight, out.bias, x).forEach((v, o) => assert.ok(Math.abs(v - y[o]!) < 1e-6));
  // BN per input, then the linear layer.
  const inp = foldInputAffine(W, b, 2, a);
  const z = lin(
    W,
    b,
    x.map((v, i) => v * a.scale[i]! + a.shift[i]!),
  );
  lin(inp.weight, inp.bias, x).forEach((v, o) => assert.ok(Math.abs(v - z[o]!) < 1e-6));
  assert.deepEqual([...normalizeRows(Float32Array.of(3, 4, 0, 0), 2)], [0.6, 0.8, 0, 0].map(Math.fround));
});
