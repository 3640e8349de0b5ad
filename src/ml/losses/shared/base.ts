// The common shape of every loss: an nn.Module (so learnable proxies, class weights and margins are
// registered parameters, trained by the optimiser and saved in stateDict under PyTorch-style keys)
// whose forward validates its inputs, then computes inside tidy() so no intermediate leaks.
import { type Tensor, nn, tidy } from '../../../engine/index.js';
import { checkLabels, checkMatrix, LossInputError } from '../../utils/validate.js';
import { checkTuples, type MinedTuples } from '../../utils/tuples.js';
import type { Miner } from '../../miners/base.js';
import { makeRegularizer, type Regularizer, type RegularizerName } from '../../regularizers/index.js';
import { finiteNumber } from '../../utils/validate.js';

/**
 * A loss's value split into the two parts of Boudiaf et al. (ECCV 2020): the tightness part
 * (pulls same-class samples, or a sample and its class's weight/proxy, together) and the
 * contrastive part (pushes different classes apart). tightness + contrastive (+ other) equals the
 * loss. `other` holds terms that are neither (e.g. the margin loss's β regulariser).
 */
export interface LossSplit {
  tightness: Tensor;
  contrastive: Tensor;
  other?: Tensor;
}

/**
 * A reference set the batch is compared with instead of itself (pytorch-metric-learning's ref_emb,
 * ref_labels): e.g. a cross-batch memory, or a second view. Tuples then pair a row of the batch
 * (the anchor) with a row of the reference set; the reference rows usually carry no gradient.
 */
export interface Reference {
  readonly embeddings: Tensor;
  readonly labels: Tensor;
}

/** Anything that turns a batch of embeddings and labels (and optionally mined tuples) into a loss. */
export interface EmbeddingLoss {
  readonly name: string;
  forward(embeddings: Tensor, labels: Tensor, indices?: MinedTuples): Tensor;
}

// Re-exported so the losses keep importing their whole contract from here.
export type { Miner };

/** What compute() receives: validated inputs. */
export interface Batch {
  /** [n, d] embeddings, checked finite. */
  readonly x: Tensor;
  /** The labels as numbers (integer class ids). */
  readonly labels: readonly number[];
  /** Tuples passed to forward() or returned by the loss's miner; undefined = all valid ones. */
  readonly tuples: MinedTuples | undefined;
  readonly device: string;
  /**
   * The reference set's embeddings and labels when forward() got one (tuples' second index then
   * points into it, and row i of the batch is not row i of ref); undefined: the batch itself.
   * Distances are `distance.matrix(x, refX)` either way.
   */
  readonly refX: Tensor | undefined;
  readonly refLabels: readonly number[] | undefined;
}

/** PML's embedding_regularizer / embedding_reg_weight, for every loss on embeddings. */
export interface EmbeddingRegularizerOptions {
  /** Adds embeddingRegWeight · R(embeddings) to the loss (an object, or a name: lp | zero-mean | ...). */
  embeddingRegularizer?: Regularizer | RegularizerName;
  /** Default 1. */
  embeddingRegWeight?: number;
}

export type EmbeddingLossInput = [embeddings: Tensor, labels: Tensor, indices?: MinedTuples, ref?: Reference];

/** Base of the losses that take embeddings [n, d] and integer labels [n]. */
export abstract class MetricLoss extends nn.Module<EmbeddingLossInput, Tensor> implements EmbeddingLoss {
  /** Display name, used in error messages. */
  abstract readonly name: string;
  /** True for losses built on pairs/triplets of the batch: they want class-balanced batches. */
  abstract readonly pairwise: boolean;
  readonly input = 'embeddings' as const;
  /** Whether forward() accepts mined tuples (proxy and classifier losses do not). */
  readonly usesTuples: boolean = true;
  /** Why forward() refuses tuples, when usesTuples is false. */
  protected readonly noTuplesReason: string = 'it compares samples with class weights or proxies, not with each other';
  /** Whether forward() accepts a reference set (losses over pairs of the batch that index them by tuple). */
  readonly supportsRef: boolean = false;
  /** Whether the loss reads mined tuples, so that a miner can be given to it. */
  get takesTuples(): boolean {
    return this.usesTuples;
  }
  /** Mines tuples when forward() gets none. */
  miner: Miner | undefined;
  readonly embeddingRegularizer: Regularizer | undefined;
  readonly embeddingRegWeight: number;

  constructor(o: EmbeddingRegularizerOptions = {}) {
    super();
    const where = new.target.name;
    this.embeddingRegularizer =
      o.embeddingRegularizer === undefined ? undefined : makeRegularizer(where, o.embeddingRegularizer);
    this.embeddingRegWeight = o.embeddingRegWeight ?? 1;
    finiteNumber(where, 'embeddingRegWeight', this.embeddingRegWeight);
  }

