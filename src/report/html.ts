// The report as one self-contained HTML page: inline CSS, inline SVG charts, PNG thumbnails as
// data URIs; no scripts, fonts, stylesheets or images from anywhere else. A pure function of its
// input, so that it can be tested without a model.
import { bestEval, recallKeys, type EvalPoint, type RunMetrics } from './metrics.js';
import { escapeXml as esc, lineChart, palette, scatterPlot, type Series } from './svg.js';
import type { RetrievalExample } from './retrieval.js';

/** Retrieval metrics of one evaluation (RetrievalReport from src/ml/eval fits). */
export interface MetricsSummary {
  recall: Record<string, Record<string, number>>;
  mapAtR: number | null;
  rPrecision: number | null;
  precisionAt1: number | null;
  nmi?: number | null;
  unit?: string;
  queries?: number;
  gallery?: number;
  protocol?: string;
}

export type MiSection =
  | { status: 'ok'; report: unknown; n: number; seconds: number; note?: string }
  | { status: 'unavailable'; reason: string };

export interface TsneSection {
  /** n x 2, row-major. */
  points: Float64Array;
  labels: Int32Array;
  /** Points in the full set the sample was drawn from. */
  total: number;
  kl: number;
  perplexity: number;
  iterations: number;
  seconds: number;
  pcaExplained: number;
  normalized: boolean;
  seed: number;
}

export interface RenderedExample extends RetrievalExample {
  /** Data URIs; absent when the images could not be read. */
  queryThumb?: string;
  neighbourThumbs?: Array<string | undefined>;
}

export interface RetrievalSection {
  k: number;
  examples: RenderedExample[];
  top1: number;
  misses: number;
  queries: number;
  protocol: 'leave-one-out' | 'query-gallery';
}

export interface ReportInput {
  title: string;
  runDir: string;
  /** ISO time stamp. */
  generatedAt: string;
  metrics: RunMetrics;
  checkpoint?: { kind: string; file: string; epoch: number } | null;
  dataset?: string;
  /** Run settings worth a line in the header (model, loss, optimiser...). */
  settings?: Record<string, string | number | boolean>;
  /** The checkpoint evaluated afresh on the test set. */
  evaluation?: MetricsSummary | null;
  mi?: MiSection | null;
  tsne?: TsneSection | null;
  retrieval?: RetrievalSection | null;
  /** Display names by class label. */
  classNames?: readonly string[];
  /** The run's logEvery (steps between training-loss records), when its configuration is known. */
  logEvery?: number;
  /** Seconds per stage of the report's making. */
  timings?: Record<string, number>;
  warnings?: readonly string[];
}

