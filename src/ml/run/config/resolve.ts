// Training configuration: a preset, a config file (JSON or YAML) and key=value overrides, merged in
// that order through the key table's parsers. Every error is a ConfigError naming the key and where
// its value came from: the last override of it, the file, or the preset.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { editDistance } from '../../did-you-mean.js';
import { PRESETS } from '../presets.js';
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

  /** A nested object (preset, config file) into the configuration, refusing unknown keys by name. */
  merge(src: Record<string, unknown>, origin: ConfigOrigin, path = ''): void {
    for (const [name, v] of Object.entries(src)) {
      const dotted = path ? `${path}.${name}` : name;
      const k = configKey(dotted);
      if (k) this.set(k, origin, () => KEY_TYPES[k.type].fromValue(k, v));
      else if (isSection(dotted)) {
        if (!isObject(v)) throw new ConfigError(dotted, origin, `'${dotted}' must be an object`);
        this.merge(v, origin, dotted);
      } else throw new ConfigError(dotted, origin, `unknown config key '${dotted}'${didYouMean(dotted)}`);
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
    return c;
  }

  #refuse(key: string, why: string): never {
    throw new ConfigError(key, this.originOf(key), `config: ${why}`);
  }
}

/** A config file's top-level object; a file that does not parse is a ConfigError naming it. */
export function loadConfigFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
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

/** preset (default fashion-mnist) ← config file ← key=value overrides. */
export function resolveConfig(o: { preset?: string; file?: string; overrides?: readonly string[] } = {}): TrainConfig {
  const fileCfg = o.file ? loadConfigFile(o.file) : {};
  const presetName = o.preset ?? (typeof fileCfg.preset === 'string' ? fileCfg.preset : 'fashion-mnist');
  const preset = PRESETS[presetName];
  if (!preset) {
    const origin: ConfigOrigin =
      o.preset === undefined && o.file ? { kind: 'file', file: o.file } : { kind: 'argument' };
    throw new ConfigError(
      'preset',
      origin,
      `unknown preset '${presetName}' (available: ${Object.keys(PRESETS).join(', ')})`,
    );
  }
  const b = new Builder(presetName);
  b.merge(preset as Record<string, unknown>, { kind: 'preset', preset: presetName });
  b.cfg.preset = presetName;
  if (o.file) b.merge(fileCfg, { kind: 'file', file: o.file });
  for (const arg of o.overrides ?? []) b.override(arg);
  return b.finish();
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
