// The trainer's state as a checkpoint's JSON metadata holds it, checked field by field before
// anything reads it: a checkpoint is a file from anywhere, and `state.config as TrainConfig` on a
// hostile or damaged one used to surface as a raw TypeError deep in model building (or as an
// absurd allocation). Every error names the file and the field.
import { CONFIG_KEYS, type ConfigKey } from './config/keys.js';
import type { CheckpointState } from './checkpoint.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A scalar, or arrays/objects nested at most `depth` levels (checked without recursion past it). */
function isShallow(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (depth === 0) return false;
  return Object.values(v).every((x) => isShallow(x, depth - 1));
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  const kind = v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;
  // Only values of depth ≤ 2 are shown whole: JSON.stringify of a value nested 100,000 deep overflows the stack.
  const text = isShallow(v, 2) ? (JSON.stringify(v) ?? String(v)) : '…';
  return `${text.length > 40 ? `${text.slice(0, 40)}…` : text} (${kind})`;
}

/** Why `v` is not a value of `k`, or null when it is. Ranges are the configuration's own. */
function mismatch(k: ConfigKey, v: unknown): string | null {
  const inRange = (x: number): boolean =>
    (k.min === undefined || (k.openMin ? x > k.min : x >= k.min)) &&
    (k.max === undefined || (k.openMax ? x < k.max : x <= k.max));
  const range = `${k.min ?? '-∞'}..${k.max ?? '∞'}`;
  switch (k.type) {
    case 'int':
      return Number.isInteger(v) && inRange(v as number) ? null : `an integer in ${range}`;
    case 'number':
      return typeof v === 'number' && inRange(v) ? null : `a number in ${range}`;
    case 'boolean':
      return typeof v === 'boolean' ? null : 'true or false';
    case 'string':
    case 'path':
      return typeof v === 'string' ? null : 'a string';
    case 'ints':
      return Array.isArray(v) && v.every((x) => Number.isInteger(x) && inRange(x as number))
        ? null
        : `a list of integers in ${range}`;
    case 'options':
      return isObject(v) && Object.values(v).every((x) => ['number', 'string', 'boolean'].includes(typeof x))
        ? null
        : 'an object of numbers, strings and booleans';
  }
}

function at(obj: Record<string, unknown>, dotted: string): unknown {
  let v: unknown = obj;
  for (const part of dotted.split('.')) v = isObject(v) && Object.hasOwn(v, part) ? v[part] : undefined;
  return v;
}

/**
 * The trainer state of checkpoint `file`, its types checked: the counters, and every key of its
 * configuration that the configuration knows (keys a newer or older version wrote are left alone).
 */
export function checkTrainerState(raw: unknown, file: string): CheckpointState {
  const fail = (field: string, v: unknown, want: string): never => {
    throw new Error(`checkpoint ${file}: trainer metadata field '${field}' is ${describe(v)}, expected ${want}`);
  };
  if (!isObject(raw)) return fail('dml.trainer', raw, 'an object');
  for (const f of ['epoch', 'step'] as const)
    if (raw[f] !== undefined && !(Number.isInteger(raw[f]) && (raw[f] as number) >= 0))
      fail(f, raw[f], 'an integer ≥ 0');
  if (!Number.isInteger(raw.epoch)) fail('epoch', raw.epoch, 'an integer ≥ 0');
  for (const f of ['extra', 'scheduler'] as const)
    if (raw[f] !== undefined && !isObject(raw[f])) fail(f, raw[f], 'an object');
  if (raw.optimizerGroups !== undefined && !Array.isArray(raw.optimizerGroups))
    fail('optimizerGroups', raw.optimizerGroups, 'an array');
  const config = raw.config;
  if (!isObject(config)) return fail('config', config, 'an object');
  for (const section of ['model', 'data']) {
    const s = config[section];
    if (!isObject(s)) return fail(`config.${section}`, s, 'an object');
    // Every value of a section is a scalar, a list or an object of scalars (the 'options' keys), also
    // under keys this version does not know: the section is later walked recursively (toOverrides).
    for (const [k, v] of Object.entries(s))
      if (!isShallow(v, 1)) fail(`config.${section}.${k}`, v, 'a value, a list of values or an object of values');
  }
  for (const k of CONFIG_KEYS as readonly ConfigKey[]) {
    const v = at(config, k.key);
    if (v === undefined) continue;
    const want = mismatch(k, v);
    if (want) fail(`config.${k.key}`, v, want);
  }
  return raw as unknown as CheckpointState;
}
