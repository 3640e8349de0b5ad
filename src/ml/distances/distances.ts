// Distances and similarities between embeddings, written once for every loss and miner.
//
// A loss states its condition in "distance" terms (positives closer than negatives by a margin);
// `margin(x, y)` turns that into the right sign for either kind: for a distance, x - y; for a
// similarity (larger = closer), y - x. So relu(margin(d_ap, d_an) + m) is the triplet hinge for
// both Euclidean distance and cosine similarity.
//
// The set is open: any object with this interface (e.g. a subclass of BaseDistance) can be passed
// wherever a loss, miner or regularizer takes a distance.
import { type Tensor, type TensorOrScalar, cdist, normalize as l2normalize, tidy } from '../../engine/index.js';

export type DistanceName = 'euclidean' | 'squared-euclidean' | 'cosine' | 'dot' | 'snr';
const NAMES = 'euclidean | squared-euclidean | cosine | dot | snr';

/** A plain-object description of a distance (used in configs and fixtures). */
export interface DistanceSpec {
  name: DistanceName;
  /** L2-normalise rows first (cosine always does; default false, except snr: true, as PML's SNRDistance). */
  normalize?: boolean;
}

export interface Distance {
  /** A built-in's DistanceName, or whatever a user-supplied distance calls itself. */
  readonly name: string;
  /** True when larger values mean closer (cosine, dot product). */
  readonly isSimilarity: boolean;
  readonly normalize: boolean;
  /** The [n, m] matrix between the rows of query [n, d] and ref [m, d] (ref defaults to query). */
  matrix(query: Tensor, ref?: Tensor): Tensor;
  /** How much x exceeds y in the "farther" direction: x - y for a distance, y - x for a similarity. */
  margin(x: TensorOrScalar, y: TensorOrScalar): Tensor;
  /** A plain description that recreates this distance (the built-ins have one). */
  spec?(): DistanceSpec;
}

function diff(x: TensorOrScalar, y: TensorOrScalar): Tensor {
  if (typeof x !== 'number' && typeof x !== 'boolean') return x.sub(y);
  if (typeof y === 'number' || typeof y === 'boolean')
    throw new TypeError('Distance.margin: at least one argument must be a tensor');
  return y.rsub(x);
}

/** The built-ins' base, also for user distances: subclasses give compute(q, r) on (normalised) rows. */
export abstract class BaseDistance implements Distance {
  abstract readonly name: string;
  abstract readonly isSimilarity: boolean;
  constructor(readonly normalize: boolean) {}
  protected abstract compute(q: Tensor, r: Tensor): Tensor;
  matrix(query: Tensor, ref?: Tensor): Tensor {
    return tidy(() => {
      const q = this.normalize ? l2normalize(query) : query;
      const r = ref === undefined ? q : this.normalize ? l2normalize(ref) : ref;
      return this.compute(q, r);
    });
  }
  margin(x: TensorOrScalar, y: TensorOrScalar): Tensor {
    return this.isSimilarity ? diff(y, x) : diff(x, y);
  }
  spec(): DistanceSpec {
    return { name: this.name as DistanceName, normalize: this.normalize };
  }
}

/**
 * torch.cdist, in float32 for half-precision inputs: libtorch has no CPU cdist for float16 or
 * bfloat16, and autocast runs it in float32 anyway (it is on its float32 list); the result is cast
 * back to the inputs' dtype, so a loss stays in one dtype.
 */
function euclidean(q: Tensor, r: Tensor): Tensor {
  if (q.dtype !== 'float16' && q.dtype !== 'bfloat16') return cdist(q, r);
  return tidy(() => cdist(q.float(), r.float()).to(q.dtype));
}

/**
 * ||a - b||₂ via torch.cdist. Its gradient at zero distance is 0 (the subgradient libtorch picks),
 * so equal embeddings give a defined gradient.
 */
export class EuclideanDistance extends BaseDistance {
  readonly name = 'euclidean' as const;
  readonly isSimilarity = false;
  constructor(o: { normalize?: boolean } = {}) {
    super(o.normalize ?? false);
  }
  protected compute(q: Tensor, r: Tensor): Tensor {
    return euclidean(q, r);
  }
}

