// dml train: the paper's recipe on a preset / config file / key=value overrides.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig, loadConfigFile } from '../ml/run/config/resolve.js';
import { ConfigError } from '../ml/run/config/errors.js';
import { configKeysHelp } from '../ml/run/config/docs.js';
import { PRESETS, PRESET_WEIGHTS } from '../ml/run/presets.js';
import { openDatasets } from '../ml/run/datasets/index.js';
import { Trainer } from '../ml/train/trainer.js';
import { NonFiniteLossError } from '../ml/train/types.js';
import { checkDevice } from '../ml/train/device.js';
import { formatRecallTable } from '../ml/eval/format.js';
import { trainerDeps } from '../ml/train/wiring.js';
import { LAUNCH_FLAGS, LAUNCH_HELP, launch, parseLaunch, stripLaunchFlags } from './launch.js';
import { joinJob, runInJob, isMainProcess } from './job.js';

const HELP = `usage: dml train [--preset NAME] [--config FILE.json|yaml] [--resume] [--quiet] [key=value ...]

Trains an embedding model and evaluates Recall@K on the held-out classes after every epoch.
Writes RUN_DIR/last.safetensors (atomic checkpoint), best.safetensors (best cosine R@1) and
metrics.jsonl. RUN_DIR is the config's "out" (default runs/<preset>).

  --preset NAME   ${Object.keys(PRESETS).join(' | ')} (default fashion-mnist)
  --config FILE   JSON or YAML config; its keys override the preset
  --resume        continue from RUN_DIR/last.safetensors, bit-for-bit
  --force         start over in a RUN_DIR that already holds a run (its checkpoints are replaced)
  -q, --quiet     no progress bar or lines and no per-epoch log, only the final results and errors
  key=value       e.g. epochs=5 optim.lr=0.01 model.normLayer=layer data.limitTrain=5000

${LAUNCH_HELP}
  The global batch (batchSize) is split across the ranks; distributed.syncBn=true synchronises
  BatchNorm statistics; distributed.timeout (s) bounds every collective.

keys (key = default   (accepted values), then what it does):
${configKeysHelp()}
`;

export const command = {
  summary: 'train a model (default: Fashion-MNIST)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        preset: { type: 'string' },
        config: { type: 'string' },
        resume: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h' },
        ...LAUNCH_FLAGS,
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const launchOpts = parseLaunch(values);
    // Each worker of a launch gets cores / N threads unless the command line or config file says.
    const setsThreads =
      positionals.some((p) => p.startsWith('threads=')) ||
      (values.config !== undefined && 'threads' in loadConfigFile(values.config));
    // (torchrun sets OMP_NUM_THREADS for its workers; our launcher sets both.)
    const launched =
      process.env.DML_LAUNCHED_THREADS ?? (process.env.WORLD_SIZE ? process.env.OMP_NUM_THREADS : undefined);
    const overrides = launched && !setsThreads ? [`threads=${launched}`, ...positionals] : positionals;
    let cfg;
    try {
      cfg = resolveConfig({ preset: values.preset, file: values.config, overrides });
    } catch (e) {
      // A bad key=value on the command line is a usage error; a bad config file is not.
      if (!(e instanceof ConfigError) || e.origin.kind !== 'override') throw e;
      console.error(`dml train: ${e.message}`);
      return 2;
    }
    checkDevice(cfg.device);
    // A finished or interrupted run is not overwritten by accident (rank 0, or the launcher, checks).
    if (!values.resume && !values.force && (launchOpts || (process.env.RANK ?? '0') === '0')) {
      const held = ['last.safetensors', 'best.safetensors'].filter((f) => existsSync(path.join(cfg.out, f)));
      if (held.length > 0) {
        console.error(
          `dml train: ${cfg.out} already holds a run (${held.join(', ')}): continue it with --resume, or start over ` +
            `with --force`,
        );
        return 2;
      }
    }
    if (cfg.distributed.backend === 'nccl') {
      // NCCL reduces CUDA tensors; the trainer keeps everything on the CPU until device= is honoured.
      throw new Error(
        'distributed.backend=nccl: dml train trains on the CPU only for now, and NCCL needs CUDA tensors; use ' +
          'distributed.backend=gloo',
      );
    }
    if (launchOpts) return launch(launchOpts, 'train', stripLaunchFlags(argv), { timeoutS: cfg.distributed.timeout });
    const group = joinJob({ timeoutS: cfg.distributed.timeout, backend: cfg.distributed.backend });
    const main = isMainProcess(group);
    const say = (line: string): void => {
      if (main) console.log(line);
    };
    return runInJob(group, async () => {
      const ds = await openDatasets(cfg);
      const { train, test, description } = ds;
      const world = group
        ? `, ${group.worldSize} processes (global batch ` +
          `${cfg.batchSize}${cfg.distributed.syncBn ? ', synchronised BatchNorm' : ''})`
        : '';
      if (!values.quiet)
        say(
          `dml train: preset ${cfg.preset}, ${cfg.model.arch}, ${cfg.epochs} epochs, batch ${cfg.batchSize}, lr ` +
            `${cfg.optim.lr}, loss ${cfg.loss.name}, ${cfg.threads} threads${world}`,
        );
      if (!values.quiet) say(description);
      const weights = PRESET_WEIGHTS[cfg.preset];
      if (weights && cfg.model.pretrained === '' && main)
        console.warn(
          `dml train: warning: preset ${cfg.preset} starts from ${weights}; without model.pretrained=FILE the ` +
            `backbone starts from random weights and its results are not the recipe's`,
        );
      const trainer = new Trainer(cfg, train, test, {
        ...trainerDeps,
        group,
        classNames: ds.classNames,
        ...(values.quiet ? { progress: false, log: () => {} } : {}),
      });
      try {
        const r = await trainer.run({ resume: values.resume });
        const shown = r.last ?? r.best.metrics;
        if (shown) {
          say(`\nRecall@K (%) on unseen classes after ${r.epochs} epochs:`);
          say(formatRecallTable(shown));
          if (typeof shown.mapAtR === 'number') say(`MAP@R ${(shown.mapAtR as number).toFixed(2)}`);
        }
        say(`best cosine R@1 at epoch ${r.best.epoch}; checkpoints and metrics in ${r.runDir}`);
        return 0;
      } catch (e) {
        if (e instanceof NonFiniteLossError) {
          if (main) console.error(`dml train: ${e.message}`);
          return 3;
        }
        throw e;
      } finally {
        trainer.dispose();
        await ds.close();
      }
    });
  },
};
