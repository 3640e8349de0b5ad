// Signal-to-noise-ratio contrastive loss (Yuan et al., "Signal-to-Noise Ratio: A Robust Distance
// Metric for Deep Metric Learning", CVPR 2019), as pytorch-metric-learning's
// SignalToNoiseRatioContrastiveLoss: the contrastive loss on SNR distances.
import { ContrastiveLoss, type ContrastiveOptions } from './contrastive.js';
import { SNRDistance } from '../distances/index.js';
import { defineLoss } from './shared/spec.js';

export interface SignalToNoiseRatioContrastiveOptions extends Omit<ContrastiveOptions, 'distance'> {
  /** L2-normalise the embeddings before the SNR (default true, as pytorch-metric-learning's SNRDistance). */
  normalize?: boolean;
}

/**
 * ContrastiveLoss with d_ij = var(x_i - x_j) / var(x_i) (SNRDistance): positives beyond m⁺ and
 * negatives inside m⁻ (defaults 0 and 1) are penalised, each side reduced separately (default
 * 'avgNonZero'). The noise-over-signal ratio does not grow with the embeddings' scale.
 */
export class SignalToNoiseRatioContrastiveLoss extends ContrastiveLoss {
  override readonly name: string = 'SignalToNoiseRatioContrastiveLoss';
  constructor(o: SignalToNoiseRatioContrastiveOptions = {}) {
    super(o, new SNRDistance({ normalize: o.normalize ?? true }));
  }
}

export const snrContrastiveSpec = defineLoss({
  name: 'snr-contrastive',
  create: (o: SignalToNoiseRatioContrastiveOptions) => new SignalToNoiseRatioContrastiveLoss(o),
});
