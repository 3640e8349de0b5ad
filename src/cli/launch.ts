// The launcher behind `--nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P]`:
// torchrun's job for dml commands. It starts N worker processes of the same command on this node
// with torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), splits the cores between them, forwards SIGINT/SIGTERM, and when one worker fails
// makes sure none is left behind: the others detect the lost rank within the collective timeout;
// any still running after that is terminated.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, constants } from 'node:os';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Seconds the other ranks get to report a lost rank 0 (the store's host) before they are stopped. */
const STORE_GONE_GRACE_S = 3;

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
}

/** parseArgs options of the launcher flags, for commands that take them. */
export const LAUNCH_FLAGS = {
  'nproc-per-node': { type: 'string' },
  nnodes: { type: 'string' },
  'node-rank': { type: 'string' },
  'master-addr': { type: 'string' },
  'master-port': { type: 'string' },
} as const;

export const LAUNCH_HELP = `Multi-process (torchrun-compatible; see README "More than one machine"):
  --nproc-per-node N  start N worker processes on this node (threads: cores / N each)
  --nnodes M          machines in the job (default 1)
  --node-rank R       this machine's index, 0..M-1 (default 0)
  --master-addr A     address of node 0, where rank 0 hosts the rendezvous store (default 127.0.0.1)
  --master-port P     its port (default: a free port with one node, 29500 with several)`;

type Values = Partial<Record<keyof typeof LAUNCH_FLAGS, string | undefined>>;

function intFlag(v: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new RangeError(`--${name} must be an integer in [${min}, ${max}], got '${v}'`);
  return n;
}

/** The launch the flags ask for, or null when none was given (the command runs in this process). */
export function parseLaunch(v: Values): LaunchOptions | null {
  const given = Object.keys(LAUNCH_FLAGS).some((k) => v[k as keyof Values] !== undefined);
  if (!given) return null;
  const nnodes = intFlag(v.nnodes, 'nnodes', 1) ?? 1;
  const nodeRank = intFlag(v['node-rank'], 'node-rank', 0, nnodes - 1) ?? 0;
  const nprocPerNode = intFlag(v['nproc-per-node'], 'nproc-per-node', 1, 1024) ?? 1;
  if (nnodes > 1 && v['master-addr'] === undefined)
    throw new RangeError('--nnodes > 1 needs --master-addr (the address of node 0)');
  const masterPort = intFlag(v['master-port'], 'master-port', 1, 65535) ?? (nnodes > 1 ? 29500 : 0);
  return { nprocPerNode, nnodes, nodeRank, masterAddr: v['master-addr'] ?? '127.0.0.1', masterPort };
}

/** argv without the launcher's flags (what each worker runs). */
export function stripLaunchFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') ? a.slice(2).split('=')[0]! : '';
    if (name in LAUNCH_FLAGS) {
      if (!a.includes('=')) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 29500));
    });
  });
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Runs `dml <command> ...args` in nprocPerNode workers and resolves with the job's exit code: 0
 * when every worker succeeded, else the first failure's (128 + signal number for a signal).
 * `timeoutS` is the workers' collective timeout: how long survivors may take to notice a lost rank.
 */
export async function launch(
  o: LaunchOptions,
  command: string,
  args: readonly string[],
  x: { timeoutS: number; log?: (line: string) => void },
): Promise<number> {
  const log = x.log ?? ((l: string) => console.error(l));
  const worldSize = o.nnodes * o.nprocPerNode;
  const port = o.masterPort || (await freePort());
  const threads = Math.max(1, Math.floor(availableParallelism() / o.nprocPerNode));
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const children: { rank: number; child: ChildProcess; done: boolean }[] = [];
  let firstFailure: { rank: number; code: number } | null = null;
  let settle: () => void = () => {};
  const allDone = new Promise<void>((resolve) => {
    settle = resolve;
  });
  let killTimer: NodeJS.Timeout | null = null;

  const terminateRest = (): void => {
    for (const c of children) if (!c.done) c.child.kill('SIGTERM');
    setTimeout(() => {
      for (const c of children) if (!c.done) c.child.kill('SIGKILL');
    }, 5000).unref();
  };
  for (let local = 0; local < o.nprocPerNode; local++) {
    const rank = o.nodeRank * o.nprocPerNode + local;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      LOCAL_RANK: String(local),
      LOCAL_WORLD_SIZE: String(o.nprocPerNode),
      GROUP_RANK: String(o.nodeRank),
      MASTER_ADDR: o.masterAddr,
      MASTER_PORT: String(port),
      OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(threads),
      DML_LAUNCHED_THREADS: String(threads),
    };
    const child = spawn(process.execPath, [...process.execArgv, main, command, ...args], { env, stdio: 'inherit' });
    const entry = { rank, child, done: false };
    children.push(entry);
    child.on('exit', (code, signal) => {
      entry.done = true;
      const failed = code !== 0;
      if (failed && !firstFailure) {
        const sig = signal ? ((constants.signals as Record<string, number>)[signal] ?? 0) : 0;
        firstFailure = { rank, code: signal ? 128 + sig : (code ?? 1) };
        // Rank 0 hosts the store: without it the others can neither meet nor go on (a rank still waiting to
        // meet would retry until the timeout), so they get a moment to say what they saw and are stopped.
        const storeGone = rank === 0;
        log(
          `dml: rank ${rank} (pid ${child.pid}) ${describeExit(code, signal)}; ` +
            (storeGone
              ? `it hosted the store: the other ranks are stopped in ${STORE_GONE_GRACE_S} s`
              : `the other ranks stop within the ${x.timeoutS} s collective timeout`),
        );
        // Survivors name the lost rank and exit on their own; any still running past the timeout is stopped.
        killTimer = setTimeout(terminateRest, (storeGone ? STORE_GONE_GRACE_S : x.timeoutS + 15) * 1000);
        killTimer.unref();
      }
      if (children.every((c) => c.done)) settle();
    });
  }
  const forward = (sig: NodeJS.Signals): void => {
    for (const c of children) if (!c.done) c.child.kill(sig);
  };
  const onInt = (): void => forward('SIGINT');
  const onTerm = (): void => forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    await allDone;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    if (killTimer) clearTimeout(killTimer);
  }
  return (firstFailure as { rank: number; code: number } | null)?.code ?? 0;
}
