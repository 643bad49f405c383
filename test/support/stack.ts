import { createServer } from 'node:net';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { startLocalS3, type LocalS3 } from '../../scripts/local-s3.js';
import { loadConfig, type Config } from '../../src/config.js';
import { makeResizeHandler, type ResizeHandler } from '../../src/http/resize-handler.js';
import type { ServiceLogger } from '../../src/observability/logger.js';
import { createMetrics, SERVICES } from '../../src/observability/metrics.js';
import { createVariantService, type VariantService } from '../../src/service.js';
import type { ImageStore } from '../../src/storage/image-store.js';
import { createS3Client, createS3Store } from '../../src/storage/s3-store.js';

/**
 * A real stack for the tests: s3rver on a random loopback port, the real S3 store, service and
 * handler, built exactly as handlers/resize.ts builds them but from an explicit environment.
 */

export const ORIGINALS = 'originals';
export const VARIANTS = 'variants';

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly details: unknown[];
}

/** Both the handler's logger and the service's log, recording instead of printing. */
export interface RecordingLog extends ServiceLogger {
  readonly entries: LogEntry[];
}

export function recordingLog(): RecordingLog {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (message: unknown, ...details: unknown[]) => {
      entries.push({ level, message: String(message), details });
    };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Counts calls per store method, so tests can prove what a request did (and did not) read. */
export type CallCounts = Record<keyof ImageStore, number>;

export function countingStore(store: ImageStore): { store: ImageStore; calls: CallCounts; reset(): void } {
  const calls: CallCounts = { headOriginal: 0, getOriginal: 0, openOriginal: 0, getVariant: 0, headVariant: 0, putVariant: 0, variantUrl: 0, listVariants: 0, deleteVariants: 0 };
  const counted = {} as Record<keyof ImageStore, unknown>;
  for (const name of Object.keys(calls) as (keyof ImageStore)[]) {
    counted[name] = (...args: unknown[]) => {
      calls[name]++;
      return (store[name] as (...a: unknown[]) => unknown)(...args);
    };
  }
  return {
    store: counted as unknown as ImageStore,
    calls,
    reset: () => {
      for (const name of Object.keys(calls) as (keyof ImageStore)[]) calls[name] = 0;
    },
  };
}

/** The environment every test stack starts from; tests override single variables. */
export function testEnv(endpoint: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    ORIGINALS_BUCKET: ORIGINALS,
    VARIANTS_BUCKET: VARIANTS,
    S3_ENDPOINT: endpoint,
    IS_LOCAL: 'true',
    S3_MAX_ATTEMPTS: '2',
    S3_REQUEST_TIMEOUT_MS: '5000',
    ...env,
  };
}

export interface AppOptions {
  /** Environment variables on top of testEnv(). */
  readonly env?: Record<string, string>;
  /** Wraps the real S3 store, e.g. to count calls or inject a failing write. */
  readonly wrapStore?: (store: ImageStore) => ImageStore;
  /** Print metrics (EMF lines on stdout) as the deployed handler does; none by default. */
  readonly metrics?: boolean;
}

/** One "Lambda instance": its own config, S3 client, store, service and handler. */
export interface App {
  readonly config: Config;
  readonly client: S3Client;
  readonly store: ImageStore;
  readonly service: VariantService;
  readonly handler: ResizeHandler;
  readonly log: RecordingLog;
  close(): void;
}

export function buildApp(endpoint: string, options: AppOptions = {}): App {
  const config = loadConfig(testEnv(endpoint, options.env));
  const log = recordingLog();
  const client = createS3Client(config.s3);
  const real = createS3Store(config, client);
  const store = options.wrapStore ? options.wrapStore(real) : real;
  const service = createVariantService(config, store, log);
  return {
    config,
    client,
    store,
    service,
    handler: makeResizeHandler({ config, service, log, metrics: options.metrics ? createMetrics(SERVICES.resize, config.metrics) : undefined }),
    log,
    close: () => client.destroy(),
  };
}

export interface StoredObject {
  readonly key: string;
  readonly etag: string;
  readonly body: Buffer;
  readonly contentType?: string;
  readonly cacheControl?: string;
  readonly metadata: Record<string, string>;
}

