// The search page's query logic: an upload has no class until the user names it, a new upload
// forgets the previous one's, and ✓/✗ marks follow only from a class the query really has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { nextQuery, queryParams, PAGE_JS, type PageQuery } from '../../src/server/page.js';

const item = { label: 'cherry' };

test('nextQuery: a new upload starts without a class; the class choice applies to uploads only', () => {
  let q = nextQuery(null, { type: 'upload', file: 'a.png' });
  assert.deepEqual(q, { kind: 'file', file: 'a.png', label: '' });
  q = nextQuery(q, { type: 'label', label: 'lime' });
  assert.deepEqual(q, { kind: 'file', file: 'a.png', label: 'lime' });
  q = nextQuery(q, { type: 'upload', file: 'b.png' });
  assert.deepEqual(q, { kind: 'file', file: 'b.png', label: '' });
  const g = nextQuery(q, { type: 'pick', id: 7, item });
  assert.deepEqual(g, { kind: 'id', id: 7, item });
  assert.equal(nextQuery(g, { type: 'label', label: 'lime' }), g);
  assert.equal(nextQuery(null, { type: 'label', label: 'lime' }), null);
});

test('queryParams: an upload sends a class only when the user named one; a gallery pick sends its id', () => {
  const fresh: PageQuery = { kind: 'file', file: 'a.png', label: '' };
  assert.deepEqual(queryParams(fresh), {});
  assert.deepEqual(queryParams({ ...fresh, label: 'lime' }), { label: 'lime' });
  assert.deepEqual(queryParams({ kind: 'id', id: 3, item }), { id: '3' });
});

/** A DOM with just what PAGE_JS touches, and a fetch that records the query URLs. */
function fakePage(): { fire: (id: string, type: string) => Promise<void>; el: (id: string) => FakeEl; urls: string[] } {
  const els = new Map<string, FakeEl>();
  const el = (id: string): FakeEl => {
    let e = els.get(id);
    if (!e) els.set(id, (e = new FakeEl()));
    return e;
  };
  const urls: string[] = [];
  const json = (body: unknown): unknown => ({ ok: true, status: 200, json: () => Promise.resolve(body) });
  const neighbours = [{ id: 1, label: 'lime', path: 'l/1.png', imageUrl: '/i/1', score: 0.9, distance: 0.1 }];
  const fetch = (url: string): Promise<unknown> => {
    if (url.startsWith('/api/query')) urls.push(url);
    if (url.startsWith('/api/gallery/random')) return Promise.resolve(json({ items: [] }));
    if (url.startsWith('/api/gallery')) return Promise.resolve(json({ classes: ['lime', 'sky'] }));
    if (url.startsWith('/api/stats')) return Promise.reject(new Error('no stats here'));
    return Promise.resolve(json({ neighbours, metric: 'cosine', tookMs: 1 }));
  };
  const context = {
    document: { getElementById: el, createElement: () => new FakeEl() },
    fetch,
    URL: { createObjectURL: () => 'blob:x', revokeObjectURL: () => undefined },
    URLSearchParams,
  };
  vm.runInNewContext(PAGE_JS, context);
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
  return {
    el,
    urls,
    fire: async (id, type) => {
      for (const f of el(id).listeners.get(type) ?? []) f({ preventDefault: () => undefined });
      await settle();
    },
  };
}

class FakeEl {
  value = '';
  disabled = false;
  hidden = false;
  textContent = '';
  src = '';
  files: unknown[] = [];
  readonly listeners = new Map<string, Array<(e: unknown) => void>>();
  readonly classList = { add: (): void => undefined, remove: (): void => undefined };
  setAttribute(): void {}
  appendChild(): void {}
  replaceChildren(): void {}
  addEventListener(type: string, f: (e: unknown) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), f]);
  }
}

test("the page: a second upload is not sent with the first upload's class", async () => {
  const p = fakePage();
  p.el('k').value = '10';
  p.el('metric').value = 'cosine';
  p.el('file').files = [{ name: 'a.png', type: 'image/png' }];
  await p.fire('file', 'change');
  assert.equal(p.el('label').disabled, false);
  p.el('label').value = 'lime';
  await p.fire('label', 'change');
  assert.match(p.urls.at(-1)!, /label=lime/);
  assert.match(p.el('query-desc').textContent, /class lime/);
  p.el('file').files = [{ name: 'b.png', type: 'image/png' }];
  await p.fire('file', 'change');
  assert.doesNotMatch(p.urls.at(-1)!, /label=/);
  assert.equal(p.el('label').value, '');
  assert.match(p.el('query-desc').textContent, /b\.png · class unknown/);
  assert.equal(p.urls.length, 3);
});
