// Mixed precision on CUDA: autocast regions (torch.autocast('cuda', dtype)) and the gradient scaler
// fp16 training needs (torch.amp.GradScaler). Autocast is thread-local in libtorch; every forward
// pass of the engine runs on the JS thread that enters the region.
import { native } from './native.js';
import { dtypeCode } from './dtype.js';
import { noGrad } from './autograd.js';
import { stack } from './ops.js';
import { tidy } from './scope.js';
import type { Tensor } from './tensor.js';

export type AmpDtype = 'bfloat16' | 'float16';

/**
 * Runs fn with CUDA autocast on: eligible CUDA ops (matmul, conv, linear) compute in `dtype`, the
 * others in float32, as in PyTorch. CPU ops are untouched. The previous state comes back after fn.
 */
export function autocast<T>(dtype: AmpDtype, fn: () => T): T {
  if (dtype !== 'bfloat16' && dtype !== 'float16')
    throw new RangeError(`autocast: dtype must be 'bfloat16' or 'float16', got '${String(dtype)}'`);
  const prev = native.autocastEnter(dtypeCode(dtype));
  try {
    return fn();
  } finally {
    native.autocastExit(prev);
  }
}

/**
 * Dynamic loss scaling for fp16 (PyTorch's defaults): the loss is multiplied by `scale` before
 * backward; before the optimiser steps, the gradients are divided by it and checked — a step with an
 * infinite or NaN gradient is skipped and the scale halved; after `growthInterval` good steps it doubles.
 */
export class GradScaler {
  scale: number;
  #good = 0;
  constructor(
    readonly o: { initScale?: number; growthFactor?: number; backoffFactor?: number; growthInterval?: number } = {},
  ) {
    this.scale = o.initScale ?? 65536;
    if (!(this.scale > 0)) throw new RangeError(`GradScaler: initScale must be positive, got ${this.scale}`);
  }
  /** The loss to call backward on. */
  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.scale);
  }
  /**
   * Unscales the gradients of `params` in place; true when they are all finite (step), false when
   * the step must be skipped. Updates the scale either way. Ranks that all-reduced their gradients
   * first see the same gradients, so they all skip together.
   */
  unscaleAndUpdate(params: readonly Tensor[]): boolean {
    const finite = noGrad(() =>
      tidy(() => {
        // Handles on the gradients (each `grad` is a new one): in-place ops reach the gradient itself.
        const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
        if (grads.length === 0) return true;
        for (const g of grads) g.mul_(1 / this.scale);
        // One device-to-host sync for all gradients.
        return Boolean(
          stack(grads.map((g) => g.isfinite().all()))
            .all()
            .item(),
        );
      }),
    );
    if (!finite) {
      this.scale *= this.o.backoffFactor ?? 0.5;
      this.#good = 0;
    } else if (++this.#good >= (this.o.growthInterval ?? 2000)) {
      this.scale *= this.o.growthFactor ?? 2;
      this.#good = 0;
    }
    return finite;
  }
}

/**
 * Allows TF32 (10-bit mantissa) in GPU convolutions and matmuls, as torch.backends.cudnn.allow_tf32 and
 * torch.backends.cuda.matmul.allow_tf32 do; returns the previous convolution setting. No effect on the CPU.
 */
export const setAllowTf32 = (enabled: boolean): boolean => native.setAllowTf32(enabled);
