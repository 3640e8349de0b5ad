// Learning-rate schedules. Like PyTorch's LambdaLR: construction applies factor(0); each step()
// advances the counter and sets lr = base_lr × factor(counter). The paper steps them per iteration.
import type { Optimizer } from './optimizer.js';

export type LrFactor = (step: number) => number;

export class LambdaLR {
  readonly baseLrs: number[];
  lastStep = 0;
  constructor(
    readonly optimizer: Optimizer<{ lr: number }>,
    readonly factor: LrFactor | LrFactor[],
  ) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    if (Array.isArray(factor) && factor.length !== this.baseLrs.length) {
      throw new Error(`LambdaLR: ${factor.length} factors for ${this.baseLrs.length} parameter groups`);
    }
    this.apply();
  }
  step(): void {
    this.lastStep++;
    this.apply();
  }
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  stateDict(): { lastStep: number; baseLrs: number[] } {
    return { lastStep: this.lastStep, baseLrs: [...this.baseLrs] };
  }
  loadStateDict(s: { lastStep: number; baseLrs: number[] }): void {
    this.lastStep = s.lastStep;
    s.baseLrs.forEach((v, i) => (this.baseLrs[i] = v));
    this.apply();
  }
  private apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const f = Array.isArray(this.factor) ? this.factor[i]! : this.factor;
      const v = f(this.lastStep);
      if (!Number.isFinite(v)) throw new RangeError(`LR factor at step ${this.lastStep} is ${v}`);
      g.lr = this.baseLrs[i]! * v;
    });
  }
}

/** The paper's warm-cosine factor: min((i+1)/warmup, (1 + cos(π i / total)) / 2). */
export const warmCosine = (total: number, warmup = 100): LrFactor => {
  checkPositive('warmCosine', total, warmup);
  return (i) => Math.min((i + 1) / warmup, (1 + Math.cos((Math.PI * i) / total)) / 2);
};
/** Cosine annealing from 1 to etaMinRatio over total steps (CosineAnnealingLR's closed form). */
export const cosine = (total: number, etaMinRatio = 0): LrFactor => {
  checkPositive('cosine', total, 1);
  return (i) => etaMinRatio + ((1 - etaMinRatio) * (1 + Math.cos((Math.PI * Math.min(i, total)) / total))) / 2;
};
/** StepLR: gamma^floor(i / stepSize); milestones give MultiStepLR. */
export const stepDecay = (stepSizeOrMilestones: number | readonly number[], gamma = 0.1): LrFactor => {
  if (typeof stepSizeOrMilestones === 'number') {
    checkPositive('stepDecay', stepSizeOrMilestones, 1);
    return (i) => gamma ** Math.floor(i / stepSizeOrMilestones);
  }
  const ms = [...stepSizeOrMilestones].sort((a, b) => a - b);
  return (i) => gamma ** ms.filter((m) => m <= i).length;
};
/** Linear warm-up, then step decay: min((i+1)/warmup, gamma^(#milestones passed)). */
export const warmStep = (milestones: number | readonly number[], gamma = 0.1, warmup = 100): LrFactor => {
  const s = stepDecay(milestones, gamma);
  checkPositive('warmStep', warmup, 1);
  return (i) => Math.min((i + 1) / warmup, s(i));
};

function checkPositive(where: string, ...v: number[]): void {
  for (const x of v) if (!(x > 0)) throw new RangeError(`${where}: expected positive values, got ${x}`);
}
