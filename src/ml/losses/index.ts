// The losses of the metric-learning library: the paper's cross-entropy family, its pairwise
// rivals, the paper's own pairwise cross-entropy, and the tightness/contrastive split.
export {
  MetricLoss,
  LogitLoss,
  type EmbeddingLoss,
  type Miner,
  type LossSplit,
  type Batch,
  type EmbeddingLossInput,
  type Reference,
} from './shared/base.js';
// Distances were importable from here before they had a folder of their own; they still are.
export * from '../distances/index.js';
export { type ReducerName, REDUCERS, reduce, zeroLoss } from '../reducers/index.js';
export {
  type MinedTuples,
  type PairTuples,
  type TripletTuples,
  allPairs,
  allTriplets,
  toPairs,
  toTriplets,
  checkTuples,
} from '../utils/tuples.js';
export { LossInputError } from '../utils/validate.js';
export { CrossEntropyLoss, type CrossEntropyOptions } from './cross-entropy.js';
export { SmoothCrossEntropyLoss, type SmoothCrossEntropyOptions } from './smooth-cross-entropy.js';
export { NormSoftmaxLoss, type NormSoftmaxOptions } from './norm-softmax.js';
export { CosFaceLoss, type CosFaceOptions } from './cosface.js';
export { ArcFaceLoss, type ArcFaceOptions } from './arcface.js';
export { ProxyNCALoss, type ProxyNCAOptions } from './proxy-nca.js';
export { ProxyAnchorLoss, type ProxyAnchorOptions } from './proxy-anchor.js';
export { CenterLoss, type CenterLossOptions } from './center.js';
export { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
export { SoftmaxTableLoss, type SoftmaxTableOptions } from './shared/softmax-table.js';
export { sampleClasses, targetColumns, gatherRowsWithGradient, shardedCrossEntropy } from './shared/partial-fc.js';
export { type EmbeddingRegularizerOptions } from './shared/base.js';
export { ContrastiveLoss, type ContrastiveOptions } from './contrastive.js';
export { TripletMarginLoss, type TripletMarginOptions, type TripletMining } from './triplet-margin.js';
export { MultiSimilarityLoss, type MultiSimilarityOptions } from './multi-similarity.js';
export { LiftedStructureLoss, type LiftedStructureOptions } from './lifted-structure.js';
export { NPairsLoss, type NPairsOptions } from './n-pairs.js';
export { NTXentLoss, InfoNCELoss, type NTXentOptions } from './nt-xent.js';
export { MarginLoss, type MarginLossOptions } from './margin.js';
export { AngularLoss, type AngularOptions } from './angular.js';
export { CircleLoss, type CircleOptions } from './circle.js';
export { DynamicSoftMarginLoss, type DynamicSoftMarginOptions } from './dynamic-soft-margin.js';
export { FastAPLoss, type FastAPOptions } from './fast-ap.js';
export { HistogramLoss, type HistogramOptions } from './histogram.js';
export { InstanceLoss, type InstanceOptions } from './instance.js';
export { IntraPairVarianceLoss, type IntraPairVarianceOptions } from './intra-pair-variance.js';
export { LargeMarginSoftmaxLoss, type LargeMarginSoftmaxOptions } from './large-margin-softmax.js';
export { ManifoldLoss, type ManifoldOptions } from './manifold.js';
export { NCALoss, type NCAOptions } from './nca.js';
export { P2SGradLoss, type P2SGradOptions } from './p2s-grad.js';
export { PNPLoss, PNP_VARIANTS, type PNPOptions, type PnpVariant } from './pnp.js';
export { RankedListLoss, type RankedListOptions } from './ranked-list.js';
export { SignalToNoiseRatioContrastiveLoss, type SignalToNoiseRatioContrastiveOptions } from './snr-contrastive.js';
export { SoftTripleLoss, type SoftTripleOptions } from './soft-triple.js';
export { SphereFaceLoss } from './sphereface.js';
export { SubCenterArcFaceLoss, type SubCenterArcFaceOptions } from './subcenter-arcface.js';
export { SupConLoss, type SupConOptions } from './supcon.js';
export { ThresholdConsistentMarginLoss, type ThresholdConsistentMarginOptions } from './tcm.js';
export { TupletMarginLoss, type TupletMarginOptions } from './tuplet-margin.js';
export {
  GeneralizedLiftedStructureLoss,
  type GeneralizedLiftedStructureOptions,
} from './generalized-lifted-structure.js';
export { SmoothAPLoss, type SmoothAPOptions } from './smooth-ap.js';
export {
  PairwiseCrossEntropyLoss,
  pairwiseCrossEntropy,
  pceLambda,
  type PairwiseCrossEntropyOptions,
  type PceHead,
  type PceLambda,
  type PceParts,
  type PceSoftMean,
} from './pce.js';
export {
  measurePceBound,
  measurePceBoundBatched,
  PceBoundAccumulator,
  type PceBoundSample,
  type PceBoundSummary,
} from './pce-bound.js';
export {
  createLoss,
  LOSS_NAMES,
  LOSS_SPECS,
  needsClassTable,
  type LossName,
  type LossByName,
  type LossOptionsByName,
} from './registry.js';
export { tightnessContrastiveSplit, type SplitValues, type SplitArgs } from './split.js';
export { asTrainLoss, type TrainableLoss, type ModelOutput } from './train-adapter.js';
export { DistributedLossWrapper, gatherEmbeddings } from './distributed.js';
export { MultipleLosses, type MultipleLossesOptions } from './multiple-losses.js';
export { SelfSupervisedLoss, type SelfSupervisedOptions } from './self-supervised.js';
export { CrossBatchMemory, type CrossBatchMemoryOptions } from './cross-batch-memory.js';
export { VICRegLoss, type VICRegOptions } from './vicreg.js';
