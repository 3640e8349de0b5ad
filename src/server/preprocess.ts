// How a query or gallery image becomes the model's input: the data track's test-time pipeline
// (Resize → CenterCrop → ToTensor, decoded by sharp with a pixel limit), with the channel count
// of the checkpoint's first conv. Pure data: the spec travels to worker threads as JSON.
import { CenterCrop, Resize, ToTensor } from '../ml/data/transforms.js';
import { Pipeline, type PipelineSpec } from '../ml/data/pipeline.js';
// The rule lives beside Pipeline (Run.input uses it too); the server's callers import it from here.
export { inputSizeOf } from '../ml/data/pipeline.js';
import type { TrainConfig } from '../ml/run/config/keys.js';
import { nativeSideOf } from '../ml/run/pipelines.js';

export interface PreprocessOverrides {
  /** Final square input size (default: config.data.imageSize, or the dataset's native side: 28 for Fashion-MNIST). */
  imageSize?: number;
  /** Shorter side before the centre crop (default: config.data.resize). */
  resize?: number;
}

/**
 * The reference's test transform for the checkpoint's data set. Models of in-memory data of one side
 * (Fashion-MNIST: 28×28 grey, whatever data.imageSize says) saw no resize or crop, so any upload is
 * squashed to that side there; image data sets use Resize(resize) + CenterCrop(imageSize).
 */
export function preprocessSpec(
  config: Pick<TrainConfig, 'data'>,
  inChannels: number,
  maxPixels: number,
  o: PreprocessOverrides = {},
): PipelineSpec {
  if (inChannels !== 1 && inChannels !== 3)
    throw new Error(`the model takes ${inChannels}-channel images; only 1 (grey) or 3 (RGB) can be served`);
  const channels = inChannels as 1 | 3;
  const options = { channels, maxPixels, failOn: 'error' as const };
  const native = nativeSideOf(config);
  if (native !== undefined && o.resize === undefined) {
    const s = o.imageSize ?? native;
    return new Pipeline([new Resize([s, s]), new ToTensor()], options).toSpec();
  }
  const size = o.imageSize ?? config.data.imageSize;
  const resize = o.resize ?? config.data.resize;
  const t =
    resize > 0
      ? [new Resize(resize), new CenterCrop(size), new ToTensor()]
      : [new Resize([size, size]), new ToTensor()];
  return new Pipeline(t, options).toSpec();
}

/** The upload formats the API accepts, told apart by their magic bytes (never by Content-Type). */
export type ImageType = 'jpeg' | 'png' | 'webp';

export const IMAGE_MIME: Readonly<Record<ImageType, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

/** The image type by magic bytes, or null when the bytes are not JPEG, PNG or WebP. */
export function sniffImageType(b: Uint8Array): ImageType | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (
    b.length >= 8 &&
    b[0] === 0x89 &&
    b[1] === 0x50 &&
    b[2] === 0x4e &&
    b[3] === 0x47 &&
    b[4] === 0x0d &&
    b[5] === 0x0a &&
    b[6] === 0x1a &&
    b[7] === 0x0a
  )
    return 'png';
  if (
    b.length >= 12 &&
    b[0] === 0x52 &&
    b[1] === 0x49 &&
    b[2] === 0x46 &&
    b[3] === 0x46 &&
    b[8] === 0x57 &&
    b[9] === 0x45 &&
    b[10] === 0x42 &&
    b[11] === 0x50
  )
    return 'webp';
  return null;
}

/** Browsers render these directly; other gallery formats (TIFF, PPM, ...) are served as PNG. */
export function browserImageMime(b: Uint8Array): string | null {
  const t = sniffImageType(b);
  if (t) return IMAGE_MIME[t];
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'image/gif';
  return null;
}