/** The reports' style sheet, also used by the benches' pages. */
export const REPORT_CSS =
  `
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--card:#fff;--bad:#d1242f;--good:#1a7f37}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe ` +
  `UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:24px;margin:4px 0 2px}
h2{font-size:18px;margin:0 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:14px 0 6px}
.sub{color:var(--muted);margin:0 0 10px}
nav{margin:10px 0 16px;display:flex;flex-wrap:wrap;gap:6px}
nav a{color:#0969da;text-decoration:none;background:var(--card);border:1px solid ` +
  `var(--line);border-radius:14px;padding:2px 10px;font-size:13px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:0 0 16px}
.chips{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0 6px}
.chip{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:6px 12px;min-width:110px}
.chip b{display:block;font-size:20px}
.chip span{color:var(--muted);font-size:12px}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
svg.chart{max-width:100%;height:auto;font-family:inherit}
svg .ttl{font-size:13px;font-weight:600;fill:var(--fg)}
svg .tick{font-size:11px;fill:var(--muted)}
svg .axl{font-size:12px;fill:var(--fg)}
svg .lg{font-size:12px;fill:var(--fg)}
svg .muted{fill:var(--muted)}
svg .na{font-size:13px;fill:var(--muted)}
svg .gl{font-size:10px;fill:var(--muted)}
svg .frame{fill:none;stroke:var(--line)}
svg .grid{stroke:#eaeef2}
svg .axis{stroke:var(--muted)}
svg .guide{stroke:#8c959f;stroke-dasharray:3 3}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:4px 0 8px}
th,td{border:1px solid var(--line);padding:4px 9px;text-align:right}
th{background:var(--bg);font-weight:600}
td.l,th.l{text-align:left}
th[colspan]{text-align:center}
.note{color:var(--muted);font-size:12.5px;margin:6px 0}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:0 0 12px}
.unavail{background:var(--bg);border:1px dashed var(--line);border-radius:6px;padding:10px 14px;color:var(--muted)}
.ex{display:flex;gap:10px;align-items:flex-start;padding:8px 0;border-bottom:1px solid #eaeef2}
.ex:last-child{border-bottom:0}
.q{flex:0 0 auto;padding-right:12px;border-right:2px solid var(--line);text-align:center}
.nbrs{display:flex;flex-wrap:wrap;gap:6px}
figure{margin:0;text-align:center;width:76px;font-size:11px;line-height:1.25}
figure .img{position:relative;width:72px;height:72px;margin:0 auto 2px;border:3px solid ` +
  `var(--good);border-radius:4px;background:#000;overflow:hidden}
figure.query .img{border-color:#0969da}
figure.wrong .img{border-color:var(--bad)}
figure img{width:100%;height:100%;display:block;image-rendering:pixelated;object-fit:contain}
figure ` +
  `.mark{position:absolute;right:2px;top:2px;width:17px;height:17px;border-radius:50%;background:#fff;` +
  `font-weight:700;font-size:12px;line-height:17px;text-align:center}
figure.wrong .mark{color:#fff;background:var(--bad)}
figure.right .mark{color:var(--good)}
figure .noimg{color:#fff;font-size:10px;line-height:66px}
figcaption{color:var(--fg);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
figcaption.s{color:var(--muted)}
.tag{display:inline-block;font-size:11px;border-radius:10px;padding:0 ` +
  `7px;margin-top:3px;background:var(--bg);border:1px solid var(--line)}
.tag.miss{background:#ffebe9;border-color:#ff8182}
footer{color:var(--muted);font-size:12px}
`;

const num = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);

