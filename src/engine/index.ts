// The typed engine: tensors, autograd, nn, optim, serialization over libtorch.
export * from './dtype.js';
export * from './tensor.js';
export * from './ops.js';
export * from './random.js';
export * from './autograd.js';
export * from './scope.js';
export * from './info.js';
export * from './amp.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as distributed from './distributed/index.js';
export * as linalg from './linalg.js';
export * from './gradcheck.js';
export * from './io.js';
export * from './image.js';
export * from './profiler.js';
