// The floors of ARCHITECTURE.md, checked on the import graph of src/: a lower floor never imports a
// higher one, report and server stay independent, and the floors form no cycle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** src/index.ts, the package's entry, is a floor of its own: it re-exports, nothing imports it. */
type Floor = 'native' | 'engine' | 'ml' | 'report' | 'server' | 'cli' | 'entry';

/** What each floor may import (besides itself). */
const ALLOWED: Record<Floor, readonly Floor[]> = {
  native: [],
  engine: ['native'],
  ml: ['engine'],
  report: ['engine', 'ml'],
  server: ['engine', 'ml'],
  cli: ['engine', 'ml', 'report', 'server'],
  entry: ['engine', 'ml', 'report', 'server'],
};

interface Edge {
  /** Importing file and the specifier as written, relative to the repository root. */
  file: string;
  specifier: string;
  from: Floor;
  /** null: the import leaves src/. */
  to: Floor | null;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const src = path.join(root, 'src');

function floorOf(absolute: string): Floor | null {
  const rel = path.relative(src, absolute);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  const top = rel.split(path.sep)[0]!;
  if (top === 'index.ts' || top === 'index.js') return 'entry';
  if (top in ALLOWED) return top as Floor;
  throw new Error(`src/${rel}: not in a known floor (add it to ALLOWED and ARCHITECTURE.md)`);
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return tsFiles(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Relative imports of every .ts file: static, export-from, side-effect and dynamic import() (comments and strings
 * skipped).
 */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of tsFiles(src)) {
    const from = floorOf(file)!;
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      edges.push({
        file: path.relative(root, file),
        specifier: fileName,
        from,
        to: floorOf(path.resolve(path.dirname(file), fileName)),
      });
    }
  }
  return edges;
}

/** Every broken rule, one line each, naming the file and the import. */
function violations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  const between = new Map<Floor, Map<Floor, Edge>>();
  for (const e of edges) {
    if (e.to === null) {
      out.push(`${e.file}: import '${e.specifier}' leaves src/`);
      continue;
    }
    if (e.to === e.from) continue;
    if (!ALLOWED[e.from].includes(e.to))
      out.push(
        `${e.file}: import '${e.specifier}' goes from ${e.from} to ${e.to} (${e.from} may import ` +
          `${ALLOWED[e.from].join(', ') || 'nothing'})`,
      );
    const m = between.get(e.from) ?? new Map<Floor, Edge>();
    if (!m.has(e.to)) m.set(e.to, e);
    between.set(e.from, m);
  }
  // The rules above leave no cycle; the search is here so that a loosened ALLOWED still cannot add one.
  const state = new Map<Floor, 'open' | 'done'>();
  const visit = (f: Floor, trail: Edge[]): void => {
    state.set(f, 'open');
    for (const [to, e] of between.get(f) ?? []) {
      if (state.get(to) === 'open') {
        const cycle = [...trail, e].slice(trail.findIndex((t) => t.from === to));
        out.push(
          `floor cycle ${[...cycle.map((c) => c.from), to].join(' -> ')}: ` +
            `${cycle.map((c) => `${c.file} imports '${c.specifier}'`).join('; ')}`,
        );
      } else if (!state.has(to)) visit(to, [...trail, e]);
    }
    state.set(f, 'done');
  };
  for (const f of between.keys()) if (!state.has(f)) visit(f, []);
  return out;
}

test('src/ keeps its floors: engine < ml < report, server < cli; report and server apart; no cycles', () => {
  const edges = importEdges();
  assert.ok(edges.length > 300, `only ${edges.length} relative imports found: is the parser reading src/?`);
  for (const [a, b] of [
    ['cli', 'ml'],
    ['ml', 'engine'],
    ['report', 'ml'],
    ['server', 'ml'],
  ] as const) {
    assert.ok(
      edges.some((e) => e.from === a && e.to === b),
      `no ${a} -> ${b} import seen: the floors were not recognised`,
    );
  }
  assert.deepEqual(violations(edges), []);
});

test('the checker names a forbidden import and a cycle', () => {
  const bad: Edge[] = [
    { file: 'src/engine/tensor.ts', specifier: '../ml/api.js', from: 'engine', to: 'ml' },
    { file: 'src/ml/api.ts', specifier: '../engine/index.js', from: 'ml', to: 'engine' },
    { file: 'src/report/index.ts', specifier: '../server/index.js', from: 'report', to: 'server' },
    { file: 'src/ml/x.ts', specifier: '../../test/prng.js', from: 'ml', to: null },
  ];
  const v = violations(bad);
  assert.ok(
    v.includes("src/engine/tensor.ts: import '../ml/api.js' goes from engine to ml (engine may import native)"),
    v.join('\n'),
  );
  assert.ok(
    v.some((l) => l.startsWith("src/report/index.ts: import '../server/index.js' goes from report to server")),
    v.join('\n'),
  );
  assert.ok(v.includes("src/ml/x.ts: import '../../test/prng.js' leaves src/"), v.join('\n'));
  assert.ok(
    v.some((l) =>
      new RegExp(
        /^floor cycle (engine -> ml -> engine|ml -> engine -> ml): .*src\/engine\/tensor\.ts imports /.source +
          /'\.\.\/ml\/api\.js'/.source,
      ).test(l),
    ),
    v.join('\n'),
  );
  assert.equal(v.length, 4, v.join('\n'));
});
