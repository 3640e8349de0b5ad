// What a dataset file declares about itself, so that opening it, its train and test transforms,
// `dml prepare`, the presets and the config's list of kinds all read one fact. A new dataset is one
// file exporting its DatasetSpec and one line in DATASET_SPECS (index.ts).
import type { ReferenceDataset } from '../../data/presets.js';
import type { Prepared, PrepareOptions } from '../../data/prepare/index.js';
import type { TrainConfig } from '../config/keys.js';
import type { DeepPartial } from '../presets.js';
import type { EvalData, EvalSource, TrainSource } from './source.js';

export interface ClassNames {
  train: readonly string[];
  test: readonly string[];
}

export interface OpenedDatasets {
  train: TrainSource;
  /** The training samples without augmentation, in order (for MI and embedding). */
  trainEval: EvalSource;
  test: EvalData;
  description: string;
  /** Class k's name (folder name, original list label, Fashion-MNIST's names), per split. */
  classNames: ClassNames;
  /** Stops loader worker threads. */
  close(): Promise<void>;
}

/**
 * The transforms a dataset's images get. Image files: the reference's per-dataset transforms
 * (src/ml/data/presets.ts), with data.resize applied to the shorter side (CUB, In-Shop: aspect kept)
 * or to both sides (Cars, SOP: squashed square, as the reference does). In-memory data of one native
 * side (IDX): its own augmentation; any other image is brought to that side.
 */
export type DatasetTransforms =
  { readonly family: ReferenceDataset; readonly resize: 'shorter-side' | 'square' } | { readonly nativeSide: number };

export interface DatasetPreset {
  /** The keys the preset sets; data.kind (the dataset's) and out (runs/<preset>) are implied. */
  readonly config: DeepPartial<TrainConfig>;
  /** The weights its recipe starts from: `dml train` warns when it runs without model.pretrained. */
  readonly weights?: string;
}

export interface DatasetSpec<K extends string = string> {
  /** Its data.kind. */
  readonly kind: K;
  /** The training source and the evaluation sets of a configuration. */
  open(cfg: TrainConfig): Promise<OpenedDatasets>;
  readonly transforms: DatasetTransforms;
  /** `dml prepare <kind>`: the original downloads into the list files `open` reads. */
  readonly prepare?: {
    readonly run: (root: string, o: PrepareOptions) => Prepared;
    /** One line of `dml prepare --help`: what it reads and how it splits. */
    readonly help: string;
  };
  readonly presets?: Readonly<Record<string, DatasetPreset>>;
  /** The test classes' names by their count, for checkpoints that did not record them. */
  testClassNames?(count: number): string[] | undefined;
}
