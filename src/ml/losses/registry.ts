// Losses by name, with typed options: what configs and the CLI use to build a loss.
//
// To add a loss: write src/ml/losses/<name>.ts with the class and, at its end,
//   export const fooSpec = defineLoss({ name: 'foo', create: (o: FooOptions) => new FooLoss(o) });
// (classTable: true if the trainer must pass numClasses/embeddingSize/seed; aliases for other
// names), then add fooSpec to LOSS_SPECS below. Names, option types, createLoss, the trainer's
// wiring, the fixture test's list and the README's list (node scripts/update-readme-keys.mjs)
// all follow. Export the class from index.ts if users should import it by name, and give it a
// fixture (scripts/fixtures/make_loss_fixtures.py for independent loops, make_pml_fixtures.py for
// a loss ported from pytorch-metric-learning): the fixture test expects one per loss.
import { crossEntropySpec } from './cross-entropy.js';
import { smoothCrossEntropySpec } from './smooth-cross-entropy.js';
import { normSoftmaxSpec } from './norm-softmax.js';
import { cosFaceSpec } from './cosface.js';
import { arcFaceSpec } from './arcface.js';
import { proxyNCASpec } from './proxy-nca.js';
import { proxyAnchorSpec } from './proxy-anchor.js';
import { centerSpec } from './center.js';
import { contrastiveSpec } from './contrastive.js';
import { tripletMarginSpec } from './triplet-margin.js';
import { multiSimilaritySpec } from './multi-similarity.js';
import { liftedStructureSpec } from './lifted-structure.js';
import { nPairsSpec } from './n-pairs.js';
import { ntXentSpec } from './nt-xent.js';
import { marginSpec } from './margin.js';
import { pceSpec } from './pce.js';
import { angularSpec } from './angular.js';
import { circleSpec } from './circle.js';
import { dynamicSoftMarginSpec } from './dynamic-soft-margin.js';
import { fastAPSpec } from './fast-ap.js';
import { histogramSpec } from './histogram.js';
import { instanceSpec } from './instance.js';
import { intraPairVarianceSpec } from './intra-pair-variance.js';
import { largeMarginSoftmaxSpec } from './large-margin-softmax.js';
import { manifoldSpec } from './manifold.js';
import { ncaSpec } from './nca.js';
import { p2sGradSpec } from './p2s-grad.js';
import { pnpSpec } from './pnp.js';
import { rankedListSpec } from './ranked-list.js';
import { snrContrastiveSpec } from './snr-contrastive.js';
import { softTripleSpec } from './soft-triple.js';
import { sphereFaceSpec } from './sphereface.js';
import { subCenterArcFaceSpec } from './subcenter-arcface.js';
import { supConSpec } from './supcon.js';
import { thresholdConsistentMarginSpec } from './tcm.js';
import { tupletMarginSpec } from './tuplet-margin.js';
import { generalizedLiftedStructureSpec } from './generalized-lifted-structure.js';
import { smoothAPSpec } from './smooth-ap.js';
import type { LossAlias, LossSpec } from './shared/spec.js';
import { createChecked } from '../utils/options.js';

/** Every loss, in the order LOSS_NAMES lists them (an alias follows its loss). */
export const LOSS_SPECS = [
  crossEntropySpec,
  smoothCrossEntropySpec,
  normSoftmaxSpec,
  cosFaceSpec,
  arcFaceSpec,
  proxyNCASpec,
  proxyAnchorSpec,
  centerSpec,
  contrastiveSpec,
  tripletMarginSpec,
  multiSimilaritySpec,
  liftedStructureSpec,
  nPairsSpec,
  ntXentSpec,
  marginSpec,
  pceSpec,
  angularSpec,
  circleSpec,
  dynamicSoftMarginSpec,
  fastAPSpec,
  histogramSpec,
  instanceSpec,
  intraPairVarianceSpec,
  largeMarginSoftmaxSpec,
  manifoldSpec,
  ncaSpec,
  p2sGradSpec,
  pnpSpec,
  rankedListSpec,
  snrContrastiveSpec,
  softTripleSpec,
  sphereFaceSpec,
  subCenterArcFaceSpec,
  supConSpec,
  thresholdConsistentMarginSpec,
  tupletMarginSpec,
  generalizedLiftedStructureSpec,
  smoothAPSpec,
] as const;

type Spec = (typeof LOSS_SPECS)[number];
type AliasesOf<S> = S extends { readonly aliases: readonly (infer A)[] } ? A : never;
type Named = Spec | AliasesOf<Spec>;
type Create<N> = Extract<Named, { readonly name: N }>['create'];

export type LossName = Named['name'];
export type LossOptionsByName = { [N in LossName]: Parameters<Create<N>>[0] };
export type LossByName = { [N in LossName]: ReturnType<Create<N>> };

/** A name's entry: an alias carries the facts of the loss it names. */
interface Registered {
  readonly create: LossAlias['create'];
  readonly spec: LossSpec;
}

const REGISTERED = new Map<string, Registered>();
for (const spec of LOSS_SPECS as readonly LossSpec[]) {
  for (const { name, create } of [spec, ...(spec.aliases ?? [])]) {
    if (REGISTERED.has(name)) throw new Error(`loss registry: '${name}' is declared twice`);
    REGISTERED.set(name, { create, spec });
  }
}

export const LOSS_NAMES = [...REGISTERED.keys()] as LossName[];

/** Whether the loss keeps a per-class table, so the trainer must give it numClasses, embeddingSize and seed. */
export function needsClassTable(name: string): boolean {
  return REGISTERED.get(name)?.spec.classTable === true;
}

/** The README's list of losses (checked against the README by a test). */
export function lossListMarkdown(): string {
  return (LOSS_SPECS as readonly LossSpec[])
    .map((s) => {
      const names = [s, ...(s.aliases ?? [])].map((a) => `\`${a.name}\``).join('/');
      return s.note ? `${names} (${s.note})` : names;
    })
    .join(', ');
}

/** Options are required only for the losses that need them (numClasses, embeddingSize). */
export type LossOptionsArg<N extends LossName> =
  Record<string, never> extends LossOptionsByName[N]
    ? [options?: LossOptionsByName[N]]
    : [options: LossOptionsByName[N]];

export function createLoss<N extends LossName>(name: N, ...options: LossOptionsArg<N>): LossByName[N] {
  const f = REGISTERED.get(name)?.create as ((o: LossOptionsByName[N]) => LossByName[N]) | undefined;
  if (!f) throw new RangeError(`unknown loss '${String(name)}' (${LOSS_NAMES.join(', ')})`);
  return createChecked(
    `loss '${name}'`,
    options[0] ?? {},
    (o) => f(o as unknown as LossOptionsByName[N]),
    (loss) => loss.dispose(),
  );
}
