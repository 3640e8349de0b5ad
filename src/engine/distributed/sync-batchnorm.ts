// Synchronised BatchNorm: training-mode statistics over the whole global batch, every rank's slice
// of it, as torch.nn.SyncBatchNorm computes them. The two sums go through a differentiable
// all-reduce, so autograd gives the global-batch gradient without a hand-written backward.
import { Tensor, tensor } from '../tensor.js';
import { cat } from '../ops.js';
import { noGrad } from '../autograd.js';
import { tidy } from '../scope.js';
import type { ProcessGroup } from './process-group.js';

export interface SyncBatchNormOptions {
  group: ProcessGroup;
  weight?: Tensor | null;
  bias?: Tensor | null;
  momentum?: number;
  eps?: number;
}

/**
 * F.batch_norm in training mode with the mean and (biased) variance of the global batch; running
 * statistics (when given) are updated with them, the variance unbiased, as PyTorch does. Two
 * all-reduces: the channel sums with the sample count, then the centred sums of squares (centring
 * before squaring keeps float32 accurate where E[x²] − E[x]² would cancel).
 */
export function syncBatchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  o: SyncBatchNormOptions,
): Tensor {
  const { group } = o;
  const eps = o.eps ?? 1e-5;
  const momentum = o.momentum ?? 0.1;
  return tidy(() => {
    const s = x.shape;
    if (s.length < 2) throw new RangeError(`syncBatchNorm: expected at least 2D input, got ${s.length}D`);
    const C = s[1]!;
    const dims = s.map((_, i) => i).filter((i) => i !== 1);
    const view = s.map((d, i) => (i === 1 ? C : 1));
    const local = x.numel() / C;
    const packed = group.allReduceAutograd(cat([x.sum(dims), tensor([local], { dtype: x.dtype, device: x.device })]));
    const count = packed.narrow(0, C, 1).item();
    if (count <= 1)
      throw new RangeError(`Expected more than 1 value per channel when training, got ${count} over all ranks`);
    const mean = packed.narrow(0, 0, C).div(count);
    const centred = x.sub(mean.view(view));
    const variance = group.allReduceAutograd(centred.square().sum(dims)).div(count);
    let y = centred.mul(variance.add(eps).rsqrt().view(view));
    if (o.weight) y = y.mul(o.weight.view(view));
    if (o.bias) y = y.add(o.bias.view(view));
    if (runningMean && runningVar) {
      noGrad(() => {
        runningMean.mul_(1 - momentum).add_(mean.detach().mul(momentum));
        runningVar.mul_(1 - momentum).add_(variance.detach().mul((momentum * count) / (count - 1)));
      });
    }
    return y;
  });
}
