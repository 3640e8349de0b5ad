// A ViT's memory counted layer by layer (vit.ts): its parameters exactly, and the activations its
// forward keeps for backward or holds at once under no_grad.
import type { FootprintSpec, ModelFootprint } from './footprint.js';
import { headParameters } from './footprint.js';
import { VIT_SIZES } from './vit.js';

export function vitFootprint(s: FootprintSpec): ModelFootprint {
  const a = VIT_SIZES[s.arch as keyof typeof VIT_SIZES];
  if (!a) throw new RangeError(`not a ViT: ${s.arch}`);
  const patch = s.patchSize || a.patchSize;
  const grid = Math.floor(s.imageSize / patch);
  const tokens = grid * grid + 1;
  const d = a.hiddenDim;
  const block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * a.mlpDim + a.mlpDim) + (a.mlpDim * d + d);
  const params = s.inChannels * patch * patch * d + d + d + tokens * d + a.numLayers * block + 2 * d;
  // Per block, kept for backward: both LayerNorms' inputs and outputs, q/k/v, the attention's
  // output and its log-sum-exp, the projection, both residual sums, the MLP's hidden layer before
  // and after GELU, and its output; the image and the patch embedding before the blocks.
  const perBlock = tokens * (12 * d + 2 * a.mlpDim) + a.numHeads * tokens;
  const image = s.inChannels * s.imageSize * s.imageSize;
  const saved = image + 3 * tokens * d + a.numLayers * perBlock;
  // Under no_grad: the residual stream, q/k/v and the attention's scores (materialised per head
  // where no fused kernel applies), or the MLP's hidden layer beside the stream.
  const peak = Math.max(2 * image, tokens * (5 * d) + a.numHeads * tokens * tokens, tokens * (2 * d + 2 * a.mlpDim));
  return { parameters: params + headParameters(d, s), savedPerImage: saved, inferencePerImage: peak };
}
