// dml mi: the mutual-information report of a checkpoint's embeddings (both views of I(Z;Y)).
import { parseArgs } from 'node:util';
import { dispose } from '../engine/index.js';
import { mutualInformation, type MutualInformationReport } from '../ml/mi/index.js';
import { loadEmbedder } from '../ml/train/load.js';
import { resolveConfig, toOverrides } from '../ml/train/config.js';
import { openDatasets } from '../ml/train/datasets.js';
import { embedWithLogits } from '../ml/train/embed.js';

const HELP = `usage: dml mi --checkpoint FILE [--split test|train] [--k 3] [--json] [key=value ...]

Estimates I(Z;Y) between the embeddings Z and the labels Y in the paper's two views:
  discriminative  H(Y) - H(Y|Z), with H(Y|Z) the cross-entropy of the model's classifier (train split,
                  whose classes it knows) or of a cross-fitted linear probe (test split: unseen classes)
  generative      H(Z) - H(Z|Y), Kozachenko-Leonenko kNN entropies on PCA-whitened intrinsic coordinates
`;

export function formatMi(r: MutualInformationReport): string {
  const lines = [`n = ${r.n}, classes = ${r.classes}, H(Y) = ${r.hY.nats.toFixed(3)} nats (${r.hY.bits.toFixed(3)} bits)`];
  if (r.discriminative) {
    const d = r.discriminative;
    lines.push(`discriminative (${d.source}): I = H(Y) - CE = ${d.mi.nats.toFixed(3)} nats (${d.mi.bits.toFixed(3)} bits); CE ${d.crossEntropy.nats.toFixed(3)}, accuracy ${(d.accuracy * 100).toFixed(1)}%`);
  }
  if (r.generative) {
    const g = r.generative;
    lines.push(`generative (KL k=${g.k}, ${g.transform} to ${g.dims} dims${g.intrinsicDim !== null ? `, intrinsic dim ${g.intrinsicDim.toFixed(1)}` : ''}): `
      + `I = H(Z) - H(Z|Y) = ${g.hZ.nats.toFixed(3)} - ${g.hZgivenY.nats.toFixed(3)} = ${g.mi.nats.toFixed(3)} nats (${g.mi.bits.toFixed(3)} bits)`);
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

export const command = {
  summary: 'mutual-information report of a checkpoint',
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv, allowPositionals: true,
      options: {
        checkpoint: { type: 'string' }, split: { type: 'string', default: 'test' }, k: { type: 'string', default: '3' },
        json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) { console.log(HELP); return 0; }
    if (!values.checkpoint) { console.error(`dml mi: --checkpoint is required\n${HELP}`); return 2; }
    if (values.split !== 'test' && values.split !== 'train') { console.error(`dml mi: --split must be test or train, got ${values.split}`); return 2; }
    const k = Number(values.k);
    if (!Number.isInteger(k) || k < 1) { console.error(`dml mi: --k must be a positive integer, got ${values.k}`); return 2; }
    const { model, config } = loadEmbedder(values.checkpoint);
    try {
      const cfg = resolveConfig({ preset: config.preset, overrides: [...toOverrides({ data: config.data }), ...positionals] });
      const ds = await openDatasets(cfg);
      const source = values.split === 'train' ? ds.trainEval : ds.test.query;
      let e = null;
      try {
        e = await embedWithLogits(model, source);
        const r = mutualInformation(e.features, e.labels, { logits: values.split === 'train' ? e.logits : undefined, generative: { k } });
        console.log(values.json ? JSON.stringify(r) : `MI report of ${values.checkpoint} on the ${values.split} split\n${formatMi(r)}`);
      } finally {
        dispose(e);
        await ds.close();
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
