import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import path from 'node:path';
import { charRows, matNumber, matString, parseMat, readMat, type MatValue } from '../../../src/ml/data/matlab.js';
import { MATLAB_FILES } from './matlab-fixtures.js';
import { tempDir, writeMat } from './helpers.js';

const tmp = tempDir('mat');
after(tmp.cleanup);

function real(name: string): Map<string, MatValue> {
  return parseMat(Buffer.from(MATLAB_FILES[name]!, 'base64'), name);
}

test('struct arrays written by MATLAB: compressed v7, v6, and big-endian v6 all read the same', () => {
  for (const name of ['teststructarr_7.4_GLNX86', 'teststructarr_6.5.1_GLNX86', 'teststructarr_6.1_SOL2']) {
    const v = real(name).get('teststructarr');
    assert.ok(v && v.kind === 'struct', name);
    assert.deepEqual(v.dims, [1, 2]);
    assert.deepEqual(v.fieldNames, ['one', 'two']);
    assert.equal(matNumber(v.elements[0]!['one']), 1);
    assert.equal(matNumber(v.elements[0]!['two']), 2);
    assert.equal(matString(v.elements[1]!['one']), 'number 1');
    assert.equal(matString(v.elements[1]!['two']), 'number 2');
  }
});

test('char matrices, nested cells, complex fields, N-d arrays, sparse, opaque objects', () => {
  const sa = real('teststringarray_7.4_GLNX86').get('teststringarray');
  assert.ok(sa && sa.kind === 'char');
  assert.deepEqual(charRows(sa), ['one  ', 'two  ', 'three']);

  const cn = real('testcellnest_7.4_GLNX86').get('testcellnest');
  assert.ok(cn && cn.kind === 'cell');
  const inner = cn.cells[1]!;
  assert.ok(inner.kind === 'cell');
  const innermost = inner.cells[2]!;
  assert.ok(innermost.kind === 'cell');
  assert.deepEqual(
    [
      matNumber(cn.cells[0]),
      matNumber(inner.cells[0]),
      matNumber(inner.cells[1]),
      matNumber(innermost.cells[0]),
      matNumber(innermost.cells[1]),
    ],
    [1, 2, 3, 4, 5],
  );

  const st = real('teststruct_7.4_GLNX86').get('teststruct');
  assert.ok(st && st.kind === 'struct');
  assert.equal(matString(st.elements[0]!['stringfield']), 'Rats live on no evil star.');
  const cf = st.elements[0]!['complexfield'];
  assert.ok(cf && cf.kind === 'numeric' && cf.imag);
  assert.deepEqual(
    [...cf.real].map((x) => +x.toFixed(6)),
    [Math.SQRT2, Math.E, Math.PI].map((x) => +x.toFixed(6)),
  );
  assert.deepEqual([...cf.imag], [...cf.real]);

  const m3 = real('test3dmatrix_7.4_GLNX86').get('test3dmatrix');
  assert.ok(m3 && m3.kind === 'numeric');
  assert.deepEqual(m3.dims, [2, 3, 4]);
  assert.deepEqual(
    [...m3.real],
    Array.from({ length: 24 }, (_, i) => i + 1),
  );

  const sp = real('testsparsecomplex_6.1_SOL2').get('testsparsecomplex');
  assert.ok(sp && sp.kind === 'sparse' && sp.imag);
  assert.deepEqual(sp.dims, [3, 5]);
  assert.deepEqual([...sp.jc], [0, 3, 4, 5, 6, 7]);
  assert.deepEqual([...sp.real], [1, 2, 3, 2, 3, 4, 5]);
  assert.equal(sp.imag[0], 1);

  // MATLAB `string` objects are opaque: reported, not fatal for the rest of the file.
  const ws = real('testmatlabstring_7_WIN64');
  assert.deepEqual(ws.get('matstring1'), { kind: 'unsupported', classCode: 17 });
  assert.deepEqual(ws.get('matstring2'), { kind: 'unsupported', classCode: 17 });
});

