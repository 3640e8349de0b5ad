// Where the trainer runs: the CPU, for now.
import { cudaAvailable } from '../../engine/index.js';

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
