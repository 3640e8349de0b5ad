// How the dml process ends (src/cli/exit.ts), in child processes: the command's code, an error
// line with exit 1, and exit 70 with a message when the command's promise can never settle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const exitModule = fileURLToPath(new URL('../../src/cli/exit.js', import.meta.url));
const run = (command: string) =>
  spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { runToExit } = await import(${JSON.stringify(exitModule)}); runToExit('demo', ${command});`,
    ],
    { encoding: 'utf8' },
  );

test('runToExit: exit code, error line, and a pending command reported instead of exiting 0', () => {
  assert.equal(run('Promise.resolve(3)').status, 3);
  const failed = run("Promise.reject(new Error('bad input at line 7'))");
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /^dml: bad input at line 7$/m);
  // Nothing keeps the event loop alive and the promise never settles: Node would exit 0.
  const stuck = run('new Promise(() => {})');
  assert.equal(stuck.status, 70);
  assert.match(stuck.stderr, /dml: internal error: 'demo' stopped before finishing/);
  // A command still working when the loop would otherwise drain is not affected.
  assert.equal(run('new Promise((r) => setTimeout(() => r(0), 50))').status, 0);
});

test('output into a closed pipe ends the process quietly, as SIGPIPE would (141), without a stack', () => {
  // The reader side ends after one line (as `| head -1` does), the command keeps printing.
  const r = spawnSync(
    'bash',
    [
      '-c',
      `"${process.execPath}" --input-type=module -e "const { runToExit } = await import(${JSON.stringify(
        JSON.stringify(exitModule),
      ).slice(1, -1)}); runToExit('demo', (async () => { for (let i = 0; i < 1e5; i++) console.log('line ' + i); ` +
        `return 0; })());" | head -1; echo "status \${PIPESTATUS[0]}" >&2`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.stdout, 'line 0\n');
  assert.match(r.stderr, /status 141/);
  assert.doesNotMatch(r.stderr, /EPIPE|Error|at /);
});
