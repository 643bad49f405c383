import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { StorageUnavailableError, type ImageServiceError } from '../errors.js';
import type { Timings, VariantResult } from '../service.js';
import { errorCacheControl, imageCacheControl, NO_STORE } from './cache-control.js';
import { budgetHeaders } from '../transform/byte-budget.js';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  headers: Record<string, string>;
  /** The image bytes as they are, instead of base64 in `body`: for a server that writes them itself (the engine). */
  rawBody?: Buffer;
};

export interface ResponseContext {
  /** Seconds a response may be cached: the configured max-age, less when a signed URL expires sooner. */
  readonly cacheMaxAge: number;
  /** Seconds shared caches (the CDN) may keep it (`s-maxage`), capped the same way; unset: no `s-maxage`. */
  readonly cdnMaxAge?: number;
  /** Headers every response carries (CORS). */
  readonly headers?: Readonly<Record<string, string>>;
  /** A HEAD request: the same headers, no body. */
  readonly headOnly?: boolean;
  readonly maxInlineBytes: number;
  /** Image bytes go out as `rawBody`, not base64 (the engine). */
  readonly rawBodies?: boolean;
  /** `fm=auto` was asked for: caches must key on Accept. */
  readonly varyAccept: boolean;
  /** Resolves the stored variant's short-lived URL, for bodies too large to return inline. */
  readonly variantUrl: () => Promise<string>;
}

// Images and JSON only: nothing here should ever run as a document. The CSP also disarms any
// script in an image a browser might be talked into rendering as a page (SVG).
const BASE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
} as const;

/** Joins the Vary values of several header sets into one header. */
function withVary(headers: Record<string, string>, ...vary: (string | undefined)[]): Record<string, string> {
  const values = [...new Set(vary.filter((v): v is string => Boolean(v)).flatMap((v) => v.split(/,\s*/)))];
  const result = { ...headers };
  delete result.Vary;
  return values.length > 0 ? { ...result, Vary: values.join(', ') } : result;
}

function serverTiming(t: Timings): string {
  const ms = (n: number) => n.toFixed(1);
  return `s3-read;dur=${ms(t.s3Read)}, transform;dur=${ms(t.transform)}, s3-write;dur=${ms(t.s3Write)}`;
}

/** Maps a service result to the HTTP response API Gateway returns to the client. */
export async function toHttpResponse(result: VariantResult, context: ResponseContext): Promise<HttpResponse> {
  const cacheHeaders = withVary(
    {
      ...BASE_HEADERS,
      ...context.headers,
      'Cache-Control': imageCacheControl(context.cacheMaxAge, context.cdnMaxAge),
      ETag: result.id.etag,
    },
    context.varyAccept ? 'Accept' : undefined,
    context.headers?.Vary,
  );
  if (result.kind === 'not-modified') {
    return { statusCode: 304, headers: cacheHeaders, body: '' };
  }
  const common = {
    ...cacheHeaders,
    'X-Cache': result.kind,
    'Server-Timing': serverTiming(result.timings),
    ...budgetHeaders(result.budget),
  };
  if (result.body.length > context.maxInlineBytes && result.stored) {
    // Lambda's 6 MB response limit: send the client to the stored copy instead. The redirect
    // itself must not outlive the presigned URL, so it is not cacheable.
    return {
      statusCode: 302,
      headers: { ...common, 'Cache-Control': NO_STORE, Location: await context.variantUrl() },
      body: '',
    };
  }
  if (result.body.length > context.maxInlineBytes) {
    // Too large to return inline and not stored: there is nothing to redirect to.
    throw new StorageUnavailableError(new Error('variant too large to return inline and could not be stored'));
  }
  const headers = { ...common, 'Content-Type': result.contentType };
  if (context.rawBodies) return { statusCode: 200, headers, body: '', rawBody: context.headOnly ? undefined : result.body };
  return {
    statusCode: 200,
    headers,
    body: context.headOnly ? '' : result.body.toString('base64'),
    isBase64Encoded: !context.headOnly,
  };
}

export interface ErrorContext {
  /** Headers every response carries (CORS). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The longest a shareable 4xx may be cached (ERROR_MAX_AGE, less when a signed URL expires sooner); 0: not at all. */
  readonly errorMaxAge?: number;
}

/** The one place errors become HTTP: a JSON body with a stable code; no detail on 5xx. */
export function errorToHttpResponse(error: ImageServiceError, context: ErrorContext = {}): HttpResponse {
  return {
    statusCode: error.statusCode,
    headers: {
      ...BASE_HEADERS,
      ...context.headers,
      ...error.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': errorCacheControl(error, context.errorMaxAge ?? 0),
    },
    body: JSON.stringify({ error: { code: error.code, message: error.message } }),
  };
}
