// The paper's lens on any loss: how much of its value is tightness (pulling a sample toward its
// own class: same-class pairs, its class weight or proxy) and how much is contrastive (pushing it
// from the other classes).
import { type Tensor, tidy } from '../../engine/index.js';
import { LogitLoss, MetricLoss, type LossSplit } from './shared/base.js';
import type { MinedTuples } from '../utils/tuples.js';
import { createLoss, type LossName, type LossOptionsByName } from './registry.js';

export interface SplitValues {
  tightness: number;
  contrastive: number;
  /** Terms that are neither (the margin loss's β regulariser); 0 for most losses. */
  other: number;
  /** The loss value: tightness + contrastive + other. */
  total: number;
}

export interface SplitArgs<N extends LossName> {
  /** Options for the loss built from a name. */
  options?: LossOptionsByName[N];
  /** Mined tuples for the pairwise losses. */
  indices?: MinedTuples;
}

/**
 * Splits a loss on one batch into its tightness and contrastive parts, as numbers.
 * `input` is the embeddings, or the logits for 'cross-entropy' and 'smooth-ce' (for CE the parts
 * are the paper's -1/n Σ_i θ_{y_i}ᵀ z_i and 1/n Σ_i log Σ_k exp θ_kᵀ z_i). For a pairwise loss they
 * are its positive-pair and negative-pair terms; see each loss's split() for its exact form.
 * Throws for losses without an additive split (lifted structure).
 */
export function tightnessContrastiveSplit<N extends LossName>(
  loss: N | MetricLoss | LogitLoss,
  input: Tensor,
  labels: Tensor,
  args: SplitArgs<N> = {},
): SplitValues {
  const owned = typeof loss === 'string';
  const l = owned
    ? (createLoss as (n: LossName, o?: object) => MetricLoss | LogitLoss)(loss, args.options ?? {})
    : loss;
  try {
    if (owned && l.input === 'embeddings' && l.numParameters() > 0) l.to(input.dtype);
    return tidy(() => {
      const s: LossSplit = l instanceof LogitLoss ? l.split(input, labels) : l.split(input, labels, args.indices);
      const tightness = s.tightness.item();
      const contrastive = s.contrastive.item();
      const other = s.other?.item() ?? 0;
      return { tightness, contrastive, other, total: tightness + contrastive + other };
    });
  } finally {
    if (owned) l.dispose();
  }
}
