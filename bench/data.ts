// bench/data: images/s of the image loader with the reference's CUB transforms on generated JPEGs
// (500×375, like CUB's; one row with Cars-196's train transform), against torchvision + PIL +
// torch DataLoader measured in the same run (bench/data_torchvision.py with current PyTorch;
// skipped if torchvision is missing). The cached rows keep decoded, resized images in memory
// (cache: 'decoded'), which torchvision's loader has no counterpart for: they show what a second
// epoch costs when the data fits.
// The two sides take turns for --rounds rounds and each row keeps its best round, so a busy
// spell on a shared machine does not land on one side only.
//   node dist/bench/data.js [--images 500] [--workers N] [--batch 32] [--rounds 2]
//        [--python PATH (default: the venv of scripts/python-bench-env.sh)]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { defaultWorkerCount, ImageLoader } from '../src/ml/data/loader.js';
import type { Sample } from '../src/ml/data/list.js';
import type { Pipeline } from '../src/ml/data/pipeline.js';
import { referencePipelines } from '../src/ml/data/presets.js';
import { Rng } from '../src/ml/random.js';
import { benchPython } from './python.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '500' },
    workers: { type: 'string', default: String(defaultWorkerCount()) },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    python: { type: 'string' },
  },
});
const nImages = Number(values.images),
  workers = Number(values.workers),
  batch = Number(values.batch),
  rounds = Number(values.rounds);
if (!(Number.isInteger(rounds) && rounds >= 1))
  throw new RangeError(`--rounds must be a positive integer, got ${values.rounds}`);

/** A photo-like 500×375 image: gradients, a blob and noise, so JPEG decoding costs what it does on real photos. */
function photo(seed: number): Buffer {
  const W = 500,
    H = 375,
    rng = new Rng(seed);
  const noise = Float32Array.from({ length: 4096 }, () => rng.normal(0, 12));
  const px = Buffer.alloc(W * H * 3);
  const cx = rng.uniform(0, W),
    cy = rng.uniform(0, H),
    r = rng.uniform(60, 160);
  const tint = [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inBlob = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      for (let c = 0; c < 3; c++) {
        const base = inBlob ? tint[c]! : 255 * (c === 0 ? x / W : c === 1 ? y / H : (x + y) / (W + H));
        px[(y * W + x) * 3 + c] = Math.max(
          0,
          Math.min(255, base + noise[(x * 7 + y * 13 + c * 101 + rng.nextUint32()) & 4095]!),
        );
      }
    }
  }
  return px;
}

async function makeImages(dir: string): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < nImages; i += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, nImages - i) }, async (_, k) => {
        const file = path.join(dir, `${String(i + k).padStart(5, '0')}.jpg`);
        await sharp(photo(i + k), { raw: { width: 500, height: 375, channels: 3 } })
          .jpeg({ quality: 90 })
          .toFile(file);
        samples.push({ path: file, label: (i + k) % 10 });
      }),
    );
  }
  return samples.sort((a, b) => (a.path < b.path ? -1 : 1));
}

interface Rate {
  images_per_s: number;
  cpu_ms_per_image: number;
}

/** CPU seconds of this process: the main thread, loader workers and libvips threads. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function loaderRate(samples: Sample[], pipeline: Pipeline, cache: 'none' | 'decoded' = 'none'): Promise<Rate> {
  const loader = new ImageLoader(samples, { pipeline, workers, prefetch: 3, seed: 1, cache });
  const order = new Rng(0).permutation(samples.length);
  const plan: number[][] = [];
  for (let s = 0; s < order.length; s += batch) plan.push(order.slice(s, s + batch));
  try {
    // warm-up epoch: worker start, JIT, page cache, and the decoded cache when on
    for await (const b of loader.iterate(plan, 0)) b.release?.();
    const c0 = cpuSeconds(),
      t0 = performance.now();
    let n = 0;
    for await (const b of loader.iterate(plan, 1)) {
      n += b.shape[0];
      b.release?.(); // as the trainer does once the batch is in a tensor
    }
    return { images_per_s: n / ((performance.now() - t0) / 1000), cpu_ms_per_image: (1000 * (cpuSeconds() - c0)) / n };
  } finally {
    await loader.close();
  }
}

async function sequentialRate(samples: Sample[], pipeline: Pipeline, seconds = 3): Promise<Rate> {
  const rng = new Rng(0);
  for (let i = 0; i < 20; i++) await pipeline.apply(samples[i % samples.length]!, rng);
  let n = 0;
  const c0 = cpuSeconds(),
    t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await pipeline.apply(samples[n % samples.length]!, rng);
    n++;
  }
  return { images_per_s: n / ((performance.now() - t0) / 1000), cpu_ms_per_image: (1000 * (cpuSeconds() - c0)) / n };
}

type OurKey =
  | 'train_loader'
  | 'test_loader'
  | 'train_loader_cached'
  | 'test_loader_cached'
  | 'train_sequential'
  | 'test_sequential'
  | 'cars_train_sequential';

/** Row by row, the round with more images/s. */
function best<K extends string>(prev: Record<K, Rate> | null, next: Record<K, Rate>): Record<K, Rate> {
  if (!prev) return next;
  const out = { ...prev };
  for (const k of Object.keys(next) as K[]) {
    const p = prev[k],
      n = next[k];
    if (typeof n === 'object' && n !== null && 'images_per_s' in n && (!p || n.images_per_s > p.images_per_s))
      out[k] = n;
  }
  return out;
}

