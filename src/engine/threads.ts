// Thread counts, apart from the addon: the server's main thread sizes its workers without loading it.
import { availableParallelism } from 'node:os';

/** Most intra-op threads accepted: OpenMP ends the process when it cannot create the threads asked for. */
export const MAX_THREADS = 1024;
/**
 * Intra-op threads for a process that should use every core it may: OMP_NUM_THREADS when set to a
 * count, else the CPUs this process can run on. libtorch's own default counts physical cores as
 * cpuinfo reports them, which is 1 on many 2-vCPU machines (PyTorch's default there too).
 */
export function availableThreads(): number {
  const omp = Number(process.env.OMP_NUM_THREADS);
  const n = Number.isInteger(omp) && omp >= 1 ? omp : availableParallelism();
  return Math.min(n, MAX_THREADS);
}
