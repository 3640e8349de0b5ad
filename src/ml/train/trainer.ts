// The training loop of the paper's recipe, for any loss: SGD (momentum, Nesterov, no-bias-decay
// groups), per-iteration LR schedule, evaluation every epoch, best checkpoint by cosine R@1, JSONL
// metrics, atomic checkpoints and bit-for-bit --resume, and a clean stop on a non-finite loss.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { writeFileAtomicSync } from '../../engine/serialize/file-io.js';
import path from 'node:path';
import {
  type Tensor, tensor, tidy, nn, optim, manualSeed, setNumThreads, getRngState, setRngState, dispose,
} from '../../engine/index.js';
import { ResNetEmbedder, type EmbedderOutput } from '../models/resnet.js';
import { ClassBalancedSampler, RandomBatchSampler, type BatchSampler } from '../samplers/index.js';
import type { TrainConfig } from './config.js';
import type { EvalData, TrainSource } from './source.js';
import { saveCheckpoint, loadCheckpoint, loadModelWeights, type CheckpointState } from './checkpoint.js';
import { Progress, formatSeconds } from './progress.js';
import { embedSource } from './embed.js';

export interface TrainLoss {
  readonly name: string;
  /** Needs class-balanced batches (pairwise losses). */
  readonly pairwise: boolean;
  /** Learnable loss parameters (proxies, margins), trained and checkpointed with the model. */
  readonly module?: nn.Module<never[], unknown>;
  compute(out: EmbedderOutput, labels: Tensor): Tensor;
}

export interface EvalMetrics {
  recall: { cosine: Record<string, number>; l2: Record<string, number> };
  [extra: string]: unknown;
}
export type EvaluateFn = (query: { features: Tensor; labels: Tensor }, gallery: { features: Tensor; labels: Tensor } | null, ks: number[]) => EvalMetrics;

export interface TrainerDeps {
  makeLoss(cfg: TrainConfig, numClasses: number, featureDim: number): TrainLoss;
  evaluate: EvaluateFn;
  log?: (line: string) => void;
}

export class NonFiniteLossError extends Error {}

export interface TrainResult {
  epochs: number;
  best: { epoch: number; metrics: EvalMetrics | null };
  last: EvalMetrics | null;
  trainImagesPerSecond: number;
  runDir: string;
}

export class Trainer {
  readonly model: ResNetEmbedder;
  readonly loss: TrainLoss;
  readonly optimizer: optim.SGD;
  readonly scheduler: optim.LambdaLR;
  readonly sampler: BatchSampler;
  readonly runDir: string;
  readonly #log: (line: string) => void;
  #epoch = 0;
  #step = 0;
  #best = { metric: -Infinity, epoch: 0, metrics: null as EvalMetrics | null };

