// The library's front door: train a run, open a trained one, embed images and search them
// (what pytorch-metric-learning's InferenceModel is to a trained trunk), in one process.
import { resolveConfig, type TrainConfig } from './run/config/resolve.js';
import { openDatasets } from './run/datasets/index.js';
import { Trainer } from './train/trainer.js';
import type { TrainResult } from './train/types.js';
import { trainerDeps } from './train/wiring.js';

/** A configuration as the CLI takes it: a preset, a config file and key=value overrides. */
export interface ConfigInput {
  preset?: string;
  file?: string;
  overrides?: string[];
}

/**
 * Trains and evaluates as `dml train` does, in this process: `train({ overrides: ['epochs=1'] })`
 * or `train(resolveConfig(...))`. The run folder (config key `out`) receives the checkpoints.
 */
export async function train(
  config: TrainConfig | ConfigInput = {},
  o: { resume?: boolean } = {},
): Promise<TrainResult> {
  const cfg = 'data' in config ? config : resolveConfig(config);
  const ds = await openDatasets(cfg);
  let trainer: Trainer | null = null;
  try {
    trainer = new Trainer(cfg, ds.train, ds.test, { ...trainerDeps, classNames: ds.classNames });
    return await trainer.run(o);
  } finally {
    trainer?.dispose();
    await ds.close();
  }
}

export { openRun, type Run, type RunOptions, type Neighbours } from './run/open-run.js';
