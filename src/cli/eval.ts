// dml eval: Recall@K (cosine and Euclidean), MAP@R, R-Precision, P@1 and NMI of a checkpoint.
import { parseArgs } from 'node:util';
import { dispose } from '../engine/index.js';
import { evaluateRetrieval } from '../ml/eval/index.js';
import { loadEmbedder } from '../ml/train/load.js';
import { resolveConfig, toOverrides } from '../ml/train/config.js';
import { openDatasets } from '../ml/train/datasets.js';
import { embedSource } from '../ml/train/embed.js';
import { formatRecallTable } from './train.js';

const HELP = `usage: dml eval --checkpoint FILE [--json] [key=value ...]

Evaluates a checkpoint on the test split of the dataset it was trained on (key=value overrides
change the data settings, e.g. data.root=DIR recallKs=1,10,100).
`;

export const command = {
  summary: 'evaluate a checkpoint (Recall@K, MAP@R, NMI)',
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv, allowPositionals: true,
      options: { checkpoint: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) { console.log(HELP); return 0; }
    if (!values.checkpoint) { console.error(`dml eval: --checkpoint is required\n${HELP}`); return 2; }
    const { model, config, epoch } = loadEmbedder(values.checkpoint);
    try {
      const cfg = resolveConfig({ preset: config.preset, overrides: [
        ...toOverrides({ data: config.data, recallKs: config.recallKs }), ...positionals] });
      const ds = await openDatasets(cfg);
      const { test, description } = ds;
      let q = null, g = null;
      try {
        q = await embedSource(model, test.query);
        g = test.gallery ? await embedSource(model, test.gallery) : null;
        const report = evaluateRetrieval(q, g, { ks: cfg.recallKs });
        if (values.json) console.log(JSON.stringify(report));
        else {
          console.log(`${values.checkpoint} (epoch ${epoch}) on ${description}`);
          console.log(formatRecallTable(report));
          const f = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : v.toFixed(2));
          console.log(`MAP@R ${f(report.mapAtR)}  R-Precision ${f(report.rPrecision)}  P@1 ${f(report.precisionAt1)}  NMI ${f(report.nmi)}`);
        }
      } finally {
        dispose([q, g]);
        await ds.close();
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
