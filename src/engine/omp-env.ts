// OpenMP's wait policy, chosen before libtorch loads. libgomp (the OpenMP runtime of PyTorch's
// libtorch) reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when the addon is loaded, and by default
// spins ~300,000 times before a waiting thread sleeps. On a machine other jobs keep busy, a spinning
// thread holds the core its partner needs: bench/threads measured a small CNN at 114 img/s with the
// default against 416 with PASSIVE (2 threads, 2 burners on 2 cores), and no loss on a quiet machine.

/** Why the wait policy is what it is: set here, or the user's own variables. */
export type OmpWaitSource = 'default' | 'user';

/**
 * Sets OMP_WAIT_POLICY=PASSIVE in `env` unless the user chose a policy or a spin count (either
 * variable present, whatever its value). Only the main thread's process.env reaches the C
 * environment libgomp reads (a worker thread's is a copy), so the main thread calls this before
 * the first load of the addon and before it starts workers that load it.
 */
export function applyOmpWaitDefault(env: NodeJS.ProcessEnv = process.env): OmpWaitSource {
  if (env.OMP_WAIT_POLICY !== undefined || env.GOMP_SPINCOUNT !== undefined) return 'user';
  env.OMP_WAIT_POLICY = 'PASSIVE';
  return 'default';
}
