// How the dml process ends: the command's exit code, a one-line error, or — when Node runs out of
// work while the command's promise is still pending (a worker that vanished, a handle closed under
// a wait) — a loud internal error rather than a silent exit 0.
export function runToExit(name: string, command: Promise<number>): void {
  let settled = false;
  // Output piped into a reader that stopped (`dml eval ... | head -1`): end as a Unix tool does on SIGPIPE,
  // without a stack trace for what is no error of the command's.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      process.exit(128 + 13);
    });
  }
  process.once('beforeExit', () => {
    if (settled) return;
    console.error(
      `dml: internal error: '${name}' stopped before finishing (an operation it waited for never completed)`,
    );
    process.exitCode = 70;
  });
  command.then(
    (code) => {
      settled = true;
      process.exitCode = code;
    },
    (e: unknown) => {
      settled = true;
      console.error(`dml: ${e instanceof Error ? e.message : String(e)}`);
      if (process.env.DML_DEBUG && e instanceof Error) console.error(e.stack);
      process.exitCode = 1;
    },
  );
}