  forward(embeddings: Tensor, labels: Tensor, indices?: MinedTuples, ref?: Reference): Tensor {
    const b = this.prepare(embeddings, labels, indices, ref);
    return tidy(() => {
      const value = this.compute(b);
      const reg = this.regularization(b);
      if (reg === null) return value;
      if (value.ndim !== 0)
        throw new RangeError(
          `${this.name}: a regularizer is added to the reduced loss, and this reducer does not reduce`,
        );
      return value.add(reg);
    });
  }

  /** The tightness / contrastive parts of forward()'s value on this batch (tensors, differentiable). */
  split(embeddings: Tensor, labels: Tensor, indices?: MinedTuples, ref?: Reference): LossSplit {
    const b = this.prepare(embeddings, labels, indices, ref);
    return tidy(() => {
      const s = this.computeSplit(b);
      // A regularizer pulls and pushes nothing: it is neither part.
      const reg = this.regularization(b);
      if (reg === null) return s;
      return { ...s, other: s.other === undefined ? reg : s.other.add(reg) };
    });
  }

  /** The weighted regularizer terms added to compute()'s value, or null without any. */
  protected regularization(b: Batch): Tensor | null {
    return this.embeddingRegularizer ? this.embeddingRegularizer.forward(b.x).mul(this.embeddingRegWeight) : null;
  }

  protected prepare(embeddings: Tensor, labels: Tensor, indices: MinedTuples | undefined, ref?: Reference): Batch {
    checkMatrix(this.name, embeddings, 'embeddings');
    const y = checkLabels(this.name, labels, embeddings.shape[0]!);
    this.checkParameters(embeddings, y);
    if (indices !== undefined && !this.usesTuples)
      throw new LossInputError(this.name, 'indices', `are not used by this loss (${this.noTuplesReason})`);
    const r = ref === undefined ? undefined : this.checkRef(embeddings, ref);
    let tuples = indices;
    if (tuples === undefined && this.usesTuples && this.miner) {
      if (r === undefined) tuples = this.miner.mine(embeddings, labels);
      else if (this.miner.mineAgainst)
        tuples = this.miner.mineAgainst(embeddings, labels, ref!.embeddings, ref!.labels);
      else
        throw new LossInputError(this.name, 'ref', `cannot be mined by ${this.miner.name} (it mines within a batch)`);
    }
    if (tuples !== undefined) checkTuples(this.name, tuples, y, 'indices', r?.labels);
    return { x: embeddings, labels: y, tuples, device: embeddings.device, refX: r?.x, refLabels: r?.labels };
  }

  private checkRef(embeddings: Tensor, ref: Reference): { x: Tensor; labels: number[] } {
    if (!this.supportsRef)
      throw new LossInputError(
        this.name,
        'ref',
        'is not supported by this loss (it compares the batch with itself only)',
      );
    checkMatrix(this.name, ref.embeddings, 'ref.embeddings');
    if (ref.embeddings.shape[1] !== embeddings.shape[1] || ref.embeddings.dtype !== embeddings.dtype)
      throw new LossInputError(
        this.name,
        'ref.embeddings',
        `are [${ref.embeddings.shape.join(', ')}] ${ref.embeddings.dtype}, the batch ` +
          `[${embeddings.shape.join(', ')}] ${embeddings.dtype}: the dimension and dtype must match`,
      );
    return { x: ref.embeddings, labels: checkLabels(this.name, ref.labels, ref.embeddings.shape[0]!, 'ref.labels') };
  }

  /** Hook for losses with learnable tables: check dtypes, label range. */
  protected checkParameters(_embeddings: Tensor, _labels: readonly number[]): void {}

  protected abstract compute(b: Batch): Tensor;

  protected computeSplit(_b: Batch): LossSplit {
    throw new Error(`${this.name}: this loss has no additive tightness/contrastive split`);
  }
}

/** Base of the losses on classifier logits [n, C] (the paper's cross-entropy family). */
export abstract class LogitLoss extends nn.Module<[logits: Tensor, labels: Tensor], Tensor> {
  abstract readonly name: string;
  readonly pairwise = false;
  readonly input = 'logits' as const;

  forward(logits: Tensor, labels: Tensor): Tensor {
    const y = this.prepareLogits(logits, labels);
    return tidy(() => this.compute(logits, y));
  }
  split(logits: Tensor, labels: Tensor): LossSplit {
    const y = this.prepareLogits(logits, labels);
    return tidy(() => this.computeSplit(logits, y));
  }
  protected prepareLogits(logits: Tensor, labels: Tensor): readonly number[] {
    checkMatrix(this.name, logits, 'logits');
    const y = checkLabels(this.name, labels, logits.shape[0]!);
    const c = logits.shape[1]!;
    for (let i = 0; i < y.length; i++) {
      if (y[i]! < 0 || y[i]! >= c)
        throw new LossInputError(
          this.name,
          'labels',
          `[${i}] = ${y[i]} is outside [0, ${c}) (logits have ${c} classes)`,
        );
    }
    return y;
  }
  protected abstract compute(logits: Tensor, labels: readonly number[]): Tensor;
  protected abstract computeSplit(logits: Tensor, labels: readonly number[]): LossSplit;
}
