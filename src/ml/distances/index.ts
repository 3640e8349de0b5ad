// Distances and similarities: a peer of losses and miners (both compare embeddings with them),
// as in pytorch-metric-learning's `distances` package.
export {
  type Distance,
  type DistanceName,
  type DistanceSpec,
  EuclideanDistance,
  SquaredEuclideanDistance,
  CosineSimilarity,
  DotProductSimilarity,
  SNRDistance,
  BaseDistance,
  makeDistance,
} from './distances.js';
