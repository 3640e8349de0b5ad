// The launch environment of a distributed job: the variables torchrun sets (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, and TORCHELASTIC_USE_AGENT_STORE when its
// agent hosts the store), so whatever launches torchrun jobs launches these too.

export interface LaunchEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** The launcher (torchrun's agent) hosts the TCPStore; rank 0 then connects like the others. */
  agentHosted: boolean;
  /** torchrun's restart count: a restarted job's keys must not meet the failed attempt's. */
  attempt: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  const v = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `environment variable ${name}=${JSON.stringify(raw ?? '')}: expected an integer in [${min}, ${max}]`,
    );
  }
  return v;
}

/**
 * The job's place from the environment, or null for a single-process run (neither RANK nor
 * WORLD_SIZE set, or WORLD_SIZE=1). Malformed or inconsistent values are refused, naming the variable.
 */
export function launchEnvFrom(env: Env = process.env): LaunchEnv | null {
  if (env.WORLD_SIZE === undefined && env.RANK === undefined) return null;
  if (env.WORLD_SIZE === undefined) throw new RangeError('environment variable RANK is set but WORLD_SIZE is not');
  const worldSize = int(env, 'WORLD_SIZE', 1);
  if (worldSize === 1 && (env.RANK === undefined || env.RANK === '0')) return null;
  const rank = int(env, 'RANK', 0, worldSize - 1);
  const localRank = env.LOCAL_RANK === undefined ? rank : int(env, 'LOCAL_RANK', 0, worldSize - 1);
  const localWorldSize = env.LOCAL_WORLD_SIZE === undefined ? worldSize : int(env, 'LOCAL_WORLD_SIZE', 1, worldSize);
  if (localRank >= localWorldSize)
    throw new RangeError(`LOCAL_RANK=${localRank} is not below LOCAL_WORLD_SIZE=${localWorldSize}`);
  const masterAddr = env.MASTER_ADDR;
  if (!masterAddr)
    throw new RangeError(
      'environment variable MASTER_ADDR is not set (the host of rank 0, or of the launcher with the store)',
    );
  const masterPort = int(env, 'MASTER_PORT', 1, 65535);
  const agentHosted = env.TORCHELASTIC_USE_AGENT_STORE === 'True' || env.TORCHELASTIC_USE_AGENT_STORE === '1';
  const attempt = env.TORCHELASTIC_RESTART_COUNT === undefined ? 0 : int(env, 'TORCHELASTIC_RESTART_COUNT', 0);
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, agentHosted, attempt };
}

/** Whether an address names this machine's loopback interface (Gloo then binds to 127.0.0.1). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
