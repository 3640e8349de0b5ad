// dml train: the paper's recipe on a preset / config file / key=value overrides.
import { parseArgs } from 'node:util';
import { resolveConfig, loadConfigFile, type ResolveOptions, type TrainConfig } from '../ml/run/config/resolve.js';
import { ConfigError } from '../ml/run/config/errors.js';
import { configKeysHelp } from '../ml/run/config/docs.js';
import { NO_PRESET, PRESET_NAMES, PRESET_WEIGHTS } from '../ml/run/presets.js';
import { configYaml, describeChanges, resumeConfig } from '../ml/run/run-config.js';
import { existingRunProblem } from '../ml/run/overwrite-guard.js';
import { datasetSpec, openDatasets } from '../ml/run/datasets/index.js';
import { Trainer } from '../ml/train/trainer.js';
import { NonFiniteLossError } from '../ml/train/types.js';
import { DeviceError, checkAmp, resolveBackend, resolveDevice, type DeviceChoice } from '../ml/train/device.js';
import { distributed } from '../engine/index.js';
import {
  MemoryBudgetError,
  checkMemoryBudget,
  describeTraining,
  estimateTrainingMemory,
  memoryLimit,
  type TrainingShape,
} from '../ml/run/memory-budget.js';
import { checkPretrained } from '../ml/run/pretrained-check.js';
import { sharedClasses } from '../ml/train/run-checks.js';
import { formatRecallTable } from '../ml/eval/format.js';
import { trainerDeps } from '../ml/train/wiring.js';
import { LAUNCH_FLAGS, LAUNCH_HELP, launch, parseLaunch, stripLaunchFlags } from './launch.js';
import { joinJob, runInJob, isMainProcess } from './job.js';

/** Why `cfg` does not fit its memory limit, or null when it does. */
function memoryRefusal(cfg: TrainConfig, shape: TrainingShape): string | null {
  const n = shape.processes?.onNode ?? 1;
  const what = `${describeTraining(cfg)}${n > 1 ? ` in ${n} processes` : ''}`;
  try {
    checkMemoryBudget(
      estimateTrainingMemory(cfg, shape),
      memoryLimit(cfg.memoryLimitMB, 'memoryLimitMB'),
      what,
      'Lower batchSize or data.imageSize, or raise memoryLimitMB (MiB) if the estimate is wrong for this machine.',
    );
    return null;
  } catch (e) {
    if (e instanceof MemoryBudgetError) return e.message;
    throw e;
  }
}

/** Lines of at most `width` characters, broken at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  return [...lines, line];
}

/** The help, with each key's value as this command line resolves it (its preset's, or the defaults). */
function helpText(cfg: TrainConfig): string {
  const from =
    cfg.preset === NO_PRESET
      ? 'preset none: the defaults of the key table'
      : `preset ${cfg.preset}; dml train --preset NAME --help shows another's`;
  return `usage: dml train [--preset NAME] [--config FILE.json|yaml] [--resume] [--force] [--print-config] [--quiet]
                 [key=value ...]

Trains an embedding model and evaluates Recall@K on the held-out classes after every epoch.
Writes RUN_DIR/last.safetensors (atomic checkpoint), best.safetensors (best cosine R@1), metrics.jsonl
and config.yaml (the resolved configuration). RUN_DIR is the config's "out": runs/<preset>, or for
your own data without a preset runs/<the data's folder name>.

  --preset NAME   ${wrap(PRESET_NAMES.join(' | '), 82).join('\n                  ')}
                  (default: fashion-mnist for Fashion-MNIST; none, the key table's defaults, for any
                  other data.kind)
  --config FILE   JSON or YAML config (e.g. a run's config.yaml); its keys override the preset
  --resume        continue from RUN_DIR/last.safetensors, bit-for-bit, with the configuration the run
                  stored; key=value may change only what does not shape the schedule, batches or model
                  (threads, data paths, data.workers, logEvery, evalEvery, recallKs, ...)
  --force         start over in a RUN_DIR that already holds a run (its checkpoints are replaced)
  --print-config  print the resolved configuration as YAML and exit (nothing is trained or written)
  -q, --quiet     no progress bar or lines and no per-epoch log, only the final results and errors
  key=value       e.g. epochs=5 optim.lr=0.01 model.normLayer=layer data.limitTrain=5000

${LAUNCH_HELP}
  The global batch (batchSize) is split across the ranks; distributed.syncBn=true synchronises
  BatchNorm statistics; distributed.timeout (s) bounds every collective.

keys (${from}):
key = the value this command line resolves to   (accepted values), then what the key does
${configKeysHelp(100, cfg)}
`;
}

