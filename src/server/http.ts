// The HTTP JSON API over node:http (no framework): routing, body limits, content checks and one
// error shape, { error: { code, message } }, for every failure.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { readImageBytes } from '../ml/data/image.js';
import sharp from 'sharp';
import { ApiError } from './errors.js';
import { METRICS, type Metric } from './exact-index.js';
import { parseMultipart } from './multipart.js';
import { PAGE_CSP, PAGE_HTML, PAGE_JS } from './page.js';
import { browserImageMime, sniffImageType } from './preprocess.js';
import type { QueryOptions, RetrievalService } from './service.js';

export interface HttpOptions {
  /** Largest image upload in bytes (default 10 MB); larger gets 413. */
  maxUploadBytes?: number;
  /** Largest JSON body in bytes (default 1 MB). */
  maxJsonBytes?: number;
  /** Time allowed to receive a whole request (default 30 s); Node answers 408 beyond it. */
  requestTimeoutMs?: number;
  /** Largest k a query may ask for (default 100). */
  maxK?: number;
  defaultK?: number;
  /** Called with one line per failed request (5xx; overload refusals summed every 10 s) and other server events. */
  log?: (line: string) => void;
  /**
   * Host names accepted in the Host header (without port); other names get 403. Against DNS
   * rebinding, which lets a web page reach a loopback server through a name the attacker controls.
   * Default: any name (startServer restricts a loopback server to its loopback names).
   */
  allowedHosts?: readonly string[] | null;
  /**
   * When set, /api/* needs `Authorization: Bearer TOKEN` (or the cookie that opening /?token=TOKEN
   * sets, which the page's images and requests then carry); the page itself needs the same.
   */
  token?: string | null;
}

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};
const UPLOAD_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream']);

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** The page's token cookie, or null when absent or not valid percent-encoding (a client's error, not ours). */
function cookieToken(header: string | undefined): string | null {
  const raw = /(?:^|;\s*)dml_token=([^;]*)/.exec(header ?? '')?.[1];
  if (raw === undefined) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function sendError(res: ServerResponse, e: ApiError): void {
  sendJson(res, e.status, e.toJSON(), e.headers);
}

/**
 * Reads a body up to `limit` bytes. Beyond it: 413, the rest of the body drained (so the client
 * reads the answer instead of a reset) up to a hard cap, and the connection closed afterwards.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): ApiError =>
      new ApiError(413, 'payload_too_large', `body exceeds the limit of ${limit} bytes`, { connection: 'close' });
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      drain(req, limit);
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        drain(req, limit);
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    // A client that goes away mid-body must not leave this promise (and its chunks) pending.
    req.on('close', () => {
      if (!failed && !req.complete) {
        failed = true;
        reject(new ApiError(400, 'bad_request', 'the request body was cut off'));
      }
    });
    req.on('error', (e) => {
      if (!failed) {
        failed = true;
        reject(new ApiError(400, 'bad_request', `request body: ${e.message}`));
      }
    });
  });
}

function drain(req: IncomingMessage, limit: number): void {
  let extra = 0;
  req.on('data', (c: Buffer) => {
    extra += c.length;
    if (extra > 4 * limit + (1 << 20)) req.destroy();
  });
  req.resume();
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export class ApiServer {
  readonly server: Server;
  readonly #svc: RetrievalService;
  /** Requests received whose response has not finished (what a graceful close waits for). */
  #active = 0;
  #idle: (() => void)[] = [];
  /** Closing: requests still arriving are answered 503 while those in flight finish. */
  #draining = false;
  readonly #o: Required<Omit<HttpOptions, 'log'>> & Pick<HttpOptions, 'log'>;
  /** 503 refusals since the last summary line (a flood must not write a line per request). */
  #shed = 0;
  #shedTimer: NodeJS.Timeout | null = null;

  constructor(service: RetrievalService, o: HttpOptions = {}) {
    this.#svc = service;
    this.#o = {
      maxUploadBytes: 10 * 1024 * 1024,
      maxJsonBytes: 1024 * 1024,
      requestTimeoutMs: 30_000,
      maxK: 100,
      defaultK: 10,
      allowedHosts: null,
      token: null,
      ...o,
    };
    const t = this.#o.requestTimeoutMs;
    // Node checks request timeouts every connectionsCheckingInterval (30 s by default): check often
    // enough that a stalled upload is cut near its deadline.
    this.server = createServer(
      {
        requestTimeout: t,
        headersTimeout: Math.min(t, 20_000),
        connectionsCheckingInterval: Math.max(100, Math.min(1000, t / 4)),
      },
      (req, res) => {
        void this.#handle(req, res);
      },
    );
    this.server.keepAliveTimeout = 5_000;
    // Errors Node detects before a request reaches us (timeouts, malformed requests) get the same
    // JSON error shape instead of Node's bare status line.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
        socket.destroy();
        return;
      }
      const [status, reason, code, message] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'timeout', `the request was not received within ${t} ms`]
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'Request Header Fields Too Large', 'bad_request', 'request headers are too large']
            : [400, 'Bad Request', 'bad_request', `malformed HTTP request (${err.code ?? 'error'})`];
      const body = JSON.stringify({ error: { code, message } });
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ` +
          `${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const abort = new AbortController();
    this.#active++;
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
      if (--this.#active === 0) for (const f of this.#idle.splice(0)) f();
    });
    if (this.#draining) {
      req.resume();
      sendError(res, new ApiError(503, 'unavailable', 'the server is shutting down', { connection: 'close' }));
      return;
    }
    try {
      await this.#route(req, res, abort.signal);
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.status === 503) this.#countShed();
        else if (e.status >= 500) this.#o.log?.(`${req.method} ${req.url}: ${e.status} ${e.code}: ${e.message}`);
        sendError(res, e);
      } else {
        this.#o.log?.(`${req.method} ${req.url}: internal error: ${(e as Error).stack ?? String(e)}`);
        sendError(res, new ApiError(500, 'internal', 'internal server error'));
      }
    }
  }

  /** One log line per 10 s for the requests refused under overload. */
  #countShed(): void {
    this.#shed++;
    if (this.#shedTimer || !this.#o.log) return;
    this.#shedTimer = setTimeout(() => {
      this.#shedTimer = null;
      this.#o.log?.(
        `${this.#shed} request${this.#shed > 1 ? 's' : ''} refused with 503 (overloaded or shutting down) in the ` +
          `last 10 s`,
      );
      this.#shed = 0;
    }, 10_000);
    this.#shedTimer.unref();
  }

  /** The Host header's name is one this server answers to. */
  #checkHost(req: IncomingMessage): void {
    const allowed = this.#o.allowedHosts;
    if (!allowed) return;
    const host = (req.headers.host ?? '').toLowerCase();
    const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
    if (!allowed.includes(name))
      throw new ApiError(
        403,
        'forbidden_host',
        `Host '${host.slice(0, 100)}' is not one this server answers to (${allowed.join(', ')})`,
      );
  }

  /** The token from Authorization: Bearer, or the page's cookie. */
  #authorized(req: IncomingMessage, url: URL, res: ServerResponse): boolean {
    const token = this.#o.token;
    if (!token) return true;
    const same = (given: string | undefined | null): boolean => {
      if (!given) return false;
      const a = Buffer.from(given),
        b = Buffer.from(token);
      return a.length === b.length && timingSafeEqual(a, b);
    };
    // RFC 7235: the scheme name is case-insensitive.
    const bearer = /^bearer +(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (same(bearer?.trim())) return true;
    if (same(cookieToken(req.headers.cookie))) return true;
    // Opening the page with ?token= hands the browser a cookie for everything the page loads.
    if ((url.pathname === '/' || url.pathname === '/index.html') && same(url.searchParams.get('token'))) {
      res.setHeader('set-cookie', `dml_token=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
      return true;
    }
    return false;
  }

  async #route(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    // Parsing against a fixed base normalises dot segments (also %2e%2e) before routing.
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname;
    const method = req.method ?? 'GET';
    this.#checkHost(req);
    if (!this.#authorized(req, url, res)) {
      req.resume();
      throw new ApiError(
        401,
        'unauthorized',
        'this server needs its token: Authorization: Bearer TOKEN, or open /?token=TOKEN in a browser',
        { 'www-authenticate': 'Bearer' },
      );
    }
    const only = (...allowed: string[]): void => {
      if (!allowed.includes(method))
        throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${p}`, {
          allow: allowed.join(', '),
        });
    };
    if (p === '/' || p === '/index.html') {
      only('GET', 'HEAD');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : PAGE_HTML);
      return;
    }
    if (p === '/app.js') {
      only('GET', 'HEAD');
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : PAGE_JS);
      return;
    }
    if (p === '/api/health') {
      only('GET');
      sendJson(res, 200, { status: 'ok', gallery: this.#svc.gallery.items.length });
      return;
    }
    if (p === '/api/stats') {
      only('GET');
      sendJson(res, 200, this.#svc.stats());
      return;
    }
    if (p === '/api/gallery') {
      only('GET');
      sendJson(res, 200, { size: this.#svc.gallery.items.length, classes: this.#svc.gallery.classNames });
      return;
    }
    if (p === '/api/gallery/random') {
      only('GET');
      const n = this.#intParam(url, 'n', 8, 1, 64, 'bad_request');
      sendJson(res, 200, {
        items: this.#svc
          .randomItems(n)
          .map((it) => ({ id: it.id, path: it.path, label: it.label, imageUrl: `/api/image/${it.id}` })),
      });
      return;
    }
    if (p === '/api/query') {
      only('GET', 'POST');
      if (method === 'GET') {
        const raw = url.searchParams.get('id');
        if (raw === null) throw new ApiError(400, 'bad_id', 'GET /api/query needs ?id=GALLERY_ID (or POST an image)');
        const id = this.#galleryId(raw);
        sendJson(res, 200, await this.#svc.queryId(id, this.#queryOptions(url, new Map(), signal)));
        return;
      }
      // Under overload, refuse before reading and decoding the upload (the costly part).
      if (this.#svc.limiter.full()) {
        req.resume();
        throw this.#svc.limiter.reject();
      }
      const { bytes, fields } = await this.#upload(req);
      sendJson(res, 200, await this.#svc.queryImage(bytes, this.#queryOptions(url, fields, signal)));
      return;
    }
    if (p === '/api/query/vector') {
      only('POST');
      if (mediaType(req) !== 'application/json')
        throw new ApiError(
          415,
          'unsupported_media_type',
          'POST /api/query/vector takes application/json: {"vector": [...], "k": 10}',
        );
      const body = await readBody(req, this.#o.maxJsonBytes);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch (e) {
        throw new ApiError(400, 'bad_json', `invalid JSON: ${(e as Error).message}`);
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json))
        throw new ApiError(400, 'bad_json', 'the body must be a JSON object {"vector": [...]}');
      const j = json as Record<string, unknown>;
      const v = j.vector;
      if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
        throw new ApiError(400, 'bad_vector', '"vector" must be a non-empty array of finite numbers');
      }
      // The search runs in float32: a value beyond its range (3.4e38) would become infinite there.
      const f32 = Float32Array.from(v as number[]);
      const over = f32.findIndex((x) => !Number.isFinite(x));
      if (over >= 0)
        throw new ApiError(400, 'bad_vector', `"vector"[${over}] = ${String(v[over])} is beyond float32's range`);
      const fields = new Map<string, string>();
      for (const key of ['k', 'metric', 'label']) if (j[key] !== undefined) fields.set(key, String(j[key]));
      sendJson(res, 200, await this.#svc.queryVector(f32, this.#queryOptions(url, fields, signal)));
      return;
    }
    const img = /^\/api\/image\/([^/]*)$/.exec(p);
    if (img) {
      only('GET', 'HEAD');
      // Not percent-decoded: an id is digits, anything else is refused as it stands.
      await this.#serveImage(res, this.#galleryId(img[1]!), method === 'HEAD');
      return;
    }
    throw new ApiError(404, 'not_found', `no route ${p}`);
  }

  /** A gallery id: decimal digits only, so nothing path-like ever reaches the file system. */
  #galleryId(raw: string): number {
    if (!/^\d{1,15}$/.test(raw))
      throw new ApiError(400, 'bad_id', `gallery id must be a non-negative integer, got '${raw.slice(0, 64)}'`);
    const id = Number(raw);
    if (!this.#svc.item(id))
      throw new ApiError(
        404,
        'not_found',
        `no gallery item with id ${id} (the gallery has ${this.#svc.gallery.items.length})`,
      );
    return id;
  }

  #intParam(
    url: URL,
    name: string,
    dflt: number,
    min: number,
    max: number,
    code: 'bad_k' | 'bad_request',
    fallback?: string,
  ): number {
    const raw = url.searchParams.get(name) ?? fallback;
    if (raw === null || raw === undefined || raw === '') return dflt;
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max)
      throw new ApiError(400, code, `${name} must be an integer in [${min}, ${max}], got '${raw.slice(0, 32)}'`);
    return Number(raw);
  }

  /** k, metric and label from the query string, else from form / JSON fields. */
  #queryOptions(url: URL, fields: Map<string, string>, signal: AbortSignal): QueryOptions {
    const k = this.#intParam(url, 'k', this.#o.defaultK, 1, this.#o.maxK, 'bad_k', fields.get('k'));
    const m = url.searchParams.get('metric') ?? fields.get('metric') ?? 'cosine';
    if (!(METRICS as readonly string[]).includes(m))
      throw new ApiError(400, 'bad_metric', `metric must be one of ${METRICS.join(', ')}, got '${m.slice(0, 32)}'`);
    const label = url.searchParams.get('label') ?? fields.get('label');
    if (label !== undefined && label !== null && label.length > 256)
      throw new ApiError(400, 'bad_request', 'label is too long');
    return { k, metric: m as Metric, ...(label ? { label } : {}), signal };
  }

  /** The uploaded image: a raw body (image/jpeg|png|webp, octet-stream) or the file part of a form. */
  async #upload(req: IncomingMessage): Promise<{ bytes: Buffer; fields: Map<string, string> }> {
    const type = mediaType(req);
    const multipart = type === 'multipart/form-data';
    if (!multipart && type !== '' && !UPLOAD_TYPES.has(type)) {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `uploads must be image/jpeg, image/png, image/webp or multipart/form-data, got '${type.slice(0, 64)}'`,
      );
    }
    // A form carries some bytes of framing around the file.
    const body = await readBody(req, this.#o.maxUploadBytes + (multipart ? 64 * 1024 : 0));
    let bytes = body,
      fields = new Map<string, string>();
    if (multipart) {
      const form = parseMultipart(body, req.headers['content-type'] ?? '');
      if (!form.file) throw new ApiError(400, 'bad_multipart', 'the form has no file part');
      bytes = form.file.data;
      fields = form.fields;
      if (bytes.length > this.#o.maxUploadBytes)
        throw new ApiError(413, 'payload_too_large', `image exceeds the limit of ${this.#o.maxUploadBytes} bytes`);
    }
    if (bytes.length === 0) throw new ApiError(400, 'bad_request', 'empty upload');
    if (!sniffImageType(bytes))
      throw new ApiError(
        415,
        'unsupported_media_type',
        'the upload is not a JPEG, PNG or WebP image (checked by its magic bytes)',
      );
    return { bytes, fields };
  }

  /** A gallery image by id; formats browsers cannot show (TIFF, PPM, ...) are sent as PNG. */
  async #serveImage(res: ServerResponse, id: number, head: boolean): Promise<void> {
    const item = this.#svc.item(id)!;
    let data: Buffer;
    try {
      data = await readImageBytes(item.file);
    } catch {
      throw new ApiError(404, 'not_found', `gallery image ${id} cannot be read`);
    }
    let type = browserImageMime(data);
    if (!type) {
      try {
        data = await sharp(data, { limitInputPixels: 100_000_000 }).png().toBuffer();
      } catch {
        throw new ApiError(500, 'internal', `gallery image ${id} cannot be converted for display`);
      }
      type = 'image/png';
    }
    res.writeHead(200, {
      'content-type': type,
      'content-length': String(data.length),
      'cache-control': 'private, max-age=3600',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'",
    });
    res.end(head ? undefined : data);
  }

  /** Listens on host:port (port 0: any free port); resolves with the bound address. */
  listen(port: number, host: string): Promise<{ host: string; port: number; url: string }> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        if (a === null || typeof a === 'string') {
          reject(new Error('server has no TCP address'));
          return;
        }
        const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        resolve({ host: a.address, port: a.port, url: `http://${h}:${a.port}` });
      });
    });
  }

  /**
   * Lets the requests in flight finish (at most `drainMs`, default 10 s) while new ones are
   * answered 503, then stops listening and closes every connection: a SIGTERM under load answers
   * every request it took in instead of resetting connections.
   */
  async close(o: { drainMs?: number } = {}): Promise<void> {
    this.#draining = true;
    if (this.#shedTimer) clearTimeout(this.#shedTimer);
    this.server.closeIdleConnections();
    if (this.#active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, o.drainMs ?? 10_000);
        this.#idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
