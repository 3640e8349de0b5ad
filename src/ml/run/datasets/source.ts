// What the trainer needs from a dataset, whatever it is made of (IDX arrays, image lists, folders).

export interface Batch {
  /** N×C×H×W floats in [0, 1] (the model normalises). */
  images: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  /** Called once `images` has been copied: the source may reuse its memory (see ImageLoader's Batch). */
  release?(): void;
}

export interface TrainSource {
  readonly numClasses: number;
  readonly labels: Int32Array;
  readonly inChannels: number;
  /** Side of the (square) images it yields, when fixed by the data (Fashion-MNIST: 28); else data.imageSize. */
  readonly imageSize?: number;
  /**
   * Augmented batches for these sample indices, deterministic in (seed, epoch, batch index,
   * position in the batch); `positionOffset` is the position of indices[0] when they are one
   * process's slice of a larger batch (data-parallel training).
   */
  load(indices: readonly number[], epoch: number, batchIndex: number, positionOffset?: number): Promise<Batch>;
  /** Samples skipped as unreadable so far (with skipBad). */
  readonly skipped?: number;
}

export interface EvalSource {
  readonly labels: Int32Array;
  /** Un-augmented batches in order, covering every sample once (or samples [start, end) of `range`). */
  batches(batchSize: number, range?: { start: number; end: number }): AsyncIterable<Batch>;
}

/** Test-time data: one leave-one-out set (CUB, Cars, SOP) or a query set and a gallery (In-Shop). */
export interface EvalData {
  query: EvalSource;
  gallery?: EvalSource;
}
