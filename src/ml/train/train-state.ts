// A run's checkpoints, written and read in one place: last.safetensors (everything a bit-for-bit
// --resume needs: model, loss tables, optimizer, schedule, every rank's random stream) after each
// epoch, best.safetensors (model and schedule) when cosine R@1 improves, and resuming from them.
// Rank 0 writes; in a job, rank 0 reads the checkpoint and the others load its bytes.
import { existsSync } from 'node:fs';
import { readInputFileSync } from '../../engine/serialize/input-gate.js';
import path from 'node:path';
import {
  type Tensor,
  dispose,
  distributed,
  getRngState,
  setRngState,
  tensor,
  tidy,
  type nn,
  type optim,
} from '../../engine/index.js';
import { removeStaleTempFiles } from '../../engine/serialize/file-io.js';
import type { Embedder } from '../models/factory.js';
import { loadCheckpointBytes, saveCheckpoint, type CheckpointState, type LoadedCheckpoint } from '../run/checkpoint.js';
import type { TrainConfig } from '../run/config/keys.js';
import { gatherShards, sliceShards, type LossShard } from './shards.js';
import type { EvalMetrics } from './types.js';

/** What the checkpoints hold of a training run. */
export interface TrainParts {
  model: Embedder;
  /** The loss's learnable tables, if any. */
  loss?: nn.Module<never[], unknown>;
  /** Multi-process: the loss's parameters split across the ranks, saved whole and sliced on resume. */
  shards?: readonly LossShard[];
  optimizer: optim.SGD | optim.AdamW;
  scheduler: optim.LambdaLR;
}

export interface TrainStateOptions {
  group: distributed.ProcessGroup | null;
  /** Rank 0, or the only process: the writer. */
  isMain: boolean;
  log: (line: string) => void;
  classNames?: { train: readonly string[]; test: readonly string[] };
}

export class TrainState {
  /** Epochs completed and optimiser steps taken. */
  epoch = 0;
  step = 0;
  best = { metric: -Infinity, epoch: 0, metrics: null as EvalMetrics | null };
  readonly lastPath: string;
  readonly bestPath: string;

  constructor(
    readonly cfg: TrainConfig,
    readonly parts: TrainParts,
    readonly o: TrainStateOptions,
  ) {
    this.lastPath = path.join(cfg.out, 'last.safetensors');
    this.bestPath = path.join(cfg.out, 'best.safetensors');
  }

  /** Temporary files of checkpoint writes killed half-way (their writer is gone). */
  removeStaleTempFiles(): void {
    if (!this.o.isMain) return;
    for (const f of [this.lastPath, this.bestPath]) {
      for (const stale of removeStaleTempFiles(f))
        this.o.log(`removed ${stale}, left by a checkpoint write that was interrupted`);
    }
  }

