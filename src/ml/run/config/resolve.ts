// Training configuration: a preset, a config file (JSON or YAML) and key=value overrides, merged in
// that order through the key table's parsers. Every error is a ConfigError naming the key and where
// its value came from: the last override of it, the file, or the preset.
import { readInputTextSync } from '../../../engine/serialize/input-gate.js';
import { parse as parseYaml } from 'yaml';
import { editDistance } from '../../did-you-mean.js';
import { NO_PRESET, PRESETS, PRESET_NAMES } from '../presets.js';
import { ownDataRunFolder } from '../run-name.js';
import {
  CONFIG_KEY_LIST,
  configDefaults,
  configKey,
  getKey,
  isSection,
  setKey,
  type ConfigKey,
  type ConfigValue,
  type TrainConfig,
} from './keys.js';
import { ConfigProblem, KEY_TYPES } from './key-types.js';
import { ConfigError, type ConfigOrigin } from './errors.js';

export type { TrainConfig } from './keys.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * " (did you mean optim.lr?)" for a key a letter or two away from real ones, or from the same key in another section.
 */
function didYouMean(key: string): string {
  const last = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  const near = CONFIG_KEY_LIST.map((k) => k.key).filter(
    (k) =>
      editDistance(k.toLowerCase(), key.toLowerCase()) <= 2 || k.slice(k.lastIndexOf('.') + 1).toLowerCase() === last,
  );
  return near.length > 0 && near.length <= 4 ? ` (did you mean ${near.join(' or ')}?)` : '';
}

/** A configuration being built: the values, and where each key's value came from. */
class Builder {
  readonly cfg = configDefaults();
  readonly #origins = new Map<string, ConfigOrigin>();
  constructor(readonly preset: string) {}

  originOf(key: string): ConfigOrigin {
    return this.#origins.get(key) ?? { kind: 'preset', preset: this.preset };
  }

  /** Whether a source (the preset, a file, an override) set the key, rather than the table's default. */
  isSet(key: string): boolean {
    return this.#origins.has(key);
  }

  /** One key's value, through its type's parser. */
  set(k: ConfigKey, origin: ConfigOrigin, parse: () => ConfigValue): void {
    let v: ConfigValue;
    try {
      v = parse();
    } catch (e) {
      if (e instanceof ConfigProblem) throw new ConfigError(k.key, origin, e.message);
      throw e;
    }
    const type = KEY_TYPES[k.type];
    const current = getKey(this.cfg, k.key) as ConfigValue;
    setKey(this.cfg, k.key, type.combine ? type.combine(current, v) : v);
    this.#origins.set(k.key, origin);
  }

  /**
   * A nested object (preset, config file) into the configuration, refusing unknown keys by name;
   * `lenient` skips them instead (a run's stored configuration may hold keys of an older version).
   */
  merge(src: Record<string, unknown>, origin: ConfigOrigin, path = '', lenient = false): void {
    for (const [name, v] of Object.entries(src)) {
      const dotted = path ? `${path}.${name}` : name;
      const k = configKey(dotted);
      if (k) this.set(k, origin, () => KEY_TYPES[k.type].fromValue(k, v));
      else if (isSection(dotted)) {
        if (!isObject(v)) throw new ConfigError(dotted, origin, `'${dotted}' must be an object`);
        this.merge(v, origin, dotted, lenient);
      } else if (!lenient) throw new ConfigError(dotted, origin, `unknown config key '${dotted}'${didYouMean(dotted)}`);
    }
  }

  /** "a.b=value", read as the type the table gives the key. */
  override(arg: string): void {
    const origin: ConfigOrigin = { kind: 'override', arg };
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new ConfigError(null, origin, 'expected key=value');
    const dotted = arg.slice(0, eq);
    const raw = arg.slice(eq + 1);
    const k = configKey(dotted);
    if (k && k.type !== 'options') return this.set(k, origin, () => KEY_TYPES[k.type].fromText(k, raw));
    if (k || isSection(dotted)) throw new ConfigError(dotted, origin, `'${dotted}' is a section; set one of its keys`);
    // An options key takes one option per override: loss.options.margin=0.1.
    const dot = dotted.lastIndexOf('.');
    const options = configKey(dotted.slice(0, dot));
    if (options?.type === 'options')
      return this.set(options, origin, () => KEY_TYPES.options.fromText(options, `${dotted.slice(dot + 1)}=${raw}`));
    throw new ConfigError(dotted, origin, `unknown config key '${dotted}'${didYouMean(dotted)}`);
  }

