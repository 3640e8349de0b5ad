// The machine's memory, for the memory budget's default limit; a module of its own so that tests
// can stand in for it.
import os from 'node:os';

export const totalmem = (): number => os.totalmem();

/** The cgroup's (container's) memory limit in bytes, or 0 where there is none (libuv's reading). */
export function constrainedMemory(): number {
  const f = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory;
  const v = f ? f.call(process) : 0;
  // libuv reports "no limit" as 0 or as a huge number (2^63 - page).
  return v && v < Number.MAX_SAFE_INTEGER ? v : 0;
}
