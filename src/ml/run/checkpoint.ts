// Checkpoints: model weights, optimizer state and RNG states in one .safetensors file, with the
// trainer's JSON state in its metadata, written atomically (temp file, fsync, rename) so a crash
// never leaves a half-written checkpoint in place of a good one.
import { existsSync } from 'node:fs';
import { type Tensor, saveTensors, loadTensors, tensorsFromBuffer, dispose } from '../../engine/index.js';

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
}

/** Splits tensors by their first dotted component (model., optim., rng.). */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist`);
  return splitCheckpoint(loadTensors(path), path);
}

/** loadCheckpoint of a file's bytes (read by another process of the job); `source` names it in errors. */
export function loadCheckpointBytes(bytes: Uint8Array, source: string): LoadedCheckpoint {
  return splitCheckpoint(tensorsFromBuffer(bytes, source), source);
}

function splitCheckpoint(
  { tensors, metadata }: { tensors: Map<string, Tensor>; metadata: Record<string, string> },
  path: string,
): LoadedCheckpoint {
  const parts: Record<string, Map<string, Tensor>> = {};
  for (const [k, t] of tensors) {
    const dot = k.indexOf('.');
    const prefix = dot < 0 ? '' : k.slice(0, dot);
    (parts[prefix] ??= new Map()).set(dot < 0 ? k : k.slice(dot + 1), t);
  }
  let state: CheckpointState | null = null;
  if (metadata[META_KEY]) {
    try {
      state = JSON.parse(metadata[META_KEY]) as CheckpointState;
    } catch (e) {
      dispose(parts);
      throw new Error(`checkpoint ${path}: corrupt trainer state: ${(e as Error).message}`, { cause: e });
    }
  }
  return { parts, state };
}

/** Model weights of a checkpoint, or of a plain weights file (safetensors / torch.save state dict). */
export function loadModelWeights(path: string): Map<string, Tensor> {
  const { parts, state } = loadCheckpoint(path);
  if (state && parts.model) {
    for (const [k, m] of Object.entries(parts)) if (k !== 'model') dispose(m);
    return parts.model;
  }
  const flat = new Map<string, Tensor>();
  for (const [prefix, m] of Object.entries(parts)) for (const [k, t] of m) flat.set(prefix ? `${prefix}.${k}` : k, t);
  return flat;
}
