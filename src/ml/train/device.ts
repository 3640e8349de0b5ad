// Where a command runs: one resolver for dml train, eval, embed, mi, report and serve, so that
// device=auto means the same everywhere and a CUDA request on a build without it is refused the
// same way (never silently run on the CPU).
import { buildInfo } from '../../engine/index.js';

/** A device a run can use: the CPU or one GPU. */
export type ResolvedDevice = 'cpu' | `cuda:${number}`;

/** What the addon's libtorch says about CUDA (`buildInfo()`'s fields; tests pass their own). */
export interface CudaFacts {
  cudaBuilt: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
}

export interface DeviceChoice {
  device: ResolvedDevice;
  /** Why, for the run's first line: e.g. "device=auto: CPU-only build". */
  reason: string;
}

/** A device request this machine cannot honour: a usage error (exit 2), with what to do instead. */
export class DeviceError extends Error {
  override name = 'DeviceError';
}

const REQUEST = /^(cpu|auto|cuda(?::(\d+))?)$/;

/** The local rank of a multi-process job on this machine: each rank uses cuda:LOCAL_RANK. */
export interface LocalRank {
  localRank: number;
  localWorldSize: number;
}

/**
 * The device a request names, on this build and machine: `cpu`; `auto` (CUDA when the libtorch has
 * it and a GPU is visible, else the CPU); `cuda` (cuda:0, or cuda:LOCAL_RANK in a job); `cuda:N`.
 * A CUDA request on a CPU-only build, with no GPU visible, or naming a GPU past the count is refused.
 */
export function resolveDevice(
  request: string,
  o: { facts?: CudaFacts; job?: LocalRank | null; key?: string } = {},
): DeviceChoice {
  const key = o.key ?? 'device';
  const m = REQUEST.exec(request);
  if (!m) throw new DeviceError(`${key}=${request}: expected cpu, auto, cuda or cuda:N`);
  if (request === 'cpu') return { device: 'cpu', reason: `${key}=cpu` };
  const f = o.facts ?? buildInfo();
  const gpus = f.cudaAvailable ? f.cudaDeviceCount : 0;
  const job = o.job && o.job.localWorldSize > 1 ? o.job : null;
  if (request === 'auto' && gpus === 0) {
    const why = !f.cudaBuilt ? 'CPU-only build' : 'CUDA build, no GPU visible';
    return { device: 'cpu', reason: `${key}=auto: ${why}` };
  }
  if (!f.cudaBuilt) {
    throw new DeviceError(
      `${key}=${request}: this libtorch has no CUDA; build the addon against a CUDA libtorch ` +
        `(LIBTORCH=/path/to/libtorch npm run setup, see README "GPUs") or use ${key}=cpu`,
    );
  }
  if (gpus === 0)
    throw new DeviceError(
      `${key}=${request}: this libtorch has CUDA but no GPU is visible (check nvidia-smi and ` +
        `CUDA_VISIBLE_DEVICES); use ${key}=cpu or ${key}=auto`,
    );
  const visible = `${gpus} GPU${gpus === 1 ? ' is' : 's are'} visible (cuda:0${gpus > 1 ? `..cuda:${gpus - 1}` : ''})`;
  if (m[2] !== undefined) {
    const n = Number(m[2]);
    if (job)
      throw new DeviceError(
        `${key}=${request}: in a job of ${job.localWorldSize} processes on this machine each rank uses ` +
          `cuda:LOCAL_RANK; use ${key}=cuda`,
      );
    if (n >= gpus) throw new DeviceError(`${key}=${request}: only ${visible}`);
    return { device: `cuda:${n}`, reason: `${key}=${request}` };
  }
  const n = job ? job.localRank : 0;
  if (n >= gpus) throw new DeviceError(`${key}=${request}: local rank ${n} needs cuda:${n}, but only ${visible}`);
  const how = job ? `cuda:LOCAL_RANK of ${gpus} GPUs` : `${gpus} GPU${gpus === 1 ? '' : 's'} visible`;
  return { device: `cuda:${n}`, reason: `${key}=${request}: ${how}` };
}

/** The c10d backend a job uses: `auto` is NCCL on GPUs and Gloo on the CPU; NCCL on the CPU is refused. */
export function resolveBackend(requested: string, device: ResolvedDevice): 'gloo' | 'nccl' {
  const cuda = device !== 'cpu';
  if (requested === 'auto') return cuda ? 'nccl' : 'gloo';
  if (requested === 'nccl' && !cuda)
    throw new DeviceError(
      'distributed.backend=nccl: NCCL reduces CUDA tensors only and this run is on the CPU; use ' +
        'distributed.backend=gloo (or auto) or device=cuda',
    );
  if (requested === 'gloo' && cuda)
    throw new DeviceError(
      `distributed.backend=gloo with device ${device}: dml reduces GPU tensors with NCCL only; use ` +
        'distributed.backend=nccl (or auto)',
    );
  if (requested !== 'gloo' && requested !== 'nccl')
    throw new DeviceError(`distributed.backend=${requested}: expected auto, gloo or nccl`);
  return requested;
}

/** Mixed precision a run asks for; refused on the CPU, where it was measured to be slower. */
export type Amp = 'off' | 'bf16' | 'fp16';

export const CPU_AMP_REASON = 'bf16 autocast was slower than fp32 on this CPU in PyTorch 2.14 (no AMX)';

export function checkAmp(amp: string, device: ResolvedDevice): Amp {
  if (amp !== 'off' && amp !== 'bf16' && amp !== 'fp16')
    throw new DeviceError(`amp=${amp}: expected off, bf16 or fp16`);
  if (amp !== 'off' && device === 'cpu')
    throw new DeviceError(`amp=${amp}: mixed precision runs on CUDA only; ${CPU_AMP_REASON}. Use amp=off`);
  return amp;
}
