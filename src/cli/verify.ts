// dml verify: checks the tensor checksums of a run's checkpoints (or of one file); exit 1 if any is damaged.
import { parseArgs } from 'node:util';
import { checkpointFilesOf, verifyFile } from '../ml/run/verify.js';

const HELP = `usage: dml verify RUN_DIR|FILE...

Reads every .safetensors checkpoint of a run folder (or each file given) whole and checks each
tensor against the SHA-256 its metadata records. Prints one line per file: ok, unchecked (readable,
but written without checksums: an older dml-ts or another tool) or DAMAGED (with the file and the
tensor). Exit status 0 when none is damaged, 1 otherwise.
`;

export const command = {
  summary: "check the tensor checksums of a run's checkpoints",
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length === 0) {
      console.error('dml verify: name a run folder or a checkpoint file\n' + HELP);
      return 2;
    }
    let damaged = 0;
    for (const target of positionals) {
      for (const file of checkpointFilesOf(target)) {
        const r = verifyFile(file);
        console.log(r.line);
        if (r.status === 'damaged') damaged++;
      }
    }
    return damaged > 0 ? 1 : 0;
  },
};
