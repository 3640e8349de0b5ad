// Inline SVG charts for the report: line charts with axes, ticks, grid and legend, and a class-
// coloured scatter plot. Plain strings, no DOM, no scripts; every number written is finite.

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const TABLEAU10 = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** Distinct colours: Tableau 10, then golden-angle hues. */
export function palette(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    i < TABLEAU10.length ? TABLEAU10[i]! : `hsl(${Math.round((i * 137.508) % 360)}, 62%, ${i % 2 ? 42 : 56}%)`,
  );
}

/** Coordinates as written into SVG: two decimals, never NaN. */
const f = (v: number): string => {
  if (!Number.isFinite(v)) throw new RangeError(`svg: non-finite coordinate ${v}`);
  return (Math.round(v * 100) / 100).toString();
};

/** About `count` round tick values covering [lo, hi] (steps 1, 2, 2.5, 5 x 10^k). */
export function niceTicks(
  lo: number,
  hi: number,
  count = 5,
): { ticks: number[]; lo: number; hi: number; step: number } {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const a = Math.floor(lo / step + 1e-9) * step,
    b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = a; v <= b + step * 1e-6; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { ticks, lo: a, hi: b, step };
}

/** A tick label with the decimals its step needs. */
export function formatTick(v: number, step: number): string {
  if (Math.abs(v) < step * 1e-9) return '0';
  const e = Math.floor(Math.log10(step) + 1e-9);
  if (Math.abs(v) >= 1e6 || e < -4) {
    const digits = Math.max(
      0,
      Math.floor(Math.log10(Math.abs(v)) + 1e-9) - e + (Math.abs(step / 10 ** e - 2.5) < 1e-6 ? 1 : 0),
    );
    return v.toExponential(Math.min(6, digits)).replace('e+', 'e');
  }
  const decimals = Math.max(0, -e + (Math.abs(step / 10 ** e - 2.5) < 1e-6 ? 1 : 0));
  return v.toFixed(Math.min(10, decimals));
}

export interface Series {
  name: string;
  color: string;
  /** stroke-dasharray, e.g. '6 4'. */
  dash?: string;
  /** Data points; a non-finite point breaks the line (e.g. per-epoch segments). */
  points: ReadonlyArray<readonly [number, number]>;
  /** Circles at the data points (default: when the series has at most 30 points). */
  markers?: boolean;
  width?: number;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Force the y range to include these values (e.g. 0). */
  yInclude?: readonly number[];
  /** Labelled vertical guide lines (epoch boundaries). */
  guides?: ReadonlyArray<{ x: number; label: string }>;
  /** Integer x ticks only (epochs). */
  integerX?: boolean;
}

/** Legend items laid out in rows under the plot; returns the SVG and its height. */
function legend(
  items: ReadonlyArray<{ name: string; color: string; dash?: string; shape: 'line' | 'dot' }>,
  x0: number,
  y0: number,
  width: number,
): { svg: string; height: number } {
  let x = x0,
    y = y0 + 12;
  const parts: string[] = [];
  for (const it of items) {
    const w = 26 + it.name.length * 7.2 + 14;
    if (x + w > x0 + width && x > x0) {
      x = x0;
      y += 18;
    }
    parts.push(
      it.shape === 'line'
        ? `<line x1="${f(x)}" y1="${f(y - 4)}" x2="${f(x + 20)}" y2="${f(y - 4)}" stroke="${it.color}" ` +
            `stroke-width="2.2"${it.dash ? ` stroke-dasharray="${it.dash}"` : ''}/>`
        : `<circle cx="${f(x + 6)}" cy="${f(y - 4)}" r="5" fill="${it.color}"/>`,
    );
    parts.push(
      `<text x="${f(x + (it.shape === 'line' ? 25 : 15))}" y="${f(y)}" class="lg">${escapeXml(it.name)}</text>`,
    );
    x += w;
  }
  return { svg: parts.join(''), height: items.length ? y - y0 + 8 : 0 };
}

