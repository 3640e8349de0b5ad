// Losses by name, with typed options: what configs and the CLI use to build a loss.
import { CrossEntropyLoss, type CrossEntropyOptions } from './cross-entropy.js';
import { SmoothCrossEntropyLoss, type SmoothCrossEntropyOptions } from './smooth-cross-entropy.js';
import { NormSoftmaxLoss, type NormSoftmaxOptions } from './norm-softmax.js';
import { CosFaceLoss, type CosFaceOptions } from './cosface.js';
import { ArcFaceLoss, type ArcFaceOptions } from './arcface.js';
import { ProxyNCALoss, type ProxyNCAOptions } from './proxy-nca.js';
import { ProxyAnchorLoss, type ProxyAnchorOptions } from './proxy-anchor.js';
import { CenterLoss, type CenterLossOptions } from './center.js';
import { ContrastiveLoss, type ContrastiveOptions } from './contrastive.js';
import { TripletMarginLoss, type TripletMarginOptions } from './triplet-margin.js';
import { MultiSimilarityLoss, type MultiSimilarityOptions } from './multi-similarity.js';
import { LiftedStructureLoss, type LiftedStructureOptions } from './lifted-structure.js';
import { NPairsLoss, type NPairsOptions } from './n-pairs.js';
import { InfoNCELoss, NTXentLoss, type NTXentOptions } from './nt-xent.js';
import { MarginLoss, type MarginLossOptions } from './margin.js';
import { PairwiseCrossEntropyLoss, type PairwiseCrossEntropyOptions } from './pce.js';

export interface LossOptionsByName {
  'cross-entropy': CrossEntropyOptions;
  'smooth-ce': SmoothCrossEntropyOptions;
  'norm-softmax': NormSoftmaxOptions;
  cosface: CosFaceOptions;
  arcface: ArcFaceOptions;
  'proxy-nca': ProxyNCAOptions;
  'proxy-anchor': ProxyAnchorOptions;
  center: CenterLossOptions;
  contrastive: ContrastiveOptions;
  triplet: TripletMarginOptions;
  'multi-similarity': MultiSimilarityOptions;
  'lifted-structure': LiftedStructureOptions;
  'n-pairs': NPairsOptions;
  'nt-xent': NTXentOptions;
  infonce: NTXentOptions;
  margin: MarginLossOptions;
  pce: PairwiseCrossEntropyOptions;
}
export interface LossByName {
  'cross-entropy': CrossEntropyLoss;
  'smooth-ce': SmoothCrossEntropyLoss;
  'norm-softmax': NormSoftmaxLoss;
  cosface: CosFaceLoss;
  arcface: ArcFaceLoss;
  'proxy-nca': ProxyNCALoss;
  'proxy-anchor': ProxyAnchorLoss;
  center: CenterLoss;
  contrastive: ContrastiveLoss;
  triplet: TripletMarginLoss;
  'multi-similarity': MultiSimilarityLoss;
  'lifted-structure': LiftedStructureLoss;
  'n-pairs': NPairsLoss;
  'nt-xent': NTXentLoss;
  infonce: InfoNCELoss;
  margin: MarginLoss;
  pce: PairwiseCrossEntropyLoss;
}
export type LossName = keyof LossOptionsByName;

const FACTORIES: { [N in LossName]: (o: LossOptionsByName[N]) => LossByName[N] } = {
  'cross-entropy': (o) => new CrossEntropyLoss(o),
  'smooth-ce': (o) => new SmoothCrossEntropyLoss(o),
  'norm-softmax': (o) => new NormSoftmaxLoss(o),
  cosface: (o) => new CosFaceLoss(o),
  arcface: (o) => new ArcFaceLoss(o),
  'proxy-nca': (o) => new ProxyNCALoss(o),
  'proxy-anchor': (o) => new ProxyAnchorLoss(o),
  center: (o) => new CenterLoss(o),
  contrastive: (o) => new ContrastiveLoss(o),
  triplet: (o) => new TripletMarginLoss(o),
  'multi-similarity': (o) => new MultiSimilarityLoss(o),
  'lifted-structure': (o) => new LiftedStructureLoss(o),
  'n-pairs': (o) => new NPairsLoss(o),
  'nt-xent': (o) => new NTXentLoss(o),
  infonce: (o) => new InfoNCELoss(o),
  margin: (o) => new MarginLoss(o),
  pce: (o) => new PairwiseCrossEntropyLoss(o),
};

export const LOSS_NAMES = Object.keys(FACTORIES) as LossName[];

/** Options are required only for the losses that need them (numClasses, embeddingSize). */
export type LossOptionsArg<N extends LossName> = Record<string, never> extends LossOptionsByName[N]
  ? [options?: LossOptionsByName[N]]
  : [options: LossOptionsByName[N]];

export function createLoss<N extends LossName>(name: N, ...options: LossOptionsArg<N>): LossByName[N] {
  const f = FACTORIES[name] as ((o: LossOptionsByName[N]) => LossByName[N]) | undefined;
  if (!f) throw new RangeError(`unknown loss '${String(name)}' (${LOSS_NAMES.join(', ')})`);
  const given: unknown = options[0] ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new TypeError(`loss '${name}': options must be an object, got ${JSON.stringify(given)}`);
  // Options come from configs and the command line, where a misspelt key would otherwise be
  // ignored in silence: whatever the constructor never looked at is unknown to it.
  const read = new Set<string>();
  const watched = new Proxy(given as Record<string, unknown>, {
    get(t, k, r) {
      if (typeof k === 'string') read.add(k);
      return Reflect.get(t, k, r) as unknown;
    },
    has(t, k) {
      if (typeof k === 'string') read.add(k);
      return Reflect.has(t, k);
    },
  });
  const loss = f(watched as unknown as LossOptionsByName[N]);
  const unknown = Object.keys(given).filter((k) => !read.has(k));
  if (unknown.length) {
    loss.dispose();
    const known = [...read].sort();
    throw new RangeError(`loss '${name}': unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (it takes: ${known.join(', ') || 'none'})`);
  }
  return loss;
}
