// One parser per key type of the table: how a value is read from a config file or a preset, from
// the text of a key=value override, and checked against the key's range or choices. Each throws a
// ConfigProblem naming the key; resolveConfig adds where the value came from.
import { homedir } from 'node:os';
import { join as joinPath } from 'node:path';
import { editDistance } from '../../did-you-mean.js';
import { BIG, type ConfigKey, type ConfigKeyType, type ConfigValue } from './keys.js';

/** A value that does not fit its key; resolveConfig turns it into a ConfigError with the value's origin. */
export class ConfigProblem extends Error {}

export interface KeyType {
  /** What the key accepts, in words, when it has no choices or pattern: "an integer in [0, ∞)". */
  accepted(k: ConfigKey): string;
  /** A value as a config file or a preset writes it, when it has the key's type (its range is checked later). */
  fromValue(k: ConfigKey, v: unknown): ConfigValue;
  /** The text after `key=` of an override. */
  fromText(k: ConfigKey, raw: string): ConfigValue;
  /** null when a value of the key's type is in range (or among the choices), else why not. */
  check(k: ConfigKey, v: unknown): string | null;
  /** How a newer value combines with the current one (default: replaces it). */
  combine?(current: ConfigValue, next: ConfigValue): ConfigValue;
  /** Applied to the final value, once every source is merged. */
  finish?(v: ConfigValue): ConfigValue;
}

function rangeText(k: ConfigKey): string {
  if (k.min === undefined && k.max === undefined) return '';
  const hi = k.max === undefined || k.max >= BIG ? '∞' : String(k.max);
  const open = k.max === undefined || k.max >= BIG || k.openMax;
  return `${k.openMin ? '(' : '['}${k.min ?? '-∞'}, ${hi}${open ? ')' : ']'}`;
}

function inRange(k: ConfigKey, v: number): boolean {
  if (!Number.isFinite(v)) return false;
  if (k.min !== undefined && (k.openMin ? v <= k.min : v < k.min)) return false;
  if (k.max !== undefined && (k.openMax ? v >= k.max : v > k.max)) return false;
  return true;
}

const outOfRange = (k: ConfigKey, v: unknown): string =>
  `'${k.key}' must be ${acceptedText(k)}, got ${JSON.stringify(v)}`;

/** A scalar of one JavaScript type, as a file writes it. */
function scalar(k: ConfigKey, v: unknown, type: 'number' | 'boolean' | 'string'): ConfigValue {
  if (typeof v !== type) throw new ConfigProblem(`'${k.key}' must be a ${type}, got ${JSON.stringify(v)}`);
  return v as ConfigValue;
}

function number(k: ConfigKey, raw: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v)) throw new ConfigProblem(`'${k.key}' needs a number`);
  return v;
}

function numeric(integer: boolean): KeyType {
  return {
    accepted: (k) => {
      const r = rangeText(k);
      return `${integer ? 'an integer' : 'a number'}${r ? ` in ${r}` : ''}`;
    },
    fromValue: (k, v) => scalar(k, v, 'number'),
    fromText: number,
    check: (k, v) =>
      typeof v === 'number' && (!integer || Number.isInteger(v)) && inRange(k, v) ? null : outOfRange(k, v),
  };
}

function text(accepted: string, finish?: (v: string) => string): KeyType {
  return {
    accepted: () => accepted,
    fromValue: (k, v) => scalar(k, v, 'string'),
    fromText: (_k, raw) => raw,
    check: (k, v) => {
      if (typeof v !== 'string') return outOfRange(k, v);
      if (k.choices && !k.choices.includes(v)) return outOfRange(k, v) + nearestChoice(k.choices, v);
      if (k.pattern && !k.pattern.test(v)) return outOfRange(k, v);
      return null;
    },
    ...(finish ? { finish: (v) => finish(v as string) } : {}),
  };
}

/** " (did you mean triplet?)" for a value a letter or two from one of the choices. */
function nearestChoice(choices: readonly string[], v: string): string {
  const near = choices.filter((c) => editDistance(c.toLowerCase(), v.toLowerCase()) <= 2);
  return near.length > 0 && near.length <= 3 ? ` (did you mean ${near.join(' or ')}?)` : '';
}

/** `~` and `~/...` are the home folder, as in a shell (which leaves `key=~/x` alone: not an assignment). */
function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? joinPath(homedir(), p.slice(2)) : p;
}

/** A loss option's text by its look: true/false, a number, else the string itself. */
function optionValue(raw: string): number | string | boolean {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const KEY_TYPES: Readonly<Record<ConfigKeyType, KeyType>> = {
  int: numeric(true),
  number: numeric(false),
  boolean: {
    accepted: () => 'true or false',
    fromValue: (k, v) => scalar(k, v, 'boolean'),
    fromText: (k, raw) => {
      if (raw !== 'true' && raw !== 'false') throw new ConfigProblem(`'${k.key}' needs true or false`);
      return raw === 'true';
    },
    check: (k, v) => (typeof v === 'boolean' ? null : outOfRange(k, v)),
  },
  string: text('a string'),
  path: text('a path (~ is the home folder)', expandHome),
  ints: {
    accepted: (k) => {
      const r = rangeText(k);
      return `comma-separated integers${r ? ` in ${r}` : ''}`;
    },
    fromValue: (k, v) => {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number'))
        throw new ConfigProblem(`'${k.key}' must be an array of number`);
      return [...(v as number[])];
    },
    fromText: (k, raw) => {
      const v = raw.split(',').map((s) => Number(s));
      if (v.some((n) => !Number.isFinite(n))) throw new ConfigProblem(`'${k.key}' needs comma-separated numbers`);
      return v;
    },
    check: (k, v) =>
      Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isInteger(x) && inRange(k, x))
        ? null
        : outOfRange(k, v),
  },
  // A loss's or a miner's own options: free-form here, checked by the loss or miner that receives them.
  options: {
    accepted: () => 'name=value pairs',
    fromValue: (k, v) => {
      if (!isRecord(v) || Object.values(v).some((x) => !['number', 'string', 'boolean'].includes(typeof x)))
        throw new ConfigProblem(`'${k.key}' must map names to numbers, strings or booleans`);
      return { ...(v as Record<string, number | string | boolean>) };
    },
    // `loss.options.margin=0.1` names one option; resolveConfig hands over "margin=0.1".
    fromText: (_k, raw) => {
      const eq = raw.indexOf('=');
      return { [raw.slice(0, eq)]: optionValue(raw.slice(eq + 1)) };
    },
    check: () => null,
    combine: (current, next) => ({ ...(current as object), ...(next as object) }),
  },
};

/** What a key accepts, in words (help, README and errors). */
export function acceptedText(k: ConfigKey): string {
  if (k.choices) return `one of ${k.choices.join(', ')}`;
  if (k.pattern) return k.patternText ?? String(k.pattern);
  return KEY_TYPES[k.type].accepted(k);
}

/** The reason a value does not fit its key, or null when it does. */
export function checkValue(k: ConfigKey, v: unknown): string | null {
  return KEY_TYPES[k.type].check(k, v);
}
