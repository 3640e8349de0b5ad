// Soak benchmark (not a test): `dml serve` as its own process under a steady mixed load for a long
// time, to see whether memory or tail latency drift. Every window it samples the server's resident
// memory (/proc/PID/status) and the latencies of the requests answered in that window; at the end
// it sends SIGTERM while the load is still running (the server must drain and exit 0), prints a table
// and writes an HTML page with the RSS and latency curves, drawn like the training reports.
//
//   npx tsc -p tsconfig.json && node dist/bench/soak.js [--minutes 10] [--concurrency 64]
//        [--n 2000] [--window 10] [--out soak.html] [--json]
//
// The load cycles over four kinds of request per loop: an image upload (PNG 32×32, embedded by an
// untrained ResNet-18), a query by gallery id, a query by vector and a gallery image. At concurrency
// 64 the uploads exceed the inference queue, so some are shed with 503: counted apart from errors.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism, cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { lineChart, REPORT_CSS } from '../src/report/index.js';
import { writeCheckpointInWorker, type CheckpointSpec } from '../test/server/make-checkpoint.js';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '64' },
    n: { type: 'string', default: '2000' },
    window: { type: 'string', default: '10' },
    out: { type: 'string', default: 'soak.html' },
    json: { type: 'boolean', default: false },
  },
});
const MINUTES = Number(flags.minutes),
  CONC = Number(flags.concurrency),
  N = Number(flags.n),
  WINDOW_S = Number(flags.window);
for (const [k, v] of [
  ['minutes', MINUTES],
  ['concurrency', CONC],
  ['n', N],
  ['window', WINDOW_S],
] as const) {
  if (!(Number.isFinite(v) && v > 0)) throw new Error(`--${k} must be a positive number, got '${flags[k]}'`);
}
const SIZE = 32,
  FILES = 50,
  CLASSES = 100,
  DIM = 128;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Window {
  /** Seconds since the load started, at the window's end. */
  t: number;
  answered: number;
  shed: number;
  errors: number;
  p50: number;
  p99: number;
  rssMb: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function makeCheckpoint(file: string): Promise<void> {
  const spec: CheckpointSpec = {
    file,
    inChannels: 3,
    imageSize: SIZE,
    numFeatures: DIM,
    numClasses: 10,
    epoch: 1,
    seed: 1,
  };
  await writeCheckpointInWorker(spec);
}

async function writeGallery(dir: string): Promise<{ list: string; images: Uint8Array<ArrayBuffer>[] }> {
  mkdirSync(path.join(dir, 'img'));
  const images: Uint8Array<ArrayBuffer>[] = [];
  for (let f = 0; f < FILES; f++) {
    const raw = Buffer.alloc(SIZE * SIZE * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * (f + 3) + f * 41) & 255;
    const png = await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } })
      .png()
      .toBuffer();
    writeFileSync(path.join(dir, 'img', `${f}.png`), png);
    images.push(new Uint8Array(png));
  }
  const list = path.join(dir, 'gallery.txt');
  writeFileSync(list, Array.from({ length: N }, (_, i) => `img/${i % FILES}.png,${i % CLASSES}`).join('\n') + '\n');
  return { list, images };
}

