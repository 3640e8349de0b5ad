// OpenMP's wait policy, chosen before libtorch loads. libgomp (the OpenMP runtime of PyTorch's
// libtorch) reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when the addon is loaded, and by default
// spins ~300,000 times before a waiting thread sleeps. That spinning is what makes a quiet machine
// fast and a busy one slow: a spinning thread holds the core its partner needs. bench/threads on 2
// cores (README, "Threads on a busy machine"): with two busy loops beside it, ResNet-18 at 28 px trained
// at 22 img/s spinning and 34 passive, the small CNN 697 and 1,015; alone, passive cost ResNet-18 27%
// (83 against 61) and the small CNN half. So the policy follows the machine's load when the addon loads.
import { availableParallelism, loadavg } from 'node:os';

/** What decided the wait policy: the user's variables, or this process's load reading. */
export type OmpWaitChoice = 'user' | 'quiet' | 'busy';

let choice: OmpWaitChoice | null = null;

/**
 * Sets OMP_WAIT_POLICY=PASSIVE in `env` when the machine is busy (1-minute load average at least its
 * cores) and the user chose neither a policy nor a spin count (either variable present, whatever its
 * value); a quiet machine keeps libgomp's default. Only the main thread's process.env reaches the C
 * environment libgomp reads (a worker thread's is a copy), so the main thread calls this before the
 * addon first loads and before it starts workers that load it. The first call's choice stands.
 */
export function applyOmpWaitDefault(
  env: NodeJS.ProcessEnv = process.env,
  load: number = loadavg()[0] ?? 0,
  cores: number = availableParallelism(),
): OmpWaitChoice {
  // One decision per process: a later call (the addon loading after the server chose for its workers)
  // would otherwise read the policy it set as the user's, or a different load.
  if (env === process.env && choice !== null) return choice;
  const c: OmpWaitChoice =
    env.OMP_WAIT_POLICY !== undefined || env.GOMP_SPINCOUNT !== undefined ? 'user' : load >= cores ? 'busy' : 'quiet';
  if (c === 'busy') env.OMP_WAIT_POLICY = 'PASSIVE';
  if (env === process.env) choice = c;
  return c;
}

/** This process's choice, once the addon has loaded (null before, or in a worker thread). */
export const ompWaitChoice = (): OmpWaitChoice | null => choice;
