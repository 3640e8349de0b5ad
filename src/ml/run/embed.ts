// Embeds an evaluation source with a model in eval mode, batch by batch, without autograd.
import { type Tensor, tensor, tidy, noGrad, cat, dispose, zeros } from '../../engine/index.js';
import type { Embedder } from '../models/factory.js';
import type { EvalSource } from './datasets/source.js';

/** Called once with 0 before the first batch, then after each batch with the samples embedded so far and the total. */
export type EmbedProgress = (done: number, total: number) => void;

/** Features and classifier logits of every sample. */
export async function embedWithLogits(
  model: Embedder,
  source: EvalSource,
  batchSize = 256,
  range?: { start: number; end: number },
  onProgress?: EmbedProgress,
): Promise<{ features: Tensor; logits: Tensor; labels: Tensor }> {
  const total = range ? range.end - range.start : source.labels.length;
  let done = 0;
  const wasTraining = model.training;
  model.eval();
  const feats: Tensor[] = [];
  const logits: Tensor[] = [];
  // Labels come from the batches, not source.labels: a loader skipping bad images drops them.
  const labels: number[] = [];
  // Called once before any batch loads: a progress display says what it embeds before the work starts.
  onProgress?.(0, total);
  // The model's device: a GPU model embeds there, and the features stay there for the kNN search.
  const device = model.classifier.weight.device;
  try {
    for await (const b of source.batches(batchSize, range)) {
      for (const l of b.labels) labels.push(l);
      const out = noGrad(() =>
        tidy(() => {
          const host = tensor(b.images, { shape: b.shape });
          b.release?.();
          return model.forward(device === 'cpu' ? host : host.to(device));
        }),
      );
      feats.push(out.features);
      logits.push(out.logits);
      done += b.labels.length;
      onProgress?.(done, total);
    }
    if (feats.length === 0) {
      // An empty shard of a multi-process evaluation is legitimate; an empty set is not.
      if (!range || range.end > range.start) throw new Error('embedSource: the evaluation set is empty');
      const dtype = model.classifier.weight.dtype;
      return {
        features: zeros([0, model.options.numFeatures], { dtype, device }),
        logits: zeros([0, model.options.numClasses], { dtype, device }),
        labels: tensor(new Int32Array(0), { dtype: 'int64' }),
      };
    }
    return { features: cat(feats), logits: cat(logits), labels: tensor(Int32Array.from(labels), { dtype: 'int64' }) };
  } finally {
    dispose([feats, logits]);
    model.train(wasTraining);
  }
}
