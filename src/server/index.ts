// `dml serve` as a library: a retrieval service (gallery index + inference workers) behind the
// HTTP API and web page. The main thread never touches the tensor engine; see service.ts.
import { lookup } from 'node:dns/promises';
import { networkInterfaces, hostname } from 'node:os';
import { BlockList, createServer } from 'node:net';
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
  /**
   * Listen on an address other machines can reach without a token. Refused otherwise: anyone who reaches
   * the port could query the gallery and read its images.
   */
  insecure?: boolean;
  /**
   * Host names added to the ones the server answers to (the Host check is on for every address): the
   * loopback names, and for a non-loopback address also this machine's name and addresses. `allowedHosts`
   * replaces that list instead (null: any name).
   */
  extraAllowedHosts?: readonly string[];
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
  // What the address is, by what Node will bind (any spelling: 127.1, ::ffff:127.0.0.1, a name).
  const bound = await boundAddress(host);
  const loopback = isLoopbackAddress(bound);
  if (!loopback && !o.token && !o.insecure) {
    throw new Error(
      `refusing to listen on ${host} (${bound}) without a token: anyone who can reach the port could query the ` +
        'gallery and read its images. Give --token TOKEN (or DML_SERVE_TOKEN), or --insecure to serve it openly',
    );
  }
  // Embedding a gallery can take minutes: find out first that the address is ours to take.
  if ((o.port ?? 8080) !== 0) await probePort(o.port ?? 8080, host);
  const service = await RetrievalService.create(o);
  // The Host check stays on for every address: DNS rebinding lets a web page reach the server through a
  // name its author controls, token or not (the page could then read what the server answers).
  const allowedHosts =
    o.allowedHosts !== undefined
      ? o.allowedHosts
      : [...new Set([...defaultHostNames(host, bound, loopback), ...(o.extraAllowedHosts ?? [])])];
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
      `warning: --insecure: listening on ${host} without a token: anyone who can reach port ${addr.port} can ` +
        'query the gallery and read its images',
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

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8 and ::1 in any spelling, IPv4-mapped IPv6 (::ffff:127.0.0.1) included. */
export function isLoopbackAddress(address: string): boolean {
  return LOOPBACK.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

/** The address listen() binds for a host: the first the resolver gives, as Node does. */
async function boundAddress(host: string): Promise<string> {
  try {
    return (await lookup(host)).address;
  } catch (e) {
    throw new Error(`--host ${host}: ${(e as Error).message}`, { cause: e });
  }
}

/** The names a server on this address answers to by default (lower case, without port). */
function defaultHostNames(host: string, bound: string, loopback: boolean): string[] {
  const names = ['localhost', '127.0.0.1', '::1', host.toLowerCase(), bound.toLowerCase()];
  if (loopback) return names;
  names.push(hostname().toLowerCase());
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.push(a.address);
  return names;
}
