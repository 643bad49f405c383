import { linkSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CopyObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import autocannon, { type Result } from 'autocannon';
import { startServer, TSX, type Server } from './children.js';
import type { Corpus, ImageId } from './corpus.js';
import { summarize } from './stats.js';

/**
 * Section 3: the `npm start` stack (local S3 + serverless-offline running the function) and ipx
 * serving the same originals from disk, each in its own process, loaded with autocannon from this
 * process over loopback, for a bounded time at concurrency 1 and 2.
 *
 * Misses must be new variants on every request. Variant keys are (original key, ETag, spec); the
 * spec is kept identical, so each request names its own copy of the original (same bytes, same
 * ETag, another key: S3 CopyObject, and hard links for ipx). The work per request is then exactly
 * that of the in-process miss. Every response's X-Cache is counted to prove it.
 */
export interface LoadRun {
  readonly server: 'service' | 'ipx';
  readonly kind: 'miss' | 'hit';
  readonly workload: string;
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  /** X-Cache values seen (service only): a miss run must be all misses, a hit run all hits. */
  readonly xCache: Record<string, number>;
}

export interface HttpResult {
  readonly runs: LoadRun[];
  readonly durationSeconds: number;
  readonly startupMs: number;
}

interface Workload {
  readonly id: string;
  readonly label: string;
  readonly image: ImageId;
  readonly query: string;
  /** The same transform in ipx's URL syntax. */
  readonly ipxModifiers: string;
  /** In-process miss median (ms), to size the pool of copies. */
  readonly missMs: number;
}

export interface HttpOptions {
  readonly corpus: Corpus;
  readonly tree: string;
  readonly work: string;
  readonly quick: boolean;
  readonly missMs: { large: number; small: number };
  readonly log: (line: string) => void;
}

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function copyKey(workload: string, n: number, original: string): string {
  return `bench/copies/${workload}/${n}-${original.split('/').pop()}`;
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

interface Chunk {
  readonly ok: number;
  readonly seconds: number;
  readonly latencies: number[];
  readonly non2xx: number;
  readonly errors: number;
  readonly xCache: Record<string, number>;
}

/** One bounded autocannon run; latencies are recorded per response, so chunks can be merged. */
function load(url: string, connections: number, seconds: number, nextPath: () => string): Promise<Chunk> {
  const xCache: Record<string, number> = {};
  const latencies: number[] = [];
  return new Promise((res, rej) => {
    autocannon(
      {
        url,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 30,
        requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: nextPath() }) }],
        setupClient: (client) => {
          client.on('headers', ({ headers }) => {
            for (let i = 0; i < headers.length; i += 2) {
              if (headers[i]!.toLowerCase() === 'x-cache') xCache[headers[i + 1]!] = (xCache[headers[i + 1]!] ?? 0) + 1;
            }
          });
          client.on('response', (status, _bytes, responseTime) => {
            if (status >= 200 && status < 300) latencies.push(responseTime);
          });
        },
      },
      (error, result) => {
        if (error) return rej(error);
        const codes: Record<string, { count: number }> = result.statusCodeStats ?? {};
        const ok = Object.entries(codes).reduce((n, [code, s]) => (code.startsWith('2') ? n + Number(s.count) : n), 0);
        res({ ok, seconds: result.duration, latencies, non2xx: result.non2xx, errors: result.errors, xCache });
      },
    );
  });
}

function merge(server: LoadRun['server'], kind: LoadRun['kind'], workload: string, connections: number, chunks: Chunk[]): LoadRun {
  const seconds = chunks.reduce((n, c) => n + c.seconds, 0);
  const requests = chunks.reduce((n, c) => n + c.ok, 0);
  const latency = summarize(chunks.flatMap((c) => c.latencies));
  const sorted = chunks.flatMap((c) => c.latencies).sort((a, b) => a - b);
  const xCache: Record<string, number> = {};
  for (const c of chunks) for (const [k, v] of Object.entries(c.xCache)) xCache[k] = (xCache[k] ?? 0) + v;
  return {
    server,
    kind,
    workload,
    connections,
    seconds,
    requests,
    rps: requests / seconds,
    p50: latency.median,
    p99: sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? Number.NaN,
    non2xx: chunks.reduce((n, c) => n + c.non2xx, 0),
    errors: chunks.reduce((n, c) => n + c.errors, 0),
    xCache,
  };
}

