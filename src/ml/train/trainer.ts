// The training loop of the paper's recipe, for any loss: SGD (momentum, Nesterov, no-bias-decay
// groups), per-iteration LR schedule, evaluation every epoch, best checkpoint by cosine R@1, JSONL
// metrics, atomic checkpoints and bit-for-bit --resume, and a clean stop on a non-finite loss.
// With a process group of several ranks it trains data-parallel: each rank takes its slice of the
// global batch the single-process run would draw, gradients are averaged in buckets over ranks,
// embedding losses see the gathered global batch, evaluation is sharded, and rank 0 alone writes.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { removeStaleTempFiles, writeFileAtomicSync } from '../../engine/serialize/file-io.js';
import path from 'node:path';
import {
  type Tensor,
  tensor,
  tidy,
  nn,
  optim,
  manualSeed,
  setNumThreads,
  getRngState,
  setRngState,
  dispose,
  distributed,
  noGrad,
  cudaAvailable,
} from '../../engine/index.js';
import type { EmbedderOutput } from '../models/resnet.js';
import { createEmbedder, type Embedder } from '../models/factory.js';
import { embedderSpec, resolveMemoryFormat } from './model-spec.js';
import { ViTEmbedder } from '../models/vit.js';
import { STREAM, mixSeed } from '../random.js';
import { ClassBalancedSampler, RandomBatchSampler, type BatchSampler } from '../samplers/index.js';
import { gatherShards, replicated, sliceShards, type LossShard } from './shards.js';
import type { TrainConfig } from './config.js';
import type { Batch, EvalData, TrainSource } from './source.js';
import { loadPretrainedBackbone } from './pretrained.js';
import { saveCheckpoint, loadCheckpointBytes, type CheckpointState, type LoadedCheckpoint } from './checkpoint.js';
import { Progress, formatSeconds } from './progress.js';
import { embedSource } from './embed.js';
import { shardRange } from '../data/range.js';
import { measurePceBound, PceBoundAccumulator, type PceBoundSummary } from '../losses/pce-bound.js';

export interface TrainLoss {
  readonly name: string;
  /** Needs class-balanced batches (pairwise losses). */
  readonly pairwise: boolean;
  /** Learnable loss parameters (proxies, margins), trained and checkpointed with the model. */
  readonly module?: nn.Module<never[], unknown>;
  /** Multi-process: compute() sees the gathered global batch and returns world size × its loss. */
  readonly gathered?: boolean;
  /** A classifier loss on the logits: each logged step also measures the head's CE against PCE. */
  readonly usesLogits?: boolean;
  /** Multi-process: parameters of `module` split across the ranks (a PartialFC class table). */
  readonly shards?: readonly LossShard[];
  compute(out: EmbedderOutput, labels: Tensor): Tensor;
}

export interface EvalMetrics {
  recall: { cosine: Record<string, number>; l2: Record<string, number> };
  [extra: string]: unknown;
}
export type EvaluateFn = (
  query: { features: Tensor; labels: Tensor },
  gallery: { features: Tensor; labels: Tensor } | null,
  ks: number[],
) => EvalMetrics;
/** EvaluateFn over shards: each rank passes its contiguous shard; every rank gets the whole set's metrics. */
export type ShardedEvaluateFn = (
  group: distributed.ProcessGroup,
  query: { features: Tensor; labels: Tensor },
  gallery: { features: Tensor; labels: Tensor } | null,
  ks: number[],
) => EvalMetrics;

export interface TrainerDeps {
  makeLoss(
    cfg: TrainConfig,
    numClasses: number,
    featureDim: number,
    group?: distributed.ProcessGroup | null,
  ): TrainLoss;
  evaluate: EvaluateFn;
  evaluateSharded?: ShardedEvaluateFn;
  log?: (line: string) => void;
  /** Data-parallel training over this group's ranks (null or absent: one process). */
  group?: distributed.ProcessGroup | null;
  /** Draw the per-epoch progress bar / lines (default true; dml train --quiet turns it off). */
  progress?: boolean;
  /** The classes' names, kept in the checkpoints for eval, reports and the search page. */
  classNames?: { train: readonly string[]; test: readonly string[] };
}

