// Datasets, image pipelines and batch loaders. Plain typed arrays in, plain typed arrays out:
// nothing here depends on the tensor engine.
export { Rng, sampleRng, type RngState } from '../random.js';
export {
  readIdx,
  readIdxTyped,
  findFashionMnist,
  FASHION_MNIST_CLASSES,
  loadIdxSplit,
  type IdxArray,
  type IdxTypedArray,
  type IdxDtype,
  type IdxData,
  type IdxSplit,
} from './idx.js';
export { idxBatch, IdxLoader, type IdxImages, type IdxAugment } from './idx-batch.js';
export {
  readList,
  readLists,
  readImageFolder,
  labelsOf,
  IMAGE_EXTENSIONS,
  type Sample,
  type LabeledSamples,
} from './list.js';
export { readFolderImages, readListImages, UNLABELLED, type FolderImages } from './image-files.js';
export {
  readMat,
  parseMat,
  charRows,
  matString,
  matNumber,
  type MatValue,
  type MatNumeric,
  type MatChar,
  type MatCell,
  type MatStruct,
  type MatSparse,
  type MatUnsupported,
  type MatNumericClass,
} from './matlab.js';
export {
  prepareCub,
  prepareCars,
  prepareSop,
  prepareInShop,
  type Prepared,
  type PreparedList,
  type PrepareOptions,
} from './prepare/index.js';
export {
  decodeImage,
  imageSize,
  readImageBytes,
  rawToFloat,
  BYTE_TO_UNIT,
  floatToRaw,
  rgbToLuma,
  encodeImage,
  DEFAULT_MAX_PIXELS,
  type RawImage,
  type FloatImage,
  type DecodeOptions,
  type FailOn,
  type SharpOp,
} from './image.js';
export { resizeBilinear, crop, hflip, rotate, pyRound, type Box } from './geometry.js';
export { adjustBrightness, adjustContrast, adjustSaturation, adjustHue, grayscale } from './color.js';
export { colorJitterFused, type JitterStep } from './jitter.js';
export {
  Resize,
  CenterCrop,
  RandomResizedCrop,
  RandomHorizontalFlip,
  ColorJitter,
  RandomRotation,
  ToTensor,
  Normalize,
  transformFromSpec,
  randomResizedCropBox,
  resizedSize,
  type Transform,
  type TransformSpec,
  type Size2,
  type Range,
} from './transforms.js';
export {
  Pipeline,
  type PipelineOptions,
  type PipelineSpec,
  type PipelineInput,
  type DecodedImage,
} from './pipeline.js';
export {
  referencePipelines,
  trainTransforms,
  testTransforms,
  REFERENCE_CONFIGS,
  type ReferenceDataset,
  type ReferenceConfig,
} from './presets.js';
export { ImageLoader, defaultWorkerCount, type Batch, type LoaderOptions } from './loader.js';
export { LoaderFatalError, WorkerPool, createLoaderPool, type PoolOptions } from './worker-pool.js';
export type { CacheMode } from './job.js';
