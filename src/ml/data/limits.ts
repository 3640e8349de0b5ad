// Size limits shared by the transforms and the configuration (kept apart from the transforms so
// that reading a config does not load the image libraries).

/**
 * Largest output side a transform accepts: far beyond any model input, and small enough that an
 * absurd size (a typo, a hostile checkpoint's metadata) is refused rather than failing an
 * allocation in the resampler.
 */
export const MAX_IMAGE_SIDE = 8192;
