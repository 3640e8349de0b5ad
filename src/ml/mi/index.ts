// Mutual information between embeddings Z and labels Y, in the two views of Boudiaf et al.
// (ECCV 2020), reported in nats and bits:
//   discriminative  I(Z;Y) = H(Y) - H(Y|Z) ~ H(Y) - CE, CE the held-out cross-entropy of the
//                   model's classifier logits or of a cross-fitted linear probe (a lower bound);
//   generative      I(Z;Y) = H(Z) - H(Z|Y), both by the Kozachenko-Leonenko kNN estimator, with
//                   H(Z|Y) = sum_y p(y) H(Z|Y=y), on the PCA-whitened intrinsic coordinates
//                   (see intrinsic.ts for why).
// H(Y) is the plug-in entropy of the label frequencies.
import { type Tensor, tensor, tidy } from '../../engine/index.js';
import { checkEmbeddings, labelArray, labelCounts, type Labels } from '../eval/common.js';
import { labelEntropy } from '../eval/nmi.js';
import { klEntropyEstimate } from './entropy.js';
import { pcaWhiten } from './intrinsic.js';
import { crossFittedProbe, logitsCrossEntropy, type LinearProbeOptions } from './probe.js';
import { quantity, type Quantity } from './special.js';

export * from './special.js';
export * from './entropy.js';
export * from './intrinsic.js';
export * from './probe.js';
export { symmetricEigen, topEigen } from '../linalg.js';

export interface GenerativeOptions {
  /** Neighbour order of the Kozachenko-Leonenko estimator (default 3). */
  k?: number;
  /** Whitened components: a number, or 'auto' (default) = TwoNN intrinsic dimension; see pcaWhiten. */
  dims?: number | 'auto';
  /** Upper bound on the components (default 64). */
  maxDims?: number;
  /** Use the raw features instead of the PCA-whitened intrinsic coordinates. */
  raw?: boolean;
  memoryBudgetBytes?: number;
  seed?: number;
}

export interface MutualInformationOptions {
  /** The model's classifier logits [N, C] (labels in 0..C-1): the discriminative view uses them. */
  logits?: Tensor;
  /** Linear-probe settings, or false for no probe (then, without logits, no discriminative view). */
  probe?: LinearProbeOptions | false;
  /** Generative-view settings, or false to skip it. */
  generative?: GenerativeOptions | false;
  /**
   * Progress of the slow parts: the probe's optimiser steps (all fits together), then the kNN
   * entropies (the whole set, then one per class).
   */
  onProgress?: (stage: MiStage, done: number, total: number) => void;
}

export type MiStage = 'linear probe' | 'kNN entropies';

/** What mutualInformation(x [n, dims], labels, o) will compute, for a log's header line. */
export function describeMiWork(n: number, dims: number, o: MutualInformationOptions = {}): string {
  const parts: string[] = [];
  if (o.logits) parts.push("the classifier's cross-entropy");
  else if (o.probe !== false) {
    const p = o.probe ?? {};
    const folds = Math.min(p.folds ?? 5, n);
    const grid = typeof p.weightDecay === 'number' ? 1 : (p.weightDecay?.length ?? 5);
    const fits = grid > 1 ? grid + 1 : 1;
    parts.push(`a linear probe (${folds} folds × ${fits} fits × ${p.steps ?? 300} steps)`);
  }
  if (o.generative !== false) parts.push(`kNN entropies (k=${(o.generative ?? {}).k ?? 3})`);
  return `I(Z;Y) of ${n} embeddings (${dims} dims): ${parts.join(', ') || 'H(Y) only'}`;
}

export type MutualInformationReport = {
  n: number;
  classes: number;
  /** Plug-in label entropy: the ceiling of I(Z;Y). */
  hY: Quantity;
  discriminative: {
    source: 'logits' | 'linear-probe';
    /** Held-out cross-entropy (out-of-fold for the probe). */
    crossEntropy: Quantity;
    mi: Quantity;
    accuracy: number;
    folds: number | null;
  } | null;
  generative: {
    k: number;
    /** Dimension the estimator ran in. */
    dims: number;
    /** TwoNN estimate when dims was 'auto'. */
    intrinsicDim: number | null;
    transform: 'pca-whiten' | 'raw';
    /** Entropy of the PCA projection (raw: of the features). Differential: may be negative. */
    hZ: Quantity;
    hZgivenY: Quantity;
    mi: Quantity;
    /** Classes with >= 2 points (the others cannot enter H(Z|Y)). */
    classesUsed: number;
  } | null;
  warnings: string[];
};

/**
 * Both views of I(Z;Y) for embeddings [N, D] and their labels.
 *
 * Cost: the default probe fits 6 softmax regressions per fold (5 weight decays + the refit) x 5
 * folds x 300 Adam steps, cheap for thousands of points and tens of classes; at SOP scale (60k x
 * 2048, 11k classes) pass the model's logits, or e.g. probe { folds: 2, steps: 100, weightDecay: 1e-2 }.
 * The generative view costs one exact kNN pass over N points in `dims` dimensions plus one per class.
 */
