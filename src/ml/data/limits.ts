// Size limits shared by the transforms and the configuration (kept apart from the transforms so
// that reading a config does not load the image libraries).

/**
 * Largest output side a transform accepts: far beyond any model input, and small enough that an
 * absurd size (a typo, a hostile checkpoint's metadata) is refused rather than failing an
 * allocation in the resampler.
 */
export const MAX_IMAGE_SIDE = 8192;

/**
 * Largest side of the square input a trained model is run at (embed, eval, serve, export, report):
 * a ResNet-50 forward at 2048² already holds gigabytes of activations per image, and a checkpoint's
 * metadata (or --image-size) saying 8192 would ask for 16 times that before the first batch.
 */
export const MAX_MODEL_INPUT_SIDE = 2048;

/**
 * Pixels an uploaded query may have, by default, for a model taking h×w inputs: 256 times the input
 * (a 16× downscale on each side), at least 4 Mpx and at most 40 Mpx. Decoding costs time in
 * proportion to the pixels, so a 28-px model need not decode 40-Mpx uploads (0.8 s of CPU each).
 */
export function defaultQueryPixels(h: number, w: number): number {
  return Math.min(40_000_000, Math.max(4_000_000, 256 * h * w));
}
