import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { prepareCars, prepareCub, prepareInShop, prepareSop } from '../../../src/ml/data/prepare/index.js';
import { readList, readLists } from '../../../src/ml/data/list.js';
import { tempDir, writeImage, writeMat, writeText, type MatIn } from './helpers.js';

const tmp = tempDir('prepare');
after(tmp.cleanup);

const lines = (f: string): string[] => readFileSync(f, 'utf8').trim().split('\n');

test('CUB-200-2011: classes 1-100 train, 101-200 test, paths under images/', async () => {
  const root = path.join(tmp.dir, 'cub');
  const dir = path.join(root, 'CUB_200_2011');
  const imgs = [
    '001.Black_footed_Albatross/a_1.jpg',
    '002.Laysan_Albatross/b_2.jpg',
    '100.Brown_Pelican/c_3.jpg',
    '101.White_Pelican/d_4.jpg',
    '200.Common_Yellowthroat/e_5.jpg',
  ];
  writeText(path.join(dir, 'images.txt'), imgs.map((p, i) => `${i + 1} ${p}`).join('\n') + '\n');
  writeText(
    path.join(dir, 'image_class_labels.txt'),
    imgs.map((p, i) => `${i + 1} ${Number(p.slice(0, 3))}`).join('\n') + '\n',
  );
  for (const [i, p] of imgs.entries()) await writeImage(path.join(dir, 'images', p), 20 + i, 16, { seed: i });

  const r = prepareCub(root);
  assert.equal(r.root, dir);
  assert.deepEqual(lines(r.lists['train']!.file), [
    'images/001.Black_footed_Albatross/a_1.jpg,0',
    'images/002.Laysan_Albatross/b_2.jpg,1',
    'images/100.Brown_Pelican/c_3.jpg,99',
  ]);
  assert.deepEqual(lines(r.lists['test']!.file), [
    'images/101.White_Pelican/d_4.jpg,100',
    'images/200.Common_Yellowthroat/e_5.jpg,199',
  ]);
  assert.deepEqual([r.lists['train']!.count, r.lists['train']!.classes, r.lists['test']!.count], [3, 3, 2]);
  // The list reader resolves them back to the images, and makes test labels contiguous.
  const testList = readList(r.lists['test']!.file);
  assert.ok(testList.samples.every((s) => existsSync(s.path)));
  assert.deepEqual(
    testList.samples.map((s) => s.label),
    [0, 1],
  );
  assert.deepEqual(testList.classNames, ['100', '199']);

  // Lists elsewhere get paths relative to themselves.
  const out = path.join(tmp.dir, 'cub-lists');
  const r2 = prepareCub(dir, { outDir: out });
  assert.equal(lines(r2.lists['train']!.file)[0], '../cub/CUB_200_2011/images/001.Black_footed_Albatross/a_1.jpg,0');
  assert.ok(readList(r2.lists['train']!.file).samples.every((s) => existsSync(s.path)));

  // A class that contradicts nothing but is out of range, and missing images, are reported.
  writeText(path.join(dir, 'image_class_labels.txt'), '1 1\n2 2\n3 100\n4 101\n5 201\n');
  assert.throws(() => prepareCub(root), /images\.txt:5: class 201 is outside 1\.\.200/);
  writeText(
    path.join(dir, 'image_class_labels.txt'),
    imgs.map((p, i) => `${i + 1} ${Number(p.slice(0, 3))}`).join('\n'),
  );
  rmSync(path.join(dir, 'images', imgs[1]!));
  assert.throws(() => prepareCub(root), /1 of 5 listed images are missing, e\.g\. .*b_2\.jpg \(.*images\.txt:2\)/);
  assert.doesNotThrow(() => prepareCub(root, { verify: false, outDir: path.join(tmp.dir, 'cub-noverify') }));
  assert.throws(() => prepareCub(tmp.dir), /not a CUB-200-2011 folder/);
});

function carsAnnotations(entries: Array<[string, number]>): Record<string, MatIn> {
  return {
    annotations: {
      fields: ['relative_im_path', 'bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'test'],
      struct: entries.map(([p, c], i) => ({
        relative_im_path: { char: p },
        bbox_x1: { double: [1] },
        bbox_y1: { double: [2] },
        bbox_x2: { double: [30] },
        bbox_y2: { double: [20] },
        class: { double: [c], asUint8: c < 256 },
        test: { double: [i % 2], asUint8: true },
      })),
    },
    class_names: { cell: [{ char: 'AM General Hummer SUV 2000' }] },
  };
}

test('Cars-196 from cars_annos.mat (compressed and not): classes 1-98 train, 99-196 test', async () => {
  const entries: Array<[string, number]> = [
    ['car_ims/000001.jpg', 1],
    ['car_ims/000002.jpg', 99],
    ['car_ims/000003.jpg', 98],
    ['car_ims/000004.jpg', 196],
  ];
  for (const compress of [true, false]) {
    const root = path.join(tmp.dir, `cars-${compress}`);
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, 'cars_annos.mat'), writeMat(carsAnnotations(entries), compress));
    for (const [i, [p]] of entries.entries()) await writeImage(path.join(root, p), 24, 18, { seed: i });
    const r = prepareCars(root);
    assert.deepEqual(lines(r.lists['train']!.file), ['car_ims/000001.jpg,0', 'car_ims/000003.jpg,97']);
    assert.deepEqual(lines(r.lists['test']!.file), ['car_ims/000002.jpg,98', 'car_ims/000004.jpg,195']);
  }
  // A repeated path keeps its first position and its last label, as the reference's dict does.
  const root = path.join(tmp.dir, 'cars-true');
  writeFileSync(
    path.join(root, 'cars_annos.mat'),
    writeMat(carsAnnotations([...entries, ['car_ims/000001.jpg', 2]]), true),
  );
  assert.deepEqual(lines(prepareCars(root).lists['train']!.file), ['car_ims/000001.jpg,1', 'car_ims/000003.jpg,97']);
  writeFileSync(path.join(root, 'cars_annos.mat'), writeMat(carsAnnotations([['car_ims/000001.jpg', 197]]), true));
  assert.throws(() => prepareCars(root), /cars_annos\.mat: annotations\(1\)\.class: 197 is not a class number/);
  writeFileSync(path.join(root, 'cars_annos.mat'), writeMat({ annotations: { cell: [] } }, false));
  assert.throws(() => prepareCars(root), /expected a struct array 'annotations', found cell/);
  assert.throws(() => prepareCars(tmp.dir), /not a Cars-196 folder/);
});

