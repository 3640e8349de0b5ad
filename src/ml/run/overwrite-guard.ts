// A finished or interrupted run is not overwritten by accident: dml train and the library's train()
// refuse a run folder that already holds checkpoints unless told to resume or start over, each in its
// own words for how to say so.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TrainConfig } from './config/keys.js';
import { DATA_SOURCE_KEYS, configChanges, describeChanges, readStoredConfig } from './run-config.js';

/** How the caller spells "resume" and "start over" (`--resume` on the command line, `resume: true` in code). */
export interface GuardWords {
  resume: string;
  force: string;
}

/**
 * Why training into cfg.out would replace a run, or null when the folder holds none. A run on other
 * data is not this run to continue nor, by a reflex force, to replace: it gets its own folder.
 */
export function existingRunProblem(cfg: TrainConfig, words: GuardWords): string | null {
  const held = ['last.safetensors', 'best.safetensors'].filter((f) => existsSync(path.join(cfg.out, f)));
  if (held.length === 0) return null;
  const stored = readStoredConfig(cfg.out);
  const other = stored ? configChanges(stored.config, cfg, DATA_SOURCE_KEYS) : [];
  return other.length > 0
    ? `${cfg.out} holds a run on other data (${describeChanges(other)}): give this run its own folder with out=DIR`
    : `${cfg.out} already holds a run (${held.join(', ')}): continue it with ${words.resume}, or start over ` +
        `with ${words.force}`;
}
