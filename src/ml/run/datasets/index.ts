// The datasets by data.kind: one file each, listed once here. The config's list of kinds, the
// presets, `dml prepare` and every command's opening of data read this table.
import type { TrainConfig } from '../config/keys.js';
import { fashionMnist } from './fashion-mnist.js';
import { cub } from './cub.js';
import { cars } from './cars.js';
import { sop } from './sop.js';
import { inshop } from './inshop.js';
import { list } from './list.js';
import { folder } from './folder.js';
import type { DatasetSpec, OpenedDatasets } from './spec.js';

export type { ClassNames, DatasetSpec, DatasetTransforms, OpenedDatasets } from './spec.js';

export const DATASET_SPECS = [fashionMnist, cub, cars, sop, inshop, list, folder] as const;

export type DatasetKind = (typeof DATASET_SPECS)[number]['kind'];
export const DATASET_KINDS = DATASET_SPECS.map((s) => s.kind) as readonly DatasetKind[] as readonly [
  DatasetKind,
  ...DatasetKind[],
];

const BY_KIND = new Map<string, DatasetSpec>(DATASET_SPECS.map((s) => [s.kind, s]));

export function datasetSpec(kind: string): DatasetSpec {
  const s = BY_KIND.get(kind);
  if (!s) throw new Error(`unknown data.kind '${kind}' (available: ${DATASET_KINDS.join(', ')})`);
  return s;
}

/** The training source and evaluation sets of a configuration; close() stops their loader threads. */
export function openDatasets(cfg: TrainConfig): Promise<OpenedDatasets> {
  return datasetSpec(cfg.data.kind).open(cfg);
}
