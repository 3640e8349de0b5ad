// What an exported model expects of its input, stated from the test pipeline itself (the one
// dml embed and dml serve run), so that a user who feeds onnxruntime can reproduce our pixels:
// the statement cannot drift from the code because it is generated from the same transform specs.
import type { Pipeline } from '../data/pipeline.js';
import type { TransformSpec } from '../data/transforms.js';

export interface InputNormalization {
  mean: readonly number[];
  std: readonly number[];
}

const list = (v: readonly number[]): string => `[${v.map((x) => String(x)).join(', ')}]`;

/** Transform specs → what torchvision would call them on a PIL image (the reference's path). */
function torchvisionName(t: TransformSpec): string {
  switch (t.type) {
    case 'Resize':
      return `Resize(${typeof t.size === 'number' ? t.size : `(${t.size.join(', ')})`}${
        t.maxSize !== undefined ? `, max_size=${t.maxSize}` : ''
      })`;
    case 'CenterCrop':
      return `CenterCrop((${t.size.join(', ')}))`;
    case 'ToTensor':
      return 'ToTensor()';
    default:
      return t.type;
  }
}

function describeStep(t: TransformSpec): string {
  switch (t.type) {
    case 'Resize': {
      const how =
        "Pillow's Image.resize(BILINEAR): a triangle filter widened by the shrink factor when shrinking " +
        '(antialiased), output pixel i centred on input coordinate (i + 0.5) · in / out − 0.5, weights in 22-bit ' +
        'fixed point, horizontally first (each row, rounded to 8 bits), then vertically; an axis whose size ' +
        'does not change is not resampled';
      if (typeof t.size !== 'number') return `resize: to ${t.size[1]}×${t.size[0]} (width × height); ${how}`;
      const cap = t.maxSize !== undefined ? `, both scaled down so that the longer is at most ${t.maxSize}` : '';
      return `resize: the shorter side to ${t.size}, the longer to floor(${t.size} × longer / shorter)${cap}; ` + how;
    }
    case 'CenterCrop': {
      const [h, w] = t.size;
      return (
        `crop: the centre ${w}×${h} (width × height), at left = round((W − ${w}) / 2), top = round((H − ${h}) / 2) ` +
        `with halves rounded to even (Python's round); zero padding where the image is smaller`
      );
    }
    case 'ToTensor':
      return 'tensor: float32 = byte / 255, so values in [0, 1]';
    case 'Normalize':
      return `normalize: (x − ${list(t.mean)}) / ${list(t.std)} per channel`;
    default:
      // Test pipelines hold only deterministic steps; a random one here would be a bug upstream.
      return `${t.type} (see src/ml/data/transforms.ts)`;
  }
}

/**
 * The preprocessing of `pipeline` followed by the model's input normalisation (inside the ONNX
 * graph), as lines of text: decode, each transform, layout and dtype, and the torchvision
 * equivalent. `side`: the exported input side, when it differs from the pipeline's crop.
 */
export function describePreprocessing(pipeline: Pipeline, norm: InputNormalization, side?: number): string[] {
  const specs = pipeline.toSpec().transforms;
  const channels = pipeline.channels;
  const crop = specs.find((t): t is Extract<TransformSpec, { type: 'CenterCrop' }> => t.type === 'CenterCrop');
  const [height, width] = side !== undefined ? [side, side] : (crop?.size ?? ['H', 'W']);
  const lines = [
    'decode: JPEG with libjpeg(-turbo) at its defaults (ISLOW DCT, fancy upsampling), as Pillow does; other ' +
      'formats with libvips (sharp); an alpha channel is dropped, not composited',
    channels === 3
      ? 'colour: RGB (grey images repeated to 3 channels), channel order R, G, B'
      : "colour: grey, L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (Pillow's convert('L'))",
    ...specs.map(describeStep),
    `layout: NCHW float32 [N, ${channels}, ${height}, ${width}], input "images"`,
    `normalisation: inside the graph, (x − mean) / std with mean ${list(norm.mean)}, std ${list(norm.std)}; ` +
      'do not apply it yourself',
    'the same as torchvision.transforms.Compose([' +
      specs.map(torchvisionName).join(', ') +
      `]) on PIL's Image.open(f).convert('${channels === 3 ? 'RGB' : 'L'}')`,
  ];
  if (side !== undefined && crop && (crop.size[0] !== side || crop.size[1] !== side))
    lines.push(
      `note: exported for ${side}×${side} inputs, while dml embed and dml serve crop ${crop.size[1]}×${crop.size[0]}`,
    );
  return lines;
}
