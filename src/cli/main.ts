#!/usr/bin/env node
// The dml command: one sub-command per file in this folder.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runToExit } from './exit.js';

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
if (isMain) runToExit(process.argv[2] ?? '', main(process.argv.slice(2)));
