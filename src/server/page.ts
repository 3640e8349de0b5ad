// The single web page of `dml serve`: plain HTML, CSS and a script, no build step. The script is
// served from /app.js (not inline) so the page can run under a strict Content-Security-Policy.

export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src " +
  "'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The page's current query. An upload's class is what the user said of that upload, never a past one's. */
export type PageQuery =
  { kind: 'id'; id: number; item: { label: string } } | { kind: 'file'; file: unknown; label: string };
/** What changes the query: an upload, a gallery pick, or the "its class" choice. */
export type PageEvent =
  | { type: 'upload'; file: unknown }
  | { type: 'pick'; id: number; item: { label: string } }
  | { type: 'label'; label: string };

/**
 * The query after an event. A new upload starts with no class (so neighbours get no ✓/✗ until the user
 * names its class); a gallery image's class is its own; the class choice applies to the upload only.
 * Runs in the browser too (PAGE_JS embeds its source), so it uses nothing from outside.
 */
export function nextQuery(prev: PageQuery | null, e: PageEvent): PageQuery | null {
  if (e.type === 'upload') return { kind: 'file', file: e.file, label: '' };
  if (e.type === 'pick') return { kind: 'id', id: e.id, item: e.item };
  if (prev && prev.kind === 'file') return { kind: 'file', file: prev.file, label: e.label };
  return prev;
}

/** The query's parameters besides k and metric: a gallery id, or an upload's class when the user named one. */
export function queryParams(q: PageQuery): Record<string, string> {
  if (q.kind === 'id') return { id: String(q.id) };
  return q.label ? { label: q.label } : {};
}

