// dml prepare: turns downloaded originals into the reference's train/test(/query/gallery) lists.
import { parseArgs } from 'node:util';
import { DATASET_SPECS } from '../ml/run/datasets/index.js';

/** The datasets whose files declare a preparer, by kind. */
const PREPARABLE = DATASET_SPECS.flatMap((s) => (s.prepare ? [{ kind: s.kind, ...s.prepare }] : []));
const NAMES = PREPARABLE.map((p) => p.kind);

const HELP = `usage: dml prepare ${NAMES.join('|')} --root DIR [--out DIR] [--no-verify]

${PREPARABLE.map((p) => `  ${p.kind.padEnd(6)}  ${p.help}`).join('\n')}

Writes path,label list files (train.txt, test.txt or query.txt + gallery.txt) into --out (default:
the dataset folder), then train with: dml train --preset NAME data.root=DIR
`;

export const command = {
  summary: `write the train/test lists of ${NAMES.join(', ')} from their downloads`,
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
    const prepare = PREPARABLE.find((p) => p.kind === name)?.run;
    if (!prepare) {
      console.error(`dml prepare: name a dataset (${NAMES.join(', ')})${name ? `, not '${name}'` : ''}\n${HELP}`);
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
