import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { StorageUnavailableError, type ImageServiceError } from '../errors.js';
import type { Timings, VariantResult } from '../service.js';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  headers: Record<string, string>;
};

export interface ResponseContext {
  readonly cacheMaxAge: number;
  readonly maxInlineBytes: number;
  /** `fm=auto` was asked for: caches must key on Accept. */
  readonly varyAccept: boolean;
  /** Resolves the stored variant's short-lived URL, for bodies too large to return inline. */
  readonly variantUrl: () => Promise<string>;
}

const BASE_HEADERS = { 'X-Content-Type-Options': 'nosniff' } as const;

function serverTiming(t: Timings): string {
  const ms = (n: number) => n.toFixed(1);
  return `s3-read;dur=${ms(t.s3Read)}, transform;dur=${ms(t.transform)}, s3-write;dur=${ms(t.s3Write)}`;
}

/** Maps a service result to the HTTP response API Gateway returns to the client. */
export async function toHttpResponse(result: VariantResult, context: ResponseContext): Promise<HttpResponse> {
  const cacheHeaders: Record<string, string> = {
    ...BASE_HEADERS,
    'Cache-Control': `public, max-age=${context.cacheMaxAge}, immutable`,
    ETag: result.id.etag,
    ...(context.varyAccept ? { Vary: 'Accept' } : {}),
  };
  if (result.kind === 'not-modified') {
    return { statusCode: 304, headers: cacheHeaders, body: '' };
  }
  const common = { ...cacheHeaders, 'X-Cache': result.kind, 'Server-Timing': serverTiming(result.timings) };
  if (result.body.length > context.maxInlineBytes && result.stored) {
    // Lambda's 6 MB response limit: send the client to the stored copy instead. The redirect
    // itself must not outlive the presigned URL, so it is not cacheable.
    return {
      statusCode: 302,
      headers: { ...common, 'Cache-Control': 'no-store', Location: await context.variantUrl() },
      body: '',
    };
  }
  if (result.body.length > context.maxInlineBytes) {
    // Too large to return inline and not stored: there is nothing to redirect to.
    throw new StorageUnavailableError(new Error('variant too large to return inline and could not be stored'));
  }
  return {
    statusCode: 200,
    headers: { ...common, 'Content-Type': result.contentType },
    body: result.body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** The one place errors become HTTP: a JSON body with a stable code; no detail on 5xx. */
export function errorToHttpResponse(error: ImageServiceError): HttpResponse {
  return {
    statusCode: error.statusCode,
    headers: {
      ...BASE_HEADERS,
      ...error.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    },
    body: JSON.stringify({ error: { code: error.code, message: error.message } }),
  };
}