test('a Cars-style annotations file from the test writer, compressed and not', () => {
  const annotations = {
    fields: ['relative_im_path', 'bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'test'],
    struct: [
      {
        relative_im_path: { char: 'car_ims/000001.jpg' },
        bbox_x1: { double: [112] },
        bbox_y1: { double: [7] },
        bbox_x2: { double: [853] },
        bbox_y2: { double: [717] },
        class: { double: [1], asUint8: true },
        test: { double: [0], asUint8: true },
      },
      {
        relative_im_path: { char: 'car_ims/000002.jpg', utf8: true },
        bbox_x1: { double: [48] },
        bbox_y1: { double: [24] },
        bbox_x2: { double: [441] },
        bbox_y2: { double: [202] },
        class: { double: [196] },
        test: { double: [1] },
      },
    ],
  };
  for (const compress of [false, true]) {
    const f = path.join(tmp.dir, `annos-${compress}.mat`);
    writeFileSync(
      f,
      writeMat(
        {
          annotations,
          class_names: { cell: [{ char: 'AM General Hummer SUV 2000' }, { char: 'Acura RL Sedan 2012' }] },
        },
        compress,
      ),
    );
    const vars = readMat(f);
    assert.deepEqual([...vars.keys()], ['annotations', 'class_names']);
    const a = vars.get('annotations');
    assert.ok(a && a.kind === 'struct');
    assert.deepEqual(a.fieldNames, annotations.fields);
    assert.deepEqual(
      a.elements.map((e) => [matString(e['relative_im_path']), matNumber(e['class']), matNumber(e['bbox_x2'])]),
      [
        ['car_ims/000001.jpg', 1, 853],
        ['car_ims/000002.jpg', 196, 441],
      ],
    );
    const cls = vars.get('class_names');
    assert.ok(cls && cls.kind === 'cell');
    assert.equal(matString(cls.cells[1]), 'Acura RL Sedan 2012');
  }
});

test('damaged and unsupported files fail with the file name and offset', () => {
  const good = Buffer.from(MATLAB_FILES['teststructarr_6.5.1_GLNX86']!, 'base64');
  const write = (name: string, b: Uint8Array): string => {
    const f = path.join(tmp.dir, name);
    writeFileSync(f, b);
    return f;
  };
  assert.throws(
    () => readMat(write('short.mat', good.subarray(0, 100))),
    /short\.mat: too short for a MAT-file header/,
  );
  assert.throws(
    () => readMat(write('trunc.mat', good.subarray(0, 300))),
    /trunc\.mat: offset 128: element of type 14 claims 336 bytes, only 164 left/,
  );
  const v4 = Buffer.from(good);
  v4.write('xx', 126, 'latin1');
  assert.throws(() => readMat(write('v4.mat', v4)), /v4\.mat: not a Level 5 MAT-file/);
  const v73 = Buffer.from(good);
  v73.write('MATLAB 7.3 MAT-file', 0, 'latin1');
  assert.throws(() => readMat(write('v73.mat', v73)), /v73\.mat: MAT v7\.3 \(HDF5\) files are not supported/);
  const z = Buffer.from(MATLAB_FILES['teststructarr_7.4_GLNX86']!, 'base64');
  z[140] = z[140]! ^ 0xff;
  assert.throws(() => readMat(write('zlib.mat', z)), /zlib\.mat: offset 128: corrupt compressed variable/);
  assert.throws(() => readMat(path.join(tmp.dir, 'absent.mat')), /absent\.mat: cannot read MAT-file/);
  assert.throws(
    () =>
      matString({ kind: 'numeric', class: 'double', dims: [1, 1], real: Float64Array.of(1), logical: false }, 'x.path'),
    /x\.path: expected a char array, got numeric/,
  );
});

test('a compressed variable is inflated no further than its tag announces, within a ratio of its size', () => {
  // A MAT header, then a miCOMPRESSED element around the given inner bytes.
  const file = (inner: Buffer): Buffer => {
    const head = Buffer.alloc(128, 0x20);
    head.writeUInt16LE(0x0100, 124);
    head.write('IM', 126, 'latin1');
    const z = deflateSync(inner, { level: 9 });
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0); // miCOMPRESSED
    tag.writeUInt32LE(z.length, 4);
    return Buffer.concat([head, tag, z]);
  };
  const matrixTag = (nbytes: number): Buffer => {
    const t = Buffer.alloc(8);
    t.writeUInt32LE(14, 0); // miMATRIX
    t.writeUInt32LE(nbytes, 4);
    return t;
  };
  // 64 MiB of zeros that the tag honestly announces: ~1000× its compressed size.
  const honest = file(Buffer.concat([matrixTag(64 << 20), Buffer.alloc(64 << 20)]));
  assert.throws(
    () => parseMat(honest, 'bomb.mat'),
    /bomb\.mat: offset 128: its tag announces 67108872 bytes from \d+ compressed bytes, more than 100×/,
  );
  // A tag that announces 64 bytes, followed by 1 MiB more in the stream: refused at the announced size.
  const lying = file(Buffer.concat([matrixTag(64), Buffer.alloc(1 << 20, 7)]));
  assert.throws(() => parseMat(lying, 'lie.mat'), /lie\.mat: offset 128: decompresses to more than the 72 bytes/);
});
