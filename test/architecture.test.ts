// The rules of ARCHITECTURE.md, each checked here: the floors on the import graph of src/ (a lower
// floor never imports a higher one, report and server stay independent, no cycle), only the engine
// loads the addon, no model class is tested for outside src/ml/models, and test/ mirrors src/.
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
const rel = (file: string): string => path.relative(root, file).split(path.sep).join('/');

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

/** The one module that loads the addon, and the modules above the engine allowed to use it directly, with why. */
const ADDON_LOADER = 'src/engine/native.ts';
const NATIVE_USERS: ReadonlyMap<string, string> = new Map([
  ['src/server/worker.ts', "guards the addon's dispose with its engine lock"],
]);
/** What loading a native addon looks like in TypeScript. */
const LOADS_ADDON = /\bprocess\.dlopen\b|\bcreateRequire\b|\.node['"`]/;

/** Files that load a native addon other than the loader, and imports of the loader from above the engine. */
function addonViolations(sources: ReadonlyMap<string, string>, edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const [file, text] of sources)
    if (file !== ADDON_LOADER && LOADS_ADDON.test(text))
      out.push(`${file}: loads a native addon (only ${ADDON_LOADER} does)`);
  for (const e of edges) {
    const target = rel(path.resolve(root, path.dirname(e.file), e.specifier)).replace(/\.js$/, '.ts');
    if (target === ADDON_LOADER && e.from !== 'engine' && !NATIVE_USERS.has(e.file))
      out.push(`${e.file}: import '${e.specifier}' reaches the addon directly; use the engine's typed API`);
  }
  return out;
}

/** The classes src/ml/models exports: what code elsewhere must not test for with instanceof. */
function modelClasses(sources: ReadonlyMap<string, string>): Set<string> {
  const names = new Set<string>();
  for (const [file, text] of sources) {
    if (!file.startsWith('src/ml/models/')) continue;
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest);
    for (const st of sf.statements)
      if (ts.isClassDeclaration(st) && st.name && st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword))
        names.add(st.name.text);
  }
  return names;
}

