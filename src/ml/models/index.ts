export * from './resnet.js';
export * from './blocks.js';
