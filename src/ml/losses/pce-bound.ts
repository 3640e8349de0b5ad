// The paper's claim "CE bounds PCE", measured on a training batch: the plain cross-entropy of the
// model's classifier next to the PCE whose soft means use that classifier's softmax (softMean
// 'head') with λ = λ_max(ZᵀZ)/(2n). No gradient; float64 whatever the model's dtype.
import { type Tensor, noGrad, tensor, tidy } from '../../engine/index.js';
import { pairwiseCrossEntropy, pceLambdaEigen } from './pce.js';

export interface PceBoundSample {
  /** Cross-entropy of the classifier's logits (no label smoothing), nats. */
  ce: number;
  /** PCE = tightness + contrastive with p = softmax(logits). */
  pce: number;
  tightness: number;
  contrastive: number;
  lambda: number;
}

/** features [n, d] and the classifier's logits [n, K] of the same batch; labels in [0, K). */
export function measurePceBound(features: Tensor, logits: Tensor, labels: ArrayLike<number>): PceBoundSample {
  const [n, k] = logits.shape as [number, number];
  if (features.shape[0] !== n || labels.length !== n) throw new RangeError(`measurePceBound: ${features.shape[0]} features, ${n} logit rows and ${labels.length} labels`);
  for (const y of Array.from(labels)) if (!Number.isInteger(y) || y < 0 || y >= k) throw new RangeError(`measurePceBound: label ${y} is outside the classifier's ${k} classes`);
  return noGrad(() => tidy(() => {
    const z = features.detach().double(), s = logits.detach().double();
    const idx = tensor(Array.from(labels), { dtype: 'int64', device: s.device }).unsqueeze(1);
    const ce = s.logSoftmax(1).gather(1, idx).mean().neg().item();
    const lambda = pceLambdaEigen(z);
    const parts = pairwiseCrossEntropy(z, Array.from(labels), k, s.softmax(1), lambda);
    const tightness = parts.tightness.item(), contrastive = parts.contrastive.item();
    return { ce, pce: tightness + contrastive, tightness, contrastive, lambda };
  }));
}