export class NonFiniteLossError extends Error {}

/**
 * The trainer runs on the CPU. `device=auto` is the CPU when the libtorch has no CUDA; any CUDA
 * request is refused (never silently trained on the CPU), saying why.
 */
export function checkDevice(device: string): void {
  const cuda = cudaAvailable();
  if (device === 'cpu' || (device === 'auto' && !cuda)) return;
  if (!cuda) {
    throw new Error(
      `device=${device}: this libtorch has no CUDA; build the addon against a CUDA libtorch ` +
        `(LIBTORCH=/path/to/libtorch npm run setup) or use device=cpu`,
    );
  }
  throw new Error(`device=${device}: dml train does not train on CUDA yet (the libtorch has it); use device=cpu`);
}

/** A warning when some K of Recall@K reaches past the candidates a query has (then R@K counts them all). */
export function recallKsWarning(ks: readonly number[], m: EvalMetrics): string | null {
  const gallery = typeof m.gallery === 'number' ? m.gallery : null;
  if (gallery === null) return null;
  const candidates = m.protocol === 'leave-one-out' ? gallery - 1 : gallery;
  const over = ks.filter((k) => k > candidates);
  return over.length > 0
    ? `warning: recallKs ${over.join(', ')} exceed the ${candidates} candidates of each query: R@K for those counts ` +
        `every candidate`
    : null;
}

export interface TrainResult {
  epochs: number;
  best: { epoch: number; metrics: EvalMetrics | null };
  last: EvalMetrics | null;
  trainImagesPerSecond: number;
  runDir: string;
}

export class Trainer {
  readonly model: Embedder;
  readonly loss: TrainLoss;
  readonly optimizer: optim.SGD | optim.AdamW;
  readonly scheduler: optim.LambdaLR;
  readonly sampler: BatchSampler;
  readonly runDir: string;
  readonly group: distributed.ProcessGroup | null;
  /** Rank 0 (or the only process): the one that writes checkpoints, metrics and the display. */
  readonly isMain: boolean;
  readonly #reducer: distributed.GradientReducer | null = null;
  /** Seconds this epoch in the loss all-reduce and the gradient all-reduce not hidden behind backward. */
  #commSeconds = 0;
  readonly #log: (line: string) => void;
  #epoch = 0;
  #step = 0;
  #best = { metric: -Infinity, epoch: 0, metrics: null as EvalMetrics | null };

