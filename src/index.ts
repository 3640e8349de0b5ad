// dml-ts: the engine (also at 'dml-ts/engine') and the metric-learning library.
export * as engine from './engine/index.js';
export * as models from './ml/models/index.js';
export * as losses from './ml/losses/index.js';
export * as miners from './ml/miners/index.js';
export * as distances from './ml/distances/index.js';
export * as reducers from './ml/reducers/index.js';
export * as samplers from './ml/samplers/index.js';
export * as random from './ml/random.js';
export * as evaluation from './ml/eval/index.js';
export * as mi from './ml/mi/index.js';
export * as data from './ml/data/index.js';
export { Trainer } from './ml/train/trainer.js';
export type { TrainLoss, EvalMetrics, TrainResult } from './ml/train/types.js';
export { resolveConfig, type TrainConfig } from './ml/run/config/resolve.js';
export { ConfigError, type ConfigOrigin } from './ml/run/config/errors.js';
export { PRESETS } from './ml/run/presets.js';
export { loadEmbedder, resolveCheckpoint } from './ml/run/load.js';
export {
  train,
  openRun,
  type Run,
  type RunInput,
  type RunOptions,
  type ConfigInput,
  type Neighbours,
  type TrainOptions,
  type TrainProgress,
} from './ml/api.js';
export { openDatasets, type OpenedDatasets } from './ml/run/datasets/index.js';
export { trainerDeps } from './ml/train/wiring.js';
export { exportOnnx, saveOnnx } from './ml/export/index.js';
