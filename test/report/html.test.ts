import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tensor } from '../../src/engine/index.js';
import { evaluateRetrieval } from '../../src/ml/eval/index.js';
import {
  buildReportHtml,
  readMetrics,
  tsne,
  retrievalExamples,
  thumbnailDataUri,
  locateRun,
  lineChart,
  niceTicks,
  formatTick,
  reportRng,
  type RenderedExample,
  type ReportInput,
} from '../../src/report/index.js';
import { command } from '../../src/cli/report.js';
import { lossCadence } from '../../src/report/html.js';
import type { RunMetrics } from '../../src/report/metrics.js';

function syntheticMetrics(epochs: number, stepsPerEpoch: number): string {
  const lines: string[] = [];
  let step = 0;
  for (let e = 1; e <= epochs; e++) {
    for (let s = 0; s < stepsPerEpoch; s++) {
      step++;
      if (step % 5 === 0)
        lines.push(
          JSON.stringify({
            type: 'train',
            epoch: e,
            step,
            loss: 2 / (1 + step / 10),
            lr: 0.1 * Math.cos(((step / (epochs * stepsPerEpoch)) * Math.PI) / 2),
          }),
        );
    }
    const r = 60 + 10 * e;
    lines.push(
      JSON.stringify({
        type: 'eval',
        epoch: e,
        step,
        recall: { cosine: { 1: r, 2: r + 5, 4: r + 8, 8: r + 10 }, l2: { 1: r - 1, 2: r + 4, 4: r + 7, 8: r + 9 } },
        mapAtR: 30 + e,
        rPrecision: 40 + e,
        precisionAt1: r,
        protocol: 'leave-one-out',
        unit: 'percent',
        queries: 60,
        gallery: 60,
        queriesWithPositives: 60,
        seconds: 0.1,
        nmi: 50 + e,
      }),
    );
    lines.push(
      JSON.stringify({
        type: 'bound',
        epoch: e,
        step,
        ce: 1.5 / e,
        pce: 1.2 / e,
        tightness: -0.4 / e,
        contrastive: 1.6 / e,
        lambda: 3,
        ceMinusPce: 0.3 / e,
        ceAbovePce: 1,
        batches: 4,
      }),
    );
    lines.push(JSON.stringify({ type: 'epoch', epoch: e, step, loss: 1 / e, imagesPerSecond: 1000, seconds: 3 }));
  }
  return `${lines.join('\n')}\n`;
}

/** Three classes of 20 points in 16 dims; classes 1 and 2 overlap so that some neighbours are wrong. */
function tinyEmbeddings(): { x: Float32Array; labels: Int32Array; n: number; d: number } {
  const rng = reportRng(11);
  const n = 60,
    d = 16;
  const centres = [
    Array.from({ length: d }, () => rng.normal() * 4),
    Array.from({ length: d }, () => rng.normal() * 4),
  ];
  centres.push(centres[1]!.map((v) => v + 0.3 * rng.normal()));
  const x = new Float32Array(n * d),
    labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[i % 3]![j]! + rng.normal();
  }
  return { x, labels, n, d };
}

/** An 8x8 grey image per sample, its brightness the label. */
const image = (label: number): { pixels: Uint8Array; width: number; height: number; channels: 1 } => ({
  pixels: new Uint8Array(64).map((_, i) => (i % 9 === 0 ? 255 : 60 + 80 * label)),
  width: 8,
  height: 8,
  channels: 1,
});

