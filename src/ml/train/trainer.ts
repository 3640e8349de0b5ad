// The training loop of the paper's recipe, for any loss: epochs of steps under a per-iteration lr
// schedule, evaluation every epoch, the best checkpoint by cosine R@1, JSONL metrics, atomic
// checkpoints and bit-for-bit --resume (train-state.ts), and a clean stop on a non-finite loss.
// With a process group of several ranks it trains data-parallel: each rank takes its slice of the
// global batch the single-process run would draw, gradients are averaged in buckets over ranks
// (data-parallel.ts), embedding losses see the gathered global batch, evaluation is sharded, and
// rank 0 alone writes.
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { type optim, GradScaler, distributed, dispose, manualSeed, setNumThreads } from '../../engine/index.js';
import { shardRange } from '../data/range.js';
import type { Embedder } from '../models/factory.js';
import { STREAM, mixSeed } from '../random.js';
import type { TrainConfig } from '../run/config/keys.js';
import type { Batch, EvalData, TrainSource } from '../run/datasets/source.js';
import { embedTestSet, recallKsWarning } from '../run/evaluate.js';
import { writeRunConfig } from '../run/run-config.js';
import { Progress, formatSeconds } from '../run/progress.js';
import { ClassBalancedSampler, RandomBatchSampler, type BatchSampler } from '../samplers/index.js';
import { DataParallel } from './data-parallel.js';
import { checkAmp, resolveDevice, type Amp, type DeviceChoice } from './device.js';
import { MetricsLog } from './metrics-log.js';
import { createModel, inputSideOf, prepareModel } from './model.js';
import { createOptimizer, createSchedule, paramGroups } from './optimizer.js';
import { PceProbe } from './pce-probe.js';
import { busyMachineWarning, sharedClassesWarning, stepWarnings } from './run-checks.js';
import { replicated } from './shards.js';
import { trainStep } from './step.js';
import { TrainState } from './train-state.js';
import { NonFiniteLossError, type EvalMetrics, type TrainLoss, type TrainResult, type TrainerDeps } from './types.js';

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
  readonly state: TrainState;
  readonly metrics: MetricsLog;
  /** What the run's shape says before it starts (short epochs, dropped images, seen test classes). */
  readonly warnings: string[];
  /** Where the model, the loss's parameters, the optimiser's state and the batches live. */
  readonly device: DeviceChoice;
  readonly amp: Amp;
  readonly #scaler: GradScaler | null;
  readonly #dp: DataParallel | null = null;
  readonly #log: (line: string) => void;

  constructor(
    readonly cfg: TrainConfig,
    readonly train: TrainSource,
    readonly test: EvalData,
    readonly deps: TrainerDeps,
  ) {
    this.group = deps.group && deps.group.worldSize > 1 ? deps.group : null;
    const grp0 = this.group;
    this.device =
      deps.device ??
      resolveDevice(cfg.device, { job: grp0 && { localRank: grp0.localRank, localWorldSize: grp0.localWorldSize } });
    const dev = this.device.device;
    this.amp = checkAmp(cfg.amp, dev);
    this.#scaler = this.amp === 'fp16' ? new GradScaler() : null;
    if (this.group && cfg.batchSize < this.group.worldSize) {
      throw new RangeError(
        `batchSize ${cfg.batchSize} is the global batch: it must be at least the number of processes (` +
          `${this.group.worldSize})`,
      );
    }
    this.isMain = (this.group?.rank ?? 0) === 0;
    this.#log = this.isMain ? (deps.log ?? ((l) => console.log(l))) : () => {};
    setNumThreads(cfg.threads);
    // The order of what draws from the seeded generator (initialisation, loss tables, ranks' streams) is the run's.
    manualSeed(cfg.seed);
    this.runDir = cfg.out;
    if (this.isMain) {
      mkdirSync(this.runDir, { recursive: true });
      // What the run was asked, readable without loading a checkpoint (and replayable with --config).
      writeRunConfig(this.runDir, cfg);
    }
    // Other ranks receive rank 0's weights by the broadcast below (only rank 0 needs the file).
    // Built (and seeded) on the CPU, then moved: a GPU run starts from the CPU run's weights and tables.
    this.model = createModel(cfg, train, { pretrained: this.isMain, log: this.#log });
    if (dev !== 'cpu') this.model.to(dev);
    this.loss = deps.makeLoss(cfg, train.numClasses, this.model.options.numFeatures, this.group);
    if (dev !== 'cpu') this.loss.module?.to(dev);
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
    const shared = deps.classNames ? sharedClassesWarning(deps.classNames) : null;
    this.warnings = [
      ...stepWarnings({
        images: train.labels.length,
        batchSize: cfg.batchSize,
        batchesPerEpoch: this.sampler.batchesPerEpoch,
      }),
      ...(shared ? [shared] : []),
    ];
    const busy = busyMachineWarning({
      threads: cfg.threads,
      load: loadavg()[0] ?? 0,
      cores: availableParallelism(),
      processes: this.group?.worldSize ?? 1,
    });
    if (busy) this.warnings.push(busy);
    prepareModel(this.model, cfg, inputSideOf(cfg, train));
    const params = [...this.model.parameters(), ...(this.loss.module?.parameters() ?? [])].filter(
      (p) => p.requiresGrad,
    );
    if (g) this.#dp = new DataParallel(g, this.loss, params, cfg.distributed);
    this.optimizer = createOptimizer(paramGroups(this.model, this.loss.module ?? null, cfg), cfg.optim);
    this.scheduler = createSchedule(this.optimizer, cfg, this.sampler.batchesPerEpoch);
    this.state = new TrainState(
      cfg,
      {
        model: this.model,
        loss: this.loss.module,
        shards: this.loss.shards,
        optimizer: this.optimizer,
        scheduler: this.scheduler,
      },
      { group: this.group, isMain: this.isMain, log: this.#log, classNames: deps.classNames },
    );
    this.metrics = new MetricsLog(this.runDir, this.isMain);
  }

  get checkpointPath(): string {
    return this.state.lastPath;
  }
  get bestPath(): string {
    return this.state.bestPath;
  }
  get metricsPath(): string {
    return this.metrics.file;
  }

  /** Restores model, optimizer, scheduler and RNG from the run's last checkpoint. */
  resume(): boolean {
    const at = this.state.resume();
    if (at) this.metrics.dropAfter(at.epoch, at.step);
    return at !== null;
  }

  async evaluate(): Promise<EvalMetrics> {
    const grp = this.group;
    if (grp && !this.deps.evaluateSharded) throw new Error('Trainer: a multi-process run needs deps.evaluateSharded');
    // BatchNorm running statistics are rank 0's, as DDP's broadcast_buffers makes them.
    if (grp) grp.broadcast(this.model.buffers(), 0);
    const e = await embedTestSet(this.model, this.test, { group: grp });
    try {
      const ks = this.cfg.recallKs;
      return grp ? this.deps.evaluateSharded!(grp, e.query, e.gallery, ks) : this.deps.evaluate(e.query, e.gallery, ks);
    } finally {
      dispose(e);
    }
  }

  private async trainEpoch(epoch: number): Promise<{
    loss: number;
    imagesPerSecond: number;
    seconds: number;
    commSeconds: number;
    probe: PceProbe;
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
    const probe = new PceProbe(this.loss, this.cfg.logEvery);
    if (this.#dp) this.#dp.commSeconds = 0;
    const t0 = performance.now();
    // This rank's slice of each global batch, with the augmentation each image gets in the whole batch.
    const grp = this.group;
    const load = (i: number): Promise<Batch> => {
      const whole = batches[i]!;
      if (!grp) return this.train.load(whole, epoch, i);
      const { start, end } = shardRange(whole.length, grp.rank, grp.worldSize);
      return this.train.load(whole.slice(start, end), epoch, i, start);
    };
    const parts = {
      model: this.model,
      loss: this.loss,
      optimizer: this.optimizer,
      scheduler: this.scheduler,
      dp: this.#dp,
      device: this.device.device,
      amp: this.amp,
      scaler: this.#scaler,
    };
    // Prefetch the next batch while the current one trains: decoding overlaps compute.
    let next = load(0);
    for (let i = 0; i < batches.length; i++) {
      const b = await next;
      if (i + 1 < batches.length) next = load(i + 1);
      const { loss, lr } = trainStep(parts, b, this.state.step + 1, probe);
      if (!Number.isFinite(loss)) {
        throw new NonFiniteLossError(
          `loss became ${loss} at epoch ${epoch + 1}, batch ${i + 1} (step ${this.state.step + 1}); ` +
            `training stopped. The last good checkpoint is ` +
            `${existsSync(this.checkpointPath) ? this.checkpointPath : '(none yet)'}; ` +
            'try a lower optim.lr.',
        );
      }
      const step = ++this.state.step;
      images += b.labels.length;
      lossSum += loss;
      const ips = images / ((performance.now() - t0) / 1000);
      bar?.update(i + 1, { loss, imagesPerSecond: ips * (grp?.worldSize ?? 1) });
      if (this.isMain)
        this.deps.onProgress?.({
          epoch: epoch + 1,
          epochs: this.cfg.epochs,
          batch: i + 1,
          batches: batches.length,
          step,
          loss,
          imagesPerSecond: ips * (grp?.worldSize ?? 1),
        });
      if (step % this.cfg.logEvery === 0) {
        const elapsed = (performance.now() - t0) / 1000;
        this.metrics.record({ type: 'train', epoch: epoch + 1, step, loss, lr, elapsed });
      }
    }
    bar?.done();
    const seconds = (performance.now() - t0) / 1000;
    // Images of the global batch: every rank's slice; the probe's sums over every rank's samples.
    if (grp) {
      const sums = grp.allReduceNumbers([images, ...probe.sums()]);
      images = sums[0]!;
      probe.summary(sums.slice(1));
    }
    return {
      loss: lossSum / batches.length,
      imagesPerSecond: images / seconds,
      seconds,
      commSeconds: this.#dp?.commSeconds ?? 0,
      probe,
    };
  }

  async run(o: { resume?: boolean } = {}): Promise<TrainResult> {
    this.state.removeStaleTempFiles();
    const resumed = o.resume ? this.resume() : false;
    if (o.resume && !resumed) this.#log(`no checkpoint in ${this.runDir}; starting fresh`);
    if (!resumed) this.metrics.setAside();
    const grp = this.group;
    let warnedKs = false;
    let last: EvalMetrics | null = null;
    let trainImages = 0,
      trainSeconds = 0;
    const skipped0 = this.train.skipped ?? 0;
    const s = this.state;
    for (let epoch = s.epoch; epoch < this.cfg.epochs; epoch++) {
      const r = await this.trainEpoch(epoch);
      trainImages += r.imagesPerSecond * r.seconds;
      trainSeconds += r.seconds;
      s.epoch = epoch + 1;
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
        const evalSeconds = (performance.now() - e0) / 1000;
        this.metrics.record({ type: 'eval', epoch: epoch + 1, step: s.step, ...last, evalSeconds });
        line += `  R@1 cos ${(last.recall.cosine['1'] ?? 0).toFixed(2)} l2 ${(last.recall.l2['1'] ?? 0).toFixed(2)}`;
        s.evaluated(epoch + 1, last);
      }
      const bound = r.probe.summary();
      if (bound) this.metrics.record({ type: 'bound', epoch: epoch + 1, step: s.step, ...bound });
      this.metrics.record({
        type: 'epoch',
        epoch: epoch + 1,
        step: s.step,
        loss: r.loss,
        imagesPerSecond: r.imagesPerSecond,
        seconds: r.seconds,
        ...(grp ? { worldSize: grp.worldSize, commSeconds: r.commSeconds } : {}),
      });
      s.saveLast();
      this.#log(line);
    }
    const skipped = (this.train.skipped ?? 0) - skipped0;
    if (skipped > 0) this.#log(`skipped ${skipped} unreadable training images (skipBad)`);
    return {
      epochs: s.epoch,
      best: { epoch: s.best.epoch, metrics: s.best.metrics },
      last,
      trainImagesPerSecond: trainSeconds > 0 ? trainImages / trainSeconds : 0,
      runDir: this.runDir,
      warnings: [...this.warnings],
    };
  }

  dispose(): void {
    this.#dp?.dispose();
    this.model.dispose();
    this.loss.module?.dispose();
    this.optimizer.dispose();
  }
}
