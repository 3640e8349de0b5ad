// Just enough multipart/form-data (RFC 7578) for an upload form: the first file part plus small
// text fields, from a body already read (and size-limited) into memory.
import { ApiError } from './errors.js';

export interface MultipartResult {
  file: { name: string; filename: string; contentType: string; data: Buffer } | null;
  fields: Map<string, string>;
}

/** The boundary parameter of a multipart Content-Type, or null. */
export function boundaryOf(contentType: string): string | null {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

function headerParam(header: string, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}="((?:[^"\\\\]|\\\\.)*)"|;\\s*${name}=([^;\\s]+)`, 'i').exec(header);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

export function parseMultipart(body: Buffer, contentType: string): MultipartResult {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new ApiError(400, 'bad_multipart', 'multipart/form-data without a boundary');
  const delim = Buffer.from(`--${boundary}`);
  const fields = new Map<string, string>();
  let file: MultipartResult['file'] = null;
  let pos = body.indexOf(delim);
  if (pos < 0) throw new ApiError(400, 'bad_multipart', 'multipart body does not contain its boundary');
  for (;;) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing delimiter "--"
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw new ApiError(400, 'bad_multipart', 'multipart part without a header end');
    const headers = body.subarray(pos, headEnd).toString('latin1').split('\r\n');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    if (next < 0) throw new ApiError(400, 'bad_multipart', 'multipart part is not terminated (truncated body?)');
    const data = body.subarray(headEnd + 4, next);
    let disposition = '',
      type = 'application/octet-stream';
    for (const h of headers) {
      const c = h.indexOf(':');
      if (c < 0) continue;
      const key = h.slice(0, c).trim().toLowerCase(),
        value = h.slice(c + 1).trim();
      if (key === 'content-disposition') disposition = value;
      else if (key === 'content-type') type = value;
    }
    const name = headerParam(disposition, 'name') ?? '';
    const filename = headerParam(disposition, 'filename');
    if (filename !== undefined) {
      if (!file) file = { name, filename, contentType: type, data };
    } else if (name && data.length <= 1024) {
      fields.set(name, data.toString('utf8'));
    }
    pos = next + 2;
  }
  return { file, fields };
}
