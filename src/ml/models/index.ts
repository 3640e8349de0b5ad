export * from './resnet.js';
export * from './blocks.js';
export * from './vit.js';
export * from './factory.js';
export * from './arch-names.js';
export { detectVitNaming, toTorchvisionVit, type VitNaming } from './vit-weight-names.js';
export { registerHead, applyHead, type EmbeddingHead } from './head.js';
export { MODEL_FAMILIES, familyOf, familyOfArch } from './families.js';
export type { ModelFamily, WeightsShape } from './family.js';
