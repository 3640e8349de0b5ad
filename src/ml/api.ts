// The library's front door: train a run, open a trained one, embed images and search them
// (what pytorch-metric-learning's InferenceModel is to a trained trunk), in one process.
import { resolveConfig, type TrainConfig } from './run/config/resolve.js';
import { openDatasets } from './run/datasets/index.js';
import { Trainer } from './train/trainer.js';
import type { TrainProgress, TrainResult } from './train/types.js';
import { existingRunProblem } from './run/overwrite-guard.js';
import { trainerDeps } from './train/wiring.js';

/** A configuration as the CLI takes it: a preset, a config file and key=value overrides. */
export interface ConfigInput {
  preset?: string;
  file?: string;
  overrides?: string[];
}

export interface TrainOptions {
  /** Continue the run in the run folder (its last checkpoint) instead of starting one. */
  resume?: boolean;
  /**
   * Start over in a run folder that already holds a run, replacing its checkpoints. Without it (or
   * resume), train() refuses such a folder, as dml train does without --force.
   */
  force?: boolean;
  /** No progress bar and no per-epoch lines on the console; onProgress and log still get theirs. */
  quiet?: boolean;
  /** Called after each training batch: epoch, batch, step, loss, images/s. */
  onProgress?: (p: TrainProgress) => void;
  /**
   * Where the per-epoch lines and the run's warnings ("warning: ...") go (default: the console, or
   * nowhere when quiet). The warnings are also in the result's `warnings`.
   */
  log?: (line: string) => void;
}

/**
 * Trains and evaluates as `dml train` does, in this process: `train({ overrides: ['epochs=1'] })`
 * or `train(resolveConfig(...))`. The run folder (config key `out`) receives the checkpoints; one
 * that already holds a run is refused unless `resume: true` or `force: true`.
 */
export async function train(config: TrainConfig | ConfigInput = {}, o: TrainOptions = {}): Promise<TrainResult> {
  const cfg = 'data' in config ? config : resolveConfig(config);
  if (!o.resume && !o.force) {
    const problem = existingRunProblem(cfg, { resume: '`resume: true`', force: '`force: true`' });
    if (problem) throw new Error(`train(): ${problem}`);
  }
  const ds = await openDatasets(cfg);
  let trainer: Trainer | null = null;
  try {
    trainer = new Trainer(cfg, ds.train, ds.test, {
      ...trainerDeps,
      classNames: ds.classNames,
      ...(o.quiet ? { progress: false, log: () => {} } : {}),
      ...(o.log ? { log: o.log } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    // As dml train says them, before the first step: a short epoch or a busy machine is worth knowing early.
    const say = o.log ?? (o.quiet ? null : (line: string) => console.warn(line));
    for (const w of trainer.warnings) say?.(`warning: ${w}`);
    return await trainer.run({ resume: o.resume ?? false });
  } finally {
    trainer?.dispose();
    await ds.close();
  }
}

export { openRun, type Run, type RunInput, type RunOptions, type Neighbours } from './run/open-run.js';
export type { TrainProgress, TrainResult } from './train/types.js';
