// src/native/ops.table is the one list of the addon's exports: the TypeScript binding is generated
// from it, the built addon must export exactly its names, and each C++ file must register exactly
// the entries the table files under it. A new op missing from the table, or a stale generated file,
// fails here rather than as an untyped call at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { native } from '../../src/engine/native.js';
import { NATIVE_EXPORTS } from '../../src/engine/native-ops.generated.js';

// Compiled to dist/test/engine: the sources are three levels up.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface TableEntry {
  name: string;
  file: string;
  isFunction: boolean;
}
interface Generator {
  TABLE: string;
  OUTPUT: string;
  parseTable(text: string): { entries: TableEntry[] };
  generate(text: string): string;
}
const loadGenerator = async (): Promise<Generator> =>
  (await import(pathToFileURL(path.join(repo, 'scripts/gen-native-types.mjs')).href)) as Generator;

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

test('the generated binding is current with src/native/ops.table', async () => {
  const gen = await loadGenerator();
  const want = gen.generate(readFileSync(gen.TABLE, 'utf8'));
  const have = readFileSync(gen.OUTPUT, 'utf8');
  if (have !== want) {
    const a = have.split('\n'),
      b = want.split('\n');
    const i = a.findIndex((l, k) => l !== b[k]);
    assert.fail(
      `src/engine/native-ops.generated.ts is stale (first difference at line ${i + 1}: ${JSON.stringify(a[i])} vs ` +
        `${JSON.stringify(b[i])}); run \`npm run gen:native\``,
    );
  }
});

test("the addon exports exactly the table's names, functions where the table says so", async () => {
  const { entries } = (await loadGenerator()).parseTable(readFileSync(path.join(repo, 'src/native/ops.table'), 'utf8'));
  const exported = Object.keys(native);
  const listed = new Set(entries.map((e) => e.name));
  assert.deepEqual(
    exported.filter((n) => !listed.has(n)),
    [],
    'exported by the addon but missing from ops.table',
  );
  assert.deepEqual(
    entries.map((e) => e.name).filter((n) => !(n in native)),
    [],
    'in ops.table but not exported by the addon',
  );
  assert.deepEqual(sorted(Object.keys(NATIVE_EXPORTS)), sorted(exported));
  for (const e of entries) {
    // The name is one of NativeBinding's keys: checked just above.
    const kind = typeof native[e.name as keyof typeof native];
    assert.equal(kind === 'function', e.isFunction, `${e.name}: function in the addon vs the table`);
  }
});

test('each C++ file registers exactly the entries the table lists under it', async () => {
  const { entries } = (await loadGenerator()).parseTable(readFileSync(path.join(repo, 'src/native/ops.table'), 'utf8'));
  const dir = path.join(repo, 'src/native');
  const registered = new Map<string, string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cc'))) {
    const src = readFileSync(path.join(dir, file), 'utf8');
    // DML_EXPORT(e, name) for the DML_FN ops; exports.Set("name", ...) for the hand-written ones.
    for (const m of src.matchAll(/DML_EXPORT\(\s*\w+\s*,\s*(\w+)\s*\)|\bexports\.Set\("(\w+)"/g)) {
      const name = (m[1] ?? m[2])!;
      assert.ok(!registered.has(name), `${name} is registered in both ${registered.get(name)} and ${file}`);
      registered.set(name, file);
    }
  }
  assert.deepEqual(sorted(registered.keys()), sorted(entries.map((e) => e.name)), 'C++ registrations vs ops.table');
  for (const e of entries) assert.equal(registered.get(e.name), e.file, `${e.name}: @file in ops.table`);
});