  constructor(readonly cfg: TrainConfig, readonly train: TrainSource, readonly test: EvalData, readonly deps: TrainerDeps) {
    this.#log = deps.log ?? ((l) => console.log(l));
    setNumThreads(cfg.threads);
    manualSeed(cfg.seed);
    this.runDir = cfg.out;
    mkdirSync(this.runDir, { recursive: true });
    const m = cfg.model;
    this.model = new ResNetEmbedder({
      arch: m.arch, numClasses: train.numClasses, numFeatures: m.numFeatures || undefined, normLayer: m.normLayer,
      remap: m.remap, dropout: m.dropout, detach: m.detach, normalize: m.normalize, normalizeWeight: m.normalizeWeight,
      setBnEval: m.setBnEval, zeroInitResidual: m.zeroInitResidual, smallInput: m.smallInput, inChannels: train.inChannels,
      ...(train.inChannels === 1 ? { mean: [0.2860], std: [0.3530] } : {}),
    });
    if (m.pretrained) this.loadPretrained(m.pretrained);
    this.loss = deps.makeLoss(cfg, train.numClasses, this.model.options.numFeatures);

    this.sampler = this.loss.pairwise
      ? new ClassBalancedSampler(train.labels, cfg.batchSize, cfg.loss.samplesPerClass, cfg.seed)
      : new RandomBatchSampler(train.labels.length, cfg.batchSize, cfg.seed);

    const params = [...this.model.parameters(), ...(this.loss.module?.parameters() ?? [])];
    const groups = cfg.optim.noBiasDecay
      ? [{ params: params.filter((p) => p.ndim !== 1) }, { params: params.filter((p) => p.ndim === 1), weightDecay: 0 }]
      : [{ params }];
    const o = cfg.optim;
    this.optimizer = new optim.SGD(groups.filter((g) => g.params.length > 0), {
      lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.nesterov && o.momentum > 0,
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
    const weights = loadModelWeights(file);
    try {
      const r = this.model.loadStateDict(weights, false);
      this.#log(`loaded ${file}: ${weights.size - r.unexpectedKeys.length} tensors; not in file: ${r.missingKeys.length}; ignored: ${r.unexpectedKeys.join(', ') || 'none'}`);
    } finally {
      dispose(weights);
    }
  }

  get checkpointPath(): string { return path.join(this.runDir, 'last.safetensors'); }
  get bestPath(): string { return path.join(this.runDir, 'best.safetensors'); }
  get metricsPath(): string { return path.join(this.runDir, 'metrics.jsonl'); }

  private record(entry: Record<string, unknown>): void {
    appendFileSync(this.metricsPath, `${JSON.stringify(entry)}\n`);
  }

  /**
   * The killed run logged steps past its last checkpoint, which the resumed run will redo: drop
   * them (and a line torn by the kill) so metrics.jsonl reads as one uninterrupted run.
   */
  #dropMetricsAfter(epoch: number, step: number): void {
    if (!existsSync(this.metricsPath)) return;
    const kept = readFileSync(this.metricsPath, 'utf8').split('\n').filter((line) => {
      try {
        const e = JSON.parse(line) as { epoch?: unknown; step?: unknown };
        return typeof e.epoch === 'number' && typeof e.step === 'number' && e.epoch <= epoch && e.step <= step;
      } catch {
        return false;
      }
    });
    writeFileAtomicSync(this.metricsPath, [Buffer.from(kept.map((l) => `${l}\n`).join(''))]);
  }

  /** Restores model, optimizer, scheduler and RNG from the run's last checkpoint. */
  resume(): boolean {
    if (!existsSync(this.checkpointPath)) return false;
    const { parts, state } = loadCheckpoint(this.checkpointPath);
    try {
      if (!state) throw new Error(`${this.checkpointPath} has no trainer state`);
      this.model.loadStateDict(parts.model ?? new Map());
      if (this.loss.module) this.loss.module.loadStateDict(parts.loss ?? new Map());
      this.optimizer.loadStateDict({ state: parts.optim ?? new Map(), groups: state.optimizerGroups as never });
      this.scheduler.loadStateDict(state.scheduler);
      const rng = parts.rng?.get('global');
      if (rng) setRngState(rng);
      this.#epoch = state.epoch;
      this.#step = state.step;
      this.#best = { metric: state.bestMetric, epoch: state.bestEpoch, metrics: (state.extra.bestMetrics as EvalMetrics) ?? null };
      this.#dropMetricsAfter(state.epoch, state.step);
      this.#log(`resumed from ${this.checkpointPath}: ${state.epoch} epochs done, step ${state.step}`);
      return true;
    } finally {
      dispose(parts);
    }
  }

  private saveState(): void {
    const rng = getRngState();
    const opt = this.optimizer.stateDict();
    const parts: Record<string, Map<string, Tensor>> = { model: this.model.stateDict(), optim: opt.state, rng: new Map([['global', rng]]) };
    if (this.loss.module) parts.loss = this.loss.module.stateDict();
    const state: CheckpointState = {
      epoch: this.#epoch, step: this.#step, bestMetric: this.#best.metric, bestEpoch: this.#best.epoch,
      scheduler: this.scheduler.stateDict(), optimizerGroups: opt.groups as unknown as Record<string, unknown>[],
      config: this.cfg, extra: { bestMetrics: this.#best.metrics },
    };
    try {
      saveCheckpoint(this.checkpointPath, parts, state);
    } finally {
      dispose(parts);
    }
  }

  async evaluate(): Promise<EvalMetrics> {
    const q = await embedSource(this.model, this.test.query);
    const g = this.test.gallery ? await embedSource(this.model, this.test.gallery) : null;
    try {
      return this.deps.evaluate(q, g, this.cfg.recallKs);
    } finally {
      dispose([q, g]);
    }
  }

  private async trainEpoch(epoch: number): Promise<{ loss: number; imagesPerSecond: number; seconds: number }> {
    this.model.train();
    this.loss.module?.train();
    const batches = this.sampler.epoch(epoch);
    const bar = new Progress(`epoch ${epoch + 1}/${this.cfg.epochs}`, batches.length);
    let images = 0, lossSum = 0, computeMs = 0;
    const t0 = performance.now();
    // Prefetch the next batch while the current one trains: decoding overlaps compute.
    let next = this.train.load(batches[0]!, epoch, 0);
    for (let i = 0; i < batches.length; i++) {
      const b = await next;
      if (i + 1 < batches.length) next = this.train.load(batches[i + 1]!, epoch, i + 1);
      const c0 = performance.now();
      const { loss, lr } = tidy(() => {
        const x = tensor(b.images, { shape: b.shape });
        b.release?.();
        const y = tensor(b.labels, { dtype: 'int64' });
        const out = this.model.forward(x);
        let l: Tensor;
        try {
          l = this.loss.compute(out, y);
        } catch (e) {
          // Losses refuse non-finite inputs; a model that produced them has diverged.
          if (!out.logits.isfinite().all().item() || !out.features.isfinite().all().item()) return { loss: NaN, lr: 0 };
          throw e;
        }
        const v = l.item();
        if (!Number.isFinite(v)) return { loss: v, lr: 0 };
        this.optimizer.zeroGrad();
        l.backward();
        this.optimizer.step();
        const lrNow = this.optimizer.paramGroups[0]!.lr;
        this.scheduler.step();
        return { loss: v, lr: lrNow };
      });
      if (!Number.isFinite(loss)) {
        throw new NonFiniteLossError(`loss became ${loss} at epoch ${epoch + 1}, batch ${i + 1} (step ${this.#step + 1}); `
          + `training stopped. The last good checkpoint is ${existsSync(this.checkpointPath) ? this.checkpointPath : '(none yet)'}; `
          + 'try a lower optim.lr.');
      }
      computeMs += performance.now() - c0;
      this.#step++;
      images += b.labels.length;
      lossSum += loss;
      const ips = images / ((performance.now() - t0) / 1000);
      bar.update(i + 1, { loss, imagesPerSecond: ips });
      if (this.#step % this.cfg.logEvery === 0) this.record({ type: 'train', epoch: epoch + 1, step: this.#step, loss, lr });
    }
    bar.done();
    const seconds = (performance.now() - t0) / 1000;
    return { loss: lossSum / batches.length, imagesPerSecond: images / seconds, seconds };
  }

  async run(o: { resume?: boolean } = {}): Promise<TrainResult> {
    if (o.resume) {
      if (!this.resume()) this.#log(`no checkpoint in ${this.runDir}; starting fresh`);
    } else if (existsSync(this.metricsPath)) {
      renameSync(this.metricsPath, `${this.metricsPath}.${Date.now()}.old`);
    }
    let last: EvalMetrics | null = null;
    let trainImages = 0, trainSeconds = 0;
    const skipped0 = this.train.skipped ?? 0;
    for (let epoch = this.#epoch; epoch < this.cfg.epochs; epoch++) {
      const r = await this.trainEpoch(epoch);
      trainImages += r.imagesPerSecond * r.seconds;
      trainSeconds += r.seconds;
      this.#epoch = epoch + 1;
      let line = `epoch ${epoch + 1}/${this.cfg.epochs}  loss ${r.loss.toFixed(4)}  ${r.imagesPerSecond.toFixed(0)} img/s  ${formatSeconds(r.seconds)}`;
      if (this.cfg.evalEvery > 0 && ((epoch + 1) % this.cfg.evalEvery === 0 || epoch + 1 === this.cfg.epochs)) {
        const e0 = performance.now();
        last = await this.evaluate();
        const r1 = last.recall.cosine['1'] ?? 0;
        this.record({ type: 'eval', epoch: epoch + 1, step: this.#step, ...last, evalSeconds: (performance.now() - e0) / 1000 });
        line += `  R@1 cos ${r1.toFixed(2)} l2 ${(last.recall.l2['1'] ?? 0).toFixed(2)}`;
        if (r1 >= this.#best.metric) {
          this.#best = { metric: r1, epoch: epoch + 1, metrics: last };
          const sd = this.model.stateDict();
          try {
            saveCheckpoint(this.bestPath, { model: sd }, {
              epoch: epoch + 1, step: this.#step, bestMetric: r1, bestEpoch: epoch + 1, scheduler: this.scheduler.stateDict(),
              optimizerGroups: [], config: this.cfg, extra: { metrics: last },
            });
          } finally {
            dispose(sd);
          }
        }
      }
      this.record({ type: 'epoch', epoch: epoch + 1, step: this.#step, loss: r.loss, imagesPerSecond: r.imagesPerSecond, seconds: r.seconds });
      this.saveState();
      this.#log(line);
    }
    const skipped = (this.train.skipped ?? 0) - skipped0;
    if (skipped > 0) this.#log(`skipped ${skipped} unreadable training images (skipBad)`);
    return {
      epochs: this.#epoch, best: { epoch: this.#best.epoch, metrics: this.#best.metrics }, last,
      trainImagesPerSecond: trainSeconds > 0 ? trainImages / trainSeconds : 0, runDir: this.runDir,
    };
  }

  dispose(): void {
    this.model.dispose();
    this.loss.module?.dispose();
    this.optimizer.dispose();
  }
}
