// Miners by name, with typed options: what `dml train`'s miner.name / miner.options build, for any
// loss that takes mined tuples.
import type { Miner } from './base.js';
import { TripletMarginMiner, type TripletMarginMinerOptions } from './triplet-margin-miner.js';
import { BatchHardMiner, type BatchHardMinerOptions } from './batch-hard-miner.js';
import { MultiSimilarityMiner, type MultiSimilarityMinerOptions } from './multi-similarity-miner.js';
import { AngularMiner, type AngularMinerOptions } from './angular-miner.js';
import { BatchEasyHardMiner, type BatchEasyHardMinerOptions } from './batch-easy-hard-miner.js';
import { DistanceWeightedMiner, type DistanceWeightedMinerOptions } from './distance-weighted-miner.js';
import { HDCMiner, type HDCMinerOptions } from './hdc-miner.js';
import { PairMarginMiner, type PairMarginMinerOptions } from './pair-margin-miner.js';
import { UniformHistogramMiner, type UniformHistogramMinerOptions } from './uniform-histogram-miner.js';
import { PackagedTripletsMiner } from './packaged-triplets-miner.js';
import { createChecked } from '../utils/options.js';

interface MinerSpec {
  readonly name: string;
  readonly create: (options: never) => Miner;
  /** The miner draws at random, so the trainer seeds it (option `seed`) from the run seed. */
  readonly random?: boolean;
}
const defineMiner = <const S extends MinerSpec>(s: S): S => s;

/** Every miner; PML's class names are in the README's table. */
export const MINER_SPECS = [
  defineMiner({ name: 'triplet-margin', create: (o: TripletMarginMinerOptions) => new TripletMarginMiner(o) }),
  defineMiner({ name: 'batch-hard', create: (o: BatchHardMinerOptions) => new BatchHardMiner(o) }),
  defineMiner({ name: 'multi-similarity', create: (o: MultiSimilarityMinerOptions) => new MultiSimilarityMiner(o) }),
  defineMiner({ name: 'angular', create: (o: AngularMinerOptions) => new AngularMiner(o) }),
  defineMiner({ name: 'batch-easy-hard', create: (o: BatchEasyHardMinerOptions) => new BatchEasyHardMiner(o) }),
  defineMiner({
    name: 'distance-weighted',
    create: (o: DistanceWeightedMinerOptions) => new DistanceWeightedMiner(o),
    random: true,
  }),
  defineMiner({ name: 'hdc', create: (o: HDCMinerOptions) => new HDCMiner(o) }),
  defineMiner({ name: 'pair-margin', create: (o: PairMarginMinerOptions) => new PairMarginMiner(o) }),
  defineMiner({
    name: 'uniform-histogram',
    create: (o: UniformHistogramMinerOptions) => new UniformHistogramMiner(o),
    random: true,
  }),
  defineMiner({ name: 'packaged-triplets', create: (_o: Record<string, never>) => new PackagedTripletsMiner() }),
] as const;

type Spec = (typeof MINER_SPECS)[number];
export type MinerName = Spec['name'];
export type MinerOptionsByName = { [N in MinerName]: Parameters<Extract<Spec, { name: N }>['create']>[0] };
export const MINER_NAMES: readonly MinerName[] = MINER_SPECS.map((s) => s.name);

/** Whether the miner draws at random (and so takes a `seed`). */
export function minerIsRandom(name: string): boolean {
  return (MINER_SPECS as readonly MinerSpec[]).some((s) => s.name === name && s.random === true);
}

/** A miner by name; options it does not read are refused, by name. */
export function createMiner<N extends MinerName>(name: N, options: MinerOptionsByName[N] | object = {}): Miner {
  const spec = (MINER_SPECS as readonly MinerSpec[]).find((s) => s.name === name);
  if (!spec) throw new RangeError(`unknown miner '${String(name)}' (${MINER_NAMES.join(', ')})`);
  return createChecked(`miner '${name}'`, options, (o) => spec.create(o as never));
}