  constructor(
    readonly cfg: TrainConfig,
    readonly train: TrainSource,
    readonly test: EvalData,
    readonly deps: TrainerDeps,
  ) {
    checkDevice(cfg.device);
    this.group = deps.group && deps.group.worldSize > 1 ? deps.group : null;
    if (this.group && cfg.batchSize < this.group.worldSize) {
      throw new RangeError(
        `batchSize ${cfg.batchSize} is the global batch: it must be at least the number of processes (` +
          `${this.group.worldSize})`,
      );
    }
    this.isMain = (this.group?.rank ?? 0) === 0;
    this.#log = this.isMain ? (deps.log ?? ((l) => console.log(l))) : () => {};
    setNumThreads(cfg.threads);
    manualSeed(cfg.seed);
    this.runDir = cfg.out;
    if (this.isMain) mkdirSync(this.runDir, { recursive: true });
    const m = cfg.model;
    this.model = createEmbedder(
      embedderSpec(m, {
        numClasses: train.numClasses,
        numFeatures: m.numFeatures || undefined,
        inChannels: train.inChannels,
        imageSize: train.imageSize ?? cfg.data.imageSize,
        patchSize: m.patchSize,
      }),
    );
    // Other ranks receive rank 0's weights by the broadcast below (only rank 0 needs the file).
    if (m.pretrained && this.isMain) this.loadPretrained(m.pretrained);
    this.loss = deps.makeLoss(cfg, train.numClasses, this.model.options.numFeatures, this.group);
    const g = this.group;
    if (g) {
      if (cfg.distributed.syncBn) distributed.convertSyncBatchNorm(this.model, g);
      distributed.broadcastModule(this.model, g);
      // A sharded table is each rank's own: only the replicated rest of the loss starts equal.
      if (this.loss.module) g.broadcast(replicated(this.loss.module, this.loss.shards ?? []));
      // Rank 0 keeps the single-process dropout stream, the others get their own.
      if (g.rank > 0) manualSeed(mixSeed(cfg.seed, STREAM.rank, g.rank));
    }

    this.sampler = this.loss.pairwise
      ? new ClassBalancedSampler(train.labels, cfg.batchSize, cfg.loss.samplesPerClass, cfg.seed)
      : new RandomBatchSampler(train.labels.length, cfg.batchSize, cfg.seed);

    // Multi-process runs too: the gradient buckets and collectives copy by logical index, whatever the strides.
    if (resolveMemoryFormat(m, train.imageSize ?? cfg.data.imageSize) === 'channelsLast')
      this.model.toMemoryFormat('channelsLast');
    if (m.freezePatchEmbed) {
      if (!(this.model instanceof ViTEmbedder))
        throw new Error(`model.freezePatchEmbed is for ViTs; ${m.arch} has no patch embedding`);
      for (const p of this.model.convProj.parameters()) p.requiresGrad_(false);
    }
    if (cfg.optim.layerDecay !== 1 && !(this.model instanceof ViTEmbedder))
      throw new Error(`optim.layerDecay is for ViTs; ${m.arch} has no blocks to decay over`);
    const params = [...this.model.parameters(), ...(this.loss.module?.parameters() ?? [])].filter(
      (p) => p.requiresGrad,
    );
    const groups = paramGroups(this.model, this.loss.module ?? null, cfg);
    const o = cfg.optim;
    const own = new Set((this.loss.shards ?? []).map((s) => s.param));
    if (g)
      this.#reducer = new distributed.GradientReducer(
        g,
        params.filter((p) => !own.has(p)),
        {
          bucketBytes: Math.round(cfg.distributed.bucketMB * 2 ** 20),
          overlap: cfg.distributed.overlap,
        },
      );
    this.optimizer =
      o.name === 'adamw'
        ? new optim.AdamW(groups, { lr: o.lr, weightDecay: o.weightDecay })
        : new optim.SGD(groups, {
            lr: o.lr,
            momentum: o.momentum,
            weightDecay: o.weightDecay,
            nesterov: o.nesterov && o.momentum > 0,
          });
    const total = Math.max(1, cfg.epochs * this.sampler.batchesPerEpoch);
    const perEpoch = this.sampler.batchesPerEpoch;
    const factor = {
      warmcos: optim.warmCosine(total, 100),
      cos: optim.cosine(total),
      step: optim.stepDecay(Math.max(1, o.lrStep * perEpoch), 0.1),
      warmstep: optim.warmStep(Math.max(1, o.lrStep * perEpoch), 0.1, 100),
      none: () => 1,
    }[o.schedule];
    this.scheduler = new optim.LambdaLR(this.optimizer, factor);
  }

  private loadPretrained(file: string): void {
    this.#log(loadPretrainedBackbone(this.model, file, this.cfg.model.arch));
  }

  get checkpointPath(): string {
    return path.join(this.runDir, 'last.safetensors');
  }
  get bestPath(): string {
    return path.join(this.runDir, 'best.safetensors');
  }
  get metricsPath(): string {
    return path.join(this.runDir, 'metrics.jsonl');
  }

  private record(entry: Record<string, unknown>): void {
    if (this.isMain) appendFileSync(this.metricsPath, `${JSON.stringify(entry)}\n`);
  }

  /**
   * The killed run logged steps past its last checkpoint, which the resumed run will redo: drop
   * them (and a line torn by the kill) so metrics.jsonl reads as one uninterrupted run.
   */
  #dropMetricsAfter(epoch: number, step: number): void {
    if (!existsSync(this.metricsPath)) return;
    const kept = readFileSync(this.metricsPath, 'utf8')
      .split('\n')
      .filter((line) => {
        try {
          const e = JSON.parse(line) as { epoch?: unknown; step?: unknown };
          return typeof e.epoch === 'number' && typeof e.step === 'number' && e.epoch <= epoch && e.step <= step;
        } catch {
          return false;
        }
      });
    writeFileAtomicSync(this.metricsPath, [Buffer.from(kept.map((l) => `${l}\n`).join(''))]);
  }

  /**
   * The newest usable checkpoint: last.safetensors, or best.safetensors when last is missing or
   * unreadable (a kill or a full disk during its first write), saying so. Null when neither is.
   */
  #findCheckpoint(): { ckpt: LoadedCheckpoint; file: string; bytes: Uint8Array } | null {
    const problems: string[] = [];
    for (const file of [this.checkpointPath, this.bestPath]) {
      if (!existsSync(file)) {
        problems.push(`${file} does not exist`);
        continue;
      }
      try {
        const bytes = new Uint8Array(readFileSync(file));
        const ckpt = loadCheckpointBytes(bytes, file);
        if (!ckpt.state) {
          dispose(ckpt.parts);
          problems.push(`${file} has no trainer state`);
          continue;
        }
        if (file === this.bestPath) {
          this.#log(
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
    if (problems.some((p) => !p.endsWith('does not exist'))) this.#log(`warning: ${problems.join('; ')}`);
    return null;
  }

  /**
   * The checkpoint to resume from, or null. In a multi-process run rank 0 chooses and reads it, and
   * every rank loads the same bytes (so only rank 0's machine needs the run folder).
   */
  #readLast(): { ckpt: LoadedCheckpoint; file: string } | null {
    const g = this.group;
    const found = this.isMain ? this.#findCheckpoint() : null;
    if (!g) return found;
    const [n, best] = g.allReduceNumbers([found?.bytes.length ?? 0, found?.file === this.bestPath ? 1 : 0], 'max') as [
      number,
      number,
    ];
    if (n === 0) return null;
    const buf = tidy(() => {
      const t = found ? tensor(found.bytes) : tensor(new Uint8Array(n));
      g.broadcast(t, 0);
      return found ? null : new Uint8Array(t.data().buffer);
    });
    const file = best === 1 ? this.bestPath : this.checkpointPath;
    return found ?? { ckpt: loadCheckpointBytes(buf!, file), file };
  }

  /** Restores model, optimizer, scheduler and RNG from the run's last checkpoint. */
  resume(): boolean {
    const loaded = this.#readLast();
    if (!loaded) return false;
    const { parts, state } = loaded.ckpt;
    const fromBest = loaded.file === this.bestPath;
    try {
      if (!state) throw new Error(`${loaded.file} has no trainer state`);
      const savedWorld = typeof state.extra.worldSize === 'number' ? state.extra.worldSize : 1;
      const world = this.group?.worldSize ?? 1;
      if (savedWorld !== world) {
        this.#log(
          `warning: ${this.checkpointPath} was written by a run of ${savedWorld} process(es), this one has ${world}: ` +
            'batches and augmentation continue as they were, but dropout draws will not match an uninterrupted run',
        );
      }
      this.model.loadStateDict(parts.model ?? new Map());
      // Checkpoints hold sharded tables whole: this rank takes its rows.
      sliceShards(this.loss.shards ?? [], this.optimizer, parts.loss, parts.optim);
      if (this.loss.module) this.loss.module.loadStateDict(parts.loss ?? new Map());
      // best.safetensors keeps the model and the schedule, not the optimizer's state.
      if (!fromBest)
        this.optimizer.loadStateDict({ state: parts.optim ?? new Map(), groups: state.optimizerGroups as never });
      this.scheduler.loadStateDict(state.scheduler);
      const rank = this.group?.rank ?? 0;
      const rng = (rank > 0 ? parts.rng?.get(`rank${rank}`) : undefined) ?? parts.rng?.get('global');
      if (rng) setRngState(rng);
      this.#epoch = state.epoch;
      this.#step = state.step;
      this.#best = {
        metric: state.bestMetric,
        epoch: state.bestEpoch,
        metrics: (state.extra.bestMetrics as EvalMetrics) ?? null,
      };
      if (this.isMain) this.#dropMetricsAfter(state.epoch, state.step);
      this.#log(`resumed from ${loaded.file}: ${state.epoch} epochs done, step ${state.step}`);
      return true;
    } finally {
      dispose(parts);
    }
  }

  private saveState(): void {
    const rng = getRngState();
    // Every rank's dropout stream goes into rank 0's checkpoint, so a resumed run continues each.
    const rngs = new Map<string, Tensor>([['global', rng]]);
    if (this.group) {
      const all = this.group.allGather(rng);
      all.forEach((t, r) => {
        if (r > 0) rngs.set(`rank${r}`, t);
        else t.dispose();
      });
    }
    const whole =
      this.group && this.loss.shards?.length ? gatherShards(this.group, this.loss.shards, this.optimizer) : null;
    if (!this.isMain) {
      dispose(rngs);
      return;
    }
    const opt = this.optimizer.stateDict();
    const parts: Record<string, Map<string, Tensor>> = { model: this.model.stateDict(), optim: opt.state, rng: rngs };
    if (this.loss.module) parts.loss = this.loss.module.stateDict();
    for (const [part, m] of [
      ['loss', whole?.loss],
      ['optim', whole?.optim],
    ] as const)
      for (const [k, t] of m ?? []) {
        parts[part]!.get(k)?.dispose();
        parts[part]!.set(k, t);
      }
    const state: CheckpointState = {
      epoch: this.#epoch,
      step: this.#step,
      bestMetric: this.#best.metric,
      bestEpoch: this.#best.epoch,
      scheduler: this.scheduler.stateDict(),
      optimizerGroups: opt.groups as unknown as Record<string, unknown>[],
      config: this.cfg,
      extra: {
        bestMetrics: this.#best.metrics,
        ...(this.group ? { worldSize: this.group.worldSize } : {}),
        ...(this.deps.classNames ? { classNames: this.deps.classNames } : {}),
      },
    };
    try {
      saveCheckpoint(this.checkpointPath, parts, state);
    } finally {
      dispose(parts);
    }
  }

  async evaluate(): Promise<EvalMetrics> {
    const grp = this.group;
    if (!grp) {
      const q = await embedSource(this.model, this.test.query);
      const g = this.test.gallery ? await embedSource(this.model, this.test.gallery) : null;
      try {
        return this.deps.evaluate(q, g, this.cfg.recallKs);
      } finally {
        dispose([q, g]);
      }
    }
    if (!this.deps.evaluateSharded) throw new Error('Trainer: a multi-process run needs deps.evaluateSharded');
    // BatchNorm running statistics are rank 0's, as DDP's broadcast_buffers makes them.
    grp.broadcast(this.model.buffers(), 0);
    const shard = (n: number): { start: number; end: number } => shardRange(n, grp.rank, grp.worldSize);
    const q = await embedSource(this.model, this.test.query, 256, shard(this.test.query.labels.length));
    const g = this.test.gallery
      ? await embedSource(this.model, this.test.gallery, 256, shard(this.test.gallery.labels.length))
      : null;
    try {
      return this.deps.evaluateSharded(grp, q, g, this.cfg.recallKs);
    } finally {
      dispose([q, g]);
    }
  }

  /**
   * The global batch's loss from this rank's value (world × loss when gathered, else the mean over
   * its b samples), and this rank's gradient weight: with uneven slices a rank's mean counts in
   * proportion to its samples, and DDP's average over ranks then gives the global mean's gradient.
   */
  #globalLoss(value: number, b: number): { value: number; weight: number } {
    const g = this.group;
    if (!g) return { value, weight: 1 };
    const W = g.worldSize;
    const t0 = performance.now();
    const [s0, s1] = g.allReduceNumbers(this.loss.gathered ? [value / W, 1] : [value * b, b]) as [number, number];
    this.#commSeconds += (performance.now() - t0) / 1000;
    return { value: s0 / s1, weight: this.loss.gathered ? 1 : (b * W) / s1 };
  }

  /**
   * Averages gradients over ranks (DDP). A gathered loss's own parameters got the whole batch's
   * gradient, times the world size, on every rank: divided once more.
   */
  #reduceGradients(): void {
    const r = this.#reducer;
    if (!r || !this.group) return;
    const t0 = performance.now();
    r.reduce();
    if (this.loss.gathered && this.loss.module) {
      noGrad(() => {
        for (const p of this.loss.module!.parameters()) p.grad?.div_(this.group!.worldSize);
      });
    }
    this.#commSeconds += (performance.now() - t0) / 1000;
  }

  private async trainEpoch(epoch: number): Promise<{
    loss: number;
    imagesPerSecond: number;
    seconds: number;
    commSeconds: number;
    bound: PceBoundSummary | null;
  }> {
    this.model.train();
    this.loss.module?.train();
    const batches = this.sampler.epoch(epoch);
    const bar =
      this.isMain && this.deps.progress !== false
        ? new Progress(`epoch ${epoch + 1}/${this.cfg.epochs}`, batches.length)
        : null;
    let images = 0,
      lossSum = 0;
    const bound = new PceBoundAccumulator();
    this.#commSeconds = 0;
    const t0 = performance.now();
    // This rank's slice of each global batch, with the augmentation each image gets in the whole batch.
    const grp = this.group;
    const load = (i: number): Promise<Batch> => {
      const whole = batches[i]!;
      if (!grp) return this.train.load(whole, epoch, i);
      const { start, end } = shardRange(whole.length, grp.rank, grp.worldSize);
      return this.train.load(whole.slice(start, end), epoch, i, start);
    };
    // Prefetch the next batch while the current one trains: decoding overlaps compute.
    let next = load(0);
    for (let i = 0; i < batches.length; i++) {
      const b = await next;
      if (i + 1 < batches.length) next = load(i + 1);
      const { loss, lr } = tidy(() => {
        const x = tensor(b.images, { shape: b.shape });
        b.release?.();
        const y = tensor(b.labels, { dtype: 'int64' });
        const out = this.model.forward(x);
        let l: Tensor | null = null;
        let own: number;
        try {
          l = this.loss.compute(out, y);
          own = l.item();
        } catch (e) {
          // Losses refuse non-finite inputs; a model that produced them has diverged.
          if (!out.logits.isfinite().all().item() || !out.features.isfinite().all().item()) own = NaN;
          else throw e;
        }
        // Every rank learns the global loss, so a divergence on one rank stops them all together.
        const { value: v, weight } = this.#globalLoss(own, b.labels.length);
        if (!Number.isFinite(v) || l === null) return { loss: Number.isFinite(v) ? NaN : v, lr: 0 };
        // On the steps that are logged: the paper's "CE bounds PCE", on this rank's slice of the batch.
        if (this.loss.usesLogits && (this.#step + 1) % this.cfg.logEvery === 0)
          bound.add(measurePceBound(out.features, out.logits, b.labels));
        this.optimizer.zeroGrad();
        this.#reducer?.prepare();
        (weight === 1 ? l : l.mul(weight)).backward();
        this.#reduceGradients();
        this.optimizer.step();
        const lrNow = this.optimizer.paramGroups[0]!.lr;
        this.scheduler.step();
        return { loss: v, lr: lrNow };
      });
      if (!Number.isFinite(loss)) {
        throw new NonFiniteLossError(
          `loss became ${loss} at epoch ${epoch + 1}, batch ${i + 1} (step ${this.#step + 1}); ` +
            `training stopped. The last good checkpoint is ` +
            `${existsSync(this.checkpointPath) ? this.checkpointPath : '(none yet)'}; ` +
            'try a lower optim.lr.',
        );
      }
      this.#step++;
      images += b.labels.length;
      lossSum += loss;
      const ips = images / ((performance.now() - t0) / 1000);
      bar?.update(i + 1, { loss, imagesPerSecond: ips * (grp?.worldSize ?? 1) });
      if (this.#step % this.cfg.logEvery === 0) {
        this.record({
          type: 'train',
          epoch: epoch + 1,
          step: this.#step,
          loss,
          lr,
          elapsed: (performance.now() - t0) / 1000,
        });
      }
    }
    bar?.done();
    const seconds = (performance.now() - t0) / 1000;
    // Images of the global batch: every rank's slice; the bound's sums over every rank's samples.
    if (grp) {
      const sums = grp.allReduceNumbers([images, ...bound.sums()]);
      images = sums[0]!;
      bound.setSums(sums.slice(1));
    }
    return {
      loss: lossSum / batches.length,
      imagesPerSecond: images / seconds,
      seconds,
      commSeconds: this.#commSeconds,
      bound: bound.mean(),
    };
  }

  async run(o: { resume?: boolean } = {}): Promise<TrainResult> {
    if (this.isMain) {
      // Temporary files of checkpoint writes killed half-way (their writer is gone).
      for (const f of [this.checkpointPath, this.bestPath]) {
        for (const stale of removeStaleTempFiles(f))
          this.#log(`removed ${stale}, left by a checkpoint write that was interrupted`);
      }
    }
    const resumed = o.resume ? this.resume() : false;
    if (o.resume && !resumed) this.#log(`no checkpoint in ${this.runDir}; starting fresh`);
    // A fresh start keeps an earlier run's log aside instead of appending to it.
    if (!resumed && this.isMain && existsSync(this.metricsPath)) {
      renameSync(this.metricsPath, `${this.metricsPath}.${Date.now()}.old`);
    }
    const grp = this.group;
    let warnedKs = false;
    let last: EvalMetrics | null = null;
    let trainImages = 0,
      trainSeconds = 0;
    const skipped0 = this.train.skipped ?? 0;
    for (let epoch = this.#epoch; epoch < this.cfg.epochs; epoch++) {
      const r = await this.trainEpoch(epoch);
      trainImages += r.imagesPerSecond * r.seconds;
      trainSeconds += r.seconds;
      this.#epoch = epoch + 1;
      let line =
        `epoch ${epoch + 1}/${this.cfg.epochs}  loss ${r.loss.toFixed(4)}  ${r.imagesPerSecond.toFixed(0)} ` +
        `img/s  ${formatSeconds(r.seconds)}`;
      if (this.cfg.evalEvery > 0 && ((epoch + 1) % this.cfg.evalEvery === 0 || epoch + 1 === this.cfg.epochs)) {
        const e0 = performance.now();
        last = await this.evaluate();
        if (!warnedKs) {
          warnedKs = true;
          const w = recallKsWarning(this.cfg.recallKs, last);
          if (w) this.#log(w);
        }
        const r1 = last.recall.cosine['1'] ?? 0;
        this.record({
          type: 'eval',
          epoch: epoch + 1,
          step: this.#step,
          ...last,
          evalSeconds: (performance.now() - e0) / 1000,
        });
        line += `  R@1 cos ${r1.toFixed(2)} l2 ${(last.recall.l2['1'] ?? 0).toFixed(2)}`;
        if (r1 >= this.#best.metric) {
          this.#best = { metric: r1, epoch: epoch + 1, metrics: last };
        }
        if (this.#best.epoch === epoch + 1 && this.isMain) {
          const sd = this.model.stateDict();
          try {
            saveCheckpoint(
              this.bestPath,
              { model: sd },
              {
                epoch: epoch + 1,
                step: this.#step,
                bestMetric: r1,
                bestEpoch: epoch + 1,
                scheduler: this.scheduler.stateDict(),
                optimizerGroups: [],
                config: this.cfg,
                extra: { metrics: last, ...(this.deps.classNames ? { classNames: this.deps.classNames } : {}) },
              },
            );
          } finally {
            dispose(sd);
          }
        }
      }
      if (r.bound) this.record({ type: 'bound', epoch: epoch + 1, step: this.#step, ...r.bound });
      this.record({
        type: 'epoch',
        epoch: epoch + 1,
        step: this.#step,
        loss: r.loss,
        imagesPerSecond: r.imagesPerSecond,
        seconds: r.seconds,
        ...(grp ? { worldSize: grp.worldSize, commSeconds: r.commSeconds } : {}),
      });
      this.saveState();
      this.#log(line);
    }
    const skipped = (this.train.skipped ?? 0) - skipped0;
    if (skipped > 0) this.#log(`skipped ${skipped} unreadable training images (skipBad)`);
    return {
      epochs: this.#epoch,
      best: { epoch: this.#best.epoch, metrics: this.#best.metrics },
      last,
      trainImagesPerSecond: trainSeconds > 0 ? trainImages / trainSeconds : 0,
      runDir: this.runDir,
    };
  }

  dispose(): void {
    this.#reducer?.dispose();
    this.model.dispose();
    this.loss.module?.dispose();
    this.optimizer.dispose();
  }
}

/**
 * Parameter groups: no weight decay on 1-D parameters (optim.noBiasDecay), and for a ViT with
 * optim.layerDecay < 1 one lr scale per depth, as BEiT/MAE fine-tune: the head and the final norm
 * get the full lr, block i of L gets decay^(L - i), the patch and position embeddings decay^(L + 1).
 */
export function paramGroups(
  model: Embedder,
  loss: nn.Module<never[], unknown> | null,
  cfg: TrainConfig,
): { params: Tensor[]; lr?: number; weightDecay?: number }[] {
  const decay = cfg.optim.layerDecay;
  const depth = model instanceof ViTEmbedder ? model.size.numLayers : 0;
  const scaleOf = (name: string): number => {
    if (decay === 1 || !(model instanceof ViTEmbedder)) return 1;
    const b = /^encoder\.layers\.encoder_layer_(\d+)\./.exec(name);
    if (b) return decay ** (depth - Number(b[1]));
    if (/^(class_token|conv_proj\.|encoder\.pos_embedding)/.test(name)) return decay ** (depth + 1);
    return 1;
  };
  const byKey = new Map<string, { params: Tensor[]; lr?: number; weightDecay?: number }>();
  const add = (name: string, p: Tensor): void => {
    if (!p.requiresGrad) return;
    const scale = scaleOf(name);
    const noDecay = cfg.optim.noBiasDecay && p.ndim === 1;
    const key = `${scale}|${noDecay}`;
    if (!byKey.has(key))
      byKey.set(key, {
        params: [],
        ...(scale !== 1 ? { lr: cfg.optim.lr * scale } : {}),
        ...(noDecay ? { weightDecay: 0 } : {}),
      });
    byKey.get(key)!.params.push(p);
  };
  for (const [n, p] of model.namedParameters()) add(n, p);
  if (loss) for (const [n, p] of loss.namedParameters()) add(`loss.${n}`, p);
  return [...byKey.values()];
}
