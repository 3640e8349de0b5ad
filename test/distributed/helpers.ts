// Runs a scenario in several processes on loopback, the way a launcher would (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT), and collects what each rank reported.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';

/** A TCP port free right now on 127.0.0.1 (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RankOutcome {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the start to this process's exit. */
  ms: number;
  /** The JSON object the rank printed on a line starting with RESULT, if any. */
  result: Record<string, unknown> | null;
}

/** Spawns `node script scenario` once per rank; each gets the torchrun variables. */
export async function runRanks(
  script: string,
  scenario: string,
  worldSize: number,
  o: { env?: Record<string, string>; rankEnv?: (rank: number) => Record<string, string>; timeoutMs?: number } = {},
): Promise<RankOutcome[]> {
  const port = await freePort();
  const t0 = Date.now();
  const runs = Array.from(
    { length: worldSize },
    (_, rank) =>
      new Promise<RankOutcome>((resolve) => {
        const child = spawn(process.execPath, [script, scenario], {
          env: {
            ...process.env,
            DML_TEST_WORKER: '1',
            RANK: String(rank),
            WORLD_SIZE: String(worldSize),
            LOCAL_RANK: String(rank),
            LOCAL_WORLD_SIZE: String(worldSize),
            MASTER_ADDR: '127.0.0.1',
            MASTER_PORT: String(port),
            ...o.env,
            ...o.rankEnv?.(rank),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '',
          stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
        child.on('exit', (code, signal) => {
          clearTimeout(timer);
          const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
          resolve({
            rank,
            code,
            signal,
            stdout,
            stderr,
            ms: Date.now() - t0,
            result: line ? (JSON.parse(line.slice(7)) as Record<string, unknown>) : null,
          });
        });
      }),
  );
  return Promise.all(runs);
}

/** Prints a rank's result for runRanks to collect. */
export function report(result: Record<string, unknown>): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

/** Pids of a process's children, from /proc (no procps needed). */
export function childPids(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces: fields resume after its closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out.sort((a, b) => a - b);
}
