// A ResNet's memory counted layer by layer (resnet.ts, blocks.ts): its parameters exactly, and the
// activations its forward keeps for backward or holds at once under no_grad.
import type { FootprintSpec, ModelFootprint } from './footprint.js';
import { headParameters } from './footprint.js';
import { ARCHS } from './resnet.js';

const half = (side: number): number => Math.ceil(side / 2);

export function resnetFootprint(s: FootprintSpec): ModelFootprint {
  const spec = ARCHS[s.arch as keyof typeof ARCHS];
  if (!spec) throw new RangeError(`not a ResNet: ${s.arch}`);
  const expansion = spec.block === 'basic' ? 1 : 4;
  let params = 0;
  let saved = 0;
  let peak = 0;
  // A conv (no bias) then its BatchNorm: the conv's output is kept by the BN, the BN's by the next layer.
  const convBn = (cin: number, cout: number, k: number, groups: number, area: number): void => {
    params += (cin / groups) * cout * k * k + 2 * cout;
    saved += 2 * cout * area;
  };
  // Stem: the normalised image (kept by conv1), conv1 + bn1 (+ in-place ReLU), the max-pool's indices (int64).
  const image = s.inChannels * s.imageSize * s.imageSize;
  let side = s.smallInput ? s.imageSize : half(s.imageSize);
  saved += image;
  convBn(s.inChannels, 64, s.smallInput ? 3 : 7, 1, side * side);
  peak = Math.max(peak, 2 * image + 2 * 64 * side * side);
  if (!s.smallInput) {
    side = half(side);
    saved += 3 * 64 * side * side;
  }
  let inplanes = 64;
  [64, 128, 256, 512].forEach((planes, stage) => {
    for (let b = 0; b < spec.layers[stage]!; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const inArea = side * side;
      const outSide = stride === 2 ? half(side) : side;
      const outArea = outSide * outSide;
      const out = planes * expansion;
      let widest: number;
      if (spec.block === 'basic') {
        convBn(inplanes, planes, 3, 1, outArea);
        convBn(planes, planes, 3, 1, outArea);
        widest = planes * outArea;
      } else {
        const width = Math.floor(planes * (spec.widthPerGroup / 64)) * spec.groups;
        convBn(inplanes, width, 1, 1, inArea);
        convBn(width, width, 3, spec.groups, outArea);
        convBn(width, out, 1, 1, outArea);
        widest = Math.max(width * inArea, out * outArea);
      }
      if (b === 0 && (stride !== 1 || inplanes !== out)) convBn(inplanes, out, 1, 1, outArea);
      // The residual sum (ReLU in place on it), kept by the next block's first conv.
      saved += out * outArea;
      // Under no_grad: the block's input (the identity) beside a layer's output and its BN's.
      peak = Math.max(peak, inplanes * inArea + 2 * widest + out * outArea);
      inplanes = out;
      side = outSide;
    }
  });
  return { parameters: params + headParameters(512 * expansion, s), savedPerImage: saved, inferencePerImage: peak };
}
