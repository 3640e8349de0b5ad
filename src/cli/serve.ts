// dml serve: a retrieval server over a gallery, with a JSON API and a web page.
import { DEVICE_FLAG, DEVICE_HELP } from './device-option.js';
import { DeviceError, resolveDevice, type DeviceChoice } from '../ml/train/device.js';
import { parseArgs } from 'node:util';
import type { ServeOptions, RunningServer } from '../server/index.js';
import { MAX_IMAGE_SIDE, MAX_MODEL_INPUT_SIDE } from '../ml/data/limits.js';
import { MemoryBudgetError, parseMemoryLimit } from '../ml/run/memory-budget.js';

const HELP = `usage: dml serve --checkpoint FILE --gallery LIST|DIR [options]

Embeds a gallery with a trained checkpoint and serves nearest-neighbour search over it: a JSON API
(POST /api/query with an image, GET /api/query?id=N, POST /api/query/vector, GET /api/stats,
GET /api/health, GET /api/image/N) and a web page at /.

The gallery is a 'path,label' list file (paths relative to the list's folder, '#' comments) or an
image folder with one subfolder per class.

options:
  --checkpoint FILE|DIR  checkpoint written by dml train, or its run folder (best, else last)
  --gallery LIST|DIR     gallery list file or image-folder tree
  --port N               TCP port (default 8080; 0 = any free port)
  --host ADDR            address to listen on (default 127.0.0.1, loopback only)
  --token TOKEN          require it on every request: Authorization: Bearer TOKEN, or open
                         /?token=TOKEN in a browser (default: $DML_SERVE_TOKEN; needed with a
                         non-loopback --host)
  --insecure             listen on a non-loopback --host without a token (anyone who reaches
                         the port can query the gallery and read its images)
  --allowed-host NAME    a host name the server also answers to (repeatable; the Host check is on
                         for every address: by default the loopback names, and for a non-loopback
                         --host this machine's name and addresses; '*' answers to any name)
  --index exact|lancedb  exact: in-memory cosine/L2 search with the engine (default);
                         lancedb: vectors in a LanceDB table on disk, for galleries beyond memory
  --index-cache PATH     exact: .safetensors file of the gallery embeddings; lancedb: database
                         folder. Reused on restart when checkpoint, preprocessing and gallery match
  --workers N            inference worker threads (default 1)
  --max-concurrent N     inferences running at once (default 8 per worker)
  --queue N              requests that may wait for an inference slot; more get 503 (default 32)
  --threads N            libtorch intra-op threads (default: every core, or OMP_NUM_THREADS)
${DEVICE_HELP}
  --max-upload-mb N      largest upload in MB (default 10; larger gets 413)
  --max-pixels N         largest image in pixels; larger gets 422 (default: 40000000 for gallery images,
                         and for uploads 256 × the model's input pixels, between 4 and 40 million)
  --timeout-ms N         per-request inference timeout (default 30000; then 504)
  --image-size N         model input size (default: the checkpoint's data.imageSize, 28 for Fashion-MNIST)
  --resize N             shorter side before the centre crop (default: the checkpoint's data.resize)
  --batch-size N         gallery images per forward pass while indexing (default 32)
  --max-batch N          uploaded query images that may share one forward pass (default 16)
  --memory-limit MiB     host memory the workers' forward passes may need (default 90% of the
                         machine's); a server over it is refused before the gallery is embedded
  --batch-window-ms N    longest a decoded upload waits for the uploads still decoding beside it
                         to share its forward pass (default 10; 0: only those ready at once)
  -q, --quiet            no log lines
  -h, --help             this help
`;

class UsageError extends Error {}

function int(name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(
      `--${name} must be an integer >= ${min}${max < Number.MAX_SAFE_INTEGER ? ` and <= ${max}` : ''}, got '${v}'`,
    );
  return n;
}