async function buildInput(dir: string): Promise<ReportInput> {
  const file = path.join(dir, 'metrics.jsonl');
  writeFileSync(file, syntheticMetrics(3, 20));
  const metrics = readMetrics(file);
  const { x, labels, n, d } = tinyEmbeddings();
  const feats = tensor(x, { shape: [n, d] });
  try {
    const ts = tsne(x, n, d, { seed: 1, normalize: true, iterations: 250 });
    const ex = retrievalExamples(feats, labels, null, null, { count: 4, misses: 2, k: 5, seed: 2 });
    const examples: RenderedExample[] = [];
    for (const e of ex.examples) {
      examples.push({
        ...e,
        queryThumb: await thumbnailDataUri(image(e.label)),
        neighbourThumbs: await Promise.all(e.neighbours.map((nb) => thumbnailDataUri(image(nb.label)))),
      });
    }
    const evaluation = evaluateRetrieval({ features: feats, labels }, null, { ks: [1, 2, 4, 8] });
    return {
      title: 'Training report — synthetic <run>',
      runDir: dir,
      generatedAt: '2025-01-01T00:00:00Z',
      metrics,
      dataset: 'three Gaussian classes',
      settings: { model: 'none', epochs: 3 },
      checkpoint: { kind: 'best', file: path.join(dir, 'best.safetensors'), epoch: 3 },
      evaluation,
      mi: {
        status: 'ok',
        n,
        seconds: 0.5,
        report: {
          n,
          classes: 3,
          hY: { nats: 1.0986, bits: 1.585 },
          discriminative: {
            source: 'linear-probe',
            crossEntropy: { nats: 0.4, bits: 0.577 },
            mi: { nats: 0.6986, bits: 1.008 },
            accuracy: 0.8,
            folds: 5,
          },
          generative: {
            k: 3,
            dims: 4,
            intrinsicDim: 4.2,
            transform: 'pca-whiten',
            hZ: { nats: 5, bits: 7.2 },
            hZgivenY: { nats: 4.5, bits: 6.5 },
            mi: { nats: 0.5, bits: 0.72 },
            classesUsed: 3,
          },
          warnings: ['a warning'],
        },
      },
      tsne: {
        points: ts.embedding,
        labels,
        total: n,
        kl: ts.kl,
        perplexity: ts.perplexity,
        iterations: ts.iterations,
        seconds: ts.seconds,
        pcaExplained: ts.pcaExplained,
        normalized: true,
        seed: 1,
      },
      retrieval: { k: ex.k, examples, top1: ex.top1, misses: ex.misses, queries: n, protocol: 'leave-one-out' },
      classNames: ['alpha', 'beta', 'gamma'],
      timings: { tsne: ts.seconds },
    };
  } finally {
    feats.dispose();
  }
}

const PATH_RE = /^M-?\d+(\.\d+)? -?\d+(\.\d+)?( [ML]-?\d+(\.\d+)? -?\d+(\.\d+)?)*$/;

/** Start and end tags balance in a markup fragment (void and self-closing tags aside). */
function assertBalanced(fragment: string, what: string): void {
  const voids = new Set(['meta', 'br', 'img', 'hr', 'input', 'link']);
  const stack: string[] = [];
  for (const m of fragment.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    const tag = name!.toLowerCase();
    if (self || voids.has(tag)) continue;
    if (!close) stack.push(tag);
    else {
      const top = stack.pop();
      assert.equal(top, tag, `${what}: </${tag}> closes <${top}>`);
    }
  }
  assert.deepEqual(stack, [], `${what}: unclosed ${stack.join(', ')}`);
}

