// Errors that carry an HTTP status and a stable machine-readable code, so every failure the API
// reports has the same JSON shape: { error: { code, message } }.

/** Stable error codes of the retrieval API (clients switch on these, not on messages). */
export type ApiErrorCode =
  | 'bad_request'
  | 'bad_id'
  | 'bad_k'
  | 'bad_metric'
  | 'bad_vector'
  | 'bad_json'
  | 'bad_multipart'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'image_too_large'
  | 'undecodable_image'
  | 'queue_full'
  | 'timeout'
  | 'internal'
  | 'unavailable'
  | 'unauthorized'
  | 'forbidden_host';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
  toJSON(): { error: { code: ApiErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The inference queue is full: the client should retry later (503 with Retry-After). */
export class QueueFullError extends ApiError {
  constructor(limit: number) {
    super(503, 'queue_full', `inference queue is full (${limit} waiting); retry later`, { 'retry-after': '1' });
  }
}

/** A failure a worker reports for one image (not a crash): carried across the thread boundary by code. */
export interface ImageFailure {
  code: 'image_too_large' | 'undecodable_image';
  message: string;
}

/** Turns a worker's per-image failure into the API's error. */
export function imageError(f: ImageFailure): ApiError {
  return new ApiError(422, f.code, f.message);
}
