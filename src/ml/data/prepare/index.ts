export { prepareCub } from './cub.js';
export { prepareCars } from './cars.js';
export { prepareSop } from './sop.js';
export { prepareInShop } from './inshop.js';
export type { Prepared, PreparedList, PrepareOptions } from './common.js';
