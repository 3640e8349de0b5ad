// A folder to embed: class subfolders (labelled), or a flat folder of images (no classes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { readFolderImages, readListImages } from '../../../src/ml/data/image-files.js';
import { tempDir, writeClassFolders } from './helpers.js';

test('a flat folder of images is read without classes; class subfolders as ImageFolder reads them', async () => {
  const { dir, cleanup } = tempDir('flat');
  try {
    const flat = path.join(dir, 'flat');
    await writeClassFolders(dir, ['flat'], 3, 4);
    writeFileSync(path.join(flat, 'notes.txt'), 'not an image');
    const f = readFolderImages(flat);
    assert.deepEqual(
      [f.labelled, f.classNames, f.samples.map((s) => [path.basename(s.path), s.label])],
      [
        false,
        [],
        [
          ['0.png', 0],
          ['1.png', 0],
          ['2.png', 0],
        ],
      ],
    );
    // Class subfolders win; an image beside them is in no class, and said to be left out.
    const warnings: string[] = [];
    const t = readFolderImages(dir, (m) => warnings.push(m));
    assert.deepEqual([t.labelled, t.classNames, t.samples.length], [true, ['flat'], 3]);
    assert.equal(warnings.length, 0);
    writeFileSync(path.join(dir, 'stray.png'), '');
    readFolderImages(dir, (m) => warnings.push(m));
    assert.match(warnings[0]!, /1 image\(s\) beside the class subfolders are in no class and are left out/);
    assert.throws(() => readFolderImages(path.join(dir, 'flat', 'nope')), /cannot list folder/);
  } finally {
    cleanup();
  }
});

test('a list of bare paths is read without classes; path,label lines as readList reads them', () => {
  const { dir, cleanup } = tempDir('plain-list');
  try {
    const plain = path.join(dir, 'plain.txt');
    writeFileSync(plain, '# my photos\na.jpg\n\n/abs/b, with comma.png\n');
    const p = readListImages(plain);
    assert.deepEqual(
      [p.labelled, p.classNames, p.samples.map((s) => s.path)],
      [false, [], [path.join(dir, 'a.jpg'), '/abs/b, with comma.png']],
    );
    const labelled = path.join(dir, 'labelled.txt');
    writeFileSync(labelled, 'a.jpg,3\nb.jpg,7\n');
    const l = readListImages(labelled);
    assert.deepEqual([l.labelled, l.classNames, l.samples.map((s) => s.label)], [true, ['3', '7'], [0, 1]]);
    // Labelled however the lines end (CRLF, trailing blanks), and whichever line has the label.
    writeFileSync(labelled, '# list\r\nc.jpg\r\nd.jpg , -2  \r\n');
    assert.throws(() => readListImages(labelled), /labelled\.txt:2: expected 'path,label' with an integer label/);
    writeFileSync(labelled, 'c.jpg,1\r\nd.jpg , -2 \t\r\n');
    const crlf = readListImages(labelled);
    assert.deepEqual([crlf.labelled, crlf.classNames], [true, ['-2', '1']]);
    writeFileSync(plain, '# nothing\n');
    assert.throws(() => readListImages(plain), /the list has no samples/);
    // Neither bare image paths nor 'path,label' lines: the line that is neither is named.
    writeFileSync(plain, 'a.jpg\n\u0000\u0001binary\n');
    assert.throws(
      () => readListImages(plain),
      /plain\.txt:2: expected an image's path \(a list of bare paths\) or 'path,label' lines, got "\\u0000\\u00/,
    );
  } finally {
    cleanup();
  }
});
