// dml-ts: the engine (also at 'dml-ts/engine') and the metric-learning library.
export * as engine from './engine/index.js';
export * as models from './ml/models/index.js';
export * as losses from './ml/losses/index.js';
export * as miners from './ml/miners/index.js';
export * as samplers from './ml/samplers/index.js';
export * as random from './ml/random.js';
export * as evaluation from './ml/eval/index.js';
export * as mi from './ml/mi/index.js';
export * as data from './ml/data/index.js';
export { Trainer, type TrainLoss, type EvalMetrics } from './ml/train/trainer.js';
export { resolveConfig, PRESETS, type TrainConfig } from './ml/train/config.js';
export { loadEmbedder, resolveCheckpoint } from './ml/train/load.js';
export { train, openRun, type Run, type ConfigInput, type Neighbours } from './ml/api.js';
export { openDatasets, type OpenedDatasets } from './ml/train/datasets.js';
export { trainerDeps } from './ml/train/wiring.js';
export type { TrainResult } from './ml/train/trainer.js';
export { exportOnnx, saveOnnx } from './ml/export/index.js';