/** `x instanceof ModelClass` outside src/ml/models: the model's family answers instead (familyOf). */
function instanceofViolations(sources: ReadonlyMap<string, string>, classes: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [file, text] of sources) {
    if (file.startsWith('src/ml/models/')) continue;
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.InstanceOfKeyword) {
        const right = ts.isPropertyAccessExpression(n.right) ? n.right.name : n.right;
        if (ts.isIdentifier(right) && classes.has(right.text)) {
          const line = sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
          out.push(`${file}:${line}: instanceof ${right.text} (ask the model's family: familyOf)`);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

/** Test folders that test across src/ rather than one part of it. */
const CROSS_CUTTING = new Set(['test/distributed', 'test/faults', 'test/fixtures', 'test/gpu']);

/** Folders of test/ without a src/ folder of the same path. */
function mirrorViolations(testDirs: readonly string[], srcDirs: ReadonlySet<string>): string[] {
  const suites = [...CROSS_CUTTING].join(', ');
  return testDirs
    .filter((d) => ![...CROSS_CUTTING].some((c) => d === c || d.startsWith(`${c}/`)))
    .filter((d) => !srcDirs.has(`src/${d.slice('test/'.length)}`))
    .map((d) => `${d}: no src/${d.slice('test/'.length)} to mirror (a cross-cutting suite goes in ${suites})`);
}

/** What starting several ranks looks like in a test: the helper that spawns them, or a launch. */
const STARTS_RANKS = /\brunRanks\(|--nproc-per-node|\bWORLD_SIZE\b/;

/** This file names the patterns without running anything. */
const SELF = 'test/architecture.test.ts';

/** Tests outside test/distributed that run several processes. */
function multiProcessViolations(tests: ReadonlyMap<string, string>): string[] {
  return [...tests]
    .filter(([file, text]) => !file.startsWith('test/distributed/') && file !== SELF && STARTS_RANKS.test(text))
    .map(([file]) => `${file}: starts several processes (multi-process tests go in test/distributed)`);
}

function dirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => [rel(path.join(dir, d.name)), ...dirs(path.join(dir, d.name))]);
}

const sources = (): Map<string, string> => new Map(tsFiles(src).map((f) => [rel(f), readFileSync(f, 'utf8')]));

test('only the engine loads the addon; above it only the listed modules use native.ts', () => {
  const all = sources();
  assert.ok(
    LOADS_ADDON.test(all.get(ADDON_LOADER) ?? ''),
    `${ADDON_LOADER} no longer loads the addon: update this test`,
  );
  assert.deepEqual(addonViolations(all, importEdges()), []);
  const bad = addonViolations(
    new Map([['src/ml/x.ts', "const b = createRequire(import.meta.url)('../build/x.node');"]]),
    [{ file: 'src/cli/y.ts', specifier: '../engine/native.js', from: 'cli', to: 'engine' }],
  );
  assert.deepEqual(bad, [
    'src/ml/x.ts: loads a native addon (only src/engine/native.ts does)',
    "src/cli/y.ts: import '../engine/native.js' reaches the addon directly; use the engine's typed API",
  ]);
});

test('no instanceof of a model class outside src/ml/models', () => {
  const all = sources();
  const classes = modelClasses(all);
  for (const c of ['ResNetEmbedder', 'ViTEmbedder', 'BasicBlock', 'Bottleneck']) assert.ok(classes.has(c), c);
  assert.deepEqual(instanceofViolations(all, classes), []);
  assert.deepEqual(
    instanceofViolations(new Map([['src/ml/export/x.ts', 'const v = m instanceof models.ViTEmbedder;']]), classes),
    ["src/ml/export/x.ts:1: instanceof ViTEmbedder (ask the model's family: familyOf)"],
  );
});

test('test/ mirrors src/ but for the cross-cutting suites, and every multi-process test is in test/distributed', () => {
  const srcDirs = new Set(dirs(src));
  const testDirs = dirs(path.join(root, 'test'));
  assert.ok(testDirs.includes('test/ml/miners') && srcDirs.has('src/ml/miners'), 'folders were not read');
  assert.deepEqual(mirrorViolations(testDirs, srcDirs), []);
  assert.deepEqual(mirrorViolations(['test/ml/train/x', 'test/faults/deep'], srcDirs), [
    'test/ml/train/x: no src/ml/train/x to mirror (a cross-cutting suite goes in test/distributed, test/faults, ' +
      'test/fixtures, test/gpu)',
  ]);
  const tests = new Map(tsFiles(path.join(root, 'test')).map((f) => [rel(f), readFileSync(f, 'utf8')]));
  assert.ok([...tests.keys()].some((f) => f.startsWith('test/distributed/') && STARTS_RANKS.test(tests.get(f)!)));
  assert.deepEqual(multiProcessViolations(tests), []);
  assert.deepEqual(multiProcessViolations(new Map([['test/ml/eval/x.test.ts', 'await runRanks(W, s, 2);']])), [
    'test/ml/eval/x.test.ts: starts several processes (multi-process tests go in test/distributed)',
  ]);
});

/** The one module of src/ that reads files a user named: it refuses FIFOs, devices and oversized files first. */
const INPUT_GATE = 'src/engine/serialize/input-gate.ts';
/** Other modules that open files themselves, with why none of those is a user's file read unchecked. */
const OPENS_FILES: ReadonlyMap<string, string> = new Map([
  ['src/engine/serialize/file-io.ts', 'opens its own temp files for writing, and folders to fsync them'],
  ['src/cli/main.ts', "reads the toolkit's own package.json for --version"],
  ['src/server/index-cache.ts', 'streams a checkpoint that checkInputFile admitted, up to its admitted size'],
]);
/** What opening or reading a file by path looks like (node:fs, node:fs/promises, sharp on a path). */
const OPENS_FILE = /\b(?:readFileSync|readFile|openSync|createReadStream|fsp\.open|fs\.open)\s*\(/;

/** Files outside the gate and the list that open or read a file by path, with the line. */
function inputViolations(sources: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of sources) {
    if (file === INPUT_GATE || OPENS_FILES.has(file)) continue;
    text.split('\n').forEach((line, i) => {
      if (OPENS_FILE.test(line) && !/^\s*(?:\/\/|\*)/.test(line))
        out.push(`${file}:${i + 1}: opens a file itself (read user files through ${INPUT_GATE})`);
    });
  }
  return out;
}

test('every file read by path goes through the input gate', () => {
  const all = sources();
  assert.ok(all.has(INPUT_GATE), `${INPUT_GATE} is gone: update this test`);
  assert.deepEqual(inputViolations(all), []);
  assert.deepEqual(
    inputViolations(
      new Map([['src/ml/data/x.ts', "// readFileSync(f) in a comment\nconst t = readFileSync(f, 'utf8');"]]),
    ),
    [`src/ml/data/x.ts:2: opens a file itself (read user files through ${INPUT_GATE})`],
  );
});

test('ARCHITECTURE.md lists exactly the rules checked here', () => {
  const doc = readFileSync(path.join(root, 'ARCHITECTURE.md'), 'utf8');
  const section = /## Rules that are checked\n([\s\S]*?)\n## /.exec(doc)?.[1];
  assert.ok(section, "ARCHITECTURE.md has a '## Rules that are checked' section");
  const listed = [...section.matchAll(/^- \*\*([^*]+)\*\*/gm)].map((m) => m[1]);
  assert.deepEqual(listed, ['Floors', 'The addon', 'Model classes', 'Input files', 'Tests mirror src'], section);
});