function memoryLimitMiB(value: string): number {
  try {
    return parseMemoryLimit('--memory-limit', value);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Parses the command line into server options; UsageError on bad input. */
export function parseServeArgs(argv: string[]): ServeOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        checkpoint: { type: 'string' },
        gallery: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        insecure: { type: 'boolean' },
        'allowed-host': { type: 'string', multiple: true },
        index: { type: 'string' },
        'index-cache': { type: 'string' },
        workers: { type: 'string' },
        'max-concurrent': { type: 'string' },
        queue: { type: 'string' },
        threads: { type: 'string' },
        ...DEVICE_FLAG,
        'max-upload-mb': { type: 'string' },
        'max-pixels': { type: 'string' },
        'timeout-ms': { type: 'string' },
        'image-size': { type: 'string' },
        resize: { type: 'string' },
        'batch-size': { type: 'string' },
        'max-batch': { type: 'string' },
        'memory-limit': { type: 'string' },
        'batch-window-ms': { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    // dml's main turns parseArgs's own errors into usage errors with a "did you mean".
    if (String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_')) throw e;
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (!v.checkpoint) throw new UsageError('--checkpoint is required');
  if (!v.gallery) throw new UsageError('--gallery is required');
  const index = v.index ?? 'exact';
  if (index !== 'exact' && index !== 'lancedb')
    throw new UsageError(`--index must be exact or lancedb, got '${index}'`);
  const port = int('port', v.port, 0);
  if (port !== undefined && port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const uploadMb = v['max-upload-mb'] === undefined ? undefined : Number(v['max-upload-mb']);
  if (uploadMb !== undefined && !(uploadMb > 0))
    throw new UsageError(`--max-upload-mb must be a positive number, got '${v['max-upload-mb']}'`);
  const o: ServeOptions = {
    checkpoint: v.checkpoint,
    gallery: v.gallery,
    index,
    port: port ?? 8080,
    host: v.host ?? '127.0.0.1',
    ...(v['index-cache'] ? { indexCache: v['index-cache'] } : {}),
    workers: int('workers', v.workers, 1),
    maxConcurrent: int('max-concurrent', v['max-concurrent'], 1),
    maxQueue: int('queue', v.queue, 0),
    threads: int('threads', v.threads, 1),
    device: serveDevice(v.device),
    maxPixels: int('max-pixels', v['max-pixels'], 1),
    jobTimeoutMs: int('timeout-ms', v['timeout-ms'], 1),
    imageSize: int('image-size', v['image-size'], 1, MAX_MODEL_INPUT_SIDE),
    resize: int('resize', v.resize, 1, MAX_IMAGE_SIDE),
    embedBatch: int('batch-size', v['batch-size'], 1),
    maxBatch: int('max-batch', v['max-batch'], 1),
    ...(v['memory-limit'] !== undefined ? { memoryLimitMiB: memoryLimitMiB(v['memory-limit']) } : {}),
    batchWindowMs: int('batch-window-ms', v['batch-window-ms'], 0),
    ...(uploadMb !== undefined ? { maxUploadBytes: Math.round(uploadMb * 1024 * 1024) } : {}),
  };
  const token = v.token ?? process.env.DML_SERVE_TOKEN;
  if (token !== undefined) {
    if (token.length < 8 || !/^[\x21-\x7e]+$/.test(token))
      throw new UsageError('--token must be at least 8 printable ASCII characters, without spaces');
    o.token = token;
  }
  if (v.insecure) o.insecure = true;
  const extra = (v['allowed-host'] ?? []).map((h) => h.toLowerCase());
  if (extra.includes('*')) o.allowedHosts = null;
  else if (extra.length) o.extraAllowedHosts = extra;
  if (!v.quiet) o.log = (line: string) => console.error(`dml serve: ${line}`);
  return o;
}

export const command = {
  summary: 'serve nearest-neighbour search over a gallery (JSON API + web page)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    let o: ServeOptions | 'help';
    try {
      o = parseServeArgs(argv);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`dml serve: ${e.message}\n\n${HELP}`);
      return 2;
    }
    if (o === 'help') {
      console.log(HELP);
      return 0;
    }
    // Loaded only now so that --help and usage errors do not start anything.
    const { startServer } = await import('../server/index.js');
    let server: RunningServer;
    try {
      server = await startServer(o);
    } catch (e) {
      if (!(e instanceof MemoryBudgetError)) throw e;
      console.error(`dml serve: ${e.message}`);
      return 2;
    }
    console.log(
      `dml serve: listening on ${server.url} (gallery ${server.service.gallery.items.length} images, ` +
        `index ${o.index}, on ${o.device ?? 'cpu'})`,
    );
    await new Promise<void>((resolve) => {
      const stop = (sig: string): void => {
        console.error(`dml serve: ${sig}, shutting down`);
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        void server.close().then(resolve, resolve);
      };
      const onInt = (): void => stop('SIGINT');
      const onTerm = (): void => stop('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    });
    return 0;
  },
};

/** --device, refused as a usage error naming the option. */
function serveDevice(value: string | undefined): DeviceChoice['device'] {
  try {
    return resolveDevice(value ?? 'cpu', { key: '--device' }).device;
  } catch (e) {
    if (e instanceof DeviceError) throw new UsageError(e.message);
    throw e;
  }
}