/** ||a - b||₂², the square of cdist (smooth everywhere). */
export class SquaredEuclideanDistance extends BaseDistance {
  readonly name = 'squared-euclidean' as const;
  readonly isSimilarity = false;
  constructor(o: { normalize?: boolean } = {}) {
    super(o.normalize ?? false);
  }
  protected compute(q: Tensor, r: Tensor): Tensor {
    return euclidean(q, r).square();
  }
}

/** aᵀb / (max(||a||, 1e-12) · max(||b||, 1e-12)), i.e. F.normalize then dot product. */
export class CosineSimilarity extends BaseDistance {
  readonly name = 'cosine' as const;
  readonly isSimilarity = true;
  constructor() {
    super(true);
  }
  protected compute(q: Tensor, r: Tensor): Tensor {
    return q.matmul(r.t());
  }
}

/** aᵀb on the raw (or, with normalize, L2-normalised) embeddings. */
export class DotProductSimilarity extends BaseDistance {
  readonly name = 'dot' as const;
  readonly isSimilarity = true;
  constructor(o: { normalize?: boolean } = {}) {
    super(o.normalize ?? false);
  }
  protected compute(q: Tensor, r: Tensor): Tensor {
    return q.matmul(r.t());
  }
}

/**
 * Signal-to-noise ratio (Yuan et al., "Signal-to-noise ratio: a robust distance metric for deep
 * metric learning", CVPR 2019): var(r_j - q_i) / var(q_i), the noise a reference adds to the query
 * over the query's own signal. Not symmetric. With centred rows q̃, r̃ this is ‖q̃_i - r̃_j‖² / ‖q̃_i‖²
 * (the variances' 1/(d-1) cancels), computed that way from one cdist. Normalises by default, as
 * PML's SNRDistance.
 */
export class SNRDistance extends BaseDistance {
  readonly name = 'snr' as const;
  readonly isSimilarity = false;
  constructor(o: { normalize?: boolean } = {}) {
    super(o.normalize ?? true);
  }
  protected compute(q: Tensor, r: Tensor): Tensor {
    const qc = q.sub(q.mean(1, true));
    const rc = r.sub(r.mean(1, true));
    return cdist(qc, rc).square().div(qc.square().sum(1, true));
  }
}

/**
 * A Distance from an instance, a spec or a bare name (what a config's `loss.options.distance=cosine`
 * gives); `fallback` when undefined.
 */
export function makeDistance(
  d: Distance | DistanceSpec | DistanceSpec['name'] | undefined,
  fallback: DistanceSpec,
): Distance {
  if (typeof d === 'string') return makeDistance({ name: d }, fallback);
  if (d !== undefined && (typeof d !== 'object' || d === null))
    throw new TypeError(`distance must be a name (${NAMES}), a spec or a Distance object, got ${JSON.stringify(d)}`);
  if (d !== undefined && 'matrix' in d) {
    const missing = (['matrix', 'margin'] as const).filter((k) => typeof d[k] !== 'function');
    if (missing.length > 0 || typeof d.isSimilarity !== 'boolean')
      throw new TypeError(
        'a Distance object needs matrix(), margin() and isSimilarity (extend BaseDistance); ' +
          `${d.name ?? 'this one'} lacks ` +
          [...missing, ...(typeof d.isSimilarity !== 'boolean' ? ['isSimilarity'] : [])].join(', '),
      );
    return d;
  }
  const s = d ?? fallback;
  switch (s.name) {
    case 'euclidean':
      return new EuclideanDistance({ normalize: s.normalize ?? false });
    case 'squared-euclidean':
      return new SquaredEuclideanDistance({ normalize: s.normalize ?? false });
    case 'cosine':
      if (s.normalize === false)
        throw new RangeError("distance 'cosine' always normalizes; use 'dot' for raw inner products");
      return new CosineSimilarity();
    case 'dot':
      return new DotProductSimilarity({ normalize: s.normalize ?? false });
    case 'snr':
      return new SNRDistance({ normalize: s.normalize ?? true });
    default:
      throw new RangeError(`unknown distance '${String((s as { name: unknown }).name)}' (${NAMES})`);
  }
}