const HELP = helpText(resolveConfig());

/** The configuration the command line asks for, for --help: its preset's values, else the default run's. */
function helpConfig(o: ResolveOptions): TrainConfig {
  try {
    return resolveConfig(o);
  } catch {
    return resolveConfig();
  }
}

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
        'print-config': { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h' },
        ...LAUNCH_FLAGS,
      },
    });
    if (values.help) {
      console.log(helpText(helpConfig({ preset: values.preset, file: values.config, overrides: positionals })));
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
    const asked: ResolveOptions = { preset: values.preset, file: values.config, overrides };
    const main0 = launchOpts !== null || (process.env.RANK ?? '0') === '0';
    let cfg: TrainConfig;
    try {
      cfg = resolveConfig(asked);
      if (values.resume) {
        // The run continues as it was configured: its stored configuration, under what this command changes.
        const r = resumeConfig(asked, cfg);
        if (r.refused.length > 0) {
          const what = r.refused.length === 1 ? 'a setting that shapes' : 'settings that shape';
          console.error(
            `dml train --resume: ${cfg.out} continues with the settings it was trained with, and this command ` +
              `changes ${what} its lr schedule, batches or model: ` +
              `${describeChanges(r.refused, 'in the run', 'asked here')}. Drop ` +
              `${r.refused.map((c) => c.key).join(', ')} to continue it, or train a new run in another folder ` +
              '(out=DIR)',
          );
          return 2;
        }
        if (r.rescheduled.length > 0 && main0 && !values['print-config'])
          console.warn(
            `dml train: ${describeChanges(r.rescheduled, 'in the run', 'asked here')}: the lr schedule is ` +
              'recomputed for the new length, so the epochs still to come do not follow the schedule the run ' +
              'started with, nor that of a run trained this long from the start',
          );
        if (r.moved.length > 0 && main0 && !values['print-config'])
          console.warn(`dml train: the run's data moved: ${describeChanges(r.moved, 'before', 'now')}`);
        cfg = r.cfg;
      }
    } catch (e) {
      // A bad key=value or preset on the command line is a usage error; a bad config file is not.
      if (!(e instanceof ConfigError) || (e.origin.kind !== 'override' && e.origin.kind !== 'argument')) throw e;
      console.error(`dml train: ${e.message}`);
      return 2;
    }
    if (values['print-config']) {
      process.stdout.write(configYaml(cfg));
      return 0;
    }
    // The device, the backend and amp are checked before anything is read or launched: a request this
    // build or machine cannot honour is a usage error (2). In a job each rank takes cuda:LOCAL_RANK;
    // the launcher checks for its last local rank, so that a job needing more GPUs than are visible stops here.
    let device: DeviceChoice;
    let backend: 'gloo' | 'nccl';
    try {
      const env = launchOpts ? null : distributed.launchEnvFrom();
      const job = launchOpts
        ? { localRank: launchOpts.nprocPerNode - 1, localWorldSize: launchOpts.nprocPerNode }
        : env && { localRank: env.localRank, localWorldSize: env.localWorldSize };
      device = resolveDevice(cfg.device, { job });
      checkAmp(cfg.amp, device.device);
      backend = resolveBackend(cfg.distributed.backend, device.device);
    } catch (e) {
      if (!(e instanceof DeviceError)) throw e;
      console.error(`dml train: ${e.message}`);
      return 2;
    }
    // A finished or interrupted run is not overwritten by accident (rank 0, or the launcher, checks).
    if (!values.resume && !values.force && main0) {
      const problem = existingRunProblem(cfg, { resume: '--resume', force: '--force' });
      if (problem) {
        console.error(`dml train: ${problem}`);
        return 2;
      }
    }
    // Before any data loads: settings whose working set cannot fit are refused at once. A launch
    // counts the processes it starts here; a rank of a job leaves the check to its launcher. The
    // estimate is of host memory: on a GPU the activations live in the GPU's memory, not counted.
    const onCpu = device.device === 'cpu';
    const inChannels = datasetSpec(cfg.data.kind).channels ?? 3;
    const procs = launchOpts
      ? { onNode: launchOpts.nprocPerNode, world: launchOpts.nprocPerNode * launchOpts.nnodes }
      : { onNode: 1, world: Number(process.env.WORLD_SIZE ?? 1) || 1 };
    const refused = onCpu ? memoryRefusal(cfg, { inChannels, processes: procs }) : null;
    if (refused && (launchOpts || procs.world === 1)) {
      console.error(`dml train: ${refused}`);
      return 2;
    }
    if (launchOpts) return launch(launchOpts, 'train', stripLaunchFlags(argv), { timeoutS: cfg.distributed.timeout });
    const group = joinJob({ timeoutS: cfg.distributed.timeout, backend });
    const main = isMainProcess(group);
    const say = (line: string): void => {
      if (main) console.log(line);
    };
    return runInJob(group, async () => {
      // model.pretrained is what it should be before the data set is read (rank 0 alone reads the file).
      if (main && cfg.model.pretrained) {
        const m = cfg.model;
        checkPretrained(m.pretrained, m.arch, m.patchSize, datasetSpec(cfg.data.kind).channels ?? 3);
      }
      const ds = await openDatasets(cfg);
      const { train, test, description } = ds;
      // The classifier's rows are known now: a table of many classes can tip the budget.
      const withClasses = group || !onCpu ? null : memoryRefusal(cfg, { inChannels, numClasses: train.numClasses });
      if (withClasses) {
        await ds.close();
        console.error(`dml train: ${withClasses} (with the classifier's ${train.numClasses} classes)`);
        return 2;
      }
      const world = group
        ? `, ${group.worldSize} processes (global batch ` +
          `${cfg.batchSize}${cfg.distributed.syncBn ? ', synchronised BatchNorm' : ''})`
        : '';
      const start =
        cfg.preset === NO_PRESET
          ? `your data (data.kind=${cfg.data.kind}, no preset: the key table's defaults)`
          : `preset ${cfg.preset}`;
      if (!values.quiet)
        say(
          `dml train: ${start}, ${cfg.model.arch}, ${cfg.epochs} epochs, batch ${cfg.batchSize}, lr ` +
            `${cfg.optim.lr}, loss ${cfg.loss.name}, ${cfg.threads} threads${world}; on ${device.device} ` +
            `(${device.reason}${cfg.amp === 'off' ? '' : `, amp ${cfg.amp}`}); run folder ${cfg.out}`,
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
        device,
        group,
        classNames: ds.classNames,
        ...(values.quiet ? { progress: false, log: () => {} } : {}),
      });
      if (main) for (const w of trainer.warnings) console.warn(`dml train: warning: ${w}`);
      const shared = sharedClasses(ds.classNames).length;
      const testClasses = shared > 0 ? `the test classes (${shared} of them also trained on)` : 'unseen classes';
      try {
        const r = await trainer.run({ resume: values.resume });
        const shown = r.last ?? r.best.metrics;
        if (shown) {
          say(`\nRecall@K (%) on ${testClasses} after ${r.epochs} epochs:`);
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
