// Per-tensor checksums in a safetensors file's metadata. safetensors itself checks only that the
// header is consistent with the file's length, so a flipped bit in a weight (bad disk, bad copy,
// bad RAM on the way) loads as a silently different model. Files the engine writes carry the
// SHA-256 of each tensor's bytes; readers verify them and refuse a mismatch, naming the file and
// the tensor. Files without checksums (older runs, other tools' weights) still load: the caller
// says so in one line.
import { createHash } from 'node:crypto';
import type { RawTensor } from './raw.js';

/** The metadata key: a JSON object { tensor name: SHA-256 hex of its bytes }. */
export const CHECKSUM_KEY = 'dml.sha256';

/** What a reader found: every tensor matched its checksum, or the file has none. */
export type Integrity = 'verified' | 'absent';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The metadata value recording each tensor's checksum. */
export function tensorChecksums(tensors: Iterable<[string, RawTensor]>): string {
  const sums: Record<string, string> = {};
  for (const [name, t] of tensors) sums[name] = sha256(t.data);
  return JSON.stringify(sums);
}

/**
 * Checks every tensor against the checksums in `metadata`; throws naming `source` and the first
 * tensor that differs (or is not covered). Returns 'absent' when the file records none.
 */
export function verifyChecksums(
  tensors: ReadonlyMap<string, RawTensor>,
  metadata: Readonly<Record<string, string>>,
  source: string,
): Integrity {
  const text = metadata[CHECKSUM_KEY];
  if (text === undefined) return 'absent';
  let sums: unknown;
  try {
    sums = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: its ${CHECKSUM_KEY} metadata is not JSON (the header is damaged)`, { cause: e });
  }
  if (typeof sums !== 'object' || sums === null || Array.isArray(sums))
    throw new Error(`${source}: its ${CHECKSUM_KEY} metadata is not an object (the header is damaged)`);
  const table = sums as Record<string, unknown>;
  for (const [name, t] of tensors) {
    const want = Object.hasOwn(table, name) ? table[name] : undefined;
    if (typeof want !== 'string')
      throw new Error(`${source}: tensor '${name}' has no checksum, though the file records them: damaged header`);
    if (sha256(t.data) !== want)
      throw new Error(
        `${source}: tensor '${name}' does not match its checksum: the file is damaged (a flipped bit, a bad copy); ` +
          `restore it from a good copy`,
      );
  }
  for (const name of Object.keys(table))
    if (!tensors.has(name))
      throw new Error(`${source}: tensor '${name}' has a checksum but is missing from the file: the header is damaged`);
  return 'verified';
}
