// The reference's transforms (dml_cross_entropy, utils/data/dataset_ingredient.py get_transforms
// with its per-dataset named configs):
// train: [Resize(resize)] [RandomRotation] [ColorJitter(...)] RandomResizedCrop(224, scale, ratio) RandomHorizontalFlip
// ToTensor
//   test:  [Resize(resize)] CenterCrop(224) ToTensor
// with scale = (0.16, 1) and ratio = (3/4, 4/3) unless the dataset overrides them. No Normalize:
// the model normalises.
import { Pipeline, type PipelineOptions } from './pipeline.js';
import {
  CenterCrop,
  ColorJitter,
  RandomHorizontalFlip,
  RandomResizedCrop,
  RandomRotation,
  Resize,
  ToTensor,
  type Transform,
} from './transforms.js';

export type ReferenceDataset = 'cub' | 'cars' | 'sop' | 'inshop';

export interface ReferenceConfig {
  resize?: number | [number, number];
  colorJitter?: [number, number, number, number];
  rotate?: number;
  cropSize: number;
  scale: [number, number];
  ratio: [number, number];
}

const BASE = { cropSize: 224, scale: [0.16, 1] as [number, number], ratio: [3 / 4, 4 / 3] as [number, number] };

export const REFERENCE_CONFIGS: Readonly<Record<ReferenceDataset, ReferenceConfig>> = {
  cub: { ...BASE, resize: 256, colorJitter: [0.25, 0.25, 0.25, 0] },
  cars: { ...BASE, resize: [256, 256], colorJitter: [0.3, 0.3, 0.3, 0.1], ratio: [1, 1] },
  sop: { ...BASE, resize: [256, 256] },
  inshop: { ...BASE },
};

export function trainTransforms(cfg: ReferenceConfig): Transform[] {
  const t: Transform[] = [];
  if (cfg.resize !== undefined) t.push(new Resize(cfg.resize));
  if (cfg.rotate !== undefined) t.push(new RandomRotation(cfg.rotate));
  if (cfg.colorJitter) t.push(new ColorJitter(...cfg.colorJitter));
  t.push(
    new RandomResizedCrop(cfg.cropSize, { scale: cfg.scale, ratio: cfg.ratio }),
    new RandomHorizontalFlip(),
    new ToTensor(),
  );
  return t;
}

export function testTransforms(cfg: ReferenceConfig): Transform[] {
  const t: Transform[] = [];
  if (cfg.resize !== undefined) t.push(new Resize(cfg.resize));
  t.push(new CenterCrop(cfg.cropSize), new ToTensor());
  return t;
}

/** The reference's train and test pipelines for a dataset, optionally with config overrides. */
export function referencePipelines(
  dataset: ReferenceDataset,
  overrides: Partial<ReferenceConfig> = {},
  options: PipelineOptions = {},
): { train: Pipeline; test: Pipeline; config: ReferenceConfig } {
  const base = REFERENCE_CONFIGS[dataset];
  if (!base) throw new RangeError(`referencePipelines: unknown dataset '${dataset}' (cub, cars, sop, inshop)`);
  const config = { ...base, ...overrides };
  return {
    train: new Pipeline(trainTransforms(config), options),
    test: new Pipeline(testTransforms(config), options),
    config,
  };
}
