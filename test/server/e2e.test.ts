// End to end in headless Chromium: open the page, upload a query image, and check the neighbour
// grid (images, distances, class marks); a screenshot is saved for a human to look at. Needs
// Debian's chromium (/usr/bin/chromium, installed by scripts/setup.sh); without it the test fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { makeFixture, serve, type GalleryFixture } from './helpers.js';
import type { RunningServer } from '../../src/server/index.js';

const CHROMIUM = process.env.DML_CHROMIUM ?? '/usr/bin/chromium';
let fx: GalleryFixture;
let srv: RunningServer;
let browser: Browser;

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `headless Chromium not found at ${CHROMIUM}: install it with 'apt-get install -y chromium' (scripts/setup.sh ` +
        `does) or set DML_CHROMIUM`,
    );
  }
  fx = await makeFixture(6);
  srv = await serve({ checkpoint: fx.checkpoint, gallery: fx.folder });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

test('upload a query in the page and see its neighbours with distances and class marks', async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  // Nothing may leave loopback.
  const offHost: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(srv.url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:'))
      offHost.push(r.url());
  });
  await page.goto(srv.url);
  await page.waitForFunction(() => document.querySelectorAll('#samples button').length === 8);
  await page.waitForFunction(() => document.querySelectorAll('#label option').length === 4);
  assert.match(
    (await page.textContent('#stats')) ?? '',
    /18 gallery images, 3 classes · resnet18 \(epoch 7, 32-d\) · index exact/,
  );

  const file = path.join(fx.dir, 'query-sky.png');
  writeFileSync(file, fx.bytes.get('sky/2.png')!);
  await page.selectOption('#k', '10');
  await page.setInputFiles('#file', file);
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 10);
  // An upload has no class until the user names one: no ✓/✗ yet, and the class control opens.
  assert.doesNotMatch((await page.textContent('#grid')) ?? '', /[✓✗]/);
  await page.selectOption('#label', 'sky');
  await page.waitForFunction(() => /✓/.test(document.querySelector('#grid')?.textContent ?? ''));
  const cards = await page.$$eval('#grid .card', (els) =>
    els.map((e) => ({
      id: e.getAttribute('data-id'),
      cls: e.className,
      mark: e.querySelector('.mark')?.textContent,
      label: e.querySelector('.label')?.textContent,
      dist: e.querySelector('.dist')?.textContent,
      loaded:
        (e.querySelector('img') as HTMLImageElement).complete &&
        (e.querySelector('img') as HTMLImageElement).naturalWidth > 0,
    })),
  );
  assert.equal(cards.length, 10);
  assert.equal(cards[0]!.label, 'sky');
  assert.match(cards[0]!.dist!, /^cos 1\.000 · d 0\.000$/);
  assert.ok(
    cards.some((c) => c.mark === '✓') && cards.some((c) => c.mark === '✗'),
    'six sky images, so both marks show',
  );
  for (const c of cards) {
    assert.match(c.dist!, /^cos -?\d\.\d{3} · d \d\.\d{3}$/);
    if (c.label === 'sky') {
      assert.equal(c.mark, '✓');
      assert.match(c.cls, /\bsame\b/);
    } else {
      assert.equal(c.mark, '✗');
      assert.match(c.cls, /\bother\b/);
    }
  }
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#grid img')].every(
      (i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0,
    ),
  );
  assert.match(
    (await page.textContent('#summary')) ?? '',
    /^10 neighbours \(cosine\) in [\d.]+ ms · \d+\/10 share the query's class$/,
  );
  assert.match((await page.textContent('#query-desc')) ?? '', /upload · query-sky\.png · class sky/);

  const shot = path.join(fx.dir, 'serve-e2e.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(existsSync(shot));
  console.log(`screenshot: ${shot}`);

  // Picking a gallery example runs an id query, with the class known from the gallery.
  await page.click('#samples button >> nth=0');
  await page.waitForFunction(() => /gallery #/.test(document.querySelector('#query-desc')?.textContent ?? ''));
  const marks = await page.$$eval('#grid .card .mark', (els) => els.map((e) => e.textContent));
  assert.equal(marks.length, 10);
  assert.ok(marks.every((m) => m === '✓' || m === '✗'));

  // An API error shows up in the page instead of failing silently.
  const bad = path.join(fx.dir, 'not-an-image.png');
  writeFileSync(bad, 'plain text');
  await page.setInputFiles('#file', bad);
  await page.waitForFunction(() => /unsupported_media_type/.test(document.querySelector('#error')?.textContent ?? ''));
  // ... next to the upload box, with the previous query's results gone.
  assert.equal(await page.$eval('#error', (e) => e.closest('section')?.querySelector('#file') !== null), true);
  assert.equal(await page.$eval('#results', (e) => (e as HTMLElement).hidden), true);
  assert.equal(await page.$$eval('#grid .card', (els) => els.length), 0);

  // Distances are never cut off, at a laptop's width or a phone's.
  for (const width of [1280, 1100, 400]) {
    await page.setViewportSize({ width, height: 800 });
    await page.click('#samples button >> nth=1');
    await page.waitForFunction(
      () =>
        document.querySelectorAll('#grid .card').length === 10 &&
        !document.querySelector('#results')?.hasAttribute('hidden'),
    );
    const cut = await page.$$eval('#grid .card .dist', (els) =>
      els.filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.textContent),
    );
    assert.deepEqual(cut, [], `cut at ${width} px`);
  }

  assert.deepEqual(
    errors.filter((e) => !/Failed to load resource.*415/.test(e)),
    [],
  );
  assert.deepEqual(offHost, []);
  await page.close();
});