/** A line chart with axes, grid, tick labels, axis titles and a legend below. */
export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 540,
    H = o.height ?? 300;
  const m = { l: 62, r: 18, t: 30, b: 44 };
  const pw = W - m.l - m.r,
    ph = H - m.t - m.b;
  const pts = o.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const xs = pts.map((p) => p[0]),
    ys = [...pts.map((p) => p[1]), ...(o.yInclude ?? [])];
  const esc = escapeXml;
  const head =
    `<svg class="chart" viewBox="0 0 ${W} HEIGHT" width="${W}" height="HEIGHT" role="img" aria-label="${esc(o.title)}` +
    `">` +
    `<text x="${f(W / 2)}" y="18" class="ttl" text-anchor="middle">${esc(o.title)}</text>`;
  if (pts.length === 0) {
    const body =
      `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" class="frame"/><text x="${f(m.l + pw / 2)}` +
      `" y="${f(m.t + ph / 2)}" text-anchor="middle" class="na">no data</text></svg>`;
    return (head + body).replace(/HEIGHT/g, String(H));
  }
  // A loop, not Math.min(...xs): a run's metrics can hold more points than the call stack takes arguments.
  let [xMin, xMax] = extent(xs);
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  const xt = niceTicks(xMin, xMax, o.integerX ? Math.min(8, Math.max(1, Math.round(xMax - xMin))) : 6);
  if (o.integerX) {
    xt.ticks = xt.ticks.filter((v) => Number.isInteger(Math.round(v * 1e9) / 1e9));
  }
  const xLo = o.integerX ? xMin - 0.25 : xMin,
    xHi = o.integerX ? xMax + 0.25 : xMax;
  let [yMin, yMax] = extent(ys);
  const padY = (yMax - yMin) * 0.06 || Math.abs(yMax) * 0.05 || 1;
  yMin -= (o.yInclude ?? []).includes(yMin) ? 0 : padY;
  yMax += padY;
  const yt = niceTicks(yMin, yMax, 5);
  const X = (v: number): number => m.l + ((v - xLo) / (xHi - xLo)) * pw;
  const Y = (v: number): number => m.t + ph - ((v - yt.lo) / (yt.hi - yt.lo)) * ph;
  const parts: string[] = [];
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" class="frame"/>`);
  for (const v of yt.ticks) {
    const y = Y(v);
    parts.push(`<line x1="${m.l}" y1="${f(y)}" x2="${m.l + pw}" y2="${f(y)}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${f(y + 4)}" text-anchor="end" class="tick">${formatTick(v, yt.step)}</text>`);
  }
  for (const v of xt.ticks) {
    if (v < xLo - 1e-9 || v > xHi + 1e-9) continue;
    const x = X(v);
    parts.push(`<line x1="${f(x)}" y1="${m.t + ph}" x2="${f(x)}" y2="${m.t + ph + 5}" class="axis"/>`);
    parts.push(
      `<text x="${f(x)}" y="${m.t + ph + 18}" text-anchor="middle" class="tick">` +
        `${formatTick(v, o.integerX ? 1 : xt.step)}</text>`,
    );
  }
  for (const g of o.guides ?? []) {
    if (g.x < xLo || g.x > xHi) continue;
    const x = X(g.x);
    parts.push(`<line x1="${f(x)}" y1="${m.t}" x2="${f(x)}" y2="${m.t + ph}" class="guide"/>`);
    parts.push(`<text x="${f(x - 3)}" y="${m.t + 11}" text-anchor="end" class="gl">${esc(g.label)}</text>`);
  }
  parts.push(
    `<text x="${f(m.l + pw / 2)}" y="${m.t + ph + 36}" text-anchor="middle" class="axl">${esc(o.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${f(m.t + ph / 2)}) rotate(-90)" text-anchor="middle" class="axl">${esc(o.yLabel)}` +
      `</text>`,
  );
  parts.push(
    `<clipPath id="CLIP"><rect x="${m.l}" y="${m.t - 4}" width="${pw}" height="${ph + 8}"/></clipPath><g ` +
      `clip-path="url(#CLIP)">`,
  );
  for (const s of o.series) {
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (good.length === 0) continue;
    // A non-finite point breaks the line: the next point starts a new sub-path.
    let pen = false;
    const cmds: string[] = [];
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      cmds.push(`${pen ? 'L' : 'M'}${f(X(x))} ${f(Y(y))}`);
      pen = true;
    }
    const d = cmds.join(' ');
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.8}" stroke-linejoin="round"` +
        `${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}><title>${esc(s.name)}</title></path>`,
    );
    if (s.markers ?? good.length <= 30) {
      const circles = good.map(
        ([x, y]) =>
          `<circle cx="${f(X(x))}" cy="${f(Y(y))}" r="3">` +
          `<title>${esc(s.name)}: ${esc(fmtValue(y))} at ${esc(fmtValue(x))}</title></circle>`,
      );
      parts.push(`<g fill="${s.color}">${circles.join('')}</g>`);
    }
  }
  parts.push('</g>');
  const lg =
    o.series.length > 1
      ? legend(
          o.series.map((s) => ({ name: s.name, color: s.color, dash: s.dash, shape: 'line' as const })),
          m.l,
          H - 4,
          pw,
        )
      : { svg: '', height: 0 };
  const total = H + lg.height;
  const id = `c${(hash(o.title + o.series.map((s) => s.name).join()) >>> 0).toString(36)}`;
  return (head + parts.join('') + lg.svg + '</svg>').replace(/HEIGHT/g, String(total)).replace(/CLIP/g, id);
}

