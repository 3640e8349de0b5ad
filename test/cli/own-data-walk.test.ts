// The README's own-data walk, run as written: its command lines are read from README.md (between the
// own-data-walk markers) and run on a generated folder of photos, train → eval → embed → serve (and
// the curl request) → report → export; then the exported model, fed through onnxruntime-node with the
// preprocessing `dml export` printed (followed by test/ml/export/reference-preprocessing.ts), must
// give `dml embed`'s embeddings. The one change to the README's lines: a small model instead of
// model.pretrained (no weights are downloaded in tests), and a free port instead of 8080.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { referencePreprocess } from '../ml/export/reference-preprocessing.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(repo, 'dist/src/cli/main.js');
const home = mkdtempSync(path.join(tmpdir(), 'dml-walk-'));
after(() => rmSync(home, { recursive: true, force: true }));
// One thread: on a machine shared with other jobs, libtorch's threads wait on each other in the MI
// probe's thousands of tiny steps (minutes instead of seconds); the README's lines honour it.
// Progress lines every 0.1 s instead of 10 s, so that the long steps' lines show in seconds-long runs.
const env = { ...process.env, HOME: home, OMP_NUM_THREADS: '1', DML_PROGRESS_SECONDS: '0.1' };

/** The README's walk: its shell lines, continuations joined, comments dropped, split into words. */
function readmeWalk(): string[][] {
  const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
  const m = /<!-- own-data-walk:start -->\n```sh\n([\s\S]*?)```\n<!-- own-data-walk:end -->/.exec(readme);
  assert.ok(m, 'README has the own-data-walk block');
  return m[1]!
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .map(shellWords);
}

/** Words as a POSIX shell splits them here: blanks, single quotes, and a leading ~/ (tilde expansion). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|(\S+)/g)) {
    const w = m[1] ?? m[2]!;
    words.push(m[2]?.startsWith('~/') ? path.join(home, w.slice(2)) : w);
  }
  return words;
}

/** Distinct classes: a colour each, with a stripe whose period tells the class too. */
async function writePhotos(dir: string, classes: [string, [number, number, number]][], kind: 'png' | 'jpeg') {
  for (const [c, [name, rgb]] of classes.entries()) {
    mkdirSync(path.join(dir, name), { recursive: true });
    for (let i = 0; i < 8; i++) {
      // Both orientations, other sizes than the crop: the resize and the crop both do something.
      const [w, h] = i % 2 === 0 ? [40 + i, 32] : [30, 41 + i];
      const px = Buffer.alloc(w * h * 3);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let k = 0; k < 3; k++) {
            const stripe = Math.floor((x + y) / (c + 2)) % 2 === 0 ? 40 : -40;
            px[(y * w + x) * 3 + k] = Math.max(0, Math.min(255, rgb[k]! + stripe + ((x * 7 + y * 13 + i * 29) % 23)));
          }
      const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
      await (kind === 'png' ? img.png() : img.jpeg({ quality: 90 })).toFile(
        path.join(dir, name, `${i}.${kind === 'png' ? 'png' : 'jpg'}`),
      );
    }
  }
}

/** The small model that stands for model.pretrained: seconds, not hours, on two cores. */
const SMALL = [
  'model.arch=resnet18',
  'model.smallInput=true',
  'model.numFeatures=8',
  'data.resize=20',
  'data.imageSize=16',
  'batchSize=8',
  'epochs=1',
  'threads=1',
  'data.workers=0',
];

function dml(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: home, env });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** features [N, D] and the image paths of a file dml embed wrote (safetensors read by hand). */
function readEmbeddings(file: string): { features: Float32Array; dim: number; paths: string[] } {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  const f = header.features as { dtype: string; shape: number[]; data_offsets: [number, number] };
  assert.equal(f.dtype, 'F32');
  const bytes = buf.subarray(8 + n + f.data_offsets[0], 8 + n + f.data_offsets[1]);
  const features = new Float32Array(new Uint8Array(bytes).buffer);
  const meta = header.__metadata__ as Record<string, string>;
  return { features, dim: f.shape[1]!, paths: JSON.parse(meta.paths!) as string[] };
}

async function serveAndQuery(args: string[], curl: string[], query: string, expected: { label: string; path: string }) {
  const child = spawn(process.execPath, [cli, ...args], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '',
    err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    const base = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`dml serve exited with ${code} before listening:\n${out}\n${err}`)));
      setTimeout(() => reject(new Error(`dml serve not listening after 30 s:\n${out}\n${err}`)), 30_000).unref();
    });
    // The curl line's request (its URL on the port the server took, its header, its file), sent with fetch.
    const url = new URL(curl.find((w) => w.startsWith('http://'))!);
    const type = curl[curl.indexOf('-H') + 1]!.split(':')[1]!.trim();
    assert.equal(curl[curl.indexOf('--data-binary') + 1], `@${path.basename(query)}`);
    const res = await fetch(`${base}${url.pathname}${url.search}`, {
      method: 'POST',
      headers: { 'content-type': type },
      body: readFileSync(query),
    });
    const body = (await res.json()) as { neighbours: { path: string; label: string; score: number }[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.neighbours.length, Number(url.searchParams.get('k')));
    // The query is a gallery image: it finds itself first, at cosine 1 (same pixels, same model).
    assert.equal(body.neighbours[0]!.label, expected.label);
    assert.equal(body.neighbours[0]!.path, expected.path);
    assert.ok(body.neighbours[0]!.score > 0.9999, `self-similarity ${body.neighbours[0]!.score}`);
  } finally {
    const code = await new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, `dml serve after SIGTERM:\n${err}`);
  }
}

