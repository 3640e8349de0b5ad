// Reads a run's metrics.jsonl (one JSON object per line, written by the trainer) into typed
// series. Errors name the file and the 1-based line number. Later lines win over earlier ones for
// the same step (train) or epoch (eval, epoch): a resumed run re-logs the steps after its last
// checkpoint.
import { InputFileError, readInputTextSync } from '../engine/serialize/input-gate.js';

export interface TrainPoint {
  epoch: number;
  step: number;
  loss: number;
  lr: number | null;
}

export interface EvalPoint {
  epoch: number;
  step: number;
  /** Recall@K by metric ('cosine', 'l2'), keyed by K. */
  recall: Record<string, Record<string, number>>;
  mapAtR: number | null;
  rPrecision: number | null;
  precisionAt1: number | null;
  nmi: number | null;
  unit: string;
  /** The whole record, for fields this reader does not know. */
  raw: Record<string, unknown>;
}

export interface EpochPoint {
  epoch: number;
  step: number;
  loss: number | null;
  imagesPerSecond: number | null;
  seconds: number | null;
}

/** A classifier-loss run's per-epoch CE-versus-PCE measurement (src/ml/train/bound.ts). */
export interface BoundPoint {
  epoch: number;
  step: number;
  ce: number;
  pce: number;
  tightness: number;
  contrastive: number;
  lambda: number;
  /** Fraction of the measured batches where CE ≥ PCE. */
  ceAbovePce: number | null;
  batches: number | null;
}

export interface RunMetrics {
  file: string;
  train: TrainPoint[];
  eval: EvalPoint[];
  epochs: EpochPoint[];
  bounds: BoundPoint[];
  /** Lines with a type this reader does not know, by type. */
  otherTypes: Record<string, number>;
  /** Non-fatal problems (a truncated last line of a run still being written, duplicates). */
  warnings: string[];
  lines: number;
}

export class MetricsError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    message: string,
  ) {
    super(line === null ? `${file}: ${message}` : `${file}:${line}: ${message}`);
    this.name = 'MetricsError';
  }
}

