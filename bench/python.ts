// The PyTorch side of a bench: a Python script run as a child process (so the two sides never share
// the CPU) that prints its results as the last JSON line of its output.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/**
 * The Python the benches compare with unless --python says otherwise: current PyTorch (2.14.1 +
 * torchvision 0.29.1) in the venv that scripts/python-bench-env.sh makes.
 */
export const BENCH_PYTHON = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../.cache/python-bench/bin/python',
);

/** The --python path, checked, with the command that makes the default one when it is missing. */
export function benchPython(given: string | undefined): string {
  const py = given ?? BENCH_PYTHON;
  if (!existsSync(py)) {
    throw new Error(
      given
        ? `--python ${given}: no such file`
        : `${BENCH_PYTHON} is missing: run \`bash scripts/python-bench-env.sh\` once (PyTorch 2.14.1 + torchvision, ` +
            'about 4.6 GB), or give --python /path/to/python with torch and torchvision',
    );
  }
  return py;
}