/** The whole page. */
export function buildReportHtml(r: ReportInput): string {
  const className = (c: number): string => r.classNames?.[c] ?? `class ${c}`;
  const sections: Array<{ id: string; title: string; html: string }> = [];
  sections.push({ id: 'training', title: 'Training curves', html: trainingSection(r.metrics, r.logEvery) });
  sections.push({ id: 'recall', title: 'Recall@K per epoch', html: recallSection(r.metrics.eval) });
  sections.push({ id: 'metrics', title: 'Final retrieval metrics', html: metricsSection(r) });
  sections.push({
    id: 'mi',
    title: 'Mutual information I(Z;Y)',
    html: miSection(r.mi ?? { status: 'unavailable', reason: 'not computed for this report' }),
  });
  sections.push({ id: 'tsne', title: 't-SNE of the test embeddings', html: tsneSection(r.tsne ?? null, r.classNames) });
  sections.push({
    id: 'retrieval',
    title: 'Retrieval examples',
    html: retrievalSection(r.retrieval ?? null, className),
  });

  const last = r.metrics.eval[r.metrics.eval.length - 1];
  const ev = r.evaluation ?? last;
  const trainSeconds = r.metrics.epochs.reduce((a, e) => a + (e.seconds ?? 0), 0);
  const chips: Array<[string, string]> = [];
  if (ev) {
    chips.push([num(ev.recall.cosine?.['1']), 'Recall@1 (cosine)']);
    chips.push([num(ev.mapAtR), 'MAP@R']);
    if (ev.nmi !== null && ev.nmi !== undefined) chips.push([num(ev.nmi), 'NMI']);
  }
  const lastEpoch = Math.max(
    0,
    ...r.metrics.epochs.map((e) => e.epoch),
    ...r.metrics.eval.map((e) => e.epoch),
    ...r.metrics.train.map((t) => t.epoch),
  );
  chips.push([String(lastEpoch), 'epochs logged']);
  if (trainSeconds > 0) chips.push([duration(trainSeconds), 'training time']);
  if (r.checkpoint) chips.push([`${esc(r.checkpoint.kind)} · ep ${r.checkpoint.epoch}`, 'checkpoint shown']);

  const warnings = [...r.metrics.warnings, ...(r.warnings ?? [])];
  const settings = r.settings
    ? Object.entries(r.settings)
        .map(([k, v]) => `${esc(k)} <b>${esc(String(v))}</b>`)
        .join(' · ')
    : '';
  const timings = r.timings
    ? Object.entries(r.timings)
        .map(([k, v]) => `${esc(k)} ${v.toFixed(1)} s`)
        .join(' · ')
    : '';

  return (
    `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.title)}</title>
<style>${REPORT_CSS}</style></head>
<body><main>
<h1>${esc(r.title)}</h1>
<p class="sub">` +
    `${esc(r.runDir)}${r.dataset ? ` · ${esc(r.dataset)}` : ''}` +
    `${r.checkpoint ? ` · checkpoint ${esc(r.checkpoint.file)} (epoch ${r.checkpoint.epoch})` : ''}</p>
${settings ? `<p class="sub">${settings}</p>` : ''}
<div class="chips">${chips.map(([v, l]) => `<div class="chip"><b>${v}</b><span>${esc(l)}</span></div>`).join('')}</div>
<nav>${sections.map((s) => `<a href="#${s.id}">${esc(s.title)}</a>`).join('')}</nav>
${warnings.length ? `<div class="warn">${warnings.map((w) => esc(w)).join('<br>')}</div>` : ''}
${sections.map((s) => `<section id="${s.id}"><h2>${esc(s.title)}</h2>\n${s.html}\n</section>`).join('\n')}
<footer>Generated ${esc(r.generatedAt)} by dml report from ${esc(r.metrics.file)} (${r.metrics.lines} records)` +
    `${timings ? `. Report stages: ${timings}` : ''}.</footer>
</main></body></html>
`
  );
}

