#!/usr/bin/env node
// The dml command: one sub-command per file in this folder.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  train: async () => (await import('./train.js')).command,
  eval: async () => (await import('./eval.js')).command,
  embed: async () => (await import('./embed.js')).command,
  export: async () => (await import('./export.js')).command,
  mi: async () => (await import('./mi.js')).command,
  prepare: async () => (await import('./prepare.js')).command,
  report: async () => (await import('./report.js')).command,
  serve: async () => (await import('./serve.js')).command,
};

function usage(): string {
  return `usage: dml <command> [options]\n\ncommands:\n${Object.keys(COMMANDS).map((c) => `  ${c}`).join('\n')}\n\nRun "dml <command> --help" for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`dml: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  return (await load()).run(rest);
}

const isMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (isMain) {
  let settled = false;
  // Node exits when nothing is left to wait for, even with the command's promise pending (a
  // worker that vanished, a handle closed under a wait): that must not pass for success.
  process.once('beforeExit', () => {
    if (settled) return;
    console.error(`dml: internal error: '${process.argv[2] ?? ''}' stopped before finishing (an operation it waited for never completed)`);
    process.exitCode = 70;
  });
  main(process.argv.slice(2)).then(
    (code) => { settled = true; process.exitCode = code; },
    (e: unknown) => {
      settled = true;
      console.error(`dml: ${e instanceof Error ? e.message : String(e)}`);
      if (process.env.DML_DEBUG && e instanceof Error) console.error(e.stack);
      process.exitCode = 1;
    },
  );
}
