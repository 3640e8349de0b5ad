// The on-disk index cache: gallery embeddings in a .safetensors file (tensor `embeddings`,
// float32 [N, D]) whose metadata records what they were computed from, so a restart with the
// same checkpoint, preprocessing and gallery skips embedding the gallery. The tensor I/O itself
// (saveTensors / loadTensors) runs in a worker; this module only builds and checks the metadata.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { checkInputFile } from '../engine/serialize/input-gate.js';
import type { Gallery } from './gallery.js';

export const CACHE_META_KEY = 'dml.gallery-index';
export const CACHE_FORMAT = 'dml-ts gallery index v1';

export interface CacheMeta {
  format: typeof CACHE_FORMAT;
  checkpointSha256: string;
  /** JSON of the preprocessing pipeline spec. */
  preprocess: string;
  galleryFingerprint: string;
  count: number;
  dim: number;
  /** Gallery paths (relative to the gallery folder) and labels, in id order. */
  paths: string[];
  labels: string[];
  createdAt: string;
  /** sha256 of the embeddings' float32 bytes: a cache altered on disk is rebuilt, not served. */
  embeddingsSha256?: string;
}

/** sha256 of an embedding matrix's bytes. */
export function embeddingsSha256(data: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

/** sha256 of a file, streamed (checkpoints can be hundreds of MB): the bytes it had when the input gate admitted it. */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  const size = checkInputFile(file, { format: 'checkpoint' });
  if (size > 0) for await (const chunk of createReadStream(file, { end: size - 1 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function makeCacheMeta(o: {
  checkpointSha256: string;
  preprocess: string;
  galleryFingerprint: string;
  gallery: Gallery;
  dim: number;
}): CacheMeta {
  return {
    format: CACHE_FORMAT,
    checkpointSha256: o.checkpointSha256,
    preprocess: o.preprocess,
    galleryFingerprint: o.galleryFingerprint,
    count: o.gallery.items.length,
    dim: o.dim,
    paths: o.gallery.items.map((i) => i.path),
    labels: o.gallery.items.map((i) => i.label),
    createdAt: new Date().toISOString(),
  };
}

/** Why a cache cannot be used for the expected gallery and model, or null when it can. */
export function staleReason(found: unknown, expected: CacheMeta, shape: readonly number[]): string | null {
  if (typeof found !== 'object' || found === null) return 'no index metadata';
  const f = found as Partial<CacheMeta>;
  if (f.format !== CACHE_FORMAT) return `format ${JSON.stringify(f.format)} is not '${CACHE_FORMAT}'`;
  if (f.checkpointSha256 !== expected.checkpointSha256) return 'built with another checkpoint';
  if (f.preprocess !== expected.preprocess) return 'built with other preprocessing';
  if (f.count !== expected.count) return `holds ${String(f.count)} items, the gallery has ${expected.count}`;
  if (f.dim !== expected.dim) return `holds ${String(f.dim)}-d embeddings, the model gives ${expected.dim}`;
  if (shape.length !== 2 || shape[0] !== expected.count || shape[1] !== expected.dim)
    return `embeddings tensor has shape [${shape.join(', ')}]`;
  if (
    !Array.isArray(f.paths) ||
    !Array.isArray(f.labels) ||
    f.paths.some((p, i) => p !== expected.paths[i]) ||
    f.labels.some((l, i) => l !== expected.labels[i])
  ) {
    return 'gallery paths or labels differ';
  }
  if (f.galleryFingerprint !== expected.galleryFingerprint) return 'gallery files changed (size or mtime)';
  return null;
}

/** Why cached embeddings cannot be trusted (checksum, finiteness), or null when they can. */
export function corruptReason(found: unknown, data: Float32Array): string | null {
  const sum = typeof found === 'object' && found !== null ? (found as Partial<CacheMeta>).embeddingsSha256 : undefined;
  if (typeof sum !== 'string') return 'it has no checksum of its embeddings';
  if (sum !== embeddingsSha256(data)) return 'its embeddings do not match their checksum';
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return `embedding value ${i} is not finite`;
  return null;
}
