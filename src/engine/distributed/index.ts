// Multi-process training on libtorch's c10d: process groups, launch environment, data parallelism.
export * from './env.js';
export * from './process-group.js';
export * from './sync-batchnorm.js';
export * from './data-parallel.js';
