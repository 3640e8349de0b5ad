import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  assertRawTensor,
  bfloat16BitsToNumber,
  bytesPerElement,
  DTYPE_NAMES,
  float16BitsToNumber,
  numberToBfloat16Bits,
  numberToFloat16Bits,
  rawTensorFromNumbers,
  rawTensorToBigInts,
  rawTensorToNumbers,
  shapeNumel,
  type DTypeName,
  type RawTensor,
} from '../../../src/engine/serialize/raw.js';
import {
  loadSafetensorsFile,
  loadSafetensorsFileSync,
  readSafetensors,
  saveSafetensorsFile,
  saveSafetensorsFileSync,
  writeSafetensors,
} from '../../../src/engine/serialize/safetensors.js';
import { loadTorchFile, loadTorchFileSync, loadTorchStateDict } from '../../../src/engine/serialize/torch-zip.js';
import { ZipArchive } from '../../../src/engine/serialize/zip.js';
import { buildTorchZip, buildZip, float32Bytes, PickleWriter } from './helpers.js';

// Compiled to dist/test/engine/serialize/, four levels below the repository root.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/serialize/', import.meta.url));
const fixturePath = (name: string): string => path.join(FIXTURES, name);
const fixture = (name: string): Uint8Array => new Uint8Array(fs.readFileSync(fixturePath(name)));

interface ExpectedTensor {
  dtype: DTypeName;
  shape: number[];
  values: number[];
}
interface ExpectedFile {
  tensors: Record<string, ExpectedTensor>;
  metadata?: Record<string, string>;
}
const EXPECTED = JSON.parse(fs.readFileSync(fixturePath('expected.json'), 'utf8')) as Record<string, ExpectedFile>;

function assertMatchesExpected(actual: Map<string, RawTensor>, expected: Record<string, ExpectedTensor>): void {
  assert.deepEqual([...actual.keys()], Object.keys(expected));
  for (const [key, e] of Object.entries(expected)) {
    const t = actual.get(key)!;
    assertRawTensor(t, key);
    assert.equal(t.dtype, e.dtype, key);
    assert.deepEqual(t.shape, e.shape, key);
    assert.deepEqual(rawTensorToNumbers(t), e.values, key);
  }
}

function tensor(dtype: DTypeName, shape: number[], values: number[]): RawTensor {
  return rawTensorFromNumbers(dtype, shape, values);
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dml-serialize-'));
}

/** A safetensors buffer with an arbitrary header and `dataBytes` bytes of buffer. */
function safetensorsWith(header: string | object, dataBytes = 0): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

function rejects(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error, 'expected an Error');
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe('raw tensors', () => {
  it('knows element sizes and validates shapes', () => {
    assert.deepEqual(
      DTYPE_NAMES.map((d) => [d, bytesPerElement(d)]),
      [
        ['float32', 4],
        ['float64', 8],
        ['float16', 2],
        ['bfloat16', 2],
        ['int64', 8],
        ['int32', 4],
        ['int16', 2],
        ['int8', 1],
        ['uint8', 1],
        ['bool', 1],
      ],
    );
    assert.equal(shapeNumel([]), 1);
    assert.equal(shapeNumel([2, 0, 5]), 0);
    rejects(() => shapeNumel([2, -1]), /non-negative integers/);
    rejects(() => shapeNumel([1.5]), /non-negative integers/);
    rejects(() => shapeNumel([2 ** 40, 2 ** 40]), /too many elements/);
  });

  it('round-trips every float16 and bfloat16 bit pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f16 = float16BitsToNumber(h);
      if (!Number.isNaN(f16)) assert.equal(numberToFloat16Bits(f16), h, `f16 0x${h.toString(16)}`);
      const bf16 = bfloat16BitsToNumber(h);
      if (!Number.isNaN(bf16)) assert.equal(numberToBfloat16Bits(bf16), h, `bf16 0x${h.toString(16)}`);
    }
  });

  it('rounds to nearest even when narrowing to float16', () => {
    assert.equal(float16BitsToNumber(numberToFloat16Bits(1 + 2 ** -11)), 1);
    assert.equal(float16BitsToNumber(numberToFloat16Bits(1 + 3 * 2 ** -11)), 1 + 2 ** -9);
    assert.equal(float16BitsToNumber(numberToFloat16Bits(65519.99)), 65504);
    assert.equal(float16BitsToNumber(numberToFloat16Bits(65520)), Infinity);
    assert.equal(float16BitsToNumber(numberToFloat16Bits(2 ** -25)), 0); // tie to even (zero)
    assert.equal(float16BitsToNumber(numberToFloat16Bits(3 * 2 ** -26)), 2 ** -24);
    assert.ok(Number.isNaN(float16BitsToNumber(numberToFloat16Bits(NaN))));
  });

  it('encodes and decodes every dtype, refusing lossy integers', () => {
    for (const dtype of DTYPE_NAMES) {
      const values = dtype === 'bool' ? [1, 0, 1] : dtype === 'uint8' ? [0, 7, 255] : [-2, 0, 3];
      assert.deepEqual(rawTensorToNumbers(tensor(dtype, [3], values)), values, dtype);
    }
    assert.deepEqual(rawTensorToBigInts(rawTensorFromNumbers('int64', [2], [2n ** 62n, -1n])), [2n ** 62n, -1n]);
    rejects(() => tensor('int8', [1], [128]), /not representable as int8/);
    rejects(() => tensor('int32', [1], [0.5]), /not representable as int32/);
    rejects(() => tensor('uint8', [2], [1]), /2 elements/);
    rejects(() => assertRawTensor({ dtype: 'float32', shape: [2], data: new Uint8Array(4) }), /needs 8/);
  });
});