test(
  "the README's own-data walk: train, eval, embed, serve, report, export, onnxruntime",
  { timeout: 180_000 },
  async (t) => {
    const photos = path.join(home, 'photos');
    const colours: [string, [number, number, number]][] = [
      ['red', [200, 40, 40]],
      ['green', [40, 190, 60]],
      ['blue', [40, 60, 200]],
      ['yellow', [210, 200, 40]],
    ];
    await writePhotos(path.join(photos, 'train'), colours, 'png');
    const testColours: [string, [number, number, number]][] = [
      ['cyan', [40, 200, 200]],
      ['magenta', [200, 40, 200]],
      ['grey', [128, 128, 128]],
      ['orange', [230, 130, 30]],
    ];
    await writePhotos(path.join(photos, 'test'), testColours, 'jpeg');
    copyFileSync(path.join(photos, 'test', 'magenta', '3.jpg'), path.join(home, 'query.jpg'));

    const lines = readmeWalk();
    assert.deepEqual(
      lines.map((l) => (l[0] === 'npx' ? `${l[1]} ${l[2]}` : l[0])),
      ['dml train', 'dml eval', 'dml embed', 'dml serve', 'curl', 'dml report', 'dml export'],
      'the walk this test knows how to follow',
    );
    const step = (name: string): string[] => lines.find((l) => l[2] === name)!.slice(2);

    // train: the README's keys, the small model instead of model.pretrained.
    const train = step('train').filter((w) => !w.startsWith('model.pretrained='));
    const trained = ok(dml([...train, ...SMALL]), 'dml train');
    assert.match(trained, /dml train: your data \(data\.kind=folder, no preset/);
    assert.match(trained, /run folder runs\/photos/);
    assert.match(trained, /Recall@K \(%\) on unseen classes after 1 epochs/);
    assert.ok(existsSync(path.join(home, 'runs', 'photos', 'config.yaml')));

    const e = ok(dml(step('eval')), 'dml eval');
    assert.match(e, /R@1/);

    ok(dml(step('embed')), 'dml embed');
    const embedded = readEmbeddings(path.join(home, 'photos.safetensors'));
    assert.equal(embedded.paths.length, 32);

    const serve = step('serve').map((w, i, a) => (a[i - 1] === '--port' ? '0' : w));
    const curl = lines.find((l) => l[0] === 'curl')!;
    await serveAndQuery(serve, curl, path.join(home, 'query.jpg'), { label: 'magenta', path: 'magenta/3.jpg' });

    const report = dml(step('report'));
    ok(report, 'dml report');
    // Each long stage: its header first, then its progress lines (on stderr).
    const said = report.stderr.split('\n');
    const at = (re: RegExp): number => said.findIndex((l) => re.test(l));
    const miHeader = at(/^report: mutual information: I\(Z;Y\) of 32 embeddings \(8 dims\): a linear probe /);
    const miBeat = at(/^report: mutual information: linear probe \d+\/9000, /);
    assert.ok(miHeader >= 0 && miBeat > miHeader, report.stderr);
    assert.ok(at(/^report: embedding the test set: 32 images$/) >= 0, report.stderr);
    const tsneHeader = at(/^report: t-SNE: 32 of 32 embeddings \(8 dims\), PCA to start, then 500 iterations$/);
    assert.ok(tsneHeader > miBeat && at(/^report: t-SNE: [\d.]+ s, KL /) > tsneHeader, report.stderr);
    const html = readFileSync(path.join(home, 'runs', 'photos', 'report.html'), 'utf8');
    for (const name of testColours.map(([n]) => n)) assert.ok(html.includes(name), `the report names class ${name}`);

    const x = ok(dml(step('export')), 'dml export');
    // The printed statement is what the reference follows: its resize and crop sides are read from it.
    const resize = Number(/^ {2}resize: the shorter side to (\d+), the longer to floor\(/m.exec(x)?.[1]);
    const crop = Number(/^ {2}crop: the centre (\d+)×\1 /m.exec(x)?.[1]);
    assert.deepEqual([resize, crop], [20, 16], x);
    assert.match(x, /Pillow's Image\.resize\(BILINEAR\)/);
    assert.match(x, /layout: NCHW float32 \[N, 3, 16, 16\]/);
    assert.match(x, /normalisation: inside the graph/);

    const session = await ort.InferenceSession.create(path.join(home, 'photos.onnx'));
    const n = embedded.paths.length;
    const input = new Float32Array(n * 3 * crop * crop);
    for (const [i, p] of embedded.paths.entries()) {
      const bytes = readFileSync(path.isAbsolute(p) ? p : path.join(photos, 'test', p));
      input.set(await referencePreprocess(new Uint8Array(bytes), resize, crop), i * 3 * crop * crop);
    }
    const { features } = await session.run({ images: new ort.Tensor('float32', input, [n, 3, crop, crop]) });
    const onnx = features!.data as Float32Array;
    assert.equal(onnx.length, embedded.features.length);
    let worst = 0;
    for (let i = 0; i < onnx.length; i++) worst = Math.max(worst, Math.abs(onnx[i]! - embedded.features[i]!));
    assert.ok(worst <= 1e-4, `onnxruntime on the stated preprocessing vs dml embed: max abs ${worst}`);
    t.diagnostic(`onnxruntime on the stated preprocessing vs dml embed: max abs ${worst.toExponential(2)}`);
    assert.ok(readdirSync(path.join(home, 'runs', 'photos')).includes('report.html'));
  },
);
