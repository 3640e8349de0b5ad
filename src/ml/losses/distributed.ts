// pytorch-metric-learning's DistributedLossWrapper: a loss over the embeddings of the whole global
// batch, every rank's slice of it. Each rank gathers all embeddings and labels, keeps its own rows
// with their gradient and the others detached, computes the loss over all of them and multiplies it
// by the world size, so that DDP's gradient average gives the single-process gradient.
//
// One difference from PML: the gathered rows keep rank order (PML puts the local rows first), which
// is the single-process batch itself when ranks hold consecutive slices, so the loss value — ties
// in mining included — equals the single-process one.
import { type Tensor, cat, tidy, distributed } from '../../engine/index.js';
import type { EmbeddingLoss } from './shared/base.js';

/** The whole batch of embeddings and labels, this rank's rows differentiable, the others detached. */
export function gatherEmbeddings(
  group: distributed.ProcessGroup,
  embeddings: Tensor,
  labels: Tensor,
): { embeddings: Tensor; labels: Tensor } {
  return tidy(() => {
    const embs = group.allGatherVariable(embeddings);
    const labs = group.allGatherVariable(labels);
    embs[group.rank] = embeddings;
    return { embeddings: cat(embs), labels: cat(labs) };
  });
}

export class DistributedLossWrapper implements EmbeddingLoss {
  readonly name: string;
  constructor(
    readonly loss: EmbeddingLoss,
    readonly group: distributed.ProcessGroup,
  ) {
    this.name = loss.name;
  }
  forward(embeddings: Tensor, labels: Tensor): Tensor {
    if (this.group.worldSize === 1) return this.loss.forward(embeddings, labels);
    return tidy(() => {
      const all = gatherEmbeddings(this.group, embeddings, labels);
      return this.loss.forward(all.embeddings, all.labels).mul(this.group.worldSize);
    });
  }
}
