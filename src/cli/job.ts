// A command's side of a multi-process job: join the process group the launch environment describes
// (torchrun's variables), run, and leave it so that no rank is left waiting.
import { distributed } from '../engine/index.js';

/** The job's process group, or null when this process runs alone. */
export function joinJob(o: { timeoutS: number; backend?: string }): distributed.ProcessGroup | null {
  const env = distributed.launchEnvFrom();
  if (!env) return null;
  const backend = (o.backend ?? 'gloo') as distributed.Backend;
  return distributed.ProcessGroup.fromLaunchEnv(env, { timeoutMs: o.timeoutS * 1000, backend });
}

/**
 * Runs the command's body in the job. On success every rank meets at a barrier before leaving (rank
 * 0 hosts the store the others still use); on failure the error is left in the store for the other
 * ranks to quote, and says which rank it comes from.
 */
export async function runInJob<T>(group: distributed.ProcessGroup | null, body: () => Promise<T>): Promise<T> {
  if (!group) return body();
  let result: T;
  try {
    result = await body();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!(e instanceof distributed.DistributedError)) {
      group.reportError(msg);
      if (e instanceof Error && !msg.startsWith('rank ')) e.message = `rank ${group.rank}/${group.worldSize}: ${msg}`;
    }
    throw e;
  }
  group.leave();
  return result;
}

/** Whether this process prints: the only one, or rank 0 of a job. */
export const isMainProcess = (group: distributed.ProcessGroup | null): boolean => (group?.rank ?? 0) === 0;
