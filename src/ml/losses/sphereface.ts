// SphereFace (Liu et al., "SphereFace: Deep Hypersphere Embedding for Face Recognition", CVPR
// 2017), as pytorch-metric-learning's SphereFaceLoss: large-margin softmax on normalised weights.
import type { Tensor } from '../../engine/index.js';
import { LargeMarginSoftmaxLoss, type LargeMarginSoftmaxOptions } from './large-margin-softmax.js';
import { defineLoss } from './shared/spec.js';

/** SphereFace (A-Softmax): L-Softmax's ψ with the logits scaled by |x_i| s only (the class weights are normalised). */
export class SphereFaceLoss extends LargeMarginSoftmaxLoss {
  override readonly name: string = 'SphereFaceLoss';
  constructor(o: LargeMarginSoftmaxOptions) {
    super(o, 'SphereFaceLoss');
  }
  protected override magnitudes(x: Tensor): Tensor {
    return x.norm(2, 1, true);
  }
}

export const sphereFaceSpec = defineLoss({
  name: 'sphereface',
  create: (o: LargeMarginSoftmaxOptions) => new SphereFaceLoss(o),
  classTable: true,
});