function duration(s: number): string {
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function trainingSection(m: RunMetrics, logEvery?: number): string {
  const guides = m.epochs.length > 1 ? m.epochs.slice(0, -1).map((e) => ({ x: e.step, label: `ep ${e.epoch}` })) : [];
  const lossSeries: Series[] = [
    {
      name: `training loss (${lossCadence(m, logEvery)})`,
      color: '#4e79a7',
      points: m.train.map((t) => [t.step, t.loss] as const),
      width: 1.4,
    },
  ];
  // Each epoch's mean loss as a flat segment over the steps of that epoch.
  const epochLoss: Array<readonly [number, number]> = [];
  let prevStep = m.train.length ? Math.min(m.train[0]!.step, 0) : 0;
  for (const e of m.epochs) {
    if (e.loss !== null && e.step > prevStep) epochLoss.push([prevStep, e.loss], [e.step, e.loss], [NaN, NaN]);
    prevStep = e.step;
  }
  if (epochLoss.length)
    lossSeries.push({ name: 'epoch mean loss', color: '#e15759', points: epochLoss, markers: false, width: 2.4 });
  const lr = m.train.filter((t) => t.lr !== null).map((t) => [t.step, t.lr!] as const);
  const charts = [
    lineChart({ title: 'Loss', xLabel: 'step', yLabel: 'loss', series: lossSeries, guides, yInclude: [0] }),
    lineChart({
      title: 'Learning rate',
      xLabel: 'step',
      yLabel: 'learning rate',
      series: [{ name: 'lr', color: '#59a14f', points: lr, markers: lr.length <= 30 }],
      guides,
      yInclude: [0],
    }),
  ];
  let table = '';
  if (m.epochs.length) {
    const r1 = new Map(m.eval.map((e) => [e.epoch, e.recall.cosine?.['1']]));
    table =
      `<h3>Epochs</h3><table><tr><th>epoch</th><th>step</th><th>mean ` +
      `loss</th><th>images/s</th><th>time</th><th>R@1 cos</th></tr>${m.epochs
        .map(
          (e) =>
            `<tr><td>${e.epoch}</td><td>${e.step}</td><td>${num(e.loss, 4)}</td><td>${num(e.imagesPerSecond, 0)}</td>` +
            `<td>${e.seconds === null ? '—' : duration(e.seconds)}</td><td>${num(r1.get(e.epoch))}</td></tr>`,
        )
        .join('')}</table>`;
  }
  const note = m.train.length === 0 ? '<p class="note">No training-step records in metrics.jsonl.</p>' : '';
  return `<div class="row">${charts.join('')}</div>${note}${table}${boundSection(m)}`;
}

/** CE against PCE per epoch (classifier-loss runs): Boudiaf et al.'s "CE bounds PCE", as measured. */
function boundSection(m: RunMetrics): string {
  const b = m.bounds;
  if (b.length === 0) return '';
  const pts = (get: (p: (typeof b)[number]) => number): Array<readonly [number, number]> =>
    b.map((p) => [p.epoch, get(p)] as const);
  const chart = lineChart({
    title: 'Cross-entropy and pairwise cross-entropy (PCE)',
    xLabel: 'epoch',
    yLabel: 'nats',
    integerX: true,
    series: [
      { name: 'CE of the classifier', color: '#4e79a7', points: pts((p) => p.ce) },
      { name: 'PCE (soft means from its softmax)', color: '#e15759', points: pts((p) => p.pce) },
      { name: 'PCE tightness', color: '#59a14f', dash: '6 4', points: pts((p) => p.tightness) },
      { name: 'PCE contrastive', color: '#f28e2b', dash: '6 4', points: pts((p) => p.contrastive) },
    ],
  });
  const rows = b
    .map(
      (p) =>
        `<tr><td>${p.epoch}</td><td>${num(p.ce, 4)}</td><td>${num(p.pce, 4)}</td><td>${num(p.tightness, 4)}</td><td>` +
        `${num(p.contrastive, 4)}</td><td>${num(p.lambda, 3)}</td><td>` +
        `${p.ceAbovePce === null ? '—' : `${(p.ceAbovePce * 100).toFixed(0)}%`}</td></tr>`,
    )
    .join('');
  return (
    `<h3>CE and PCE</h3><p class="note">Means over the logged training batches of each epoch: the plain ` +
    `cross-entropy of the classifier, and the PCE ` +
    "whose soft means use that classifier's softmax, with λ = λ<sub>max</sub>(ZᵀZ)/(2n) (the <code>pce</code> " +
    'loss; README, “CE and PCE”). The ' +
    'last column is the share of batches with CE ≥ PCE.</p>' +
    `<div class="row">${chart}` +
    `</div><table><tr><th>epoch</th><th>CE</th><th>PCE</th><th>tightness</th><th>contrastive</th><th>λ</th><th>CE ≥ ` +
    `PCE</th></tr>${rows}</table>`
  );
}

/**
 * How often the loss was recorded: the run's logEvery when known, else the most common gap between
 * the records' steps (a resumed run may repeat or skip a step); a single record has no gap to show.
 */
export function lossCadence(m: RunMetrics, logEvery?: number): string {
  const n = m.train.length;
  const every = (k: number): string => (k === 1 ? 'every step' : `every ${k} steps`);
  if (logEvery !== undefined)
    return n === 1 ? `${every(logEvery)}; one record, step ${m.train[0]!.step}` : every(logEvery);
  if (n === 0) return 'no records';
  if (n === 1) return `one record, step ${m.train[0]!.step}`;
  const counts = new Map<number, number>();
  for (let i = 1; i < n; i++) {
    const d = m.train[i]!.step - m.train[i - 1]!.step;
    if (d > 0) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best = 0;
  let bestCount = 0;
  for (const [d, c] of counts) if (c > bestCount || (c === bestCount && d < best)) [best, bestCount] = [d, c];
  return best > 0 ? every(best) : `${n} records`;
}

function recallSection(evals: readonly EvalPoint[]): string {
  if (evals.length === 0)
    return (
      '<p class="unavail">No evaluation records in metrics.jsonl (evalEvery = 0, or the first evaluation has ' +
      'not run yet).</p>'
    );
  const { metrics, ks } = recallKeys(evals);
  const colors = palette(ks.length);
  const series: Series[] = [];
  for (const metric of metrics) {
    ks.forEach((k, i) => {
      const pts = evals
        .filter((e) => e.recall[metric]?.[k] !== undefined)
        .map((e) => [e.epoch, e.recall[metric]![k]!] as const);
      if (pts.length)
        series.push({
          name: `R@${k} ${metric === 'l2' ? 'L2' : metric}`,
          color: colors[i]!,
          dash: metric === 'cosine' ? undefined : '6 4',
          points: pts,
        });
    });
  }
  const unit = evals[0]!.unit === 'percent' ? ' (%)' : '';
  const other: Series[] = [];
  const add = (name: string, color: string, get: (e: EvalPoint) => number | null): void => {
    const pts = evals.filter((e) => get(e) !== null).map((e) => [e.epoch, get(e)!] as const);
    if (pts.length) other.push({ name, color, points: pts });
  };
  add('MAP@R', '#4e79a7', (e) => e.mapAtR);
  add('R-Precision', '#f28e2b', (e) => e.rPrecision);
  add('P@1', '#59a14f', (e) => e.precisionAt1);
  add('NMI', '#b07aa1', (e) => e.nmi);
  const recall = lineChart({
    title: 'Recall@K (solid: cosine, dashed: L2)',
    xLabel: 'epoch',
    yLabel: `Recall@K${unit}`,
    series,
    integerX: true,
  });
  const values = lineChart({
    title: 'MAP@R, R-Precision, P@1, NMI',
    xLabel: 'epoch',
    yLabel: `value${unit}`,
    series: other,
    integerX: true,
  });
  return `<div class="row">${recall}${values}</div>`;
}

function metricsRow(label: string, e: MetricsSummary, metrics: string[], ks: string[]): string {
  const cells = metrics.flatMap((m) => ks.map((k) => `<td>${num(e.recall[m]?.[k])}</td>`));
  return (
    `<tr><td class="l">${label}</td>${cells.join('')}<td>${num(e.mapAtR)}</td><td>${num(e.rPrecision)}</td><td>` +
    `${num(e.precisionAt1)}</td><td>${num(e.nmi ?? null)}</td></tr>`
  );
}

function metricsSection(r: ReportInput): string {
  const evals = r.metrics.eval;
  const rows: Array<{ label: string; e: MetricsSummary }> = [];
  const last = evals[evals.length - 1];
  const best = bestEval(evals);
  if (last) rows.push({ label: `epoch ${last.epoch} — last logged evaluation`, e: last });
  if (best && best !== last) rows.push({ label: `epoch ${best.epoch} — best logged (max R@1 cosine)`, e: best });
  if (r.evaluation)
    rows.push({
      label:
        `${r.checkpoint ? `${esc(r.checkpoint.kind)} checkpoint (epoch ${r.checkpoint.epoch})` : 'checkpoint'} ` +
        `— re-evaluated now`,
      e: r.evaluation,
    });
  if (rows.length === 0) return '<p class="unavail">No evaluation available.</p>';
  const keys = recallKeys(rows.map((x) => ({ recall: x.e.recall }) as EvalPoint));
  const unit = (rows[0]!.e.unit ?? 'percent') === 'percent' ? 'All values in percent. ' : '';
  const recallHeads = keys.metrics.map(
    (m) => `<th colspan="${keys.ks.length}">Recall@K ${m === 'l2' ? 'L2' : esc(m)}</th>`,
  );
  const header =
    `<tr><th class="l" rowspan="2">evaluation</th>` +
    `${recallHeads.join('')}` +
    `<th rowspan="2">MAP@R</th><th rowspan="2">R-Precision</th><th rowspan="2">P@1</th><th rowspan="2">NMI</th></tr>` +
    `<tr>${keys.metrics.map(() => keys.ks.map((k) => `<th>K=${esc(k)}</th>`).join('')).join('')}</tr>`;
  const ev = r.evaluation;
  const protocol = ev?.protocol
    ? ` Protocol: ${esc(ev.protocol)}${ev.queries ? `, ${ev.queries} queries` : ''}` +
      `${ev.gallery && ev.protocol === 'query-gallery' ? `, ${ev.gallery} gallery items` : ''}.`
    : '';
  return (
    `<table>${header}${rows.map((x) => metricsRow(x.label, x.e, keys.metrics, keys.ks)).join('')}</table>` +
    `<p class="note">${unit}MAP@R, R-Precision and P@1 by cosine similarity; NMI of k-means clustering (k = number ` +
    `of classes) on the L2-normalised embeddings.${protocol}</p>`
  );
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isQty = (v: unknown): v is { nats: number; bits: number } =>
  isObj(v) && typeof v.nats === 'number' && typeof v.bits === 'number';

function miSection(mi: MiSection): string {
  if (mi.status === 'unavailable') return `<div class="unavail"><b>MI unavailable.</b> ${esc(mi.reason)}</div>`;
  const rep = mi.report;
  if (!isObj(rep)) return `<div class="unavail"><b>MI unavailable.</b> The estimator returned no report.</div>`;
  const q = (v: unknown): string =>
    isQty(v) ? `<td>${num(v.nats, 3)}</td><td>${num(v.bits, 3)}</td>` : '<td>—</td><td>—</td>';
  const rows: string[] = [];
  if (isQty(rep.hY))
    rows.push(
      `<tr><td class="l">H(Y), label entropy: the ceiling of I(Z;Y)</td>${q(rep.hY)}<td class="l">` +
        `${typeof rep.classes === 'number' ? `${rep.classes} classes` : ''}</td></tr>`,
    );
  const d = rep.discriminative;
  if (isObj(d)) {
    const how =
      d.source === 'logits'
        ? "the model's classifier logits"
        : `a cross-fitted linear probe${typeof d.folds === 'number' ? ` (${d.folds} folds)` : ''}`;
    rows.push(
      `<tr><td class="l">discriminative I(Z;Y) = H(Y) − CE, CE of ${esc(how)}</td>${q(d.mi)}<td class="l">CE ` +
        `${isQty(d.crossEntropy) ? num(d.crossEntropy.nats, 3) : '—'} nats, accuracy ` +
        `${typeof d.accuracy === 'number' ? (100 * d.accuracy).toFixed(1) : '—'}%</td></tr>`,
    );
  }
  const g = rep.generative;
  if (isObj(g)) {
    rows.push(
      `<tr><td class="l">generative I(Z;Y) = H(Z) − H(Z|Y), Kozachenko-Leonenko k=${esc(String(g.k))}</td>${q(g.mi)}` +
        `<td class="l">${esc(String(g.transform ?? ''))} in ${esc(String(g.dims))} dims` +
        `${typeof g.intrinsicDim === 'number' ? ` (intrinsic dimension ${g.intrinsicDim.toFixed(1)})` : ''}</td></tr>`,
    );
    rows.push(
      `<tr><td class="l">&nbsp;&nbsp;H(Z)</td>${q(g.hZ)}<td class="l">differential entropy (can be negative)</td></tr>`,
    );
    rows.push(
      `<tr><td class="l">&nbsp;&nbsp;H(Z|Y)</td>${q(g.hZgivenY)}<td class="l">` +
        `${typeof g.classesUsed === 'number' ? `${g.classesUsed} classes used` : ''}</td></tr>`,
    );
  }
  if (rows.length === 0) {
    // An unknown report shape: list its numbers rather than guess their meaning.
    const flat: Array<[string, number]> = [];
    const walk = (v: unknown, p: string): void => {
      if (typeof v === 'number') flat.push([p, v]);
      else if (isObj(v)) for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
    };
    walk(rep, '');
    return (
      `<table><tr><th class="l">quantity</th><th>value</th></tr>` +
      `${flat.map(([k, v]) => `<tr><td class="l">${esc(k)}</td><td>${num(v, 4)}</td></tr>`).join('')}</table>`
    );
  }
  const warnings = Array.isArray(rep.warnings) ? rep.warnings.filter((w): w is string => typeof w === 'string') : [];
  return (
    `<table><tr><th class="l">quantity</th><th>nats</th><th>bits</th><th class="l">details</th></tr>${rows.join('')}` +
    `</table>` +
    `<p class="note">Estimated on ${mi.n} test embeddings in ${mi.seconds.toFixed(1)} s (as <code>dml mi</code>; ` +
    `Boudiaf et al. 2020: the discriminative view is a lower bound; the generative view estimates both ` +
    `entropies with kNN distances).${mi.note ? ` ${esc(mi.note)}` : ''}</p>` +
    (warnings.length ? `<p class="note">Estimator warnings: ${warnings.map(esc).join('; ')}.</p>` : '')
  );
}

function tsneSection(t: TsneSection | null, classNames: readonly string[] | undefined): string {
  if (!t) return '<p class="unavail">t-SNE not computed.</p>';
  const svg = scatterPlot({
    title: `t-SNE, ${t.labels.length} of ${t.total} test embeddings`,
    points: t.points,
    labels: t.labels,
    classNames,
  });
  return (
    svg +
    `<p class="note">Exact t-SNE (perplexity ${num(t.perplexity, 0)}, ${t.iterations} iterations, early exaggeration ` +
    `12, seed ${t.seed}) of ${t.normalized ? 'L2-normalised ' : ''}embeddings` +
    ` after PCA to 50 dimensions (${(100 * t.pcaExplained).toFixed(1)}% of the variance kept); final KL divergence ` +
    `${num(t.kl, 3)}; ${t.seconds.toFixed(1)} s.` +
    ' Distances between well-separated clusters and cluster sizes are not meaningful in t-SNE; neighbourhoods are.</p>'
  );
}

function thumb(uri: string | undefined, alt: string): string {
  return uri && uri.startsWith('data:image/')
    ? `<img src="${esc(uri)}" alt="${esc(alt)}">`
    : '<div class="noimg">no image</div>';
}

function retrievalSection(r: RetrievalSection | null, className: (c: number) => string): string {
  if (!r) return '<p class="unavail">Retrieval examples not computed.</p>';
  const rows = r.examples.map((ex) => {
    const q =
      `<div class="q"><figure class="query"><div class="img">${thumb(ex.queryThumb, `query ${ex.query}`)}` +
      `</div><figcaption title="${esc(className(ex.label))}">${esc(className(ex.label))}</figcaption><figcaption ` +
      `class="s">query #${ex.query}</figcaption></figure>` +
      `<span class="tag${ex.kind === 'miss' ? ' miss' : ''}">${ex.kind === 'miss' ? 'top-1 miss' : 'random'}` +
      `</span></div>`;
    const nb = ex.neighbours
      .map((n, j) => {
        const ok = n.correct;
        return (
          `<figure class="${ok ? 'right' : 'wrong'}"><div class="img">` +
          `${thumb(ex.neighbourThumbs?.[j], `neighbour ${j + 1}`)}<span class="mark">${ok ? '✓' : '✗'}</span></div>` +
          `<figcaption title="${esc(className(n.label))}">${j + 1}. ${esc(className(n.label))}` +
          `</figcaption><figcaption class="s">cos ${n.score.toFixed(3)}</figcaption></figure>`
        );
      })
      .join('');
    return `<div class="ex">${q}<div class="nbrs">${nb}</div></div>`;
  });
  return (
    `<p class="note">Top-${r.k} neighbours by cosine similarity (` +
    `${r.protocol === 'leave-one-out' ? 'leave-one-out over the test set' : 'from the gallery'}). Green border ✓: ` +
    `same class as the query; red border ✗: another class. ` +
    `${r.misses} of ${r.queries} queries (${((100 * r.misses) / Math.max(1, r.queries)).toFixed(1)}%) have a wrong ` +
    `nearest neighbour; the examples tagged "top-1 miss" are drawn among them.</p>` +
    rows.join('')
  );
}
