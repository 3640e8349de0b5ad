// `dml serve` as a library: a retrieval service (gallery index + inference workers) behind the
// HTTP API and web page. The main thread never touches the tensor engine; see service.ts.
import { createServer } from 'node:net';
import { ApiServer, type HttpOptions } from './http.js';
import { RetrievalService, type RetrievalOptions } from './service.js';

export { ApiError, QueueFullError, type ApiErrorCode } from './errors.js';
export { loadGallery, type Gallery, type GalleryItem } from './gallery.js';
export { sniffImageType, preprocessSpec, type ImageType, type PreprocessOverrides } from './preprocess.js';
export {
  RetrievalService,
  type RetrievalOptions,
  type QueryResponse,
  type Neighbour,
  type QueryOptions,
  type ServiceStats,
  type IndexKind,
} from './service.js';
export { ApiServer, type HttpOptions } from './http.js';
export type { Metric } from './exact-index.js';

export interface ServeOptions extends RetrievalOptions, HttpOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  service: RetrievalService;
  api: ApiServer;
  /** Stops accepting connections, then stops the workers. */
  close(): Promise<void>;
}

/** Builds the index and listens; resolves once requests can be served. */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  // Embedding a gallery can take minutes: find out first that the address is ours to take.
  if ((o.port ?? 8080) !== 0) await probePort(o.port ?? 8080, host);
  const service = await RetrievalService.create(o);
  // A loopback server answers to loopback names only (DNS rebinding would otherwise reach it).
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  const allowedHosts =
    o.allowedHosts !== undefined ? o.allowedHosts : loopback ? ['localhost', '127.0.0.1', '::1', host] : null;
  const api = new ApiServer(service, { ...o, allowedHosts, ...(o.log ? { log: o.log } : {}) });
  let addr;
  try {
    addr = await api.listen(o.port ?? 8080, host);
  } catch (e) {
    await service.close();
    throw e;
  }
  if (!loopback && !o.token)
    o.log?.(
      `warning: listening on ${host} without --token: anyone who can reach port ${addr.port} can query the gallery ` +
        `and read its images`,
    );
  let closing: Promise<void> | null = null;
  return {
    ...addr,
    service,
    api,
    close: () =>
      (closing ??= (async () => {
        await api.close();
        await service.close();
      })()),
  };
}

/** Listens on port/host for a moment and lets go, so that a taken port is reported before indexing. */
function probePort(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'EADDRINUSE'
          ? 'the port is in use (--port sets another)'
          : e.code === 'EACCES'
            ? 'permission denied'
            : e.code === 'EADDRNOTAVAIL'
              ? 'no such address on this machine (--host)'
              : e.message;
      reject(new Error(`cannot listen on ${host}:${port}: ${why}`));
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
