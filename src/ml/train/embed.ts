// Embeds an evaluation source with a model in eval mode, batch by batch, without autograd.
import { type Tensor, tensor, tidy, noGrad, cat, dispose } from '../../engine/index.js';
import type { ResNetEmbedder } from '../models/resnet.js';
import type { EvalSource } from './source.js';

export async function embedSource(model: ResNetEmbedder, source: EvalSource, batchSize = 256): Promise<{ features: Tensor; labels: Tensor }> {
  const wasTraining = model.training;
  model.eval();
  const chunks: Tensor[] = [];
  try {
    for await (const b of source.batches(batchSize)) {
      chunks.push(noGrad(() => tidy(() => model.forward(tensor(b.images, { shape: b.shape })).features)));
    }
    if (chunks.length === 0) throw new Error('embedSource: the evaluation set is empty');
    return { features: cat(chunks), labels: tensor(source.labels, { dtype: 'int64' }) };
  } finally {
    dispose(chunks);
    model.train(wasTraining);
  }
}
