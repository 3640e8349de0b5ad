// What a loss file declares about itself, so that the registry, the trainer's wiring, the fixture
// tests and the README all read one fact instead of each keeping its own list of names.
import type { LogitLoss, MetricLoss } from './base.js';

/** Another name for a loss, built by its own factory (e.g. 'infonce' builds InfoNCELoss). */
export interface LossAlias {
  readonly name: string;
  /** Builds the loss; its constructor checks the options and names the bad one. */
  readonly create: (options: never) => MetricLoss | LogitLoss;
}

export interface LossSpec extends LossAlias {
  /**
   * The loss keeps a table of per-class vectors of the embedding size (weights, proxies,
   * centres), so the trainer passes it numClasses, embeddingSize and seed. Aliases share it.
   */
  readonly classTable?: boolean;
  /** A few words shown after the name in the README's list of losses. */
  readonly note?: string;
  readonly aliases?: readonly LossAlias[];
}

/** Keeps the literal name and the exact option and loss types, from which the registry derives its types. */
export function defineLoss<const S extends LossSpec>(spec: S): S {
  return spec;
}
