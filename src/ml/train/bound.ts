// Per-epoch means of the CE-versus-PCE measurements (src/ml/losses/pce-bound.ts) taken on the
// logged steps of a classifier-loss run, as sums so that ranks can add theirs with one all-reduce.
import type { PceBoundSample } from '../losses/pce-bound.js';

/** One 'bound' record of metrics.jsonl: means over the measured batches of an epoch. */
export interface PceBoundRecord {
  ce: number;
  pce: number;
  tightness: number;
  contrastive: number;
  lambda: number;
  /** Mean of CE − PCE. */
  ceMinusPce: number;
  /** Fraction of the measured batches where CE ≥ PCE. */
  ceAbovePce: number;
  /** Batches measured (a multi-process run counts each rank's slice). */
  batches: number;
}

const FIELDS = 7; // batches, ce, pce, tightness, contrastive, lambda, CE ≥ PCE count

export class BoundAccumulator {
  #s: number[] = new Array<number>(FIELDS).fill(0);
  add(m: PceBoundSample): void {
    const s = this.#s;
    s[0]! += 1; s[1]! += m.ce; s[2]! += m.pce; s[3]! += m.tightness; s[4]! += m.contrastive; s[5]! += m.lambda;
    if (m.ce >= m.pce) s[6]! += 1;
  }
  sums(): number[] { return [...this.#s]; }
  setSums(v: readonly number[]): void {
    if (v.length !== FIELDS) throw new RangeError(`BoundAccumulator: expected ${FIELDS} sums, got ${v.length}`);
    this.#s = [...v];
  }
  mean(): PceBoundRecord | null {
    const [n, ce, pce, t, c, l, holds] = this.#s as [number, number, number, number, number, number, number];
    if (n === 0) return null;
    return { ce: ce / n, pce: pce / n, tightness: t / n, contrastive: c / n, lambda: l / n, ceMinusPce: (ce - pce) / n, ceAbovePce: holds / n, batches: n };
  }
}
