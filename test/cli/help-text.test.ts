// Help text speaks of settings, commands and README sections, never of the toolkit's source files:
// a user of the installed package has no src/ to look in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';

/** What main() prints for argv, stdout and stderr together. */
async function printed(argv: string[]): Promise<{ code: number; text: string }> {
  const chunks: string[] = [];
  const saved = { log: console.log, error: console.error, write: process.stdout.write };
  const keep = (...a: unknown[]): void => void chunks.push(a.map(String).join(' '));
  console.log = keep;
  console.error = keep;
  process.stdout.write = ((s: string | Uint8Array) => keep(String(s))) as typeof process.stdout.write;
  try {
    const code = await main(argv);
    return { code, text: chunks.join('\n') };
  } finally {
    Object.assign(console, { log: saved.log, error: saved.error });
    process.stdout.write = saved.write;
  }
}

test('no help text of dml or of any command cites a source file', async () => {
  const top = await printed(['--help']);
  assert.equal(top.code, 0);
  const names = [...top.text.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
  assert.ok(names.includes('train') && names.includes('serve') && names.length >= 8, top.text);
  // One at a time: printed() swaps the console for the duration of a call.
  const texts = [top.text];
  for (const n of names) texts.push(await checkHelp(n));
  for (const text of texts) {
    assert.doesNotMatch(text, /src\//);
    assert.doesNotMatch(text, /\.ts\b/);
  }
});

async function checkHelp(name: string): Promise<string> {
  const r = await printed([name, '--help']);
  assert.equal(r.code, 0, `dml ${name} --help: ${r.text}`);
  assert.match(r.text, new RegExp(`dml ${name}`), `dml ${name} --help printed its usage`);
  return r.text;
}
