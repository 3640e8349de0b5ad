// Messages between the server's main thread and its inference workers. Plain data only (structured
// clone); float arrays travel as transferables.
import type { PreprocessOverrides } from './preprocess.js';
import type { Metric } from './exact-index.js';

export interface WorkerInit {
  checkpoint: string;
  /** Whether this worker prints the checkpoint's one-line notes (one worker does, not every one). */
  notes?: boolean;
  /** EngineLock's SharedArrayBuffer, the same for every worker. */
  lock: SharedArrayBuffer;
  overrides: PreprocessOverrides;
  /** Largest image read, in pixels (gallery images and, when maxQueryPixels is null, the bound of uploads). */
  maxPixels: number;
  /** Largest uploaded query in pixels; null: derived from the model's input size (defaultQueryPixels). */
  maxQueryPixels: number | null;
  /** libtorch intra-op threads (0: leave libtorch's default). */
  threads: number;
  /** Where each worker's model runs (default the CPU). */
  device?: 'cpu' | `cuda:${number}`;
  /** Most decoded queries run through the model in one forward. */
  maxBatch: number;
  /** Longest a decoded query waits for others still being decoded to share its forward (0: never). */
  batchWindowMs: number;
  /** Test hook: each job waits this long before running, to make a queue fill deterministically. */
  debugDelayMs: number;
}

/** What a worker learned from the checkpoint, reported once it is ready. */
export interface ModelInfo {
  arch: string;
  dim: number;
  inChannels: number;
  numClasses: number;
  epoch: number;
  dataKind: string;
  /** JSON of the preprocessing PipelineSpec. */
  preprocess: string;
  inputSize: [number, number];
  /** The upload limit in force, in pixels. */
  maxQueryPixels: number;
  /** Estimated host memory of one worker: fixed bytes plus bytes per image of a forward pass. */
  memory: { fixed: number; perImage: number };
}

export type GalleryInput = { file: string; where: string } | { bytes: Uint8Array };

export type WorkerRequest =
  | { op: 'embed'; inputs: GalleryInput[] }
  | { op: 'set-index'; data: SharedArrayBuffer; size: number; dim: number; chunkRows: number }
  | { op: 'query-image'; bytes: Uint8Array; k: number; metric: Metric; search: boolean }
  | { op: 'query-vector'; vector: Float32Array; k: number; metric: Metric }
  | { op: 'vector-of'; galleryId: number }
  | { op: 'load-cache'; file: string }
  | { op: 'save-cache'; file: string; data: SharedArrayBuffer; size: number; dim: number; meta: string };

export interface Hits {
  ids: Int32Array;
  scores: Float64Array;
}

export type WorkerResult =
  | { op: 'embed'; features: Float32Array; count: number }
  | { op: 'set-index' }
  /** batch: how many queries shared this one's forward pass. */
  | { op: 'query-image'; vector: Float32Array; hits: Hits | null; batch: number }
  | { op: 'query-vector'; hits: Hits }
  | { op: 'vector-of'; vector: Float32Array }
  | { op: 'load-cache'; data: Float32Array; shape: number[]; meta: string | null }
  | { op: 'save-cache' };

export type WorkerFailure =
  /** One input image could not be used (the request's fault): 422. */
  | { kind: 'image'; code: 'image_too_large' | 'undecodable_image'; message: string }
  /** The request was malformed in a way only the worker could see: 400. */
  | { kind: 'bad'; message: string }
  | { kind: 'internal'; message: string };

export type WorkerMessage =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'init-error'; message: string }
  | { type: 'reply'; id: number; ok: true; result: WorkerResult }
  | { type: 'reply'; id: number; ok: false; failure: WorkerFailure };
