// dml prepare: turns downloaded originals into the reference's train/test(/query/gallery) lists.
import { parseArgs } from 'node:util';
import {
  prepareCars,
  prepareCub,
  prepareInShop,
  prepareSop,
  type Prepared,
  type PrepareOptions,
} from '../ml/data/prepare/index.js';

const PREPARERS: Record<string, (root: string, o: PrepareOptions) => Prepared> = {
  cub: prepareCub,
  cars: prepareCars,
  sop: prepareSop,
  inshop: prepareInShop,
};

const HELP = `usage: dml prepare cub|cars|sop|inshop --root DIR [--out DIR] [--no-verify]

  cub     CUB_200_2011/images.txt + image_class_labels.txt: classes 1-100 train, 101-200 test
  cars    cars_annos.mat (MATLAB v5): classes 1-98 train, 99-196 test
  sop     Stanford_Online_Products/Ebay_train.txt, Ebay_test.txt
  inshop  Eval/list_eval_partition.txt: train, query and gallery with one shared class map

Writes path,label list files (train.txt, test.txt or query.txt + gallery.txt) into --out (default:
the dataset folder), then train with: dml train --preset NAME data.root=DIR
`;

export const command = {
  summary: 'write the train/test lists of CUB, Cars-196, SOP or In-Shop',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        root: { type: 'string' },
        out: { type: 'string' },
        'no-verify': { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const name = positionals[0];
    const prepare = name ? PREPARERS[name] : undefined;
    if (!prepare) {
      console.error(`dml prepare: name a dataset (cub, cars, sop, inshop)${name ? `, not '${name}'` : ''}\n${HELP}`);
      return 2;
    }
    if (!values.root) {
      console.error(`dml prepare: --root is required\n${HELP}`);
      return 2;
    }
    const r = prepare(values.root, { outDir: values.out, verify: !values['no-verify'] });
    if (values.quiet) return 0;
    for (const [split, l] of Object.entries(r.lists))
      console.log(`${split}: ${l.count} images of ${l.classes} classes → ${l.file}`);
    console.log(`next: dml train --preset ${name} data.root=${r.outDir}`);
    return 0;
  },
};