test(
  'the HTML builder writes one self-contained page with every section, valid SVG and marked wrong ' + 'neighbours',
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dml-report-html-'));
    const input = await buildInput(dir);
    const html = buildReportHtml(input);
    const out = path.join(dir, 'report.html');
    writeFileSync(out, html);
    const page = readFileSync(out, 'utf8');

    for (const id of ['training', 'recall', 'metrics', 'mi', 'tsne', 'retrieval'])
      assert.match(page, new RegExp(`<section id="${id}">`), id);
    for (const title of [
      'Loss',
      'Learning rate',
      'Recall@K (solid: cosine, dashed: L2)',
      'Final retrieval metrics',
      'Mutual information',
      't-SNE, 60 of 60 test embeddings',
      'Retrieval examples',
    ]) {
      assert.ok(page.includes(title), title);
    }
    // Self-contained: no scripts, stylesheets, fonts or images from elsewhere.
    const refs = [...page.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/gi)].map((m) => m[1]!);
    assert.ok(refs.length > 10);
    for (const r of refs)
      assert.ok(r.startsWith('#') || r.startsWith('data:image/png;base64,'), `reference ${r.slice(0, 40)}`);
    assert.ok(!/\bhttps?:/i.test(page.replace(/data:[^"]*/g, '')), 'no http(s) URL anywhere');
    assert.ok(!/<script|<link|@import|url\(\s*['"]?(?!#)/i.test(page));
    // Escaping: the title's angle brackets do not open a tag.
    assert.ok(page.includes('synthetic &lt;run&gt;'));
    // SVG: balanced, finite numbers, well-formed path data.
    const svgs = [...page.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
    assert.equal(svgs.length, 6, 'loss, lr, CE and PCE, recall, other metrics, t-SNE');
    svgs.forEach((s, i) => assertBalanced(s, `svg ${i}`));
    assertBalanced(page.replace(/<!DOCTYPE html>/, ''), 'page');
    const paths = [...page.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]!);
    assert.ok(paths.length >= 12, `${paths.length} paths`);
    for (const d of paths) assert.match(d, PATH_RE);
    assert.ok(!/NaN|Infinity|undefined/.test(page));
    for (const m of page.matchAll(/\b(?:cx|cy|x|y|x1|y1|x2|y2|width|height|r)="([^"]*)"/g))
      assert.ok(Number.isFinite(Number(m[1])), `attribute value ${m[0]}`);
    // t-SNE: one circle per point, a legend entry per class.
    const tsneSvg = svgs[5]!;
    assert.equal((tsneSvg.match(/<circle cx/g) ?? []).length, 60 + 3);
    for (const name of ['alpha', 'beta', 'gamma']) assert.ok(tsneSvg.includes(`>${name} <tspan`), name);
    // Retrieval: thumbnails, wrong neighbours with the red class and ✗, right ones with ✓.
    const figures = [...page.matchAll(/<figure class="(query|right|wrong)">/g)].map((m) => m[1]);
    assert.equal(figures.length, 4 * (1 + 5));
    assert.ok(figures.includes('wrong'), 'the overlapping classes give wrong neighbours');
    assert.equal(
      (page.match(/<span class="mark">✗<\/span>/g) ?? []).length,
      figures.filter((f) => f === 'wrong').length,
    );
    assert.equal(
      (page.match(/<span class="mark">✓<\/span>/g) ?? []).length,
      figures.filter((f) => f === 'right').length,
    );
    assert.match(page, /figure\.wrong \.img\{border-color:var\(--bad\)\}/);
    assert.match(page, /--bad:#d1242f/);
    assert.ok(page.includes('top-1 miss'));
    // Metrics table: logged and re-evaluated rows; MI table.
    assert.ok(page.includes('epoch 3 — last logged evaluation'));
    assert.ok(page.includes('re-evaluated now'));
    assert.ok(page.includes('<td>90.00</td>'), 'R@1 of epoch 3');
    assert.ok(
      page.includes('<h3>CE and PCE</h3>') && page.includes('<td>0.5000</td><td>0.4000</td>'),
      'the CE/PCE table (epoch 3: CE 0.5, PCE 0.4)',
    );
    assert.ok(page.includes('cross-fitted linear probe (5 folds)'));
    assert.ok(page.includes('Estimator warnings: a warning'));
  },
);

test('without MI, t-SNE or examples the page says so in clearly labelled sections', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-report-html-'));
  const input = await buildInput(dir);
  const html = buildReportHtml({
    ...input,
    mi: { status: 'unavailable', reason: 'src/ml/mi is not there.' },
    tsne: null,
    retrieval: null,
    evaluation: null,
  });
  assert.match(
    html,
    new RegExp(
      /<section id="mi"><h2>Mutual information I\(Z;Y\)<\/h2>\n<div class="unavail"><b>MI /.source +
        /unavailable\.<\/b> src\/ml\/mi is not there\.<\/div>/.source,
    ),
  );
  assert.ok(html.includes('t-SNE not computed'));
  assert.ok(html.includes('Retrieval examples not computed'));
  // A metrics file with training records only still renders (no evaluation yet).
  writeFileSync(path.join(dir, 'metrics.jsonl'), '{"type":"train","epoch":1,"step":1,"loss":1,"lr":0.1}\n');
  const html2 = buildReportHtml({
    ...input,
    metrics: readMetrics(path.join(dir, 'metrics.jsonl')),
    evaluation: null,
    mi: null,
    tsne: null,
    retrieval: null,
  });
  assert.ok(html2.includes('No evaluation records in metrics.jsonl'));
  for (const d of [...html2.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]!)) assert.match(d, PATH_RE);
});

test('line charts: broken series, single points, ticks', () => {
  const svg = lineChart({
    title: 't',
    xLabel: 'x',
    yLabel: 'y',
    series: [
      {
        name: 'a',
        color: '#000',
        points: [
          [0, 1],
          [1, 2],
          [NaN, NaN],
          [2, 2],
          [3, 1],
        ],
      },
      { name: 'b', color: '#f00', points: [[1, 5]] },
    ],
  });
  const ds = [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]!);
  assert.equal(ds.length, 2);
  assert.equal((ds[0]!.match(/M/g) ?? []).length, 2, 'the NaN point starts a new sub-path');
  for (const d of ds) assert.match(d, PATH_RE);
  assert.match(lineChart({ title: 'e', xLabel: 'x', yLabel: 'y', series: [] }), /no data/);
  // More points than a call's arguments may be (Math.min(...xs) overflowed the stack at ~130,000).
  const many = Array.from({ length: 300_000 }, (_, i): [number, number] => [i, Math.sin(i)]);
  assert.match(
    lineChart({ title: 'n', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', color: '#000', points: many }] }),
    /<path/,
  );
  assert.deepEqual(
    niceTicks(0, 0.05, 5).ticks.map((v) => formatTick(v, 0.01)),
    ['0', '0.01', '0.02', '0.03', '0.04', '0.05'],
  );
  assert.deepEqual(niceTicks(90.3, 98.6, 5).ticks, [90, 92, 94, 96, 98, 100]);
  assert.equal(formatTick(2.5e-5, 5e-6), '2.5e-5');
  assert.equal(formatTick(0.25, 0.25), '0.25');
});

test('run-directory errors name the file: missing directory, metrics, checkpoint', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dml-report-run-'));
  const missing = path.join(root, 'nope');
  assert.throws(
    () => locateRun(missing),
    (e: unknown) => (e as Error).message === `${missing}: run directory not found`,
  );
  const run = path.join(root, 'run');
  mkdirSync(run);
  assert.throws(
    () => locateRun(run),
    (e: unknown) => (e as Error).message.startsWith(`${path.join(run, 'metrics.jsonl')}: not found`),
  );
  writeFileSync(path.join(run, 'metrics.jsonl'), `${syntheticMetrics(1, 5)}{oops}\n`);
  assert.throws(
    () => locateRun(run),
    (e: unknown) => (e as Error).message.startsWith(`${path.join(run, 'metrics.jsonl')}:5: malformed JSON`),
  );
  writeFileSync(path.join(run, 'metrics.jsonl'), syntheticMetrics(1, 5));
  assert.throws(
    () => locateRun(run),
    (e: unknown) => (e as Error).message === `${path.join(run, 'best.safetensors')}: checkpoint not found`,
  );
  writeFileSync(path.join(run, 'last.safetensors'), '');
  assert.throws(
    () => locateRun(run, 'best'),
    /best\.safetensors: checkpoint not found \(the run has last\.safetensors: try --checkpoint last\)/,
  );
  // The command: usage errors exit 2, run errors propagate with the file's name (dml main prints them).
  const quiet = console.error;
  console.error = (): void => {};
  try {
    assert.equal(await command.run([]), 2);
    // --checkpoint takes best, last or a checkpoint file: a missing file is named.
    await assert.rejects(command.run([run, '--checkpoint', 'middle']), /middle: checkpoint not found/);
    assert.equal(await command.run([run, '--max-points', 'many']), 2);
    assert.equal(await command.run([run, 'stray']), 2);
    await assert.rejects(
      command.run([missing, '-q']),
      new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: run directory not found`),
    );
  } finally {
    console.error = quiet;
  }
  assert.equal(typeof command.summary, 'string');
});

test('retrieval examples: leave-one-out never returns the query; query-gallery ranks the gallery', () => {
  const q = tensor(
    [
      [1, 0],
      [0, 1],
      [1, 0.1],
    ],
    { dtype: 'float32' },
  );
  const g = tensor(
    [
      [0, 1],
      [1, 0],
      [0.9, 0.2],
      [0.1, 1],
    ],
    { dtype: 'float32' },
  );
  try {
    const loo = retrievalExamples(q, Int32Array.from([0, 1, 1]), null, null, { count: 3, misses: 1, k: 2, seed: 0 });
    assert.equal(loo.k, 2);
    for (const e of loo.examples) assert.ok(e.neighbours.every((nb) => nb.index !== e.query));
    // Query 0 (class 0) is nearest to query 2 (class 1): a top-1 miss; query 2 likewise.
    assert.equal(loo.misses, 2);
    assert.equal(loo.examples.filter((e) => e.kind === 'miss').length, 1);
    const qg = retrievalExamples(q, Int32Array.from([0, 1, 0]), g, Int32Array.from([1, 0, 0, 1]), {
      count: 3,
      misses: 0,
      k: 3,
      seed: 0,
    });
    const byQuery = new Map(qg.examples.map((e) => [e.query, e]));
    assert.deepEqual(
      byQuery.get(0)!.neighbours.map((nb) => [nb.index, nb.label, nb.correct]),
      [
        [1, 0, true],
        [2, 0, true],
        [3, 1, false],
      ],
    );
    assert.deepEqual(
      byQuery.get(1)!.neighbours.map((nb) => nb.index),
      [0, 3, 2],
    );
    assert.equal(qg.misses, 0);
    assert.equal(qg.top1, 1);
  } finally {
    q.dispose();
    g.dispose();
  }
});

test('the loss chart says how often the loss was recorded, also for a short run', () => {
  const m = (steps: number[]): RunMetrics => ({
    file: 'metrics.jsonl',
    train: steps.map((step) => ({ epoch: 1, step, loss: 1, lr: null })),
    eval: [],
    epochs: [],
    bounds: [],
    otherTypes: {},
    warnings: [],
    lines: steps.length,
  });
  assert.equal(lossCadence(m([10, 20, 30])), 'every 10 steps');
  // A resumed run repeats a step: the most common gap wins.
  assert.equal(lossCadence(m([5, 10, 15, 15, 20, 25])), 'every 5 steps');
  assert.equal(lossCadence(m([1, 2, 3])), 'every step');
  assert.equal(lossCadence(m([7])), 'one record, step 7');
  assert.equal(lossCadence(m([])), 'no records');
  // The run's own logEvery, when the report knows it, is what it says.
  assert.equal(lossCadence(m([50])), 'one record, step 50');
  assert.equal(lossCadence(m([50]), 50), 'every 50 steps; one record, step 50');
  assert.equal(lossCadence(m([50, 100]), 50), 'every 50 steps');
  const html = buildReportHtml({ title: 't', runDir: 'r', generatedAt: 'now', metrics: m([3]), logEvery: 3 });
  assert.ok(html.includes('training loss (every 3 steps; one record, step 3)'));
  assert.ok(!html.includes('every ?'));
});