describe('safetensors', () => {
  const sample = fixture('sample.safetensors');

  it('reads the Python-written fixture', () => {
    const { tensors, metadata } = readSafetensors(sample, 'sample.safetensors');
    const expected = EXPECTED['sample.safetensors']!;
    assert.deepEqual(metadata, expected.metadata);
    assertMatchesExpected(tensors, expected.tensors);
  });

  it('writes byte-for-byte what the reference-style Python writer wrote', () => {
    const { tensors, metadata } = readSafetensors(sample);
    assert.deepEqual(writeSafetensors(tensors, metadata), sample);
  });

  it('returns zero-copy views into the input', () => {
    const { tensors } = readSafetensors(sample);
    for (const t of tensors.values()) assert.equal(t.data.buffer, sample.buffer);
  });

  it('round-trips every dtype, scalars and empty tensors, from a Map or a Record', () => {
    const input: Record<string, RawTensor> = {};
    for (const dtype of DTYPE_NAMES) input[`t_${dtype}`] = tensor(dtype, [2, 2], [1, 0, 1, 1]);
    input['scalar'] = tensor('float64', [], [Math.PI]);
    input['empty'] = tensor('float32', [0, 4], []);
    // An own "__proto__" key must stay an ordinary name, not a prototype.
    Object.defineProperty(input, '__proto__', { value: tensor('int8', [1], [5]), enumerable: true });
    for (const collection of [input, new Map(Object.entries(input))]) {
      const bytes = writeSafetensors(collection, { a: 'b', ['__proto__']: 'x' });
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      assert.equal(headerLength % 8, 0);
      const back = readSafetensors(bytes);
      assert.deepEqual(Object.entries(back.metadata), [
        ['__proto__', 'x'],
        ['a', 'b'],
      ]);
      assert.deepEqual([...back.tensors.keys()], Object.keys(input).sort());
      for (const [k, t] of Object.entries(input)) {
        const u = back.tensors.get(k)!;
        assert.deepEqual({ dtype: u.dtype, shape: u.shape, data: u.data.slice() }, t, k);
      }
    }
  });

  it('sorts keys by code unit, including integer-like keys', () => {
    const t = tensor('uint8', [1], [1]);
    const bytes = writeSafetensors({ b: t, '10': t, '2': t, a: t });
    assert.deepEqual([...readSafetensors(bytes).tensors.keys()], ['10', '2', 'a', 'b']);
    assert.equal(Object.keys(readSafetensors(writeSafetensors({ x: t })).metadata).length, 0);
  });

  it('refuses to write inconsistent tensors', () => {
    rejects(
      () => writeSafetensors({ w: { dtype: 'float32', shape: [3], data: new Uint8Array(8) } }),
      /"w"/,
      /needs 12/,
    );
    rejects(() => writeSafetensors({ __metadata__: tensor('uint8', [1], [1]) }), /reserved/);
    rejects(
      () => writeSafetensors({ w: { dtype: 'complex64' as DTypeName, shape: [1], data: new Uint8Array(8) } }),
      /unknown dtype/,
    );
    rejects(() => writeSafetensors({}, { n: 1 as unknown as string }), /not a string/);
  });

  it('saves atomically and loads files (sync and async)', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'model.safetensors');
      const tensors = { w: tensor('float32', [2], [1.5, -2]) };
      await saveSafetensorsFile(file, tensors, { format: 'pt' });
      assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);
      const loaded = await loadSafetensorsFile(file);
      assert.deepEqual(rawTensorToNumbers(loaded.tensors.get('w')!), [1.5, -2]);
      assert.deepEqual(loaded.metadata, { format: 'pt' });

      saveSafetensorsFileSync(file, { v: tensor('int32', [1], [9]) }); // replaces the old file
      assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);
      assert.deepEqual([...loadSafetensorsFileSync(file).tensors.keys()], ['v']);

      rejects(
        () => saveSafetensorsFileSync(file, { w: { dtype: 'int8', shape: [2], data: new Uint8Array(1) } }),
        /"w"/,
      );
      await assert.rejects(saveSafetensorsFile(path.join(dir, 'missing', 'x.safetensors'), tensors), /ENOENT/);
      assert.deepEqual(fs.readdirSync(dir), ['model.safetensors'], 'no temp files left behind');
      assert.deepEqual([...loadSafetensorsFileSync(file).tensors.keys()], ['v'], 'failed save kept the old file');

      fs.writeFileSync(path.join(dir, 'bad.safetensors'), sample.subarray(0, 100));
      await assert.rejects(loadSafetensorsFile(path.join(dir, 'bad.safetensors')), (err: Error) => {
        assert.ok(err.message.includes(path.join(dir, 'bad.safetensors')), err.message);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('rejects malformed files, naming the source and the tensor', () => {
    const src = '/models/evil.safetensors';
    const read = (buf: Uint8Array) => () => readSafetensors(buf, src);
    const f32 = (shape: number[], offsets: unknown[]) => ({ dtype: 'F32', shape, data_offsets: offsets });
    const srcRe = /\/models\/evil\.safetensors/;

    it('too short for the length prefix', () => rejects(read(new Uint8Array(5)), srcRe, /truncated/));

    it('huge header lengths', () => {
      const buf = new Uint8Array(64);
      new DataView(buf.buffer).setBigUint64(0, 2n ** 63n, true);
      rejects(read(buf), srcRe, /exceeds the 100000000-byte limit/);
      new DataView(buf.buffer).setBigUint64(0, 100_000_001n, true);
      rejects(read(buf), srcRe, /exceeds/);
    });

    it('header length past the end of the file', () => {
      const buf = safetensorsWith({});
      new DataView(buf.buffer).setBigUint64(0, 1000n, true);
      rejects(read(buf), srcRe, /runs past the end/);
    });

    it('truncated data', () =>
      rejects(read(sample.subarray(0, sample.byteLength - 3)), srcRe, /out of range|trailing|belong/));

    it('headers that are not JSON objects', () => {
      rejects(read(safetensorsWith('[1, 2]')), srcRe, /does not start with '\{'/);
      rejects(read(safetensorsWith('{"a": ')), srcRe, /malformed header/);
      rejects(read(safetensorsWith('{} {}')), srcRe, /malformed header/);
      rejects(read(safetensorsWith('')), srcRe, /does not start/);
      const badUtf8 = safetensorsWith('{"\xff": 1}');
      badUtf8.set([0xff], 10);
      rejects(read(badUtf8), srcRe, /UTF-8/);
    });

    it('duplicate keys (which JSON.parse would silently merge)', () => {
      const header = `{"w":${JSON.stringify(f32([1], [0, 4]))},"w":${JSON.stringify(f32([1], [4, 8]))}}`;
      rejects(read(safetensorsWith(header, 8)), srcRe, /duplicate key "w"/);
    });

    it('unknown dtypes', () => {
      for (const dtype of ['F8_E4M3', 'U16', 'float32', 'constructor', '']) {
        const buf = safetensorsWith({ w: { dtype, shape: [1], data_offsets: [0, 1] } }, 1);
        rejects(read(buf), srcRe, /tensor "w"/, /unknown or unsupported dtype/);
      }
      rejects(read(safetensorsWith({ w: { shape: [1], data_offsets: [0, 4] } }, 4)), /tensor "w"/, /dtype/);
    });

    it('offsets out of range', () => {
      rejects(read(safetensorsWith({ w: f32([2], [0, 8]) }, 4)), srcRe, /tensor "w"/, /out of range/);
      rejects(
        read(safetensorsWith({ w: f32([1], [2 ** 60, 2 ** 60 + 4]) }, 4)),
        /tensor "w"/,
        /non-negative integers|out of range/,
      );
    });

    it('malformed offsets', () => {
      for (const offsets of [[0], [0, 4, 8], [-4, 0], [0.5, 4.5], ['0', '4'], [4, 0]]) {
        rejects(read(safetensorsWith({ w: f32([1], offsets) }, 4)), srcRe, /tensor "w"/, /data_offsets/);
      }
      rejects(read(safetensorsWith({ w: { dtype: 'F32', shape: [1] } }, 4)), /tensor "w"/, /data_offsets/);
    });

    it('overlapping tensors', () => {
      const buf = safetensorsWith({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12);
      rejects(read(buf), srcRe, /tensor "b"/, /overlap tensor "a"/);
      const same = safetensorsWith({ a: f32([1], [0, 4]), b: f32([1], [0, 4]) }, 4);
      rejects(read(same), srcRe, /overlap/);
    });

    it('holes and uncovered trailing bytes', () => {
      rejects(read(safetensorsWith({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, 12)), srcRe, /tensor "b"/, /hole/);
      rejects(read(safetensorsWith({ a: f32([1], [4, 8]) }, 8)), srcRe, /tensor "a"/, /hole/);
      rejects(read(safetensorsWith({ a: f32([1], [0, 4]) }, 6)), srcRe, /2 trailing bytes/);
    });

    it('byte length that does not match the shape', () => {
      rejects(
        read(safetensorsWith({ w: f32([2, 2], [0, 12]) }, 12)),
        srcRe,
        /tensor "w"/,
        /byte length 12 does not match F32\[2, 2\] \(16 bytes\)/,
      );
    });

    it('bad shapes', () => {
      for (const shape of [[-1], [1.5], ['2'], [null]]) {
        rejects(read(safetensorsWith({ w: f32(shape as number[], [0, 4]) }, 4)), srcRe, /tensor "w"/, /shape/);
      }
      rejects(
        read(safetensorsWith({ w: { dtype: 'F32', shape: 4, data_offsets: [0, 16] } }, 16)),
        /tensor "w"/,
        /shape/,
      );
      rejects(
        read(safetensorsWith({ w: f32([2 ** 30, 2 ** 30, 2 ** 30], [0, 4]) }, 4)),
        /tensor "w"/,
        /too many|overflow/,
      );
    });

    it('entries and metadata of the wrong type', () => {
      rejects(read(safetensorsWith({ w: [1, 2] })), srcRe, /tensor "w"/, /not a JSON object/);
      rejects(read(safetensorsWith({ __metadata__: { n: 1 } })), srcRe, /__metadata__/, /not a string/);
      rejects(read(safetensorsWith({ __metadata__: 'x' })), srcRe, /__metadata__/);
    });

    it('accepts empty files and header padding', () => {
      assert.equal(readSafetensors(safetensorsWith('{}')).tensors.size, 0);
      assert.equal(readSafetensors(safetensorsWith('{}      ')).tensors.size, 0);
      const empty = readSafetensors(safetensorsWith({ e: f32([0, 3], [0, 0]), s: f32([], [0, 4]) }, 4));
      assert.deepEqual(empty.tensors.get('e')!.shape, [0, 3]);
      assert.deepEqual(empty.tensors.get('s')!.shape, []);
    });
  });
});

describe('torch.save zip files', () => {
  for (const name of ['model_state_dict.pt', 'model_deflated.pt', 'dtypes.pt', 'views.pt', 'checkpoint.pt']) {
    it(`loads ${name} like torch does`, () => {
      assertMatchesExpected(loadTorchStateDict(fixture(name), name), EXPECTED[name]!.tensors);
    });
  }

  it('keeps num_batches_tracked as a 0-d int64 tensor', () => {
    const t = loadTorchStateDict(fixture('model_state_dict.pt')).get('1.num_batches_tracked')!;
    assert.deepEqual(
      { dtype: t.dtype, shape: t.shape, values: rawTensorToNumbers(t) },
      { dtype: 'int64', shape: [], values: [1] },
    );
  });

  it('prefixes checkpoint tensors and skips plain Python values', () => {
    const keys = [...loadTorchStateDict(fixture('checkpoint.pt')).keys()];
    assert.ok(keys.includes('state_dict.0.weight'));
    assert.ok(keys.includes('nested.inner.scale'));
    assert.ok(keys.includes('param'));
    assert.ok(!keys.some((k) => /^(epoch|best_acc|arch|history|extra)/.test(k)));
  });

  it('materialises strided views and aliases contiguous ones', () => {
    const buf = fixture('views.pt');
    const views = loadTorchStateDict(buf);
    assert.equal(views.get('offset_view')!.data.buffer, buf.buffer, 'contiguous view is zero-copy');
    assert.notEqual(views.get('transposed')!.data.buffer, buf.buffer, 'strided view is copied');
    assert.deepEqual(rawTensorToNumbers(views.get('expanded')!), [0, 1, 2, 0, 1, 2]);
  });

  it('loads files (sync and async), naming the path in errors', async () => {
    assertMatchesExpected(await loadTorchFile(fixturePath('dtypes.pt')), EXPECTED['dtypes.pt']!.tensors);
    assertMatchesExpected(loadTorchFileSync(fixturePath('views.pt')), EXPECTED['views.pt']!.tensors);
    await assert.rejects(loadTorchFile(fixturePath('legacy.pt')), (err: Error) => {
      assert.ok(err.message.includes(fixturePath('legacy.pt')), err.message);
      assert.match(err.message, /legacy/);
      return true;
    });
  });

  it('refuses to run the os.system payload of a malicious checkpoint', () => {
    rejects(() => loadTorchFileSync(fixturePath('malicious.pt')), /malicious\.pt/, /'posix\.system' is not allowed/);
  });

  describe('rejects malicious and malformed pickles', () => {
    const load =
      (pkl: Uint8Array, storages: Record<string, Uint8Array> = {}) =>
      () =>
        loadTorchStateDict(buildTorchZip(pkl, storages), 'evil.pt');
    const callWith = (module: string, name: string) =>
      new PickleWriter().proto().global(module, name).str('id').op(0x85).reduce().stop().bytes();

    it('disallowed globals, whatever the opcode', () => {
      for (const [m, n] of [
        ['os', 'system'],
        ['builtins', 'eval'],
        ['subprocess', 'Popen'],
        ['torch', 'load'],
        ['torch._utils', '_rebuild_device_tensor_from_numpy'],
      ]) {
        rejects(load(callWith(m!, n!)), /evil\.pt/, new RegExp(`'${m}\\.${n}' is not allowed`));
      }
      const stackGlobal = new PickleWriter().proto(4).stackGlobal('builtins', 'exec').str('x').op(0x85).reduce().stop();
      rejects(load(stackGlobal.bytes()), /'builtins\.exec' is not allowed/);
      rejects(load(callWith('__torch__.Net', 'Net')), /TorchScript/);
    });

    it('calls to allowed names that are not callables, and other refused opcodes', () => {
      rejects(load(callWith('torch', 'FloatStorage')), /cannot call global torch\.FloatStorage/);
      rejects(
        load(
          new PickleWriter()
            .proto()
            .op(0x69)
            .op(...Buffer.from('os\nsystem\n'))
            .stop()
            .bytes(),
        ),
        /unsupported opcode INST/,
      );
      rejects(load(new PickleWriter().proto().mark().op(0x6f).stop().bytes()), /unsupported opcode OBJ/);
      rejects(load(new PickleWriter().proto().op(0x82, 1).stop().bytes()), /unsupported opcode EXT1/);
      rejects(load(new PickleWriter().proto().op(0xff).bytes()), /unknown opcode 0xff/);
      rejects(load(new PickleWriter().proto().emptyDict().get(7).stop().bytes()), /memo key 7/);
      rejects(load(new PickleWriter().proto().setItem().bytes()), /stack underflow/);
    });

    it('truncated pickles', () => {
      rejects(load(new PickleWriter().proto().emptyDict().bytes()), /evil\.pt/, /no STOP/);
      rejects(load(new PickleWriter().proto().op(0x58, 0xff, 0xff, 0, 0).bytes()), /truncated pickle/);
    });

    it('top-level objects that are not dicts', () => {
      const t = new PickleWriter().proto().tensor('FloatStorage', '0', 1, 0, [1], [1]).stop();
      rejects(load(t.bytes(), { '0': float32Bytes([1]) }), /evil\.pt/, /expected a dict/);
    });

    const dictOf = (...items: ((w: PickleWriter) => PickleWriter)[]) => {
      const w = new PickleWriter().proto().emptyDict();
      for (const item of items) item(w).setItem();
      return w.stop().bytes();
    };

    it('storages that are missing, short or of unsupported types', () => {
      const pkl = dictOf((w) => w.str('w').tensor('FloatStorage', '0', 4, 0, [4], [1]));
      rejects(load(pkl), /evil\.pt/, /tensor 'w'/, /storage '0' is missing/);
      rejects(load(pkl, { '0': float32Bytes([1, 2]) }), /tensor 'w'/, /holds 8 bytes but is declared as 4 float32/);
      const complex = dictOf((w) => w.str('w').tensor('ComplexFloatStorage', '0', 1, 0, [1], [1]));
      rejects(load(complex, { '0': new Uint8Array(8) }), /'torch\.ComplexFloatStorage' is not allowed/);
      const dotted = dictOf((w) => w.str('w').tensor('FloatStorage', '../0', 1, 0, [1], [1]));
      rejects(load(dotted, { '0': float32Bytes([1]) }), /missing/);
    });

    it('views that reach outside their storage', () => {
      const pkl = dictOf((w) => w.str('w').tensor('FloatStorage', '0', 4, 2, [2, 2], [2, 1]));
      rejects(
        load(pkl, { '0': float32Bytes([1, 2, 3, 4]) }),
        /evil\.pt/,
        /tensor 'w'/,
        /reaches element 5 of storage '0' which has 4/,
      );
    });

    it('keys that collide once flattened', () => {
      const pkl = dictOf(
        (w) => w.str('a.b').tensor('FloatStorage', '0', 1, 0, [], []),
        (w) => w.str('a').emptyDict().str('b').tensor('FloatStorage', '0', 1, 0, [], []).setItem(),
      );
      rejects(load(pkl, { '0': float32Bytes([1]) }), /same key 'a\.b'/);
    });

    it('one storage handed out many times through the memo is refused; tied weights are not', () => {
      const n = 262_144; // 1 MiB of float32
      const aliased = (copies: number): Uint8Array => {
        const w = new PickleWriter()
          .proto()
          .emptyDict()
          .str('w0')
          .tensor('FloatStorage', '0', n, 0, [n], [1])
          .put(50)
          .setItem();
        for (let i = 1; i < copies; i++) w.str(`w${i}`).get(50).setItem();
        return w.stop().bytes();
      };
      const storage = { '0': new Uint8Array(4 * n) };
      rejects(
        load(aliased(10), storage),
        /evil\.pt/,
        new RegExp(
          /tensors add up to more than \d+ bytes, over 2x the file's \d+: storages shared by too many /.source +
            /tensors, or compressed far past their size \(at 'w\d'\)/.source,
        ),
      );
      const tied = load(aliased(2), storage)();
      assert.deepEqual([...tied.keys()], ['w0', 'w1']);
    });

    it('survives self-referencing containers', () => {
      const pkl = new PickleWriter().proto().emptyDict().str('l').emptyList().put(1).get(1).append().setItem().stop();
      assert.equal(load(pkl.bytes())().size, 0);
    });

    it('refuses containers shared into exponentially many paths, in bounded time', () => {
      // L0 = [], L(i) = [L(i-1), L(i-1)] through the memo: 2^60 leaves from a few hundred bytes.
      const w = new PickleWriter().proto().emptyDict().str('l').emptyList().put(1).op(0x30); // POP: kept in the memo
      for (let i = 1; i <= 60; i++) {
        w.emptyList()
          .put(i + 1)
          .mark()
          .get(i)
          .get(i)
          .op(0x65); // APPENDS
        if (i < 60) w.op(0x30);
      }
      const pkl = w.setItem().stop().bytes();
      assert.ok(pkl.byteLength < 1000, `${pkl.byteLength} bytes`);
      const t0 = performance.now();
      rejects(load(pkl), /evil\.pt/, /visits more than \d+ values from a \d+-byte pickle/);
      assert.ok(performance.now() - t0 < 5000, 'refused quickly');
    });
  });

  describe('zip handling', () => {
    const pkl = new PickleWriter()
      .proto()
      .emptyDict()
      .str('w')
      .tensor('FloatStorage', '0', 6, 0, [2, 3], [3, 1])
      .setItem()
      .str('t')
      .tensor('FloatStorage', '0', 6, 1, [2, 2], [1, 3])
      .setItem()
      .stop()
      .bytes();
    const storage = float32Bytes([0, 1, 2, 3, 4, 5]);
    const expectGood = (m: Map<string, RawTensor>) => {
      assert.deepEqual(rawTensorToNumbers(m.get('w')!), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(rawTensorToNumbers(m.get('t')!), [1, 4, 2, 5]);
    };

    it('reads ZIP64 central directories and deflated entries', () => {
      expectGood(loadTorchStateDict(buildTorchZip(pkl, { '0': storage }, [], { zip64: true })));
      expectGood(loadTorchStateDict(buildTorchZip(pkl, { '0': storage }, [], { deflate: true, zip64: true })));
    });

    it('a deflated storage that would inflate far past the file is refused before it is inflated', () => {
      const n = 4 << 20; // 16 MiB of zeros deflate to about 16 KiB
      const big = new PickleWriter()
        .proto()
        .emptyDict()
        .str('w')
        .tensor('FloatStorage', '0', n, 0, [n], [1])
        .setItem()
        .stop()
        .bytes();
      const file = buildTorchZip(big, { '0': new Uint8Array(4 * n) }, [], { deflate: true });
      assert.ok(file.byteLength < 1 << 20, `the bomb is ${file.byteLength} bytes`);
      rejects(() => loadTorchStateDict(file, 'bomb.pt'), /bomb\.pt/, /compressed far past their size \(at 'w'\)/);
    });

    it('byte-swaps big-endian archives without touching the input', () => {
      const be = new Uint8Array(storage);
      for (let i = 0; i < be.length; i += 4) be.subarray(i, i + 4).reverse();
      const buf = buildTorchZip(pkl, { '0': be }, [{ name: 'archive/byteorder', data: 'big' }]);
      const copy = buf.slice();
      expectGood(loadTorchStateDict(buf));
      assert.deepEqual(buf, copy);
      rejects(
        () => loadTorchStateDict(buildTorchZip(pkl, { '0': storage }, [{ name: 'archive/byteorder', data: 'middle' }])),
        /byteorder/,
      );
    });

    it('truncated archives', () => {
      const full = fixture('model_state_dict.pt');
      for (const cut of [10, 100, full.byteLength / 2, full.byteLength - 30, full.byteLength - 1]) {
        rejects(() => loadTorchStateDict(full.subarray(0, Math.floor(cut)), 'cut.pt'), /cut\.pt/);
      }
      rejects(() => loadTorchStateDict(new Uint8Array(0), 'cut.pt'), /cut\.pt/, /not a zip/);
    });

    it('corrupt entries', () => {
      const good = buildTorchZip(pkl, { '0': storage });
      const flipped = good.slice();
      const at = Buffer.from(flipped).indexOf('archive/data/0') + 'archive/data/0'.length + 2;
      flipped[at] = flipped[at]! ^ 0xff;
      rejects(
        () => loadTorchStateDict(flipped, 'crc.pt'),
        /crc\.pt/,
        /tensor 'w'/,
        /CRC-32 mismatch in entry 'archive\/data\/0'/,
      );
      const bomb = buildZip([
        { name: 'archive/data.pkl', data: pkl },
        { name: 'archive/data/0', data: new Uint8Array(1 << 20), deflate: true, uncompressedSize: 24 },
      ]);
      rejects(() => loadTorchStateDict(bomb), /tensor 'w'/, /cannot inflate 'archive\/data\/0'/);
      const dup = buildZip([
        { name: 'archive/data.pkl', data: pkl },
        { name: 'archive/data.pkl', data: pkl },
      ]);
      rejects(() => new ZipArchive(dup, 'dup.zip'), /dup\.zip/, /duplicate entry/);
      rejects(
        () => loadTorchStateDict(buildZip([{ name: 'model/weights.bin', data: 'x' }])),
        /no <archive>\/data\.pkl/,
      );
    });
  });
});
