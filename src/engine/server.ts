import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import { ImageServiceError, toServiceError } from '../errors.js';
import { corsHeaders } from '../http/cors.js';
import { makeResizeHandler, type ResizeHandler } from '../http/resize-handler.js';
import { errorToHttpResponse, type HttpResponse } from '../http/response.js';
import { createLogger, type ServiceLogger } from '../observability/logger.js';
import { SERVICES, type ServiceMetrics } from '../observability/metrics.js';
import { createVariantService } from '../service.js';
import type { ImageStore } from '../storage/image-store.js';
import { createS3Client, createS3Store } from '../storage/s3-store.js';
import { createAdmission } from './admission.js';
import { toEvent } from './to-event.js';

export interface EngineOptions {
  readonly config: Config;
  /** 0: any free port. */
  readonly port?: number;
  readonly host?: string;
  readonly concurrency: number;
  readonly queue: number;
  /** The longest drain() waits for in-flight and queued requests; default 25 s. */
  readonly drainSeconds?: number;
  /** The store; by default a new S3 store from config (its client destroyed on close). */
  readonly store?: ImageStore;
  readonly log?: ServiceLogger;
  readonly metrics?: ServiceMetrics;
  /** The handler; by default built from config and store exactly as handlers/resize.ts builds it. */
  readonly handler?: ResizeHandler;
}

export interface Engine {
  readonly url: string;
  readonly server: Server;
  /** Requests in the handler and waiting for a turn. */
  load(): { active: number; waiting: number };
  /**
   * Stops accepting connections, lets in-flight and queued requests finish (at most `seconds`),
   * closes keep-alive sockets. Resolves true when everything finished in time.
   */
  drain(seconds?: number): Promise<boolean>;
  /** Stops at once: every connection closed, whatever it was doing. */
  close(): Promise<void>;
}

export const HEALTH_PATH = '/_health';
// Longer than the idle timeout of a load balancer in front (ALB: 60 s), so it never reuses a
// socket this side has just closed.
const KEEP_ALIVE_MS = 65_000;
const EMPTY = Buffer.alloc(0);

class OverloadedError extends ImageServiceError {
  constructor() {
    super(503, 'overloaded', 'The server is busy; retry shortly.', { headers: { 'Retry-After': '1' } });
  }
}

function writeResponse(req: IncomingMessage, res: ServerResponse, response: HttpResponse, closing: boolean): void {
  if (res.headersSent || res.destroyed) return;
  // Images come as bytes, whatever their size: no base64 round trip, no 302 past Lambda's limit.
  // res.end() hands them to the socket, which sends them as the client reads.
  const body = response.rawBody ?? (response.body ? Buffer.from(response.body, response.isBase64Encoded ? 'base64' : 'utf8') : EMPTY);
  const headers: Record<string, string | number | string[]> = { ...response.headers };
  if (response.cookies?.length) headers['Set-Cookie'] = response.cookies;
  if (req.method !== 'HEAD' && response.statusCode !== 304) headers['Content-Length'] = body.length;
  if (closing) headers.Connection = 'close';
  res.writeHead(response.statusCode, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function jsonResponse(statusCode: number, body: unknown): HttpResponse {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/** The long-running HTTP server: the Lambda's URL API, through the Lambda's own handler. */
export async function startEngine(options: EngineOptions): Promise<Engine> {
  const { config } = options;
  const log = options.log ?? createLogger(SERVICES.resize);
  const client = options.store || options.handler ? undefined : createS3Client(config.s3);
  // Work the service does after a response (FRESHNESS=events: the check after a write), waited for when draining.
  const background = new Set<Promise<void>>();
  const afterResponse = (work: Promise<void>) => {
    const tracked = work.finally(() => background.delete(tracked));
    background.add(tracked);
  };
  const handler =
    options.handler ??
    makeResizeHandler({
      config,
      service: createVariantService(config, options.store ?? createS3Store(config, client), log, { afterResponse }),
      log,
      metrics: options.metrics,
      rawBodies: true,
    });
  const admission = createAdmission(options.concurrency, options.queue);
  let draining = false;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      // A load balancer stops sending new work once the engine says it is going away.
      writeResponse(req, res, draining ? jsonResponse(503, { status: 'draining' }) : jsonResponse(200, { status: 'ok' }), draining);
      return;
    }
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const turn = admission.enter(gone.signal);
    if (!turn) {
      const refusal = errorToHttpResponse(new OverloadedError(), {
        headers: corsHeaders(config.cors, req.headers.origin),
      });
      writeResponse(req, res, refusal, draining);
      return;
    }
    const release = await turn;
    if (!release) return; // the client left while waiting
    try {
      let response: HttpResponse;
      try {
        response = await handler(toEvent(req));
      } catch (caught) {
        // The handler maps its own errors; this is only a last resort.
        log.error('engine request failed', { error: caught as Error });
        response = errorToHttpResponse(toServiceError(caught));
      }
      writeResponse(req, res, response, draining);
    } finally {
      release();
    }
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    serve(req, res).catch((error: unknown) => {
      log.error('engine response failed', { error: error as Error });
      res.destroy();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let closed: Promise<void> | undefined;
  const stopListening = () => {
    draining = true;
    closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    return closed;
  };
  const finish = async () => {
    server.closeAllConnections();
    await stopListening();
    client?.destroy();
  };

  return {
    url,
    server,
    load: () => ({ active: admission.active, waiting: admission.waiting }),
    async drain(seconds = options.drainSeconds ?? 25) {
      void stopListening();
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        admission.idle().then(async () => {
          await Promise.all(background);
          return true;
        }),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), seconds * 1000);
        }),
      ]);
      clearTimeout(timer);
      // Let the last responses flush and their sockets end on their own (Connection: close),
      // sweeping keep-alive sockets that only just went idle; then close whatever is left.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const grace = new Promise<void>((resolve) => setTimeout(resolve, inTime ? 2_000 : 0).unref());
      await Promise.race([closed, grace]);
      clearInterval(sweep);
      await finish();
      return inTime;
    },
    close: finish,
  };
}