  /** Each key's final form (paths: ~ expanded), its range, then the rules between keys. */
  finish(): TrainConfig {
    for (const k of CONFIG_KEY_LIST) {
      const finish = KEY_TYPES[k.type].finish;
      if (finish) setKey(this.cfg, k.key, finish(getKey(this.cfg, k.key) as ConfigValue));
    }
    for (const k of CONFIG_KEY_LIST) {
      const why = KEY_TYPES[k.type].check(k, getKey(this.cfg, k.key));
      if (why !== null) this.#refuse(k.key, why);
    }
    const c = this.cfg;
    if ((c.optim.schedule === 'step' || c.optim.schedule === 'warmstep') && !(c.optim.lrStep > 0))
      this.#refuse(
        'optim.lrStep',
        `'optim.lrStep' must be > 0 (epochs between steps) with optim.schedule=${c.optim.schedule}`,
      );
    if (c.miner.name === '' && Object.keys(c.miner.options).length > 0)
      this.#refuse('miner.options', "'miner.options' is set but 'miner.name' is empty (which miner should take them?)");
    if (c.loss.labelSmoothing > 0 && c.loss.name !== 'cross-entropy') {
      // One name, one formula: this key is PyTorch's label_smoothing; the paper's ε has its own name.
      const hint =
        c.loss.name === 'smooth-ce'
          ? "smooth-ce's ε (the paper's: 1 - ε on the true class, ε / (C - 1) on each other) is " +
            'loss.options.epsilon (default 0.1)'
          : `loss '${c.loss.name}' has no label smoothing`;
      this.#refuse(
        'loss.labelSmoothing',
        `'loss.labelSmoothing' is PyTorch's label_smoothing and only loss.name=cross-entropy takes it; ${hint}`,
      );
    }
    // The memory takes the global batch (multi-process runs gather it before the loss), so it holds one at least.
    if (c.loss.memory.size > 0 && c.loss.memory.size < c.batchSize)
      this.#refuse(
        'loss.memory.size',
        `'loss.memory.size' (${c.loss.memory.size}) must hold at least one batch (batchSize ${c.batchSize})`,
      );
    return c;
  }

  #refuse(key: string, why: string): never {
    throw new ConfigError(key, this.originOf(key), `config: ${why}`);
  }
}

/** A config file's top-level object; a file that does not parse is a ConfigError naming it. */
export function loadConfigFile(path: string): Record<string, unknown> {
  const text = readInputTextSync(path, { format: 'config', from: '--config' });
  let v: unknown;
  try {
    v = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new ConfigError(null, { kind: 'file', file: path }, `cannot parse config: ${(e as Error).message}`);
  }
  if (!isObject(v))
    throw new ConfigError(null, { kind: 'file', file: path }, 'config must be an object at the top level');
  return v;
}

export interface ResolveOptions {
  /** A preset's name (PRESET_NAMES); without one, the config file's `preset`, else the data decides (presetFor). */
  preset?: string;
  /** A JSON or YAML config file. */
  file?: string;
  /** key=value overrides, applied last. */
  overrides?: readonly string[];
  /**
   * A run's stored configuration (--resume), the base in place of a preset; `source` names it in
   * errors. Keys this version no longer has are skipped.
   */
  stored?: { config: Record<string, unknown>; source: string };
}

/** The data.kind the overrides (the last one) or the config file ask for, if any. */
function requestedKind(fileCfg: Record<string, unknown>, overrides: readonly string[]): string | undefined {
  const fromArgs = overrides.filter((a) => a.startsWith('data.kind=')).pop();
  if (fromArgs !== undefined) return fromArgs.slice('data.kind='.length);
  const data = fileCfg.data;
  return isObject(data) && typeof data.kind === 'string' ? data.kind : undefined;
}

/**
 * The preset a configuration starts from when none is named: fashion-mnist for Fashion-MNIST (the
 * default run), none (the key table's defaults) for any other data, whose images are not 28-px greys.
 */
export function presetFor(kind: string | undefined): string {
  return kind === undefined || kind === 'fashion-mnist' ? 'fashion-mnist' : NO_PRESET;
}

function unknownPreset(name: string, origin: ConfigOrigin): ConfigError {
  const near = PRESET_NAMES.filter((p) => editDistance(p, name) <= 2 || (name.length >= 3 && p.startsWith(name)));
  const hint = near.length > 0 && near.length <= 3 ? ` (did you mean ${near.join(' or ')}?)` : '';
  return new ConfigError('preset', origin, `unknown preset '${name}'${hint} (available: ${PRESET_NAMES.join(', ')})`);
}

/**
 * preset ← config file ← key=value overrides (or, resuming, the run's stored configuration ← file ←
 * overrides). A run on other data than Fashion-MNIST that names no preset starts from the key table's
 * defaults (preset none) and, without `out`, gets the run folder runs/<name of its data>.
 */
export function resolveConfig(o: ResolveOptions = {}): TrainConfig {
  const fileCfg = o.file ? loadConfigFile(o.file) : {};
  const overrides = o.overrides ?? [];
  const storedPreset = o.stored && typeof o.stored.config.preset === 'string' ? o.stored.config.preset : undefined;
  const presetName =
    o.preset ??
    storedPreset ??
    (typeof fileCfg.preset === 'string' ? fileCfg.preset : presetFor(requestedKind(fileCfg, overrides)));
  const preset = presetName === NO_PRESET ? {} : PRESETS[presetName];
  if (!preset && !o.stored) {
    const origin: ConfigOrigin =
      o.preset === undefined && o.file ? { kind: 'file', file: o.file } : { kind: 'argument' };
    throw unknownPreset(presetName, origin);
  }
  const b = new Builder(presetName);
  if (o.stored) b.merge(o.stored.config, { kind: 'file', file: o.stored.source }, '', true);
  else b.merge(preset as Record<string, unknown>, { kind: 'preset', preset: presetName });
  b.cfg.preset = presetName;
  if (o.file) b.merge(fileCfg, { kind: 'file', file: o.file });
  for (const arg of overrides) b.override(arg);
  const cfg = b.finish();
  if (cfg.preset === NO_PRESET && !b.isSet('out')) cfg.out = ownDataRunFolder(cfg);
  return cfg;
}

/** A config subtree as key=value overrides, so a checkpoint's settings can be replayed. */
export function toOverrides(obj: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (Array.isArray(v)) out.push(`${key}=${v.join(',')}`);
    else if (typeof v === 'object' && v !== null) out.push(...toOverrides(v as Record<string, unknown>, key));
    else out.push(`${key}=${String(v)}`);
  }
  return out;
}
