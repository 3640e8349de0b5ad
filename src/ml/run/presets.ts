// The presets, gathered from the dataset files that declare them (the paper's runs, their ViT
// counterparts and the built-in Fashion-MNIST default): partial configurations resolveConfig starts
// from, each with data.kind its dataset's and out runs/<preset>.
import type { TrainConfig } from './config/keys.js';
import { DATASET_SPECS } from './datasets/index.js';

export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

const ALL = DATASET_SPECS.flatMap((s) =>
  Object.entries(s.presets ?? {}).map(([name, p]) => ({ name, kind: s.kind, ...p })),
);

export const PRESETS: Readonly<Record<string, DeepPartial<TrainConfig>>> = Object.fromEntries(
  ALL.map((p) => [p.name, { ...p.config, data: { kind: p.kind, ...p.config.data }, out: `runs/${p.name}` }]),
);

/** The weights each preset's recipe starts from (dml train warns when it runs without model.pretrained). */
export const PRESET_WEIGHTS: Readonly<Record<string, string>> = Object.fromEntries(
  ALL.flatMap((p) => (p.weights ? [[p.name, p.weights]] : [])),
);
