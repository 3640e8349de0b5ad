// dml report: a self-contained HTML report of a training run (curves, metrics, MI, t-SNE, retrieval examples).
import { DEVICE_FLAG, DEVICE_HELP, deviceOption } from './device-option.js';
import { parseArgs } from 'node:util';
import { generateReport } from '../report/index.js';

const HELP = `usage: dml report RUN_DIR [options] [key=value ...]

Writes one self-contained HTML file (inline SVG charts and thumbnails, no external resources)
about a training run: loss and learning-rate curves and Recall@K per epoch from
RUN_DIR/metrics.jsonl, the checkpoint re-evaluated on the test set (Recall@K, MAP@R,
R-Precision, P@1, NMI), mutual information I(Z;Y) (as dml mi computes it), a t-SNE map of
the test embeddings coloured by class, and retrieval examples (top-k neighbours, wrong-class
neighbours marked with a red border and ✗).

options:
  --out FILE             output file (default RUN_DIR/report.html)
  --checkpoint best|last|FILE  which checkpoint embeds the test set (default best)
  --max-points N         test embeddings in the t-SNE map (default 2000)
  --examples N           example queries (default 8, of which --misses among top-1 misses)
  --misses N             example queries drawn among the top-1 misses (default 2)
  --top-k K              neighbours shown per query (default 8)
  --iterations N         t-SNE iterations (default 500)
  --mi-points N          embeddings the MI estimators see (default 2000; the linear probe dominates the time)
  --no-mi                skip mutual information
  --seed S               seed of the subsamples, t-SNE and example picks (default 0)
${DEVICE_HELP}
  -q, --quiet            no progress lines
  -h, --help             this help

key=value arguments override the data settings stored in the checkpoint, e.g. data.root=DIR.
`;

function intOpt(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

class UsageError extends Error {}

export const command = {
  summary: 'write a self-contained HTML report of a training run',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          out: { type: 'string' },
          checkpoint: { type: 'string', default: 'best' },
          'max-points': { type: 'string' },
          examples: { type: 'string' },
          misses: { type: 'string' },
          'top-k': { type: 'string' },
          iterations: { type: 'string' },
          'mi-points': { type: 'string' },
          'no-mi': { type: 'boolean', default: false },
          seed: { type: 'string' },
          quiet: { type: 'boolean', short: 'q', default: false },
          ...DEVICE_FLAG,
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (e) {
      if (String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_')) throw e;
      console.error(`dml report: ${(e as Error).message}\n\n${HELP}`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const [runDir, ...overrides] = positionals;
    if (!runDir) {
      console.error(`dml report: RUN_DIR is required\n\n${HELP}`);
      return 2;
    }
    const bad = overrides.find((a) => !a.includes('='));
    if (bad !== undefined) {
      console.error(`dml report: unexpected argument '${bad}' (one RUN_DIR, then key=value overrides)`);
      return 2;
    }
    let opts;
    try {
      opts = {
        maxPoints: intOpt('max-points', values['max-points'], 2000, 2),
        examples: intOpt('examples', values.examples, 8, 0),
        misses: intOpt('misses', values.misses, 2, 0),
        topK: intOpt('top-k', values['top-k'], 8, 1),
        tsneIterations: intOpt('iterations', values.iterations, 500, 1),
        miMaxPoints: intOpt('mi-points', values['mi-points'], 2000, 10),
        seed: intOpt('seed', values.seed, 0, 0),
      };
    } catch (e) {
      if (e instanceof UsageError) {
        console.error(`dml report: ${e.message}`);
        return 2;
      }
      throw e;
    }
    const device = deviceOption('report', values.device, values.quiet);
    if (device === 2) return 2;
    const t0 = performance.now();
    const r = await generateReport({
      device: device.device,
      runDir,
      out: values.out,
      checkpoint: values.checkpoint,
      mi: !values['no-mi'],
      overrides,
      ...opts,
      log: values.quiet ? undefined : (m) => console.error(`report: ${m}`),
    });
    for (const w of r.warnings) console.error(`dml report: warning: ${w}`);
    console.log(`${r.out} (${(r.bytes / 1024).toFixed(0)} KiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    return 0;
  },
};