export interface Stack extends App {
  readonly s3: LocalS3;
  /** PutObject into the originals bucket; resolves to the new ETag. */
  seed(key: string, body: Buffer, contentType?: string): Promise<string>;
  originalEtag(key: string): Promise<string | undefined>;
  /** Keys and ETags of everything in a bucket, sorted: a snapshot to compare before and after. */
  listing(bucket?: string, prefix?: string): Promise<{ key: string; etag: string }[]>;
  getObject(bucket: string, key: string): Promise<StoredObject>;
  /** Another instance against the same local S3 (a second Lambda, or other limits). */
  app(options?: AppOptions): App;
  close(): Promise<void>;
}

export async function startStack(options: AppOptions = {}): Promise<Stack> {
  const s3 = await startLocalS3({ buckets: [ORIGINALS, VARIANTS] });
  const main = buildApp(s3.endpoint, options);
  const others: App[] = [];
  const { client } = main;

  async function listing(bucket = VARIANTS, prefix?: string) {
    const out: { key: string; etag: string }[] = [];
    let token: string | undefined;
    for (let page = 0; page < 100; page++) {
      const res = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) out.push({ key: o.Key!, etag: o.ETag! });
      token = res.NextContinuationToken;
      if (!res.IsTruncated || !token) break;
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  return {
    ...main,
    s3,
    async seed(key, body, contentType = 'image/jpeg') {
      const res = await client.send(new PutObjectCommand({ Bucket: ORIGINALS, Key: key, Body: body, ContentType: contentType }));
      return res.ETag!;
    },
    async originalEtag(key) {
      try {
        return (await client.send(new HeadObjectCommand({ Bucket: ORIGINALS, Key: key }))).ETag;
      } catch (error) {
        if ((error as { name?: string }).name === 'NotFound') return undefined;
        throw error;
      }
    },
    listing,
    async getObject(bucket, key) {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return {
        key,
        etag: res.ETag!,
        body: Buffer.from(await res.Body!.transformToByteArray()),
        contentType: res.ContentType,
        cacheControl: res.CacheControl,
        metadata: res.Metadata ?? {},
      };
    },
    app(appOptions = {}) {
      const app = buildApp(s3.endpoint, appOptions);
      others.push(app);
      return app;
    },
    async close() {
      for (const app of others) app.close();
      main.close();
      await s3.close();
    },
  };
}

/** A loopback port nothing listens on (bound once, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Keys unique per call, so tests sharing one s3rver never see each other's objects. */
let sequence = 0;
export function uniqueKey(name: string): string {
  sequence++;
  return `t${process.pid}-${sequence}/${name}`;
}

export type Query = string | Record<string, string> | readonly (readonly [string, string])[];

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/**
 * An API Gateway HTTP API (payload 2.0) event for the `ANY /{proxy+}` route, as API Gateway
 * builds it: rawPath still percent-encoded, pathParameters.proxy decoded, rawQueryString as
 * sent, header names lower-cased. `path` is the decoded path, with or without a leading "/".
 */
export function event(
  path: string,
  query: Query = '',
  headers: Record<string, string> = {},
  method = 'GET',
): APIGatewayProxyEventV2 {
  const decoded = path.replace(/^\/+/, '');
  const rawPath = `/${encodePath(decoded)}`;
  const rawQueryString =
    typeof query === 'string'
      ? query.replace(/^\?/, '')
      : new URLSearchParams(Array.isArray(query) ? (query as [string, string][]) : Object.entries(query))
          .toString()
          .replace(/\+/g, '%20');
  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }
  const lowerHeaders: Record<string, string> = { host: 'images.example.com', 'user-agent': 'vitest' };
  for (const [name, value] of Object.entries(headers)) lowerHeaders[name.toLowerCase()] = value;
  const now = new Date();
  // serverless.yml routes GET only; any other method could only arrive through an ANY route.
  const routeKey = `${method === 'GET' ? 'GET' : 'ANY'} /{proxy+}`;
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    headers: lowerHeaders,
    ...(rawQueryString ? { queryStringParameters } : {}),
    pathParameters: { proxy: decoded },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'images.example.com',
      domainPrefix: 'images',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: `req-${now.getTime()}-${Math.random().toString(36).slice(2)}`,
      routeKey,
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's requestContext.time: `25/Nov/2026:09:00:00 +0000`. */
function clfTime(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** The decoded body of an inline image response. */
export function bodyBytes(response: { body?: string; isBase64Encoded?: boolean }): Buffer {
  return Buffer.from(response.body ?? '', response.isBase64Encoded ? 'base64' : 'utf8');
}
