// Fixtures of the server tests: a tiny checkpoint (written in a worker thread), a gallery of
// small PNGs made with sharp, and a server on a free loopback port.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { writeCheckpointInWorker, type CheckpointSpec } from './make-checkpoint.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/index.js';

/**
 * Writes a tiny untrained checkpoint to `file`. Building one costs about a second (loading libtorch
 * in a thread, a 45 MB write), so each distinct spec is built once into the temp folder, keyed by
 * the spec and the code that builds it, and linked or copied from there by later test files.
 */
export async function makeCheckpoint(file: string, o: Partial<Omit<CheckpointSpec, 'file'>> = {}): Promise<string> {
  const spec: CheckpointSpec = {
    file,
    inChannels: 3,
    imageSize: 16,
    numFeatures: 32,
    numClasses: 3,
    epoch: 7,
    seed: 1,
    ...o,
  };
  const code = [
    '../../test/server/make-checkpoint.js',
    '../../src/ml/run/checkpoint.js',
    '../../src/ml/models/resnet.js',
    '../../src/ml/run/config/resolve.js',
  ].map((rel) => readFileSync(fileURLToPath(new URL(rel, import.meta.url))));
  const key = createHash('sha256')
    .update(JSON.stringify({ ...spec, file: '' }))
    .update(Buffer.concat(code))
    .digest('hex')
    .slice(0, 16);
  const shared = path.join(tmpdir(), `dml-serve-test-ckpt-${key}.safetensors`);
  if (!existsSync(shared)) {
    // Checkpoints of older code versions are of no further use (45 MB each).
    for (const f of readdirSync(tmpdir())) {
      const p = path.join(tmpdir(), f);
      if (
        /^dml-serve-test-ckpt-\w+\.safetensors$/.test(f) &&
        Date.now() - (statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 3_600_000
      )
        rmSync(p, { force: true });
    }
    // saveCheckpoint writes atomically (temp file + rename), so concurrent test files are safe.
    await writeCheckpointInWorker({ ...spec, file: shared });
  }
  try {
    linkSync(shared, file);
  } catch {
    copyFileSync(shared, file);
  }
  return file;
}

/** Class colours of the synthetic gallery: each class a hue, each image a shade and a square at its own spot. */
export const CLASSES = [
  { name: 'cherry', rgb: [200, 30, 40] },
  { name: 'lime', rgb: [60, 190, 50] },
  { name: 'sky', rgb: [40, 90, 210] },
] as const;

export async function pngImage(rgb: readonly number[], variant: number, size = 16): Promise<Buffer> {
  const data = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inSquare = x >= variant && x < variant + 6 && y >= variant && y < variant + 6;
      for (let c = 0; c < 3; c++)
        data[(y * size + x) * 3 + c] = inSquare ? 255 - rgb[c]! : Math.min(255, rgb[c]! + variant * 8);
    }
  }
  return sharp(data, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}

export interface GalleryFixture {
  dir: string;
  /** Folder tree: dir/gallery/<class>/<i>.png */
  folder: string;
  /** List file dir/lists/gallery.txt with relative paths, a comment, and one '../outside' entry. */
  list: string;
  /** The file the list reaches through '..'. */
  outside: string;
  checkpoint: string;
  /** Bytes of gallery image folder/<class>/<i>.png. */
  bytes: Map<string, Buffer>;
}

export async function makeFixture(
  perClass = 4,
  ckpt: Partial<Omit<CheckpointSpec, 'file'>> = {},
): Promise<GalleryFixture> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-serve-test-'));
  const folder = path.join(dir, 'gallery');
  const bytes = new Map<string, Buffer>();
  const lines = ['# synthetic gallery', 'path,label'];
  for (const [k, c] of CLASSES.entries()) {
    mkdirSync(path.join(folder, c.name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const b = await pngImage(c.rgb, i);
      writeFileSync(path.join(folder, c.name, `${i}.png`), b);
      bytes.set(`${c.name}/${i}.png`, b);
      lines.push(`../gallery/${c.name}/${i}.png,${k}`);
    }
  }
  mkdirSync(path.join(dir, 'lists'));
  mkdirSync(path.join(dir, 'outside'));
  const outside = path.join(dir, 'outside', 'secret.png');
  writeFileSync(outside, await pngImage([128, 128, 128], 2));
  lines.push('../outside/secret.png,2');
  const list = path.join(dir, 'lists', 'gallery.txt');
  writeFileSync(list, lines.join('\n') + '\n');
  const checkpoint = await makeCheckpoint(path.join(dir, 'best.safetensors'), ckpt);
  return { dir, folder, list, outside, checkpoint, bytes };
}

/** Deletes a fixture's temp folder. */
export function removeFixture(fx: GalleryFixture | undefined): void {
  if (fx) rmSync(fx.dir, { recursive: true, force: true });
}

export async function serve(
  o: Partial<ServeOptions> & Pick<ServeOptions, 'checkpoint' | 'gallery'>,
): Promise<RunningServer> {
  return startServer({ port: 0, host: '127.0.0.1', ...o });
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export async function fetchJson<T = Record<string, unknown>>(
  url: string,
  init?: RequestInit,
): Promise<JsonResponse<T>> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}: ${r.status} non-JSON body: ${text.slice(0, 200)}`);
  }
  return { status: r.status, headers: r.headers, body: body as T };
}

export interface ErrorBody {
  error: { code: string; message: string };
}