export function mutualInformation(
  embeddings: Tensor,
  labels: Labels,
  o: MutualInformationOptions = {},
): MutualInformationReport {
  const { n } = checkEmbeddings(embeddings, 'mutualInformation');
  const y = labelArray(labels, n);
  const counts = labelCounts(y);
  const hY = labelEntropy(y);
  const warnings: string[] = [];
  const report: MutualInformationReport = {
    n,
    classes: counts.size,
    hY: quantity(hY),
    discriminative: null,
    generative: null,
    warnings,
  };

  if (o.logits) {
    const r = logitsCrossEntropy(o.logits, y);
    report.discriminative = {
      source: 'logits',
      crossEntropy: quantity(r.crossEntropy),
      mi: quantity(hY - r.crossEntropy),
      accuracy: r.accuracy,
      folds: null,
    };
  } else if (o.probe !== false) {
    const p = o.onProgress;
    const r = crossFittedProbe(embeddings, y, {
      ...(o.probe ?? {}),
      ...(p ? { onProgress: (done: number, total: number) => p('linear probe', done, total) } : {}),
    });
    report.discriminative = {
      source: 'linear-probe',
      crossEntropy: quantity(r.crossEntropy),
      mi: quantity(hY - r.crossEntropy),
      accuracy: r.accuracy,
      folds: r.folds,
    };
  }
  if (report.discriminative && report.discriminative.mi.nats < 0) {
    warnings.push(
      'discriminative estimate is negative: the classifier/probe predicts worse than the label frequencies',
    );
  }

  if (o.generative !== false) {
    const g = o.generative ?? {};
    const k = g.k ?? 3;
    const wh = g.raw
      ? null
      : pcaWhiten(embeddings, {
          dims: g.dims,
          maxDims: g.maxDims,
          seed: g.seed,
          memoryBudgetBytes: g.memoryBudgetBytes,
        });
    const z = wh ? wh.z : embeddings;
    try {
      const dims = z.shape[1]!;
      if (wh && wh.intrinsicDim !== null && wh.intrinsicDim > (g.maxDims ?? 64) + 0.5) {
        warnings.push(`intrinsic dimension ${wh.intrinsicDim.toFixed(1)} capped at maxDims=${g.maxDims ?? 64}`);
      }
      o.onProgress?.('kNN entropies', 0, counts.size + 1);
      const all = klEntropyEstimate(z, { k: Math.min(k, n - 1), memoryBudgetBytes: g.memoryBudgetBytes });
      let entropies = 1;
      o.onProgress?.('kNN entropies', entropies, counts.size + 1);
      let zeros = all.zeroDistances;
      // H(Z|Y): classes with n_y <= k use k_y = n_y - 1; singletons cannot be estimated and are
      // dropped, the remaining p(y) renormalised.
      const byClass = new Map<number, number[]>();
      y.forEach((c, i) => {
        const l = byClass.get(c);
        if (l) l.push(i);
        else byClass.set(c, [i]);
      });
      let hCond = 0,
        used = 0,
        usedPoints = 0,
        smallK = 0;
      for (const idx of byClass.values()) {
        if (idx.length < 2) {
          o.onProgress?.('kNN entropies', ++entropies, counts.size + 1);
          continue;
        }
        const ky = Math.min(k, idx.length - 1);
        if (ky < k) smallK++;
        const sub = tidy(() => z.indexSelect(0, tensor(idx, { dtype: 'int64' })));
        try {
          const e = klEntropyEstimate(sub, { k: ky, memoryBudgetBytes: g.memoryBudgetBytes });
          hCond += idx.length * e.nats;
          zeros += e.zeroDistances;
        } finally {
          sub.dispose();
        }
        used++;
        usedPoints += idx.length;
        o.onProgress?.('kNN entropies', ++entropies, counts.size + 1);
      }
      if (used === 0)
        throw new RangeError('mutualInformation: no class has 2 or more points; H(Z|Y) cannot be estimated');
      hCond /= usedPoints;
      if (used < counts.size) warnings.push(`${counts.size - used} singleton classes left out of H(Z|Y)`);
      if (smallK > 0)
        warnings.push(
          `${smallK} classes have <= k=${k} points: their H(Z|Y=y) uses k = n_y - 1 (high variance and bias)`,
        );
      if (zeros > 0) warnings.push(`${zeros} zero neighbour distances (duplicate embeddings): log-distances floored`);
      const shift = wh ? wh.logJacobian : 0;
      report.generative = {
        k,
        dims,
        intrinsicDim: wh ? wh.intrinsicDim : null,
        transform: wh ? 'pca-whiten' : 'raw',
        hZ: quantity(all.nats + shift),
        hZgivenY: quantity(hCond + shift),
        mi: quantity(all.nats - hCond),
        classesUsed: used,
      };
    } finally {
      if (wh) {
        wh.z.dispose();
        wh.dispose();
      }
    }
  }
  return report;
}