export const PAGE_HTML =
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dml retrieval</title>
<link rel="icon" href="data:,">
<style>
  :root { --ok: #1a7f37; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; ` +
  `flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  #stats { color: #d0d7de; font-size: 12px; }
  main { padding: 16px 20px; max-width: 1200px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin-bottom: ` +
  `14px; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  .controls { display: flex; gap: 14px; flex-wrap: wrap; align-items: center; }
  #drop { border: 2px dashed var(--line); border-radius: 6px; padding: 10px 14px; color: var(--muted); }
  #drop.over { border-color: #0969da; background: #ddf4ff; }
  .strip { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 6px; }
  .strip button { border: 1px solid var(--line); background: #fff; padding: 3px; border-radius: 4px; cursor: pointer; }
  .strip button:hover { border-color: #0969da; }
  img.thumb { width: 72px; height: 72px; object-fit: contain; image-rendering: pixelated; display: block; ` +
  `background: #eaeef2; }
  .strip span { display: block; font-size: 11px; color: var(--muted); max-width: 72px; overflow: hidden; ` +
  `text-overflow: ellipsis; white-space: nowrap; }
  #query { display: flex; gap: 12px; align-items: center; }
  #query img { width: 112px; height: 112px; object-fit: contain; image-rendering: pixelated; background: #eaeef2; ` +
  `border-radius: 4px; }
  #grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(132px, 1fr)); gap: 10px; margin-top: 10px; }
  .card { border: 3px solid var(--line); border-radius: 6px; padding: 6px; background: #fff; position: relative; }
  .card.same { border-color: var(--ok); }
  .card.other { border-color: var(--bad); }
  .card img { width: 100%; aspect-ratio: 1; object-fit: contain; image-rendering: pixelated; background: #eaeef2; ` +
  `display: block; }
  .card .rank { position: absolute; top: 8px; left: 8px; background: rgba(0,0,0,.65); color: #fff; font-size: 11px; ` +
  `padding: 0 5px; border-radius: 3px; }
  .card .mark { position: absolute; top: 8px; right: 8px; width: 24px; height: 24px; line-height: 24px; text-align: ` +
  `center; border-radius: 50%; background: #fff; font-size: 16px; font-weight: 700; box-shadow: 0 0 0 1px ` +
  `rgba(0,0,0,.15); }
  .card.same .mark { color: var(--ok); }
  .card.other .mark { color: var(--bad); }
  .card .label { font-weight: 600; margin-top: 4px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .card .dist { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
  .card .path { font-size: 12px; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  #error { color: var(--bad); font-weight: 600; min-height: 1em; margin-top: 8px; }
  #summary { color: var(--muted); }
</style>
</head>
<body>
<header><h1>dml retrieval</h1><div id="stats">loading…</div></header>
<main>
  <section>
    <h2>Query</h2>
    <div class="controls">
      <label id="drop">Upload an image (JPEG, PNG, WebP): <input type="file" id="file" ` +
  `accept="image/jpeg,image/png,image/webp"></label>
      <label title="the uploaded image's class, if you know it: neighbours of that class get ✓, others ✗">its ` +
  `class <select id="label" disabled><option value="">unknown</option></select></label>
      <label>k <select id="k"><option>5</option><option ` +
  `selected>10</option><option>20</option><option>50</option></select></label>
      <label>metric <select id="metric"><option value="cosine" selected>cosine</option><option ` +
  `value="l2">L2</option></select></label>
    </div>
    <div style="margin-top:10px">or pick a gallery image: <button id="shuffle" type="button">other ` +
  `examples</button></div>
    <div class="strip" id="samples"></div>
    <div id="error" role="alert"></div>
  </section>
  <section id="results" hidden>
    <div id="query"><img id="query-img" alt="query"><div><div id="query-desc"></div><div id="summary"></div></div></div>
    <div id="grid"></div>
  </section>
</main>
<script src="/app.js"></script>
</body>
</html>
`;

export const PAGE_JS =
  `'use strict';
const $ = (id) => document.getElementById(id);
let lastQuery = null; // see nextQuery
let queryUrl = null;
${nextQuery.toString()}
${queryParams.toString()}
// The class choice shows the current query's: an upload's (empty until the user names it), or a
// gallery image's own (fixed, so the control is disabled).
function setQuery(e) {
  lastQuery = nextQuery(lastQuery, e);
  const sel = $('label');
  sel.value = lastQuery && lastQuery.kind === 'file' ? lastQuery.label : '';
  sel.disabled = !lastQuery || lastQuery.kind !== 'file';
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function showError(msg) { $('error').textContent = msg || ''; }

// A failed query must not leave the previous query's neighbours on screen as if they were its own.
function clearResults() {
  $('results').hidden = true;
  $('grid').replaceChildren();
  $('summary').textContent = '';
  $('query-desc').textContent = '';
}

async function api(url, init) {
  const r = await fetch(url, init);
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    const e = body && body.error ? body.error.code + ': ' + body.error.message : 'HTTP ' + r.status;
    throw new Error(e);
  }
  return body;
}

async function loadStats() {
  try {
    const s = await api('/api/stats');
    $('stats').textContent = s.gallery.size + ' gallery images, ' + s.gallery.classes + ' classes · ' + s.model.arch +
      ' (epoch ' + s.model.epoch + ', ' + s.model.dim + '-d) · index ' + s.index.kind + ' · queue ' + s.queue.active ` +
  `+ '/' + s.queue.maxActive + ' running, ' + s.queue.queued + ' waiting';
  } catch (e) { $('stats').textContent = 'stats unavailable: ' + e.message; }
}

async function loadClasses() {
  const g = await api('/api/gallery');
  const sel = $('label');
  for (const c of g.classes) sel.appendChild(el('option', { value: c }, c));
}

async function loadSamples() {
  const box = $('samples');
  try {
    const r = await api('/api/gallery/random?n=8');
    box.replaceChildren();
    for (const it of r.items) {
      const b = el('button', { type: 'button', 'data-id': String(it.id), title: it.path + ' (' + it.label + ')' });
      b.appendChild(el('img', { class: 'thumb', src: it.imageUrl, alt: it.label }));
      b.appendChild(el('span', {}, it.label));
      b.addEventListener('click', () => { setQuery({ type: 'pick', id: it.id, item: it }); run(); });
      box.appendChild(b);
    }
  } catch (e) { showError(e.message); }
}

function params() {
  const p = new URLSearchParams({ k: $('k').value, metric: $('metric').value });
  return p;
}

async function run() {
  if (!lastQuery) return;
  showError('');
  const p = params();
  for (const [key, v] of Object.entries(queryParams(lastQuery))) p.set(key, v);
  let res;
  try {
    if (lastQuery.kind === 'id') {
      res = await api('/api/query?' + p);
      $('query-img').src = lastQuery.item.imageUrl;
      $('query-desc').textContent = 'gallery #' + lastQuery.id + ' · ' + lastQuery.item.path + ' · class ' + ` +
  `lastQuery.item.label;
    } else {
      const label = lastQuery.label;
      const f = lastQuery.file;
      res = await api('/api/query?' + p, { method: 'POST', headers: { 'content-type': f.type || ` +
  `'application/octet-stream' }, body: f });
      if (queryUrl) URL.revokeObjectURL(queryUrl);
      queryUrl = URL.createObjectURL(f);
      $('query-img').src = queryUrl;
      $('query-desc').textContent = 'upload · ' + f.name + (label ? ' · class ' + label : ' · class unknown');
    }
  } catch (e) { clearResults(); showError(e.message); return; }
  render(res);
  loadStats();
}

function render(res) {
  const grid = $('grid');
  grid.replaceChildren();
  let same = 0, known = 0;
  res.neighbours.forEach((n, i) => {
    const cls = n.sameClass === undefined ? '' : n.sameClass ? 'same' : 'other';
    if (n.sameClass !== undefined) { known++; if (n.sameClass) same++; }
    const card = el('div', { class: 'card ' + cls, 'data-id': String(n.id) });
    card.appendChild(el('img', { src: n.imageUrl, alt: n.label }));
    card.appendChild(el('span', { class: 'rank' }, '#' + (i + 1)));
    card.appendChild(el('span', { class: 'mark', title: cls === 'same' ? 'same class as the query' : cls === 'other' ` +
  `? 'different class' : 'query class unknown' },
      cls === 'same' ? '✓' : cls === 'other' ? '✗' : '?'));
    card.appendChild(el('div', { class: 'label' }, n.label));
    const what = res.metric === 'cosine' ? 'cos ' + n.score.toFixed(3) + ' · d ' + n.distance.toFixed(3) : 'L2 ' + ` +
  `n.distance.toFixed(3);
    card.appendChild(el('div', { class: 'dist' }, what));
    card.appendChild(el('div', { class: 'path', title: n.path }, n.path));
    grid.appendChild(card);
  });
  $('summary').textContent = res.neighbours.length + ' neighbours (' + res.metric + ') in ' + res.tookMs + ' ms' +
    (known ? ' · ' + same + '/' + known + ' share the query\\'s class' : '');
  $('results').hidden = false;
}

$('file').addEventListener('change', () => {
  const f = $('file').files[0];
  if (f) { setQuery({ type: 'upload', file: f }); run(); }
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault(); drop.classList.remove('over');
  const f = e.dataTransfer.files[0];
  if (f) { setQuery({ type: 'upload', file: f }); run(); }
});
for (const id of ['k', 'metric']) $(id).addEventListener('change', run);
$('label').addEventListener('change', () => { setQuery({ type: 'label', label: $('label').value }); run(); });
$('shuffle').addEventListener('click', loadSamples);

loadStats();
loadClasses().catch((e) => showError(e.message));
loadSamples();
`;
