// Rebuilds a trained embedder from a checkpoint written by the trainer (its config travels in the
// checkpoint's metadata), for eval, embed, serve, export and report.
import { dispose, tidy } from '../../engine/index.js';
import type { Embedder } from '../models/factory.js';
import { MODEL_FAMILIES, familyOfArch } from '../models/families.js';
import { buildEmbedder, resolveMemoryFormat } from './model-spec.js';
import { loadCheckpoint } from './checkpoint.js';
import { resolveCheckpoint } from './checkpoint-path.js';

export { resolveCheckpoint } from './checkpoint-path.js';
import type { TrainConfig } from './config/resolve.js';

export interface LoadedEmbedder {
  model: Embedder;
  config: TrainConfig;
  /** Epoch the weights come from. */
  epoch: number;
  /** The checkpoint file read (a run folder resolves to its best.safetensors, else last.safetensors). */
  file: string;
  /** The classes' names of the training run, when its checkpoint records them. */
  classNames?: { train: string[]; test: string[] };
}

function classNamesOf(extra: Record<string, unknown>): { train: string[]; test: string[] } | undefined {
  const c = extra.classNames as { train?: unknown; test?: unknown } | undefined;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  return c && strings(c.train) && strings(c.test) ? { train: c.train, test: c.test } : undefined;
}

export function loadEmbedder(checkpointOrRun: string): LoadedEmbedder {
  const checkpoint = resolveCheckpoint(checkpointOrRun);
  const { parts, state } = loadCheckpoint(checkpoint);
  try {
    const weights = parts.model;
    if (!state || !weights)
      throw new Error(`${checkpoint} is not a dml-ts training checkpoint (no trainer state or model weights)`);
    const config = state.config as TrainConfig;
    const cls = weights.get('classifier.weight');
    const m = config.model;
    const shape = familyOfArch(m.arch).weightsShape(weights);
    if (!cls || !shape)
      throw new Error(
        `${checkpoint}: model weights lack classifier.weight or a first convolution ` +
          `(${MODEL_FAMILIES.map((f) => f.stem).join(' / ')})`,
      );
    // Bit rot or a diverged run: NaN weights would make every embedding NaN, and scores null.
    for (const [k, t] of weights) {
      if (!t.dtype.startsWith('float') && t.dtype !== 'bfloat16') continue;
      const bad = tidy(() => t.isfinite().logicalNot().sum().item());
      if (bad > 0)
        throw new Error(
          `${checkpoint}: model weight '${k}' has ${bad} non-finite value${bad > 1 ? 's' : ''} (NaN or infinite): ` +
            `the file is damaged or the run diverged`,
        );
    }
    const imageSize = shape.imageSize ?? config.data.imageSize;
    const model = buildEmbedder(m, {
      numClasses: cls.shape[0]!,
      numFeatures: cls.shape[1]!,
      inChannels: shape.inChannels,
      imageSize,
      patchSize: shape.patchSize ?? m.patchSize,
    });
    model.loadStateDict(weights);
    if (resolveMemoryFormat(m, imageSize) === 'channelsLast') model.toMemoryFormat('channelsLast');
    model.eval();
    const classNames = classNamesOf(state.extra ?? {});
    return { model, config, epoch: state.epoch, file: checkpoint, ...(classNames ? { classNames } : {}) };
  } finally {
    dispose(parts);
  }
}