test('Stanford Online Products: Ebay_train / Ebay_test, label = class_id - 1', async () => {
  const root = path.join(tmp.dir, 'sop-parent');
  const dir = path.join(root, 'Stanford_Online_Products');
  const header = 'image_id class_id super_class_id path\n';
  writeText(
    path.join(dir, 'Ebay_train.txt'),
    header + '1 1 1 bicycle_final/111_0.JPG\n2 1 1 bicycle_final/111_1.JPG\n3 11318 12 toaster_final/999_0.JPG\n',
  );
  writeText(
    path.join(dir, 'Ebay_test.txt'),
    header + '1 11319 1 bicycle_final/222_0.JPG\n2 22634 12 toaster_final/333_0.JPG\n',
  );
  for (const p of [
    'bicycle_final/111_0.JPG',
    'bicycle_final/111_1.JPG',
    'toaster_final/999_0.JPG',
    'bicycle_final/222_0.JPG',
    'toaster_final/333_0.JPG',
  ]) {
    await writeImage(path.join(dir, p), 16, 16, { format: 'jpeg' });
  }
  const r = prepareSop(root);
  assert.deepEqual(lines(r.lists['train']!.file), [
    'bicycle_final/111_0.JPG,0',
    'bicycle_final/111_1.JPG,0',
    'toaster_final/999_0.JPG,11317',
  ]);
  assert.deepEqual(lines(r.lists['test']!.file), ['bicycle_final/222_0.JPG,11318', 'toaster_final/333_0.JPG,22633']);
  writeText(path.join(dir, 'Ebay_test.txt'), header + '1 11319 1\n');
  assert.throws(() => prepareSop(dir), /Ebay_test\.txt:2: expected 4 columns, got 3/);
  writeText(path.join(dir, 'Ebay_test.txt'), 'id class path\n');
  assert.throws(() => prepareSop(dir), /Ebay_test\.txt:1: expected the header/);
});

test('In-Shop: train / query / gallery with one class map in order of first appearance', async () => {
  const root = path.join(tmp.dir, 'inshop');
  const rows = [
    ['img/WOMEN/Dresses/id_00000002/02_1_front.jpg', 'id_00000002', 'train'],
    ['img/MEN/Denim/id_00000080/01_1_front.jpg', 'id_00000080', 'query'],
    ['img/MEN/Denim/id_00000080/01_2_side.jpg', 'id_00000080', 'gallery'],
    ['img/WOMEN/Dresses/id_00000002/02_2_side.jpg', 'id_00000002', 'train'],
    ['img/WOMEN/Skirts/id_00000007/01_1_front.jpg', 'id_00000007', 'train'],
    ['img/MEN/Tees/id_00000090/01_1_front.jpg', 'id_00000090', 'gallery'],
  ];
  writeText(
    path.join(root, 'Eval', 'list_eval_partition.txt'),
    `${rows.length}\nimage_name item_id evaluation_status\n` + rows.map((r) => r.join('       ')).join('\n') + '\n',
  );
  for (const [p] of rows) await writeImage(path.join(root, p!), 16, 16);
  const r = prepareInShop(root);
  assert.deepEqual(lines(r.lists['train']!.file), [`${rows[0]![0]},0`, `${rows[3]![0]},0`, `${rows[4]![0]},2`]);
  assert.deepEqual(lines(r.lists['query']!.file), [`${rows[1]![0]},1`]);
  assert.deepEqual(lines(r.lists['gallery']!.file), [`${rows[2]![0]},1`, `${rows[5]![0]},3`]);
  const { lists } = readLists([r.lists['query']!.file, r.lists['gallery']!.file]);
  assert.equal(lists[0]![0]!.label, lists[1]![0]!.label);

  writeText(
    path.join(root, 'Eval', 'list_eval_partition.txt'),
    `7\nimage_name item_id evaluation_status\n` + rows.map((r) => r.join(' ')).join('\n'),
  );
  assert.throws(() => prepareInShop(root), /list_eval_partition\.txt:1: declares 7 images, the file lists 6/);
  writeText(path.join(root, 'Eval', 'list_eval_partition.txt'), `1\nheader\nimg/a.jpg id_1 val\n`);
  assert.throws(
    () => prepareInShop(root),
    /list_eval_partition\.txt:3: evaluation_status must be train, query or gallery, got 'val'/,
  );
  assert.throws(() => prepareInShop(tmp.dir), /no list_eval_partition\.txt found/);
});