/** Reads and parses a metrics.jsonl file. */
export function readMetrics(file: string): RunMetrics {
  let text: string;
  try {
    text = readInputTextSync(file, { format: 'metrics' });
  } catch (e) {
    const code = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    throw new MetricsError(
      file,
      null,
      code === 'ENOENT'
        ? 'not found (no metrics.jsonl in the run directory)'
        : e instanceof InputFileError
          ? `cannot read metrics log: ${e.reason}`
          : `cannot read: ${(e as Error).message}`,
    );
  }
  return parseMetrics(text, file);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses metrics.jsonl text; `file` names the source in errors. */
export function parseMetrics(text: string, file = 'metrics.jsonl'): RunMetrics {
  const out: RunMetrics = { file, train: [], eval: [], epochs: [], bounds: [], otherTypes: {}, warnings: [], lines: 0 };
  const lines = text.split('\n');
  const unterminated = !text.endsWith('\n');
  let lastContent = -1;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.trim() !== '') lastContent = i;
  if (lastContent < 0) throw new MetricsError(file, null, 'is empty (no metrics recorded yet)');
  const trainByStep = new Map<number, TrainPoint>();
  const evalByEpoch = new Map<number, EvalPoint>();
  const epochByEpoch = new Map<number, EpochPoint>();
  const boundByEpoch = new Map<number, BoundPoint>();
  let replaced = 0;
  for (let i = 0; i <= lastContent; i++) {
    const line = lines[i]!.trim();
    const no = i + 1;
    if (line === '') continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      // A run being written can end in a half-written line: tolerated only there.
      if (i === lastContent && unterminated) {
        out.warnings.push(`${file}:${no}: ignored a truncated last line (the run may still be writing it)`);
        continue;
      }
      throw new MetricsError(file, no, `malformed JSON (${(e as Error).message}): ${clip(line)}`);
    }
    if (!isObj(rec))
      throw new MetricsError(
        file,
        no,
        `expected a JSON object, got ${Array.isArray(rec) ? 'an array' : typeof rec}: ${clip(line)}`,
      );
    const type = rec.type;
    if (typeof type !== 'string') throw new MetricsError(file, no, `record has no "type" field: ${clip(line)}`);
    out.lines++;
    const num = (key: string, required: boolean): number | null => {
      const v = rec[key];
      if (v === undefined || v === null) {
        if (required) throw new MetricsError(file, no, `${type} record lacks numeric "${key}"`);
        return null;
      }
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new MetricsError(file, no, `${type} record: "${key}" must be a finite number, got ${JSON.stringify(v)}`);
      return v;
    };
    switch (type) {
      case 'train': {
        const p: TrainPoint = {
          epoch: num('epoch', true)!,
          step: num('step', true)!,
          loss: num('loss', true)!,
          lr: num('lr', false),
        };
        if (trainByStep.has(p.step)) replaced++;
        trainByStep.set(p.step, p);
        break;
      }
      case 'eval': {
        const recall: Record<string, Record<string, number>> = {};
        if (!isObj(rec.recall)) throw new MetricsError(file, no, 'eval record lacks the "recall" object');
        for (const [metric, byK] of Object.entries(rec.recall)) {
          if (!isObj(byK))
            throw new MetricsError(file, no, `eval record: recall.${metric} must be an object of K -> value`);
          recall[metric] = {};
          for (const [k, v] of Object.entries(byK)) {
            if (typeof v !== 'number' || !Number.isFinite(v))
              throw new MetricsError(
                file,
                no,
                `eval record: recall.${metric}.${k} must be a finite number, got ${JSON.stringify(v)}`,
              );
            recall[metric]![k] = v;
          }
        }
        const p: EvalPoint = {
          epoch: num('epoch', true)!,
          step: num('step', false) ?? 0,
          recall,
          mapAtR: num('mapAtR', false),
          rPrecision: num('rPrecision', false),
          precisionAt1: num('precisionAt1', false),
          nmi: num('nmi', false),
          unit: typeof rec.unit === 'string' ? rec.unit : 'percent',
          raw: rec,
        };
        if (evalByEpoch.has(p.epoch)) replaced++;
        evalByEpoch.set(p.epoch, p);
        break;
      }
      case 'epoch': {
        const p: EpochPoint = {
          epoch: num('epoch', true)!,
          step: num('step', false) ?? 0,
          loss: num('loss', false),
          imagesPerSecond: num('imagesPerSecond', false),
          seconds: num('seconds', false),
        };
        if (epochByEpoch.has(p.epoch)) replaced++;
        epochByEpoch.set(p.epoch, p);
        break;
      }
      case 'bound': {
        const p: BoundPoint = {
          epoch: num('epoch', true)!,
          step: num('step', false) ?? 0,
          ce: num('ce', true)!,
          pce: num('pce', true)!,
          tightness: num('tightness', true)!,
          contrastive: num('contrastive', true)!,
          lambda: num('lambda', true)!,
          ceAbovePce: num('ceAbovePce', false),
          batches: num('batches', false),
        };
        if (boundByEpoch.has(p.epoch)) replaced++;
        boundByEpoch.set(p.epoch, p);
        break;
      }
      default:
        out.otherTypes[type] = (out.otherTypes[type] ?? 0) + 1;
    }
  }
  if (out.lines === 0) throw new MetricsError(file, null, 'holds no records');
  out.train = [...trainByStep.values()].sort((a, b) => a.step - b.step);
  out.eval = [...evalByEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  out.epochs = [...epochByEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  out.bounds = [...boundByEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  if (replaced > 0)
    out.warnings.push(`${replaced} records repeat an earlier step or epoch (a resumed run); the later ones are shown`);
  return out;
}

function clip(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Recall@K values present in the evaluations: metric names and K values sorted numerically. */
export function recallKeys(evals: readonly EvalPoint[]): { metrics: string[]; ks: string[] } {
  const metrics = new Set<string>(),
    ks = new Set<string>();
  for (const e of evals)
    for (const [m, byK] of Object.entries(e.recall)) {
      metrics.add(m);
      for (const k of Object.keys(byK)) ks.add(k);
    }
  const order = ['cosine', 'l2'];
  return {
    metrics: [...metrics].sort(
      (a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b),
    ),
    ks: [...ks].sort((a, b) => Number(a) - Number(b)),
  };
}

/** The evaluation with the highest cosine Recall@1 (the trainer's best.safetensors rule; ties: the later). */
export function bestEval(evals: readonly EvalPoint[]): EvalPoint | null {
  let best: EvalPoint | null = null;
  for (const e of evals) {
    const r = e.recall.cosine?.['1'];
    if (r === undefined) continue;
    if (!best || r >= (best.recall.cosine?.['1'] ?? -Infinity)) best = e;
  }
  return best;
}
