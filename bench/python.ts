// The PyTorch side of a bench: a Python script run as a child process (so the two sides never share
// the CPU) that prints its results as the last JSON line of its output.
import { spawnSync } from 'node:child_process';

export function runPythonJson<T>(python: string, script: string, args: readonly string[]): T {
  const r = spawnSync(python, [script, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`${script} failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (!line) throw new Error(`${script} printed no JSON:\n${r.stdout}`);
  return JSON.parse(line) as T;
}
