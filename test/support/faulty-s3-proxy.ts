import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An HTTP proxy on loopback in front of a real S3 (s3rver) whose behaviour the test switches at
 * will: storage that works, that is down, that hangs, or that throttles. The service talks to
 * the proxy exactly as to S3 (path-style, signed requests are forwarded untouched, Host included,
 * so signatures stay valid), which makes the faults real network faults for the AWS SDK.
 */
export type ProxyMode =
  /** Forward to the real S3. */
  | 'pass'
  /** Drop the connection as soon as a request arrives (a reset, as from a dead endpoint). */
  | 'down'
  /** Accept the request and never answer. */
  | 'slow'
  /** Answer 503 with S3's own `SlowDown` error. */
  | 'slowdown';

export interface ProxiedRequest {
  readonly method: string;
  readonly bucket: string;
  readonly key: string;
  /** What the proxy did with it. */
  readonly mode: ProxyMode;
}

/** Which requests a fault applies to; the others are forwarded. */
export interface FaultScope {
  readonly methods?: readonly string[];
  readonly buckets?: readonly string[];
}

export interface FaultyS3Proxy {
  readonly endpoint: string;
  readonly mode: ProxyMode;
  /** Every request seen, in order. */
  readonly requests: readonly ProxiedRequest[];
  /** Switches behaviour for the requests that arrive from now on. */
  setMode(mode: ProxyMode, scope?: FaultScope): void;
  /** How many requests were handled in this mode. */
  count(mode: ProxyMode): number;
  /** Forgets the requests seen so far. */
  reset(): void;
  close(): Promise<void>;
}

const SLOW_DOWN_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>' +
  '<RequestId>faulty-proxy</RequestId><HostId>faulty-proxy</HostId></Error>';

function target(url: string): { bucket: string; key: string } {
  const path = new URL(url, 'http://proxy').pathname;
  const [bucket = '', ...key] = path.replace(/^\//, '').split('/');
  return { bucket: decodeURIComponent(bucket), key: decodeURIComponent(key.join('/')) };
}

export async function startFaultyS3Proxy(upstream: string): Promise<FaultyS3Proxy> {
  const upstreamUrl = new URL(upstream);
  const upstreamAgent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const requests: ProxiedRequest[] = [];
  let mode: ProxyMode = 'pass';
  let scope: FaultScope = {};

  const inScope = (method: string, bucket: string) =>
    (scope.methods === undefined || scope.methods.includes(method)) &&
    (scope.buckets === undefined || scope.buckets.includes(bucket));

  function forward(req: IncomingMessage, res: ServerResponse) {
    const upstreamReq = httpRequest(
      {
        host: upstreamUrl.hostname,
        port: upstreamUrl.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: upstreamAgent,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', () => res.destroy());
    res.on('close', () => upstreamReq.destroy());
    req.pipe(upstreamReq);
  }

  const server = createServer((req, res) => {
    const method = req.method ?? '';
    const { bucket, key } = target(req.url ?? '/');
    const applied: ProxyMode = mode !== 'pass' && inScope(method, bucket) ? mode : 'pass';
    requests.push({ method, bucket, key, mode: applied });
    switch (applied) {
      case 'pass':
        forward(req, res);
        return;
      case 'down':
        req.socket.destroy();
        return;
      case 'slow':
        // Read what is sent (so the client is not blocked writing) and say nothing, ever: the
        // socket stays open until the client gives up or the proxy closes.
        req.resume();
        return;
      case 'slowdown':
        req.resume();
        res.writeHead(503, {
          'Content-Type': 'application/xml',
          'x-amz-request-id': 'faulty-proxy',
          ...(method === 'HEAD' ? {} : { 'Content-Length': Buffer.byteLength(SLOW_DOWN_BODY) }),
        });
        res.end(method === 'HEAD' ? undefined : SLOW_DOWN_BODY);
        return;
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    requests,
    setMode(next, nextScope = {}) {
      mode = next;
      scope = nextScope;
    },
    count: (which) => requests.filter((r) => r.mode === which).length,
    reset() {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        upstreamAgent.destroy();
        server.close(() => resolve());
      }),
  };
}
