// A folder to embed: class subfolders (labelled), or a flat folder of images (no classes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { readFolderImages } from '../../../src/ml/data/image-files.js';
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