  /**
   * After an evaluation: a new best cosine R@1 (ties go to the later epoch) is written to
   * best.safetensors with its metrics. `epoch` counts from 1.
   */
  evaluated(epoch: number, metrics: EvalMetrics): void {
    const r1 = metrics.recall.cosine['1'] ?? 0;
    if (r1 < this.best.metric) return;
    this.best = { metric: r1, epoch, metrics };
    if (!this.o.isMain) return;
    const sd = this.parts.model.stateDict();
    try {
      saveCheckpoint(
        this.bestPath,
        { model: sd },
        {
          epoch,
          step: this.step,
          bestMetric: r1,
          bestEpoch: epoch,
          scheduler: this.parts.scheduler.stateDict(),
          optimizerGroups: [],
          config: this.cfg,
          extra: { metrics, ...this.#classNames() },
        },
      );
    } finally {
      dispose(sd);
    }
  }

  /** last.safetensors, at the end of an epoch. Every rank calls it: each sends rank 0 its random stream. */
  saveLast(): void {
    const { model, loss, shards, optimizer, scheduler } = this.parts;
    const group = this.o.group;
    const rng = getRngState();
    // Every rank's dropout stream goes into rank 0's checkpoint, so a resumed run continues each.
    const rngs = new Map<string, Tensor>([['global', rng]]);
    if (group) {
      // The CPU generator's state, gathered on the group's device (NCCL gathers GPU tensors only).
      const sent = group.device === 'cpu' ? rng : rng.to(group.device);
      group.allGather(sent).forEach((t, r) => {
        if (r > 0) rngs.set(`rank${r}`, t);
        else t.dispose();
      });
      if (sent !== rng) sent.dispose();
    }
    // Sharded tables are gathered whole, with their optimizer state (every rank takes part).
    const whole = group && shards?.length ? gatherShards(group, shards, optimizer) : null;
    if (!this.o.isMain) {
      dispose(rngs);
      return;
    }
    const opt = optimizer.stateDict();
    const parts: Record<string, Map<string, Tensor>> = { model: model.stateDict(), optim: opt.state, rng: rngs };
    if (loss) parts.loss = loss.stateDict();
    for (const [part, m] of [
      ['loss', whole?.loss],
      ['optim', whole?.optim],
    ] as const)
      for (const [k, t] of m ?? []) {
        parts[part]!.get(k)?.dispose();
        parts[part]!.set(k, t);
      }
    const state: CheckpointState = {
      epoch: this.epoch,
      step: this.step,
      bestMetric: this.best.metric,
      bestEpoch: this.best.epoch,
      scheduler: scheduler.stateDict(),
      optimizerGroups: opt.groups as unknown as Record<string, unknown>[],
      config: this.cfg,
      extra: {
        bestMetrics: this.best.metrics,
        ...(group ? { worldSize: group.worldSize } : {}),
        ...this.#classNames(),
      },
    };
    try {
      saveCheckpoint(this.lastPath, parts, state);
    } finally {
      dispose(parts);
    }
  }

  /**
   * Restores model, loss tables, optimizer, schedule and random streams from the run's newest
   * checkpoint. Returns where it stopped (epochs done, step), or null when there is none.
   */
  resume(): { epoch: number; step: number } | null {
    const loaded = this.#read();
    if (!loaded) return null;
    const { parts, state } = loaded.ckpt;
    const fromBest = loaded.file === this.bestPath;
    const { model, loss, shards, optimizer, scheduler } = this.parts;
    try {
      if (!state) throw new Error(`${loaded.file} has no trainer state`);
      checkFinite(loaded.file, parts, this.bestPath);
      const savedWorld = typeof state.extra.worldSize === 'number' ? state.extra.worldSize : 1;
      const world = this.o.group?.worldSize ?? 1;
      if (savedWorld !== world) {
        this.o.log(
          `warning: ${this.lastPath} was written by a run of ${savedWorld} process(es), this one has ${world}: ` +
            'batches and augmentation continue as they were, but dropout draws will not match an uninterrupted run',
        );
      }
      model.loadStateDict(parts.model ?? new Map());
      // Checkpoints hold sharded tables whole: this rank takes its rows.
      sliceShards(shards ?? [], optimizer, parts.loss, parts.optim);
      if (loss) loss.loadStateDict(parts.loss ?? new Map());
      // best.safetensors keeps the model and the schedule, not the optimizer's state.
      if (!fromBest)
        optimizer.loadStateDict({ state: parts.optim ?? new Map(), groups: state.optimizerGroups as never });
      scheduler.loadStateDict(state.scheduler);
      const rank = this.o.group?.rank ?? 0;
      const rng = (rank > 0 ? parts.rng?.get(`rank${rank}`) : undefined) ?? parts.rng?.get('global');
      if (rng) setRngState(rng);
      this.epoch = state.epoch;
      this.step = state.step;
      this.best = {
        metric: state.bestMetric,
        epoch: state.bestEpoch,
        metrics: (state.extra.bestMetrics as EvalMetrics) ?? null,
      };
      this.o.log(`resumed from ${loaded.file}: ${state.epoch} epochs done, step ${state.step}`);
      return { epoch: state.epoch, step: state.step };
    } finally {
      dispose(parts);
    }
  }

  #classNames(): { classNames?: TrainStateOptions['classNames'] } {
    return this.o.classNames ? { classNames: this.o.classNames } : {};
  }

