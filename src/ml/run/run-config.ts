// A run folder's configuration: written as config.yaml when a run starts (to read, diff, or replay
// with --config), and read back before anything loads: from the checkpoints' trainer state (what
// --resume continues) or config.yaml. Only the checkpoint's JSON header is read, never its tensors.
import { closeSync, existsSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { openInputFileSync, readInputTextSync } from '../../engine/serialize/input-gate.js';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { CONFIG_KEY_LIST, getKey, type TrainConfig } from './config/keys.js';
import { resolveConfig, type ResolveOptions } from './config/resolve.js';

export const CONFIG_FILE = 'config.yaml';

/** The configuration as YAML, keys in the table's order, with a line saying how to reuse it. */
export function configYaml(cfg: TrainConfig): string {
  return (
    '# The resolved configuration of a dml train run. Reuse it with: dml train --config config.yaml\n' +
    stringifyYaml(cfg, { lineWidth: 0 })
  );
}

/** RUN_DIR/config.yaml, replaced whole (written beside, then renamed), so a reader never sees half a file. */
export function writeRunConfig(dir: string, cfg: TrainConfig): string {
  const file = path.join(dir, CONFIG_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, configYaml(cfg));
  renameSync(tmp, file);
  return file;
}

const MAX_HEADER = 100 * 2 ** 20;

/** The trainer state's configuration in a checkpoint's safetensors header, or null when it has none. */
function checkpointConfig(file: string): Record<string, unknown> | null {
  let fd: number;
  try {
    fd = openInputFileSync(file, { format: 'checkpoint', from: '--resume' }).fd;
  } catch {
    // Not a readable regular file (a FIFO, a directory...): the checkpoint's reader says so when it loads it.
    return null;
  }
  try {
    const size = Buffer.alloc(8);
    if (readSync(fd, size, 0, 8, 0) !== 8) return null;
    const n = Number(size.readBigUInt64LE(0));
    if (n <= 0 || n > MAX_HEADER) return null;
    const header = Buffer.alloc(n);
    if (readSync(fd, header, 0, n, 8) !== n) return null;
    const meta = (JSON.parse(header.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__;
    const state = meta?.['dml.trainer'];
    if (typeof state !== 'string') return null;
    const config = (JSON.parse(state) as { config?: unknown }).config;
    return typeof config === 'object' && config !== null ? (config as Record<string, unknown>) : null;
  } catch {
    // A damaged checkpoint is for the reader of its tensors to report; here it just holds no config.
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * The configuration a run folder holds: last.safetensors's (what --resume continues), else
 * best.safetensors's, else config.yaml's; null when the folder holds none. `source` names the file.
 */
export function readStoredConfig(dir: string): { config: Record<string, unknown>; source: string } | null {
  for (const name of ['last.safetensors', 'best.safetensors']) {
    const file = path.join(dir, name);
    const config = existsSync(file) ? checkpointConfig(file) : null;
    if (config) return { config, source: file };
  }
  const file = path.join(dir, CONFIG_FILE);
  if (!existsSync(file)) return null;
  try {
    const config: unknown = parseYaml(readInputTextSync(file, { format: 'config', from: '--resume' }));
    return typeof config === 'object' && config !== null
      ? { config: config as Record<string, unknown>, source: file }
      : null;
  } catch {
    return null;
  }
}

/** Where a run's data comes from: runs that differ here are runs on other data. */
export const DATA_SOURCE_KEYS = ['data.kind', 'data.root', 'data.train', 'data.test', 'data.query', 'data.gallery'];

/**
 * Keys a resumed run may change: where and how fast it runs, what it logs and measures, where its
 * data now lives. Every other key shapes the lr schedule, the batches or the model.
 */
export const RESUME_FREE_KEYS = new Set([
  'threads',
  'device',
  'amp',
  'out',
  'preset',
  'data.root',
  'data.train',
  'data.test',
  'data.query',
  'data.gallery',
  'data.workers',
  'data.cache',
  'data.cacheMB',
  'data.skipBad',
  'logEvery',
  'evalEvery',
  'memoryLimitMB',
  'recallKs',
  'distributed.timeout',
  'distributed.bucketMB',
  'distributed.overlap',
  'distributed.backend',
]);

export interface ConfigChange {
  key: string;
  /** The stored value, as JSON. */
  was: string;
  now: string;
}

/**
 * The keys (of `keys`, default all) whose value differs between a stored configuration and `cfg`;
 * keys the stored configuration lacks are not compared.
 */
export function configChanges(
  stored: Record<string, unknown>,
  cfg: TrainConfig,
  keys: readonly string[] = CONFIG_KEY_LIST.map((k) => k.key),
): ConfigChange[] {
  const out: ConfigChange[] = [];
  for (const key of keys) {
    const was = getKey(stored, key);
    // A key the stored configuration lacks (an older version's) took its default there too.
    if (was === undefined) continue;
    const now = JSON.stringify(getKey(cfg, key));
    if (JSON.stringify(was) !== now) out.push({ key, was: JSON.stringify(was), now });
  }
  return out;
}

/** "data.train /a there, /b here; data.test ..." for a message. */
export function describeChanges(changes: readonly ConfigChange[], there = 'there', here = 'here'): string {
  return changes.map((c) => `${c.key} ${c.was} ${there}, ${c.now} ${here}`).join('; ');
}

/**
 * Keys a resumed run may change although they shape its schedule: more (or fewer) epochs is how a
 * run is extended. The warm-cosine schedule is then recomputed for the new length, so the caller
 * says so before any data loads.
 */
export const RESUME_RESCHEDULE_KEYS = new Set(['epochs']);

export interface ResumedConfig {
  /** The run's configuration with the command's free keys applied. */
  cfg: TrainConfig;
  /** The file the stored configuration came from; null when the run folder holds none (a fresh start). */
  source: string | null;
  /** Keys the command changes that a resumed run cannot take (schedule, batches, model, loss). */
  refused: ConfigChange[];
  /** Keys it may take at the price of a recomputed lr schedule (epochs). */
  rescheduled: ConfigChange[];
  /** Data paths the command moves (the same data, somewhere else). */
  moved: ConfigChange[];
}

/**
 * --resume's configuration: the run folder's stored one (of `asked.out`), under the command's config
 * file and overrides. What the command changes is sorted into what a resumed run may take and what
 * it may not; the caller refuses the latter before any data loads.
 */
export function resumeConfig(o: ResolveOptions, asked: TrainConfig): ResumedConfig {
  const stored = readStoredConfig(asked.out);
  if (!stored) return { cfg: asked, source: null, refused: [], rescheduled: [], moved: [] };
  // The stored configuration names its preset; the command's --preset only said where the run folder is.
  const cfg = resolveConfig({
    file: o.file,
    overrides: o.overrides,
    stored: { config: { ...stored.config, out: asked.out }, source: stored.source },
  });
  // Threads are this machine's (the command's value, or its cores), not those of the machine that started the run.
  cfg.threads = asked.threads;
  const changes = configChanges(stored.config, cfg).filter((c) => c.key !== 'out');
  return {
    cfg,
    source: stored.source,
    refused: changes.filter((c) => !RESUME_FREE_KEYS.has(c.key) && !RESUME_RESCHEDULE_KEYS.has(c.key)),
    rescheduled: changes.filter((c) => RESUME_RESCHEDULE_KEYS.has(c.key)),
    moved: changes.filter((c) => DATA_SOURCE_KEYS.includes(c.key)),
  };
}
