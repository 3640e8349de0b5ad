// dml eval: Recall@K (cosine and Euclidean), MAP@R, R-Precision, P@1 and NMI of a checkpoint.
import { parseArgs } from 'node:util';
import { formatRecallTable } from '../ml/eval/format.js';
import { openRun } from '../ml/run/open-run.js';
import { recallKsWarning } from '../ml/run/evaluate.js';
import type { DeviceChoice } from '../ml/train/device.js';
import { DEVICE_FLAG, DEVICE_HELP, deviceOption, jobBackend } from './device-option.js';
import { LAUNCH_FLAGS, LAUNCH_HELP, launch, parseLaunch, stripLaunchFlags } from './launch.js';
import { joinJob, runInJob, isMainProcess } from './job.js';

const HELP = `usage: dml eval --checkpoint FILE|RUN_DIR [--json] [--quiet] [key=value ...]

Evaluates a checkpoint on the test split of the dataset it was trained on (key=value overrides
change the data settings, e.g. data.root=DIR recallKs=1,10,100).

${DEVICE_HELP}

${LAUNCH_HELP}
  Each rank embeds a shard of the test set and searches its shard of the gallery; the figures are
  those of one process.
`;

export const command = {
  summary: 'evaluate a checkpoint (Recall@K, MAP@R, NMI)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        checkpoint: { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        ...DEVICE_FLAG,
        help: { type: 'boolean', short: 'h' },
        ...LAUNCH_FLAGS,
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.checkpoint) {
      console.error(`dml eval: --checkpoint is required\n${HELP}`);
      return 2;
    }
    const launchOpts = parseLaunch(values);
    if (launchOpts) return launch(launchOpts, 'eval', stripLaunchFlags(argv), { timeoutS: 60 });
    const device = deviceOption('eval', values.device, values.quiet);
    if (device === 2) return 2;
    const group = joinJob({ timeoutS: 60, backend: jobBackend(device) });
    const say = (line: string): void => {
      if (isMainProcess(group)) console.log(line);
    };
    return runInJob(group, () =>
      evaluate(
        values.checkpoint!,
        positionals,
        values.json ?? false,
        group,
        say,
        values.quiet || !isMainProcess(group),
        device.device,
      ),
    );
  },
};

async function evaluate(
  checkpoint: string,
  positionals: string[],
  json: boolean,
  group: ReturnType<typeof joinJob>,
  say: (line: string) => void,
  quiet: boolean,
  device: DeviceChoice['device'],
): Promise<number> {
  const run = openRun(checkpoint, { overrides: positionals, group, progress: !quiet, device });
  try {
    // Each rank of a job embeds its shard; the search runs over the shards.
    const report = await run.evaluate();
    const warning = recallKsWarning(run.config.recallKs, report);
    if (warning && isMainProcess(group)) console.error(`dml eval: ${warning}`);
    if (json) say(JSON.stringify(report));
    else {
      say(`${run.file} (epoch ${run.epoch}) on ${(await run.datasets()).description}`);
      const names = run.classNames?.test;
      if (names) {
        const more = names.length > 12 ? `, ... (${names.length})` : '';
        say(`test classes: ${names.slice(0, 12).join(', ')}${more}`);
      }
      say(formatRecallTable(report));
      const f = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : v.toFixed(2));
      say(
        `MAP@R ${f(report.mapAtR)}  R-Precision ${f(report.rPrecision)}  P@1 ${f(report.precisionAt1)}  MRR ` +
          `${f(report.mrr)}  NMI ${f(report.nmi)}  AMI ${f(report.ami)}`,
      );
    }
    return 0;
  } finally {
    await run.close();
  }
}