  /**
   * The newest usable checkpoint: last.safetensors, or best.safetensors when last is missing or
   * unreadable (a kill or a full disk during its first write), saying so. Null when neither is.
   */
  #find(): { ckpt: LoadedCheckpoint; file: string; bytes: Uint8Array } | null {
    const problems: string[] = [];
    for (const file of [this.lastPath, this.bestPath]) {
      if (!existsSync(file)) {
        problems.push(`${file} does not exist`);
        continue;
      }
      try {
        const bytes = new Uint8Array(readInputFileSync(file, { format: 'checkpoint' }));
        const ckpt = loadCheckpointBytes(bytes, file);
        if (!ckpt.state) {
          dispose(ckpt.parts);
          problems.push(`${file} has no trainer state`);
          continue;
        }
        if (file === this.bestPath) {
          this.o.log(
            `warning: ${problems.join('; ')}: resuming from ${file} (epoch ${ckpt.state.epoch}); the model and the ` +
              `schedule ` +
              'continue from it, the optimizer momentum and the random streams start afresh',
          );
        }
        return { ckpt, file, bytes };
      } catch (e) {
        problems.push(`${file} is unreadable (${(e as Error).message})`);
      }
    }
    if (problems.some((p) => !p.endsWith('does not exist'))) this.o.log(`warning: ${problems.join('; ')}`);
    return null;
  }

  /**
   * The checkpoint to resume from, or null. In a multi-process run rank 0 chooses and reads it, and
   * every rank loads the same bytes (so only rank 0's machine needs the run folder).
   */
  #read(): { ckpt: LoadedCheckpoint; file: string } | null {
    const g = this.o.group;
    const found = this.o.isMain ? this.#find() : null;
    if (!g) return found;
    const [n, best] = g.allReduceNumbers([found?.bytes.length ?? 0, found?.file === this.bestPath ? 1 : 0], 'max') as [
      number,
      number,
    ];
    if (n === 0) return null;
    const buf = tidy(() => {
      // On the group's device: NCCL broadcasts GPU tensors only.
      const t = tensor(found ? found.bytes : new Uint8Array(n), { device: g.device });
      g.broadcast(t, 0);
      return found ? null : new Uint8Array(t.data().buffer);
    });
    const file = best === 1 ? this.bestPath : this.lastPath;
    return found ?? { ckpt: loadCheckpointBytes(buf!, file), file };
  }
}

const FLOATS = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/**
 * Refuses a checkpoint whose weights or optimizer state hold NaN or infinities (valid checksums
 * say the file is as written, not that what was written is sane): the run would take one step
 * and stop on a NaN loss, blaming the lr and naming this file the last good checkpoint.
 */
function checkFinite(file: string, parts: Record<string, Map<string, Tensor>>, bestPath: string): void {
  for (const part of ['model', 'loss', 'optim']) {
    for (const [name, t] of parts[part] ?? []) {
      if (!FLOATS.has(t.dtype) || t.numel() === 0) continue;
      if (tidy(() => t.isfinite().all().item()) === 1) continue;
      const other = path.resolve(file) === path.resolve(bestPath) ? '' : ` (${bestPath} may be sound)`;
      throw new Error(
        `${file}: ${part === 'optim' ? 'optimizer state' : part} tensor '${part}.${name}' holds NaN or ` +
          'infinite values: ' +
          `the run cannot continue from it${other}; start over with --force`,
      );
    }
  }
}
