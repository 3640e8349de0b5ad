// Engine settings and build facts.
import { native } from './native.js';

import { MAX_THREADS } from './threads.js';

export { MAX_THREADS, availableThreads } from './threads.js';
export { ompWaitChoice, type OmpWaitChoice } from './omp-env.js';
export const setNumThreads = (n: number): void => {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS)
    throw new RangeError(`setNumThreads(n): n must be an integer in [1, ${MAX_THREADS}], got ${n}`);
  native.setNumThreads(n);
};
export const getNumThreads = (): number => native.getNumThreads();

/** Native tensors not yet disposed or collected (a leak check). */
export const liveTensors = (): number => native.liveTensors();

export interface BuildInfo {
  torchVersion: string;
  /** The CPU kernels libtorch dispatches to on this machine: DEFAULT, AVX2, AVX512 (PyTorch's names). */
  cpuCapability: string;
  /** The libtorch was built with CUDA (whether or not a GPU is visible). */
  cudaBuilt: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  blas: string;
  config: string;
  parallelInfo: string;
}
export function buildInfo(): BuildInfo {
  const b = native.buildInfo();
  const blas = /BLAS_INFO=([^,\s]+)/.exec(b.config)?.[1] ?? 'unknown';
  return { ...b, blas };
}
export const cudaAvailable = (): boolean => native.buildInfo().cudaAvailable;

/** One line for `dml --version`: the libtorch, the CPU kernels it uses here, and CUDA. */
export function describeBuild(b: BuildInfo = buildInfo()): string {
  const gpus = `${b.cudaDeviceCount} GPU${b.cudaDeviceCount === 1 ? '' : 's'} visible`;
  const cuda = !b.cudaBuilt ? 'CPU-only build' : `CUDA build, ${b.cudaAvailable ? gpus : 'no GPU visible'}`;
  return `libtorch ${b.torchVersion} (CPU capability ${b.cpuCapability}, ${cuda}, BLAS ${b.blas})`;
}
