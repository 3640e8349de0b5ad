#!/usr/bin/env node
// The dml command: one sub-command per file in this folder.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runToExit } from './exit.js';
import { editDistance } from '../ml/did-you-mean.js';

interface Command {
  summary: string;
  /** The command's --help text; its --options are the candidates of "did you mean". */
  help: string;
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

/** Commands that run models in this process (serve sizes its workers itself). */
const COMPUTES = new Set(['eval', 'embed', 'mi', 'report', 'export']);

async function usage(): Promise<string> {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const lines = await Promise.all(names.map(async (n) => `  ${n.padEnd(width)}  ${(await COMMANDS[n]!()).summary}`));
  return (
    `usage: dml <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "dml <command> --help" for a ` +
    `command's options; "dml --version" for the version.`
  );
}

function version(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    console.log(`dml ${version()}`);
    const { describeBuild } = await import('../engine/index.js');
    console.log(describeBuild());
    return 0;
  }
  if (!name || name === '--help' || name === '-h') {
    const text = await usage();
    if (name) console.log(text);
    else console.error(text);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    const near = Object.keys(COMMANDS).filter((c) => editDistance(c, name) <= 2);
    console.error(
      `dml: unknown command '${name}'${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}\n${await usage()}`,
    );
    return 2;
  }
  const command = await load();
  if (COMPUTES.has(name)) {
    // dml train sets its own count (the threads key); these would otherwise run on libtorch's
    // default, one thread on many 2-vCPU machines.
    const { setNumThreads, availableThreads } = await import('../engine/index.js');
    setNumThreads(availableThreads());
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (!String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_')) throw e;
    console.error(`dml ${name}: ${usageError((e as Error).message, command.help)}; see dml ${name} --help`);
    return 2;
  }
}

/** parseArgs's message, shorter, with the nearest option of the command for a mistyped one. */
function usageError(message: string, help: string): string {
  const unknown = /^Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
  if (unknown === undefined) return message.replace(/\. To specify a positional argument.*$/s, '');
  const options = [...new Set(help.match(/--[a-z][a-z0-9-]*/g) ?? [])];
  const near = options.filter((o) => editDistance(o, unknown) <= 2 || (unknown.length >= 4 && o.startsWith(unknown)));
  return `unknown option '${unknown}'${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}`;
}

const isMain =
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (isMain) runToExit(process.argv[2] ?? '', main(process.argv.slice(2)));
