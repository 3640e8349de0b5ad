// dml mi: the mutual-information report of a checkpoint's embeddings (both views of I(Z;Y)).
import { DEVICE_FLAG, DEVICE_HELP, deviceOption } from './device-option.js';
import { parseArgs } from 'node:util';
import { dispose } from '../engine/index.js';
import { describeMiWork, mutualInformation, type MutualInformationReport } from '../ml/mi/index.js';
import { Heartbeat } from '../ml/run/progress.js';
import { openRun } from '../ml/run/open-run.js';
import { measurePceBoundBatched, type PceBoundSummary } from '../ml/losses/index.js';
import { readMetrics, type BoundPoint } from '../report/metrics.js';
import { existsSync } from 'node:fs';
import path from 'node:path';

const HELP = `usage: dml mi --checkpoint FILE|RUN_DIR [--split test|train] [--k 3] [--json] [--quiet] [key=value ...]

Estimates I(Z;Y) between the embeddings Z and the labels Y in the paper's two views:
  discriminative  H(Y) - H(Y|Z), with H(Y|Z) the cross-entropy of the model's classifier (train split,
                  whose classes it knows) or of a cross-fitted linear probe (test split: unseen classes)
  generative      H(Z) - H(Z|Y), Kozachenko-Leonenko kNN entropies on PCA-whitened intrinsic coordinates
With --split train it also measures the paper's bound: the classifier's cross-entropy against the
pairwise cross-entropy (PCE) over random batches of the run's batchSize; a checkpoint inside a run folder also
gets the run's per-epoch CE / PCE table (the 'bound' records of its metrics.jsonl).

${DEVICE_HELP}
`;

export function formatBound(b: PceBoundSummary, batchSize: number): string {
  return (
    `CE vs PCE (${b.batches} random batches of ${batchSize}): CE ${b.ce.toFixed(4)}, PCE ${b.pce.toFixed(4)} ` +
    `(tightness ${b.tightness.toFixed(4)}, contrastive ${b.contrastive.toFixed(4)}, λ ${b.lambda.toFixed(3)}); CE ≥ ` +
    `PCE in ${(b.ceAbovePce * 100).toFixed(0)}% of batches`
  );
}

export function formatBoundTable(rows: readonly BoundPoint[]): string {
  const head = 'epoch        CE       PCE  tightness  contrastive         λ  CE≥PCE';
  return [
    head,
    ...rows.map(
      (r) =>
        `${String(r.epoch).padStart(5)}  ${r.ce.toFixed(4).padStart(8)}  ${r.pce.toFixed(4).padStart(8)}  ` +
        `${r.tightness.toFixed(4).padStart(9)}  ${r.contrastive.toFixed(4).padStart(11)}  ` +
        `${r.lambda.toPrecision(4).padStart(8)}  ` +
        `${r.ceAbovePce === null ? '—' : `${(r.ceAbovePce * 100).toFixed(0)}%`.padStart(6)}`,
    ),
  ].join('\n');
}

/** The per-epoch bound records of the run folder holding the checkpoint, if any. */
function runBounds(checkpoint: string): BoundPoint[] {
  const file = path.join(path.dirname(checkpoint), 'metrics.jsonl');
  return existsSync(file) ? readMetrics(file).bounds : [];
}

export function formatMi(r: MutualInformationReport): string {
  const lines = [
    `n = ${r.n}, classes = ${r.classes}, H(Y) = ${r.hY.nats.toFixed(3)} nats (${r.hY.bits.toFixed(3)} bits)`,
  ];
  if (r.discriminative) {
    const d = r.discriminative;
    lines.push(
      `discriminative (${d.source}): I = H(Y) - CE = ${d.mi.nats.toFixed(3)} nats (${d.mi.bits.toFixed(3)} bits); CE ` +
        `${d.crossEntropy.nats.toFixed(3)}, accuracy ${(d.accuracy * 100).toFixed(1)}%`,
    );
  }
  if (r.generative) {
    const g = r.generative;
    lines.push(
      `generative (KL k=${g.k}, ${g.transform} to ${g.dims} dims` +
        `${g.intrinsicDim !== null ? `, intrinsic dim ${g.intrinsicDim.toFixed(1)}` : ''}): ` +
        `I = H(Z) - H(Z|Y) = ${g.hZ.nats.toFixed(3)} - ${g.hZgivenY.nats.toFixed(3)} = ${g.mi.nats.toFixed(3)} nats (` +
        `${g.mi.bits.toFixed(3)} bits)`,
    );
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

export const command = {
  summary: 'mutual-information report of a checkpoint',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        checkpoint: { type: 'string' },
        split: { type: 'string', default: 'test' },
        k: { type: 'string', default: '3' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        ...DEVICE_FLAG,
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.checkpoint) {
      console.error(`dml mi: --checkpoint is required\n${HELP}`);
      return 2;
    }
    if (values.split !== 'test' && values.split !== 'train') {
      console.error(`dml mi: --split must be test or train, got ${values.split}`);
      return 2;
    }
    const k = Number(values.k);
    if (!Number.isInteger(k) || k < 1) {
      console.error(`dml mi: --k must be a positive integer, got ${values.k}`);
      return 2;
    }
    const device = deviceOption('mi', values.device, values.quiet);
    if (device === 2) return 2;
    const run = openRun(values.checkpoint, {
      overrides: positionals,
      progress: !values.quiet,
      device: device.device,
    });
    let e = null;
    try {
      const ds = await run.datasets();
      const split = values.split;
      e = await run.embedSet(split === 'train' ? ds.trainEval : ds.test.query, `embedding the ${split} split`, {
        logits: true,
      });
      const { features, labels, logits } = e;
      const miOptions = { logits: split === 'train' ? logits : undefined, generative: { k } };
      // The probe's thousands of small steps take minutes on large sets: said first, then every ~10 s.
      const beat = values.quiet ? null : new Heartbeat('dml mi');
      beat?.start(describeMiWork(features.shape[0]!, features.shape[1]!, miOptions));
      const r = mutualInformation(features, labels, {
        ...miOptions,
        ...(beat ? { onProgress: (stage, done, total) => beat.beat(() => `${stage} ${done}/${total}`) } : {}),
      });
      // The bound over batches of the run's own size and seed.
      const { batchSize, seed } = run.config;
      const bound =
        split === 'train' && logits
          ? measurePceBoundBatched(features, logits, labels.dataNumbers(), { batchSize, seed })
          : null;
      const epochs = runBounds(run.file);
      if (values.json) {
        console.log(
          JSON.stringify({
            ...r,
            ...(bound ? { pceBound: { ...bound, batchSize } } : {}),
            ...(epochs.length ? { pceBoundByEpoch: epochs } : {}),
          }),
        );
      } else {
        const out = [`MI report of ${run.file} on the ${split} split`, formatMi(r)];
        if (bound) out.push(formatBound(bound, batchSize));
        if (epochs.length)
          out.push(
            `CE and PCE per epoch of the run (training batches, ` +
              `${path.join(path.dirname(run.file), 'metrics.jsonl')}):`,
            formatBoundTable(epochs),
          );
        console.log(out.join('\n'));
      }
      return 0;
    } finally {
      dispose(e);
      await run.close();
    }
  },
};
