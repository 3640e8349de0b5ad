// Checkpoints: model weights, optimizer state and RNG states in one .safetensors file, with the
// trainer's JSON state in its metadata, written atomically (temp file, fsync, rename) so a crash
// never leaves a half-written checkpoint in place of a good one.
import { existsSync } from 'node:fs';
import {
  type LoadedTensors,
  type Tensor,
  saveTensors,
  loadTensors,
  tensorsFromBuffer,
  dispose,
} from '../../engine/index.js';
import type { Integrity } from '../../engine/serialize/integrity.js';
import { checkTrainerState } from './checkpoint-state.js';
import type { InputSource } from '../../engine/serialize/input-gate.js';

export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps taken. */
  step: number;
  bestMetric: number;
  bestEpoch: number;
  scheduler: { lastStep: number; baseLrs: number[] };
  optimizerGroups: Record<string, unknown>[];
  config: unknown;
  /** Free-form extras (e.g. data RNG state). */
  extra: Record<string, unknown>;
}

const META_KEY = 'dml.trainer';

export function saveCheckpoint(path: string, parts: Record<string, Map<string, Tensor>>, state: CheckpointState): void {
  const all = new Map<string, Tensor>();
  for (const [prefix, m] of Object.entries(parts)) for (const [k, t] of m) all.set(`${prefix}.${k}`, t);
  saveTensors(path, all, { [META_KEY]: JSON.stringify(state), format: 'dml-ts checkpoint v1' });
}

export interface LoadedCheckpoint {
  parts: Record<string, Map<string, Tensor>>;
  state: CheckpointState | null;
  /** 'verified': every tensor matched its checksum; 'absent': the file has none (older, or foreign). */
  integrity: Integrity;
}

/** The one-line note for a file whose tensors could not be verified. */
export const uncheckedNote = (file: string): string =>
  `note: ${file} has no tensor checksums (written by an older dml-ts or another tool): its bytes are not verified`;

/** Splits tensors by their first dotted component (model., optim., rng.). */
export function loadCheckpoint(
  path: string,
  src: InputSource = { format: 'checkpoint' },
  o: { device?: string } = {},
): LoadedCheckpoint {
  if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist`);
  return splitCheckpoint(loadTensors(path, src, o), path);
}

/** loadCheckpoint of a file's bytes (read by another process of the job); `source` names it in errors. */
export function loadCheckpointBytes(bytes: Uint8Array, source: string, o: { device?: string } = {}): LoadedCheckpoint {
  return splitCheckpoint(tensorsFromBuffer(bytes, source, o), source);
}

function splitCheckpoint({ tensors, metadata, integrity }: LoadedTensors, path: string): LoadedCheckpoint {
  const parts: Record<string, Map<string, Tensor>> = {};
  for (const [k, t] of tensors) {
    const dot = k.indexOf('.');
    const prefix = dot < 0 ? '' : k.slice(0, dot);
    (parts[prefix] ??= new Map()).set(dot < 0 ? k : k.slice(dot + 1), t);
  }
  let state: CheckpointState | null = null;
  if (metadata[META_KEY]) {
    try {
      state = checkTrainerState(JSON.parse(metadata[META_KEY]), path);
    } catch (e) {
      dispose(parts);
      // checkTrainerState's errors name the file and the field already.
      if (e instanceof Error && e.message.startsWith(`checkpoint ${path}: trainer metadata`)) throw e;
      throw new Error(`checkpoint ${path}: corrupt trainer state: ${(e as Error).message}`, { cause: e });
    }
  }
  return { parts, state, integrity };
}

/** Model weights of a checkpoint, or of a plain weights file (safetensors / torch.save state dict). */
export function loadModelWeights(
  path: string,
  src: InputSource = { format: 'weights' },
  onIntegrity: (i: Integrity) => void = () => undefined,
): Map<string, Tensor> {
  const { parts, state, integrity } = loadCheckpoint(path, src);
  onIntegrity(integrity);
  if (state && parts.model) {
    for (const [k, m] of Object.entries(parts)) if (k !== 'model') dispose(m);
    return parts.model;
  }
  const flat = new Map<string, Tensor>();
  for (const [prefix, m] of Object.entries(parts)) for (const [k, t] of m) flat.set(prefix ? `${prefix}.${k}` : k, t);
  return flat;
}
