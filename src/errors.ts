/**
 * One error base for the whole service. Each error carries the HTTP status it maps to and a
 * stable machine-readable code; `src/http/response.ts` turns it into a JSON body in one place.
 * Only errors below 500 expose their message: anything else is described generically so that
 * no internal detail (paths, SDK messages, stack traces) ever reaches a client.
 */
export class ImageServiceError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Whether a shared cache (the CDN) may keep this answer briefly and give it to anyone asking
   * for the same URL. True by default for 4xx: they follow from the URL and the original alone.
   * Never true for 5xx, whatever is passed: a passing outage must not outlive itself in a cache.
   */
  readonly shareable: boolean;

  constructor(
    statusCode: number,
    code: string,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string>; shareable?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.statusCode = statusCode;
    this.code = code;
    this.headers = options.headers ?? {};
    this.shareable = statusCode < 500 && (options.shareable ?? true);
  }

  /** Whether the message is meant for the client (4xx) or only for logs (5xx). */
  get expose(): boolean {
    return this.statusCode < 500;
  }
}

/** A request parameter (or the path) is malformed or out of range. */
export class InvalidRequestError extends ImageServiceError {
  constructor(code: string, message: string) {
    super(400, code, message);
  }
}

/**
 * Access refused. Never shared by caches: the answer depends on credentials (the signature and
 * the secrets this instance holds, which change during a rotation; the origin-verify header),
 * not on the resource, so a cached refusal could be served to a client that is allowed in.
 */
export class ForbiddenError extends ImageServiceError {
  constructor(code: string, message: string) {
    super(403, code, message, { shareable: false });
  }
}

/** The request did not come through the CDN (no or a wrong `X-Origin-Verify` header). */
export class OriginForbiddenError extends ForbiddenError {
  constructor() {
    super('origin_forbidden', 'Direct access is not allowed: use the CDN URL.');
  }
}

/** Only GET and HEAD read images; RFC 9110 asks for 405 with the methods that do work. */
export class MethodNotAllowedError extends ImageServiceError {
  constructor(method: string) {
    super(405, 'method_not_allowed', `Method ${method.slice(0, 16)} is not supported: use GET or HEAD.`, {
      headers: { Allow: 'GET, HEAD' },
    });
  }
}

export class OriginalNotFoundError extends ImageServiceError {
  constructor(key: string) {
    super(404, 'original_not_found', `No original image exists at key "${key}".`);
  }
}

/** `mark=<name>` names no object below WATERMARKS_PREFIX: the watermark is missing, not the original. */
export class WatermarkNotFoundError extends ImageServiceError {
  constructor(name: string, key: string) {
    super(404, 'watermark_not_found', `No watermark "${name}" (${key}).`);
  }
}

/**
 * The watermark exists but cannot be used: over the size limits (413 `watermark_too_large`) or not
 * a decodable image (422 `undecodable_watermark`). Codes of their own: the original is fine, and
 * the batch worker must not take them for an unreadable original.
 */
export class WatermarkError extends ImageServiceError {
  constructor(statusCode: 413 | 422, code: 'watermark_too_large' | 'undecodable_watermark', message: string, cause?: unknown) {
    super(statusCode, code, message, { cause });
  }
}

export class TooLargeError extends ImageServiceError {
  constructor(code: string, message: string) {
    super(413, code, message);
  }
}

export class UnsupportedImageError extends ImageServiceError {
  constructor(message: string, cause?: unknown) {
    super(415, 'unsupported_image', message, { cause });
  }
}

export class UndecodableImageError extends ImageServiceError {
  constructor(message: string, cause?: unknown) {
    super(422, 'undecodable_image', message, { cause });
  }
}

/** Storage could not be reached or refused to serve: the client should retry later. */
export class StorageUnavailableError extends ImageServiceError {
  constructor(cause?: unknown, retryAfterSeconds = 1) {
    super(503, 'storage_unavailable', 'Image storage is temporarily unavailable; retry shortly.', {
      cause,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/** Processing did not finish within the configured time limit. */
export class ProcessingTimeoutError extends ImageServiceError {
  constructor(limitMs: number) {
    super(503, 'processing_timeout', `Processing did not finish within ${limitMs} ms; retry shortly.`, {
      headers: { 'Retry-After': '1' },
    });
  }
}

/** Anything unexpected: logged in full, answered without detail. */
export class InternalError extends ImageServiceError {
  constructor(cause?: unknown) {
    super(500, 'internal_error', 'The image could not be produced because of an internal error.', { cause });
  }
}

/** A configuration value is invalid: raised at cold start, never mapped to a response. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Secrets (URL signing, origin verify) could not be loaded from SSM / Secrets Manager: retry later. */
export class SecretsUnavailableError extends ImageServiceError {
  constructor(cause?: unknown, message = 'URL signatures cannot be checked right now; retry shortly.') {
    super(503, 'secrets_unavailable', message, {
      cause,
      headers: { 'Retry-After': '1' },
    });
  }
}

export function toServiceError(error: unknown): ImageServiceError {
  return error instanceof ImageServiceError ? error : new InternalError(error);
}