export async function httpSection(options: HttpOptions): Promise<HttpResult> {
  const { corpus, log } = options;
  // Per server and concurrency: `rounds` chunks adding up to `seconds`.
  const seconds = options.quick ? 4 : 10;
  const rounds = 2;
  const warmupSeconds = options.quick ? 2 : 3;
  const workloads: Workload[] = [
    { id: 'p16-webp800', label: '16 MP progressive JPEG → 800w WebP', image: 'photo16p', query: 'w=800&fm=webp', ipxModifiers: 'w_800,f_webp,q_80', missMs: options.missMs.large },
    { id: 'p3-jpeg320', label: '3 MP JPEG → 320w JPEG', image: 'photo3', query: 'w=320&fm=jpeg', ipxModifiers: 'w_320,f_jpeg,q_80', missMs: options.missMs.small },
  ];
  // Enough copies for every miss request of the runs: at most one request per in-process miss
  // time per connection (HTTP only adds to it), with a margin; capped. Running out would show as
  // hits in the X-Cache counts.
  const poolSize = (w: Workload) =>
    Math.min(2500, Math.ceil(((1 * seconds + 2 * seconds + 2 * warmupSeconds) * 1000 * 1.25) / Math.max(5, w.missMs)) + 20);

  const started = performance.now();
  const servers: Server<{ baseUrl: string; s3Endpoint?: string }>[] = [];
  const runs: LoadRun[] = [];
  try {
    log('http: starting the npm start stack (local S3 + serverless-offline) …');
    const stack = await startServer<{ baseUrl: string; s3Endpoint: string }>(TSX, ['bench/stack-child.mts', options.tree], {
      readyTimeoutMs: 240_000,
      timeoutMs: 900_000,
      log: (line) => log(`  [stack] ${line}`),
    });
    servers.push(stack);
    const ipxDir = join(options.work, 'ipx-root');
    const ipx = await startServer<{ baseUrl: string }>(TSX, ['bench/ipx-child.mts', ipxDir], {
      readyTimeoutMs: 60_000,
      timeoutMs: 900_000,
      log: (line) => log(`  [ipx] ${line}`),
    });
    servers.push(ipx);
    const startupMs = performance.now() - started;
    log(`http: stack at ${stack.info.baseUrl}, ipx at ${ipx.info.baseUrl} (${Math.round(startupMs / 1000)} s)`);

    const client = new S3Client({ endpoint: stack.info.s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
    const pools = new Map<string, number>();
    for (const w of workloads) {
      const image = corpus[w.image];
      await client.send(new PutObjectCommand({ Bucket: 'originals', Key: image.key, Body: readFileSync(image.file), ContentType: image.contentType }));
      const size = poolSize(w);
      const indexes = Array.from({ length: size }, (_, n) => n);
      await inBatches(indexes, 8, (n) =>
        client.send(
          new CopyObjectCommand({ Bucket: 'originals', Key: copyKey(w.id, n, image.key), CopySource: `originals/${encodeKey(image.key)}` }),
        ),
      );
      for (const n of indexes) {
        const file = join(ipxDir, copyKey(w.id, n, image.key));
        mkdirSync(dirname(file), { recursive: true });
        linkSync(image.file, file);
      }
      pools.set(w.id, size);
      log(`http: ${size} copies of ${image.key} for ${w.id}`);
    }
    client.destroy();

    const urlOf = (server: LoadRun['server']) => (server === 'service' ? stack.info.baseUrl : ipx.info.baseUrl);
    for (const w of workloads) {
      const key = corpus[w.image].key;
      const size = pools.get(w.id)!;
      // Each server walks the same sequence of copies; wrapping around would turn misses into
      // hits, which the X-Cache counts would show.
      let serviceNext = 0;
      let ipxNext = 0;
      const contenders = [
        { server: 'service', kind: 'miss', path: () => `/${encodeKey(copyKey(w.id, serviceNext++ % size, key))}?${w.query}` },
        { server: 'ipx', kind: 'miss', path: () => `/${w.ipxModifiers}/${encodeKey(copyKey(w.id, ipxNext++ % size, key))}` },
        // Hits: one stored variant (rendered by the warm-up), requested again and again.
        { server: 'service', kind: 'hit', path: () => `/${encodeKey(key)}?${w.query}` },
      ] as const;
      // Warm-up at concurrency 2: serverless-offline starts a second function instance (a cold
      // start) the first time two requests overlap; that must not land in a measured run.
      for (const c of contenders) await load(urlOf(c.server), 2, warmupSeconds, c.path);
      for (const connections of [1, 2]) {
        // The three runs alternate in short chunks, so a noisy neighbour hits them alike.
        const chunks = contenders.map(() => [] as Chunk[]);
        for (let round = 0; round < rounds; round++) {
          for (let i = 0; i < contenders.length; i++) {
            const index = (round + i) % contenders.length;
            const c = contenders[index]!;
            chunks[index]!.push(await load(urlOf(c.server), connections, seconds / rounds, c.path));
          }
        }
        contenders.forEach((c, index) => {
          const run = merge(c.server, c.kind, w.id, connections, chunks[index]!);
          runs.push(run);
          log(
            `http: ${run.server} ${run.kind} ${w.id} c=${connections}: ${run.rps.toFixed(1)} req/s, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms` +
              `${run.non2xx || run.errors ? `, ${run.non2xx} non-2xx, ${run.errors} errors` : ''}${run.server === 'service' ? ` ${JSON.stringify(run.xCache)}` : ''}`,
          );
        });
      }
    }
    return { runs, durationSeconds: seconds, startupMs };
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}
