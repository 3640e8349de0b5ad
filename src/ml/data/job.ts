// One sample's work — read, decode, transform — as run by a worker thread or, with no workers,
// by the main thread. Messages hold only structured-cloneable data.
import { readImageBytesSync } from './image.js';
import type { DecodedImage, Pipeline } from './pipeline.js';
import { Rng, type RngState } from '../random.js';

export type CacheMode = 'none' | 'encoded' | 'decoded';

export interface Job {
  id: number;
  /**
   * The pipeline as JSON (PipelineSpec): workers build and cache one per distinct spec, so loaders with different
   * pipelines can share a pool.
   */
  pipeline: string;
  path: string;
  /** Cached file bytes (SharedArrayBuffer-backed when they came from a worker). */
  bytes?: Uint8Array;
  /** Cached decode result. */
  decoded?: DecodedImage;
  rng: RngState;
  /** What to hand back for the cache, when it is not cached yet. */
  keep: CacheMode;
  /** The batch slot (shared memory, offset and length in floats) to write a result of that length into. */
  slot?: { buffer: SharedArrayBuffer; offset: number; length: number };
}

export interface JobDone {
  id: number;
  ok: true;
  /** The image, or an empty array when it went into the job's slot. */
  data: Float32Array;
  inSlot: boolean;
  shape: [number, number, number];
  keptBytes?: Uint8Array;
  keptDecoded?: DecodedImage;
}

export interface JobFailed {
  id: number;
  ok: false;
  message: string;
}

export type JobResult = JobDone | JobFailed;

/** A copy in shared memory, so posting it between threads costs nothing. */
function shared(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(src.byteLength));
  out.set(src);
  return out;
}

export async function runJob(pipeline: Pipeline, job: Job): Promise<JobResult> {
  try {
    let decoded = job.decoded;
    let bytes = job.bytes;
    if (!decoded) {
      bytes ??= readImageBytesSync(job.path);
      try {
        decoded = await pipeline.decode(bytes);
      } catch (e) {
        throw new Error(`${job.path}: cannot decode image: ${(e as Error).message}`, { cause: e });
      }
    }
    let img;
    try {
      const slot = job.slot ? new Float32Array(job.slot.buffer, job.slot.offset * 4, job.slot.length) : undefined;
      img = pipeline.finish(decoded, Rng.fromState(job.rng), slot);
    } catch (e) {
      throw new Error(`${job.path}: transform failed: ${(e as Error).message}`, { cause: e });
    }
    const inSlot = job.slot !== undefined && img.data.buffer === job.slot.buffer;
    // Transferable only as a whole buffer: make sure the view owns all of it.
    const data = inSlot
      ? new Float32Array(0)
      : img.data.byteOffset === 0 && img.data.byteLength === img.data.buffer.byteLength
        ? img.data
        : img.data.slice();
    const done: JobDone = { id: job.id, ok: true, data, inSlot, shape: [img.channels, img.height, img.width] };
    if (job.keep === 'encoded' && !job.bytes && bytes) done.keptBytes = shared(bytes);
    if (job.keep === 'decoded' && !job.decoded) done.keptDecoded = { ...decoded, data: shared(decoded.data) };
    return done;
  } catch (e) {
    return { id: job.id, ok: false, message: (e as Error).message };
  }
}
