// ColorJitter on HWC uint8 with the arithmetic torchvision uses on PIL images — the reference's
// path: brightness, contrast and saturation are Pillow's ImageEnhance (Image.blend against a
// degenerate image, float maths truncated to uint8 after every step), hue goes through Pillow's
// 8-bit HSV conversion. The pixel work runs in the addon (src/native/image.cc).
import { jitterBytes } from '../../engine/image.js';
import type { RawImage } from './image.js';
import type { JitterStep } from './jitter.js';

/** Runs jitter steps (0 brightness, 1 contrast, 2 saturation, 3 hue) in order on a 1- or 3-channel byte image. */
export function colorJitter8(img: RawImage, steps: readonly JitterStep[]): RawImage {
  const C = img.channels;
  if (C !== 1 && C !== 3) throw new RangeError(`ColorJitter: expected 1 or 3 channels, got ${C}`);
  if (img.data.length !== img.width * img.height * C)
    throw new RangeError(`ColorJitter: ${img.data.length} bytes for a ${img.width}x${img.height}x${C} image`);
  for (const s of steps) {
    if (s.op === 3 && !(s.factor >= -0.5 && s.factor <= 0.5))
      throw new RangeError(`adjustHue: factor must be in [-0.5, 0.5], got ${s.factor}`);
  }
  return {
    data: jitterBytes(img.data, img.width, img.height, C, steps),
    width: img.width,
    height: img.height,
    channels: C,
  };
}

/** The single adjustments, as torchvision.transforms.functional does them to a PIL image. */
export function adjustBrightness8(img: RawImage, factor: number): RawImage {
  return colorJitter8(img, [{ op: 0, factor }]);
}
export function adjustContrast8(img: RawImage, factor: number): RawImage {
  return colorJitter8(img, [{ op: 1, factor }]);
}
export function adjustSaturation8(img: RawImage, factor: number): RawImage {
  return colorJitter8(img, [{ op: 2, factor }]);
}
export function adjustHue8(img: RawImage, factor: number): RawImage {
  return colorJitter8(img, [{ op: 3, factor }]);
}
