export * from './optimizer.js';
export * from './sgd.js';
export * from './adam.js';
export * from './scheduler.js';