function fmtValue(v: number): string {
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v * 1000) / 1000) : v.toPrecision(4);
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h;
}

export interface ScatterOptions {
  title: string;
  /** N x 2 coordinates, row-major. */
  points: Float64Array;
  labels: ArrayLike<number>;
  /** Display name per class value (index = label); missing names show the label. */
  classNames?: readonly string[];
  size?: number;
  /** Legend entries at most (default 24); the rest are summarised. */
  maxLegend?: number;
}

/**
 * A square scatter plot (equal aspect, no axes: t-SNE coordinates mean nothing) coloured by class, legend on the right.
 */
export function scatterPlot(o: ScatterOptions): string {
  const n = o.labels.length;
  if (o.points.length !== 2 * n) throw new RangeError(`scatterPlot: ${o.points.length / 2} points for ${n} labels`);
  const S = o.size ?? 600,
    legendW = 190,
    pad = 12,
    top = 28;
  const classes = [...new Set(Array.from(o.labels))].sort((a, b) => a - b);
  const colors = palette(classes.length);
  const colorOf = new Map(classes.map((c, i) => [c, colors[i]!]));
  const name = (c: number): string => o.classNames?.[c] ?? `class ${c}`;
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = o.points[2 * i]!,
      y = o.points[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new RangeError(`scatterPlot: point ${i} is not finite`);
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const span = Math.max(x1 - x0, y1 - y0) || 1;
  const inner = S - 2 * pad;
  const scale = inner / span;
  const ox = pad + (inner - (x1 - x0) * scale) / 2,
    oy = top + pad + (inner - (y1 - y0) * scale) / 2;
  const r = n > 3000 ? 1.6 : n > 1000 ? 2.2 : 3;
  const counts = new Map<number, number>();
  const groups = new Map<number, string[]>();
  for (let i = 0; i < n; i++) {
    const c = o.labels[i]!;
    counts.set(c, (counts.get(c) ?? 0) + 1);
    const g = groups.get(c) ?? [];
    g.push(
      `<circle cx="${f(ox + (o.points[2 * i]! - x0) * scale)}" cy="${f(oy + (y1 - o.points[2 * i + 1]!) * scale)}" ` +
        `r="${r}"/>`,
    );
    groups.set(c, g);
  }
  const parts: string[] = [];
  parts.push(
    `<svg class="chart" viewBox="0 0 ${S + legendW} ${S + top}" width="${S + legendW}" height="${S + top}" ` +
      `role="img" aria-label="${escapeXml(o.title)}">`,
  );
  parts.push(`<text x="${f(S / 2)}" y="18" class="ttl" text-anchor="middle">${escapeXml(o.title)}</text>`);
  parts.push(`<rect x="0.5" y="${top + 0.5}" width="${S - 1}" height="${S - 1}" class="frame"/>`);
  for (const c of classes)
    parts.push(
      `<g fill="${colorOf.get(c)}" fill-opacity="0.78"><title>${escapeXml(name(c))}</title>${groups.get(c)!.join('')}` +
        `</g>`,
    );
  const maxLegend = o.maxLegend ?? 24;
  const shown = classes.slice(0, maxLegend);
  let ly = top + 16;
  for (const c of shown) {
    parts.push(
      `<circle cx="${S + 18}" cy="${ly - 4}" r="5.5" fill="${colorOf.get(c)}"/><text x="${S + 30}" y="${ly}" ` +
        `class="lg">${escapeXml(name(c))} <tspan class="muted">(${counts.get(c)})</tspan></text>`,
    );
    ly += 19;
  }
  if (classes.length > shown.length)
    parts.push(`<text x="${S + 12}" y="${ly}" class="lg muted">… ${classes.length - shown.length} more classes</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Smallest and largest of the values, for any number of them. */
export function extent(values: readonly number[]): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