const dir = mkdtempSync(path.join(tmpdir(), 'dml-bench-data-'));
try {
  const samples = await makeImages(dir);
  const { train, test } = referencePipelines('cub');
  const cars = referencePipelines('cars').train;
  // One libvips thread for the single-image figures, as PIL is single-threaded.
  sharp.concurrency(1);
  const measureOurs = async (): Promise<Record<OurKey, Rate>> => ({
    train_loader: await loaderRate(samples, train),
    test_loader: await loaderRate(samples, test),
    train_loader_cached: await loaderRate(samples, train, 'decoded'),
    test_loader_cached: await loaderRate(samples, test, 'decoded'),
    train_sequential: await sequentialRate(samples, train),
    test_sequential: await sequentialRate(samples, test),
    cars_train_sequential: await sequentialRate(samples, cars),
  });
  const measureTheirs = (): Record<string, Rate> | string => {
    const py = spawnSync(
      benchPython(values.python),
      [path.join(repo, 'bench/data_torchvision.py'), dir, '--workers', String(workers), '--batch', String(batch)],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    if (py.error || py.status !== 0) return `python failed: ${py.error?.message ?? py.stderr.trim().split('\n').pop()}`;
    const res = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, Rate> & { skipped?: string };
    return res.skipped ?? res;
  };
  let ours: Record<OurKey, Rate> | null = null;
  let theirs: Record<string, Rate> | null = null;
  let skipped = '';
  for (let r = 0; r < rounds; r++) {
    ours = best(ours, await measureOurs());
    if (skipped) continue;
    const t = measureTheirs();
    if (typeof t === 'string') skipped = t;
    else theirs = best(theirs, t);
  }
  if (!ours) throw new Error('no rounds ran');
  console.log(
    `${nImages} JPEGs 500x375, reference CUB transforms, batch ${batch}, ${workers} workers (loader rows) / one ` +
      `image at a time (sequential rows), best of ${rounds} alternating rounds`,
  );
  console.log(
    'img/s is wall-clock (depends on how busy the machine is); CPU ms/img counts every thread and worker process',
  );
  const rows: Array<[string, OurKey, string]> = [
    ['train loader (Resize 256, ColorJitter, RandomResizedCrop 224, flip)', 'train_loader', 'train_loader'],
    ['test loader (Resize 256, CenterCrop 224)', 'test_loader', 'test_loader'],
    ['train loader, decoded cache (epoch 2+; vs torchvision without one)', 'train_loader_cached', 'train_loader'],
    ['test loader, decoded cache (epoch 2+; vs torchvision without one)', 'test_loader_cached', 'test_loader'],
    ['train, sequential', 'train_sequential', 'train_sequential'],
    ['test, sequential', 'test_sequential', 'test_sequential'],
    ['Cars train transform (with hue jitter), sequential', 'cars_train_sequential', 'cars_train_sequential'],
  ];
  const f = (r: Rate): string =>
    `${r.images_per_s.toFixed(1).padStart(7)} img/s ${r.cpu_ms_per_image.toFixed(1).padStart(6)} CPU ms/img`;
  for (const [name, key, theirKey] of rows) {
    const a = ours[key],
      b = theirs?.[theirKey];
    console.log(
      `${name.padEnd(70)} dml-ts ${f(a)}` +
        (b
          ? `   torchvision ${f(b)}   speed ratio ${(a.images_per_s / b.images_per_s).toFixed(2)}, CPU-efficiency ` +
            `ratio ${(b.cpu_ms_per_image / a.cpu_ms_per_image).toFixed(2)}`
          : ''),
    );
  }
  if (!theirs) console.log(`torchvision comparison skipped (${skipped})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
