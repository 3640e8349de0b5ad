// --device of the commands that run a model (eval, embed, mi, report, serve): the resolver dml train
// uses, a usage error (2) for a request this build or machine cannot honour.
import { distributed } from '../engine/index.js';
import { DeviceError, resolveBackend, resolveDevice, type DeviceChoice } from '../ml/train/device.js';

export const DEVICE_FLAG = { device: { type: 'string' as const } };

export const DEVICE_HELP =
  '  --device D             cpu (default), auto (CUDA when the libtorch has it and a GPU is visible), cuda or ' +
  'cuda:N';

/**
 * The device `--device` asks for, said on stderr when given (`dml eval: on cuda:0 (--device=auto: 1 GPU
 * visible)`); a refused request is printed and comes back as exit code 2.
 */
export function deviceOption(cmd: string, value: string | undefined, quiet = false): DeviceChoice | 2 {
  try {
    // In a job (eval, embed) each rank takes cuda:LOCAL_RANK.
    const env = distributed.launchEnvFrom();
    const job = env && { localRank: env.localRank, localWorldSize: env.localWorldSize };
    const d = resolveDevice(value ?? 'cpu', { key: '--device', job });
    if (value !== undefined && !quiet) console.error(`dml ${cmd}: on ${d.device} (${d.reason})`);
    return d;
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    console.error(`dml ${cmd}: ${e.message}`);
    return 2;
  }
}

/** The backend of a job on this device: NCCL for GPUs, Gloo for the CPU. */
export const jobBackend = (d: DeviceChoice): 'gloo' | 'nccl' => resolveBackend('auto', d.device);
