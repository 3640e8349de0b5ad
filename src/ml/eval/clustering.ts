// The clustering scores of embeddings: k-means with k = number of classes, then NMI and AMI of the
// clusters against the classes (PML's AccuracyCalculator "NMI" and "AMI").
import { type Tensor, tidy, normalize as l2normalize } from '../../engine/index.js';
import { labelArray, labelCounts, type Labels } from './common.js';
import { kmeans, type KMeansOptions } from './kmeans.js';
import { normalizedMutualInfo } from './nmi.js';
import { adjustedMutualInfo } from './ami.js';

export interface ClusteringNmiOptions extends KMeansOptions {
  /**
   * Cluster L2-normalised embeddings (default true): the clustering then sees the geometry that
   * cosine retrieval ranks by, as the DML papers' NMI does for normalised embeddings.
   */
  normalize?: boolean;
}

/** k-means of the embeddings with k = number of distinct labels, then NMI and AMI against the labels. */
export function clusteringNmi(
  embeddings: Tensor,
  labels: Labels,
  o: ClusteringNmiOptions = {},
): { nmi: number; ami: number; k: number; inertia: number; iterations: number; converged: boolean } {
  const l = labelArray(labels, embeddings.shape[0], 'labels');
  const k = labelCounts(l).size;
  if (k === 0) throw new RangeError('clusteringNmi: no points');
  // k-means++ draws from a seeded CPU generator: GPU embeddings are clustered from a CPU copy, so that
  // a run's NMI is the same on any device.
  const x = tidy(() => {
    const onCpu = embeddings.device === 'cpu' ? embeddings : embeddings.to('cpu');
    return o.normalize === false ? onCpu : l2normalize(onCpu, 2, 1);
  });
  try {
    const r = kmeans(x, k, o);
    r.centroids.dispose();
    return {
      nmi: normalizedMutualInfo(l, r.assignments),
      ami: adjustedMutualInfo(l, r.assignments),
      k,
      inertia: r.inertia,
      iterations: r.iterations,
      converged: r.converged,
    };
  } finally {
    if (x !== embeddings) x.dispose();
  }
}