/** Starts `dml serve` on a free port and resolves with its URL once it listens. */
function startServer(
  ckpt: string,
  list: string,
): Promise<{ url: string; child: ReturnType<typeof spawn>; exit: Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    [path.join(repo, 'dist/src/cli/main.js'), 'serve', '--checkpoint', ckpt, '--gallery', list, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, child, exit });
    });
    void exit.then((code) => reject(new Error(`dml serve exited with ${code} before listening:\n${stderr}`)));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-soak-'));
  try {
    const ckpt = path.join(dir, 'soak.safetensors');
    await makeCheckpoint(ckpt);
    const { list, images } = await writeGallery(dir);
    const { url, child, exit } = await startServer(ckpt, list);
    const pid = child.pid!;
    const rss0 = rssMb(pid);
    const vectors = Array.from({ length: 16 }, (_, i) =>
      JSON.stringify({ vector: Array.from({ length: DIM }, (_, j) => Math.sin(i * 7 + j)), k: 10 }),
    );
    const send = (i: number): Promise<Response> => {
      switch (i % 4) {
        case 0:
          return fetch(`${url}/api/query?k=10`, {
            method: 'POST',
            headers: { 'content-type': 'image/png' },
            body: images[i % FILES]!,
          });
        case 1:
          return fetch(`${url}/api/query?id=${(i * 7919) % N}&k=10`);
        case 2:
          return fetch(`${url}/api/query/vector`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: vectors[i % vectors.length]!,
          });
        default:
          return fetch(`${url}/api/image/${(i * 104729) % N}`);
      }
    };

    const windows: Window[] = [];
    let lat: number[] = [],
      shed = 0,
      errors = 0;
    const t0 = performance.now();
    const endAt = t0 + MINUTES * 60_000;
    let stopping = false,
      next = 0;
    const sampler = setInterval(() => {
      lat.sort((a, b) => a - b);
      const w: Window = {
        t: Math.round((performance.now() - t0) / 100) / 10,
        answered: lat.length,
        shed,
        errors,
        p50: percentile(lat, 50),
        p99: percentile(lat, 99),
        rssMb: rssMb(pid),
      };
      windows.push(w);
      if (!flags.json)
        console.log(
          `t=${w.t.toFixed(0).padStart(5)} s  answered ${String(w.answered).padStart(6)}  shed ` +
            `${String(w.shed).padStart(5)}  errors ${w.errors}  p50 ${w.p50.toFixed(1)} ms  p99 ${w.p99.toFixed(1)} ` +
            `ms  RSS ${w.rssMb.toFixed(0)} MB`,
        );
      lat = [];
      shed = 0;
      errors = 0;
    }, WINDOW_S * 1000);

    // After SIGTERM, what each in-flight or new request got: answers (200), refusals (503) or resets.
    const drain = { ok: 0, refused: 0, reset: 0 };
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        while (!stopping) {
          if (performance.now() >= endAt) break;
          const i = next++;
          const t = performance.now();
          try {
            const r = await send(i);
            await r.arrayBuffer();
            if (stopping) {
              if (r.ok) drain.ok++;
              else if (r.status === 503) drain.refused++;
              else errors++;
              continue;
            }
            if (r.status === 503) shed++;
            else if (!r.ok) errors++;
            else lat.push(performance.now() - t);
          } catch {
            if (stopping) drain.reset++;
            else errors++;
          }
        }
      }).concat([
        (async () => {
          // SIGTERM with the load still running: the last 2 % of the run.
          await new Promise((r) => setTimeout(r, Math.max(0, endAt - performance.now() - MINUTES * 60_000 * 0.02)));
          clearInterval(sampler);
          stopping = true;
          child.kill('SIGTERM');
        })(),
      ]),
    );
    const code = await exit;

    const env = {
      minutes: MINUTES,
      concurrency: CONC,
      gallery: N,
      cpus: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
    };
    const last = windows[windows.length - 1];
    const summary = {
      rssStartMb: rss0,
      rssEndMb: last?.rssMb ?? NaN,
      rssMaxMb: Math.max(...windows.map((w) => w.rssMb)),
      p99FirstMs: windows[0]?.p99 ?? NaN,
      p99LastMs: last?.p99 ?? NaN,
      p99MaxMs: Math.max(...windows.map((w) => w.p99)),
      answered: windows.reduce((s, w) => s + w.answered, 0),
      shed: windows.reduce((s, w) => s + w.shed, 0),
      errors: windows.reduce((s, w) => s + w.errors, 0),
      sigterm: { exitCode: code, ...drain },
    };
    const page =
      `<!doctype html><html><head><meta charset="utf-8"><title>dml serve soak</title><style>${REPORT_CSS}` +
      `</style></head><body>` +
      `<h1>dml serve soak: ${MINUTES} min at concurrency ${CONC}</h1><p>${N} gallery images, ${env.cpus} CPUs (` +
      `${env.cpu}), Node ${env.node}. ` +
      `Answered ${summary.answered}, shed (503) ${summary.shed}, errors ${summary.errors}; SIGTERM under load: exit ` +
      `${code}, ${drain.ok} answered, ${drain.refused} refused, ${drain.reset} reset.</p>` +
      lineChart({
        title: 'server resident memory',
        xLabel: 'seconds',
        yLabel: 'MB',
        yInclude: [0],
        series: [{ name: 'RSS', color: '#1f77b4', points: windows.map((w) => [w.t, w.rssMb] as const) }],
      }) +
      lineChart({
        title: 'latency of answered requests',
        xLabel: 'seconds',
        yLabel: 'ms',
        yInclude: [0],
        series: [
          { name: 'p99', color: '#d62728', points: windows.map((w) => [w.t, w.p99] as const) },
          { name: 'p50', color: '#2ca02c', points: windows.map((w) => [w.t, w.p50] as const) },
        ],
      }) +
      '</body></html>\n';
    writeFileSync(flags.out!, page);
    if (flags.json) console.log(JSON.stringify({ env, summary, windows }));
    else {
      console.log(
        `RSS ${summary.rssStartMb.toFixed(0)} MB at start, ${summary.rssEndMb.toFixed(0)} MB at the end, ` +
          `${summary.rssMaxMb.toFixed(0)} MB at most; p99 ${summary.p99FirstMs.toFixed(1)} ms in the first window, ` +
          `${summary.p99LastMs.toFixed(1)} ms in the last, ${summary.p99MaxMs.toFixed(1)} ms at most`,
      );
      console.log(
        `answered ${summary.answered}, shed ${summary.shed}, errors ${summary.errors}; SIGTERM under load: exit code ` +
          `${code}, ${drain.ok} answered, ${drain.refused} refused with 503, ${drain.reset} reset`,
      );
      console.log(`plot: ${path.resolve(flags.out!)}`);
    }
    if (code !== 0) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
