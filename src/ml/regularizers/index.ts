// Regularizers: penalties on embeddings or on a loss's class table, attached to a loss with a
// weight (embeddingRegularizer / weightRegularizer), as in pytorch-metric-learning's `regularizers`.
import type { Regularizer } from './base.js';
import { LpRegularizer } from './lp.js';
import { ZeroMeanRegularizer } from './zero-mean.js';
import { CenterInvariantRegularizer } from './center-invariant.js';
import { RegularFaceRegularizer } from './regular-face.js';

export { type Regularizer, type RegularizerOptions, BaseRegularizer } from './base.js';
export { LpRegularizer, type LpRegularizerOptions } from './lp.js';
export { ZeroMeanRegularizer } from './zero-mean.js';
export { CenterInvariantRegularizer } from './center-invariant.js';
export { RegularFaceRegularizer } from './regular-face.js';
export { SparseCentersRegularizer, type SparseCentersOptions } from './sparse-centers.js';

/** The regularizers a config can name (sparse-centers needs its class layout, so only as an object). */
const BY_NAME = {
  lp: () => new LpRegularizer(),
  'zero-mean': () => new ZeroMeanRegularizer(),
  'center-invariant': () => new CenterInvariantRegularizer(),
  'regular-face': () => new RegularFaceRegularizer(),
} as const;
export type RegularizerName = keyof typeof BY_NAME;
export const REGULARIZER_NAMES = Object.keys(BY_NAME) as RegularizerName[];

/** A Regularizer from a name (with default options) or an object with forward(). */
export function makeRegularizer(where: string, r: Regularizer | RegularizerName): Regularizer {
  if (typeof r === 'object' && r !== null && typeof r.forward === 'function') return r;
  const make = typeof r === 'string' && Object.hasOwn(BY_NAME, r) ? BY_NAME[r as RegularizerName] : undefined;
  if (make === undefined)
    throw new RangeError(
      `${where}: a regularizer must be one of ${REGULARIZER_NAMES.join(' | ')} or an object with forward(), got ` +
        JSON.stringify(r),
    );
  return make();
}
