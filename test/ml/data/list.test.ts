import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { labelsOf, readImageFolder, readList, readLists } from '../../../src/ml/data/list.js';
import { tempDir, writeText } from './helpers.js';

const tmp = tempDir('list');
after(tmp.cleanup);

test('readList: comments, blank lines, a header, CRLF, relative and absolute paths', () => {
  const f = path.join(tmp.dir, 'sub', 'train.txt');
  writeText(
    f,
    '# made by hand\r\npath,label\r\n\r\nimages/a.jpg,100\r\n  images/b,c.jpg , ' +
      '5\r\n/abs/x.png,100\r\nimages/d.jpg,7\r\n',
  );
  const { samples, classNames } = readList(f);
  assert.deepEqual(classNames, ['5', '7', '100']);
  assert.deepEqual(samples, [
    { path: path.join(tmp.dir, 'sub', 'images/a.jpg'), label: 2, where: `${f}:4` },
    { path: path.join(tmp.dir, 'sub', 'images/b,c.jpg'), label: 0, where: `${f}:5` },
    { path: '/abs/x.png', label: 2, where: `${f}:6` },
    { path: path.join(tmp.dir, 'sub', 'images/d.jpg'), label: 1, where: `${f}:7` },
  ]);
  assert.deepEqual([...labelsOf(samples)], [2, 0, 2, 1]);
});

test('readList errors name file:line', () => {
  const cases: Array<[string, RegExp]> = [
    ['a.jpg,1\nb.jpg,x\n', /bad1\.txt:2: expected 'path,label' with an integer label, got 'b\.jpg,x'/],
    ['a.jpg,1\nb.jpg\n', /bad2\.txt:2: expected 'path,label'/],
    ['# c\n,3\n', /bad3\.txt:2: expected 'path,label'/],
    ['path,label\nname,class\n', /bad4\.txt:2:/],
    ['# only comments\n\n', /bad5\.txt: the list has no samples/],
    ['a.jpg,1.5\n', /bad6\.txt:1:/],
  ];
  cases.forEach(([text, re], i) => {
    const f = path.join(tmp.dir, `bad${i + 1}.txt`);
    writeText(f, text);
    assert.throws(() => readList(f), re);
  });
  assert.throws(() => readList(path.join(tmp.dir, 'missing.txt')), /missing\.txt: cannot read list file/);
});

test('readLists shares one class map across files (query / gallery)', () => {
  const q = path.join(tmp.dir, 'query.txt'),
    g = path.join(tmp.dir, 'gallery.txt');
  writeText(q, 'q1.jpg,3997\nq2.jpg,4001\n');
  writeText(g, 'g1.jpg,4001\ng2.jpg,3999\ng3.jpg,3997\n');
  const { lists, classNames } = readLists([q, g]);
  assert.deepEqual(classNames, ['3997', '3999', '4001']);
  assert.deepEqual(
    lists.map((l) => l.map((s) => s.label)),
    [
      [0, 2],
      [2, 1, 0],
    ],
  );
});

test('readImageFolder: sorted class folders, nested images, other files ignored', () => {
  const root = path.join(tmp.dir, 'tree');
  for (const f of [
    'b_cat/2.jpg',
    'b_cat/1.PNG',
    'b_cat/notes.txt',
    'a_dog/x/deep.jpeg',
    'a_dog/top.webp',
    'C_upper/z.jpg',
  ])
    writeText(path.join(root, f), '');
  writeText(path.join(root, 'stray.jpg'), '');
  mkdirSync(path.join(root, 'empty_class'));
  const { samples, classNames } = readImageFolder(root);
  // Code-point order, as Python's sorted(): upper case first.
  assert.deepEqual(classNames, ['C_upper', 'a_dog', 'b_cat', 'empty_class']);
  assert.deepEqual(
    samples.map((s) => [path.relative(root, s.path), s.label]),
    [
      ['C_upper/z.jpg', 0],
      ['a_dog/top.webp', 1],
      ['a_dog/x/deep.jpeg', 1],
      ['b_cat/1.PNG', 2],
      ['b_cat/2.jpg', 2],
    ],
  );
  assert.throws(() => readImageFolder(path.join(tmp.dir, 'nope')), /nope: cannot list image folder/);
  const flat = path.join(tmp.dir, 'flat');
  writeText(path.join(flat, 'a.jpg'), '');
  assert.throws(() => readImageFolder(flat), /flat: no class subfolders/);
  const noImages = path.join(tmp.dir, 'noimg');
  writeText(path.join(noImages, 'k/readme.md'), '');
  assert.throws(() => readImageFolder(noImages), /no images with extensions/);
});
