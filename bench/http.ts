import { execFileSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CopyObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import autocannon, { type Result } from 'autocannon';
import sharp from 'sharp';
import type { Recipe } from './cases.js';
import { localS3Env, startServer, TSX, type Server } from './children.js';
import type { Corpus, ImageId } from './corpus.js';
import { summarize } from './stats.js';

/**
 * Section 3: the engine (`npm run serve`, src/engine/server.ts) next to ipx serving the same
 * originals from disk, a raw baseline server (plain GetObject → raw sharp → plain PutObject behind
 * node:http) and the `npm start` stack (serverless-offline, a development emulator, kept for
 * reference), each in its own process, loaded with autocannon from this process over loopback at
 * concurrency 1 and 2, in short chunks that alternate between servers so drift hits all alike.
 * The engine and the raw baseline share a local S3 of their own (s3rver in its own process, the
 * engine under a variants prefix per FRESHNESS mode); the emulator brings its own, and the section
 * goes on without the emulator if it does not start.
 *
 * Misses must be new variants on every request. A variant's key follows from the original's key
 * and the spec; the spec is kept identical, so each request names its own copy of the original
 * (same bytes, another key: S3 CopyObject, and hard links for ipx). No in-memory original can help, and
 * every request does the work of the in-process miss. Every response's X-Cache is counted to
 * prove it. ipx keeps no result cache (it reads and renders on every request).
 *
 * Throughput is taken from response times: (responses − 1) / (last − first) per chunk, so the
 * requests cut off at the end of a chunk do not count against anyone. CPU time per request is
 * read from /proc for each process (server, local S3, this process = the load generator) from the
 * start of a chunk until every child is idle again, divided by the requests started. The peak RSS
 * of the engine, the raw baseline and ipx under the c=2 miss load is /proc's VmHWM, reset
 * (clear_refs 5) just before that load starts.
 */
export type ServerId = 'engine' | 'engine-events' | 'engine-hot' | 'ipx' | 'raw' | 'emulator';

export interface LoadRun {
  readonly server: ServerId;
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
  /** X-Cache values seen: a miss run must be all misses, a hit run all hits (ipx sends none). */
  readonly xCache: Record<string, number>;
  /**
   * CPU ms per request started: the server's process(es), the local S3, this process (autocannon),
   * and everything else the machine ran meanwhile (the other servers, other users of the machine).
   */
  readonly cpu: { readonly server: number; readonly s3: number; readonly client: number; readonly other: number };
  /** Medians of the server's own Server-Timing parts, ms (the engine and the emulator send them). */
  readonly serverTiming?: { readonly s3Read: number; readonly transform: number; readonly s3Write: number };
}

export interface RssRun {
  readonly server: ServerId;
  readonly workload: string;
  /** Idle, right after start-up. */
  readonly startMb: number;
  /** When its c=2 miss load began (what earlier loads left resident). */
  readonly beforeMb: number;
  readonly peakMb: number;
  readonly method: 'VmHWM' | 'polled VmRSS';
}

export interface OutputShape {
  readonly format: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
}

export interface HttpResult {
  readonly runs: LoadRun[];
  readonly rss: RssRun[];
  /** Seconds of load per server and concurrency, by workload and kind. */
  readonly seconds: Record<string, { readonly miss: number; readonly hit: number }>;
  readonly startupMs: number;
  readonly engine: { readonly concurrency: number; readonly queue: number; readonly freshnessRecognised: boolean };
  /** Why the emulator is missing from the runs, when it did not start. */
  readonly emulatorError?: string;
  /** One response of each server per workload: the same work means the same output. */
  readonly outputs: Record<string, Partial<Record<ServerId, OutputShape>>>;
  readonly workloads: { readonly id: string; readonly label: string }[];
}

interface Workload {
  readonly id: string;
  readonly label: string;
  readonly image: ImageId;
  readonly query: string;
  /** The same transform in ipx's URL syntax. */
  readonly ipxModifiers: string;
  readonly recipe: Recipe;
  /** In-process miss median (ms), to size the pool of copies. */
  readonly missMs: number;
  /** Seconds of misses per server and concurrency (a 16 MP miss takes a quarter of a second or more). */
  readonly missSeconds: number;
  /** Seconds of hits per server and concurrency; 0: no hits measured. */
  readonly hitSeconds: number;
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
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function copyKey(workload: string, n: number, original: string): string {
  return `bench/copies/${workload}/${n}-${original.split('/').pop()}`;
}

/** Hard links of every file below `from`, at the same paths below `to` (the objects are only read). */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) linkTree(join(from, entry.name), join(to, entry.name));
    else linkSync(join(from, entry.name), join(to, entry.name));
  }
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

// ─── /proc: CPU time and memory of the children ────────────────────────────────────────────────

function ownCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

function children(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** A process's descendants' CPU time (serverless-offline runs below the stack's process). */
function descendantsCpuMs(pid: number): number {
  return children(pid).reduce((sum, child) => sum + ownCpuMs(child) + descendantsCpuMs(child), 0);
}

/** CPU time of the whole machine (every core, user + system + irq + softirq + steal) so far, ms. */
function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * TICK_MS;
}

function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Starts a peak-RSS window: VmHWM reset to the current RSS, or polling when the kernel refuses. */
function peakWindow(pid: number): { beforeMb: number; stop(): { peakMb: number; method: RssRun['method'] } } {
  const beforeMb = statusMb(pid, 'VmRSS');
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return { beforeMb, stop: () => ({ peakMb: statusMb(pid, 'VmHWM'), method: 'VmHWM' }) };
  } catch {
    let peakMb = beforeMb;
    const timer = setInterval(() => (peakMb = Math.max(peakMb, statusMb(pid, 'VmRSS'))), 20);
    return { beforeMb, stop: () => (clearInterval(timer), { peakMb, method: 'polled VmRSS' }) };
  }
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Waits until the processes use less than a fifth of a core over 100 ms (requests cut off by the end of a chunk still finish). */
async function settle(cpuOf: () => number, maxMs = 5_000): Promise<void> {
  const until = performance.now() + maxMs;
  let last = cpuOf();
  while (performance.now() < until) {
    await sleep(100);
    const now = cpuOf();
    if (now - last < 20) return;
    last = now;
  }
}

// ─── autocannon ────────────────────────────────────────────────────────────────────────────────

interface Chunk {
  readonly started: number;
  readonly ok: number;
  /** Responses − 1 and the time from the first to the last response: the throughput's two sides. */
  readonly intervals: number;
  readonly span: number;
  readonly latencies: number[];
  readonly non2xx: number;
  readonly errors: number;
  readonly xCache: Record<string, number>;
  readonly timings: { s3Read: number; transform: number; s3Write: number }[];
  readonly cpu: { server: number; s3: number; client: number; other: number };
}

interface Target {
  readonly url: string;
  readonly path: () => string;
  /** CPU time of the server side, and of the local S3, in ms so far. */
  readonly serverCpu: () => number;
  readonly s3Cpu: () => number;
  /** CPU time of every child of the section, to wait until all are idle between chunks. */
  readonly allCpu: () => number;
}

function parseServerTiming(header: string): { s3Read: number; transform: number; s3Write: number } {
  const part = (name: string) => Number(new RegExp(`${name};dur=([\\d.]+)`).exec(header)?.[1] ?? Number.NaN);
  return { s3Read: part('s3-read'), transform: part('transform'), s3Write: part('s3-write') };
}

/** One bounded autocannon run, then a wait until the server is idle; everything recorded per response. */
async function load(target: Target, connections: number, seconds: number): Promise<Chunk> {
  const xCache: Record<string, number> = {};
  const latencies: number[] = [];
  const timings: Chunk['timings'] = [];
  const times: number[] = [];
  let started = 0;
  const before = { server: target.serverCpu(), s3: target.s3Cpu(), client: process.cpuUsage(), machine: machineBusyMs() };
  const result = await new Promise<Result>((res, rej) => {
    autocannon(
      {
        url: target.url,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 30,
        requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: target.path() }) }],
        setupClient: (client) => {
          (client as EventEmitter).on('request', () => void started++);
          client.on('headers', ({ headers }) => {
            for (let i = 0; i < headers.length; i += 2) {
              const name = headers[i]!.toLowerCase();
              if (name === 'x-cache') xCache[headers[i + 1]!] = (xCache[headers[i + 1]!] ?? 0) + 1;
              else if (name === 'server-timing') timings.push(parseServerTiming(headers[i + 1]!));
            }
          });
          client.on('response', (status, _bytes, responseTime) => {
            if (status < 200 || status >= 300) return;
            latencies.push(responseTime);
            times.push(performance.now());
          });
        },
      },
      (error, value) => (error ? rej(error) : res(value)),
    );
  });
  const client = process.cpuUsage(before.client);
  await settle(target.allCpu);
  const per = Math.max(1, started);
  const server = (target.serverCpu() - before.server) / per;
  const s3 = (target.s3Cpu() - before.s3) / per;
  const clientMs = (client.user + client.system) / 1000 / per;
  const machine = (machineBusyMs() - before.machine) / per;
  return {
    started,
    ok: times.length,
    intervals: Math.max(0, times.length - 1),
    span: times.length > 1 ? (times.at(-1)! - times[0]!) / 1000 : 0,
    latencies,
    non2xx: result.non2xx,
    errors: result.errors,
    xCache,
    timings,
    // The machine's total comes in whole ticks per core: "other" is ± a tick over the chunk.
    cpu: { server, s3, client: clientMs, other: Math.max(0, machine - server - s3 - clientMs) },
  };
}

function merge(server: ServerId, kind: LoadRun['kind'], workload: string, connections: number, seconds: number, chunks: Chunk[]): LoadRun {
  const sum = (f: (c: Chunk) => number) => chunks.reduce((n, c) => n + f(c), 0);
  const started = Math.max(1, sum((c) => c.started));
  const weighted = (f: (c: Chunk) => number) => sum((c) => f(c) * c.started) / started;
  const sorted = chunks.flatMap((c) => c.latencies).sort((a, b) => a - b);
  const xCache: Record<string, number> = {};
  for (const c of chunks) for (const [k, v] of Object.entries(c.xCache)) xCache[k] = (xCache[k] ?? 0) + v;
  const timings = chunks.flatMap((c) => c.timings);
  const median = (f: (t: (typeof timings)[number]) => number) => summarize(timings.map(f)).median;
  return {
    server,
    kind,
    workload,
    connections,
    seconds,
    requests: sum((c) => c.ok),
    rps: sum((c) => c.intervals) / sum((c) => c.span),
    p50: summarize(sorted).median,
    p99: sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? Number.NaN,
    non2xx: sum((c) => c.non2xx),
    errors: sum((c) => c.errors),
    xCache,
    cpu: {
      server: weighted((c) => c.cpu.server),
      s3: weighted((c) => c.cpu.s3),
      client: weighted((c) => c.cpu.client),
      other: weighted((c) => c.cpu.other),
    },
    ...(timings.length > 0 ? { serverTiming: { s3Read: median((t) => t.s3Read), transform: median((t) => t.transform), s3Write: median((t) => t.s3Write) } } : {}),
  };
}

async function outputShape(url: string): Promise<OutputShape | undefined> {
  const response = await fetch(url);
  if (!response.ok) return undefined;
  const body = Buffer.from(await response.arrayBuffer());
  const meta = await sharp(body).metadata();
  return { format: meta.format ?? '?', width: meta.width ?? 0, height: meta.height ?? 0, bytes: body.length };
}

// ─── the section ───────────────────────────────────────────────────────────────────────────────

type Info = { baseUrl: string; pid: number };

/** Puts the original and `size` copies of it into a local S3: CopyObject, 8 at a time. */
async function seedCopies(endpoint: string, workloads: readonly Workload[], corpus: Corpus, pools: ReadonlyMap<string, number>) {
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
  try {
    for (const w of workloads) {
      const image = corpus[w.image];
      await client.send(new PutObjectCommand({ Bucket: 'originals', Key: image.key, Body: readFileSync(image.file), ContentType: image.contentType }));
      const indexes = Array.from({ length: pools.get(w.id)! }, (_, n) => n);
      await inBatches(indexes, 8, (n) =>
        client.send(new CopyObjectCommand({ Bucket: 'originals', Key: copyKey(w.id, n, image.key), CopySource: `originals/${encodeKey(image.key)}` })),
      );
    }
  } finally {
    client.destroy();
  }
}

export async function httpSection(options: HttpOptions): Promise<HttpResult> {
  const { corpus, log } = options;
  // Per server, kind and concurrency: `rounds` chunks adding up to the workload's seconds.
  const scale = options.quick ? 0.4 : 1;
  const rounds = 2;
  const warmupSeconds = options.quick ? 1 : 1.5;
  const workloads: Workload[] = [
    { id: 'p3-jpeg320', label: '3 MP JPEG → 320w JPEG', image: 'photo3', query: 'w=320&fm=jpeg', ipxModifiers: 'w_320,f_jpeg,q_80', recipe: { width: 320, format: 'jpeg', quality: 80 }, missMs: options.missMs.small, missSeconds: 4 * scale, hitSeconds: 3 * scale },
    { id: 'p16-webp800', label: '16 MP progressive JPEG → 800w WebP', image: 'photo16p', query: 'w=800&fm=webp', ipxModifiers: 'w_800,f_webp,q_80', recipe: { width: 800, format: 'webp', quality: 80 }, missMs: options.missMs.large, missSeconds: 8 * scale, hitSeconds: 0 },
  ];
  // Enough copies for every miss request the engine or the emulator makes: at most one request per
  // in-process miss time per connection (HTTP only adds to it), with a margin; capped. Running out
  // would show as hits in the X-Cache counts. ipx and the raw baseline keep no variants: they may wrap.
  const pools = new Map(
    workloads.map((w) => [w.id, Math.min(2500, Math.ceil(((2 * warmupSeconds + 3 * w.missSeconds) * 1000 * 1.25) / Math.max(5, w.missMs)) + 20)]),
  );

  const started = performance.now();
  const servers: Server<unknown>[] = [];
  const runs: LoadRun[] = [];
  const rss: RssRun[] = [];
  const outputs: HttpResult['outputs'] = {};
  const keep = <T extends Server<unknown>>(server: T) => (servers.push(server), server);
  try {
    log('http: starting the engine (strict, events), its local S3, the raw baseline, ipx and the npm start stack (local S3 + serverless-offline) …');
    // The emulator is for reference only: without it the section still measures the engine.
    const stackData = join(options.work, 'emulator-s3');
    rmSync(stackData, { recursive: true, force: true });
    const stackStarting = startServer<Info & { s3Endpoint: string }>(TSX, ['bench/stack-child.mts', options.tree, stackData], {
      readyTimeoutMs: 120_000,
      timeoutMs: 900_000,
      log: (line) => log(`  [stack] ${line}`),
    }).then(keep);
    stackStarting.catch(() => undefined);
    const s3 = keep(
      await startServer<{ endpoint: string; pid: number; directory: string }>(TSX, ['bench/s3-child.mts', 'originals', 'variants'], {
        readyTimeoutMs: 60_000,
        timeoutMs: 900_000,
        log: (line) => log(`  [s3] ${line}`),
      }),
    );
    const s3Env = localS3Env(s3.info.endpoint);
    // hotSeconds: HOT_VARIANT_SECONDS, as a deployed engine sets it (5).
    const engineChild = (freshness: 'strict' | 'events', hotSeconds = 0) =>
      startServer<Info & { concurrency: number; queue: number; freshnessRecognised: boolean }>(TSX, ['bench/engine-child.mts', options.tree, 'engine'], {
        env: { ...s3Env, VARIANTS_PREFIX: `engine-${freshness}-${hotSeconds}/`, FRESHNESS: freshness, HOT_VARIANT_SECONDS: String(hotSeconds) },
        readyTimeoutMs: 60_000,
        timeoutMs: 900_000,
        // Its request log and metrics lines are JSON: only the rest is shown.
        log: (line) => {
          if (!line.startsWith('{')) log(`  [engine ${freshness}] ${line}`);
        },
      }).then(keep);
    const recipes = Object.fromEntries(workloads.map((w) => [w.id, { ...w.recipe, icc: corpus[w.image].icc }]));
    const ipxDir = join(options.work, 'ipx-root');
    const [engine, engineEvents, engineHot, raw, ipx] = await Promise.all([
      engineChild('strict'),
      engineChild('events'),
      engineChild('events', 5),
      startServer<Info>(TSX, ['bench/engine-child.mts', options.tree, 'raw', JSON.stringify(recipes)], {
        env: s3Env,
        readyTimeoutMs: 60_000,
        timeoutMs: 900_000,
        log: (line) => log(`  [raw] ${line}`),
      }).then(keep),
      startServer<Info>(TSX, ['bench/ipx-child.mts', ipxDir], { readyTimeoutMs: 60_000, timeoutMs: 900_000, log: (line) => log(`  [ipx] ${line}`) }).then(keep),
    ]);
    const startMb = new Map<ServerId, number>([
      ['engine', statusMb(engine.info.pid, 'VmRSS')],
      ['raw', statusMb(raw.info.pid, 'VmRSS')],
      ['ipx', statusMb(ipx.info.pid, 'VmRSS')],
    ]);
    await seedCopies(s3.info.endpoint, workloads, corpus, pools);
    // The emulator's local S3 gets the same objects as files: copies made through it would each
    // notify its syncVariants function, hundreds at once, which serverless-offline does not survive.
    linkTree(join(s3.info.directory, 'originals', 'bench'), join(stackData, 'originals', 'bench'));
    for (const w of workloads) {
      for (let n = 0; n < pools.get(w.id)!; n++) {
        const file = join(ipxDir, copyKey(w.id, n, corpus[w.image].key));
        mkdirSync(dirname(file), { recursive: true });
        linkSync(corpus[w.image].file, file);
      }
    }
    log(`http: copies per original: ${[...pools].map(([id, n]) => `${id} ${n}`).join(', ')}`);
    let emulatorError: string | undefined;
    const stack = await stackStarting.catch((error: unknown) => {
      emulatorError = (error as Error).message.split('\n')[0]!.slice(0, 300);
      log(`http: the emulator did not start, measured without it: ${emulatorError}`);
      return undefined;
    });
    const startupMs = performance.now() - started;
    log(
      `http: engine at ${engine.info.baseUrl} (concurrency ${engine.info.concurrency}, queue ${engine.info.queue}` +
        `${engine.info.freshnessRecognised ? '' : '; FRESHNESS not read by config.ts yet: strict and events are the same service'}), ` +
        `ipx at ${ipx.info.baseUrl}, raw at ${raw.info.baseUrl}, emulator at ${stack?.info.baseUrl ?? '—'} (${Math.round(startupMs / 1000)} s)`,
    );

    const own = (pid: number) => () => ownCpuMs(pid);
    const engineS3Cpu = own(s3.info.pid);
    const noS3 = () => 0;
    const childPids = [engine, engineEvents, engineHot, raw, ipx, s3].map((server) => (server.info as { pid: number }).pid);
    const allCpu = () => childPids.reduce((sum, pid) => sum + ownCpuMs(pid), 0) + (stack ? ownCpuMs(stack.info.pid) + descendantsCpuMs(stack.info.pid) : 0);
    const target = (url: string, path: () => string, serverCpu: () => number, s3Cpu: () => number): Target => ({ url, path, serverCpu, s3Cpu, allCpu });
    for (const w of workloads) {
      const key = corpus[w.image].key;
      const size = pools.get(w.id)!;
      // Every server walks the copies in the same order; the engine and the emulator must not wrap.
      const next = { engine: 0, emulator: 0, ipx: 0, raw: 0 };
      const copy = (server: keyof typeof next) => encodeKey(copyKey(w.id, next[server]++ % size, key));
      const hitPath = () => `/${encodeKey(key)}?${w.query}`;
      type Contender = { server: ServerId; target: Target };
      const misses: Contender[] = [
        { server: 'engine', target: target(engine.info.baseUrl, () => `/${copy('engine')}?${w.query}`, own(engine.info.pid), engineS3Cpu) },
        { server: 'ipx', target: target(ipx.info.baseUrl, () => `/${w.ipxModifiers}/${copy('ipx')}`, own(ipx.info.pid), noS3) },
        { server: 'raw', target: target(raw.info.baseUrl, () => `/${w.id}/${copy('raw')}`, own(raw.info.pid), engineS3Cpu) },
      ];
      // Hits: one stored variant per server (rendered by its warm-up), requested again and again.
      const hits: Contender[] = w.hitSeconds > 0
        ? [
            { server: 'engine', target: target(engine.info.baseUrl, hitPath, own(engine.info.pid), engineS3Cpu) },
            { server: 'engine-events', target: target(engineEvents.info.baseUrl, hitPath, own(engineEvents.info.pid), engineS3Cpu) },
            { server: 'engine-hot', target: target(engineHot.info.baseUrl, hitPath, own(engineHot.info.pid), engineS3Cpu) },
          ]
        : [];
      if (stack) {
        // Its local S3 runs in the stack's own process, serverless-offline below it.
        const emulator = (path: () => string) => target(stack.info.baseUrl, path, () => descendantsCpuMs(stack.info.pid), own(stack.info.pid));
        misses.push({ server: 'emulator', target: emulator(() => `/${copy('emulator')}?${w.query}`) });
        if (w.hitSeconds > 0) hits.push({ server: 'emulator', target: emulator(hitPath) });
      }
      // Warm-up at concurrency 2: serverless-offline starts a second function instance (a cold
      // start) the first time two requests overlap; that must not land in a measured run.
      for (const c of [...misses, ...hits]) await load(c.target, 2, warmupSeconds);
      outputs[w.id] = {};
      for (const c of misses) {
        const shape = await outputShape(`${c.target.url}${c.target.path()}`);
        if (shape) outputs[w.id]![c.server] = shape;
      }
      const shapes = Object.entries(outputs[w.id]!).map(([s, o]) => `${s} ${o.format} ${o.width}×${o.height} ${o.bytes} B`);
      log(`http: ${w.id} outputs: ${shapes.join(', ')}`);

      for (const [kind, contenders, seconds] of [
        ['miss', misses, w.missSeconds],
        ['hit', hits, w.hitSeconds],
      ] as const) {
        for (const connections of [1, 2]) {
          // The peak RSS under the c=2 miss load: from just before its first chunk to after its last.
          const windows =
            kind === 'miss' && connections === 2
              ? new Map([engine, raw, ipx].map((s, i) => [(['engine', 'raw', 'ipx'] as const)[i]!, peakWindow(s.info.pid)]))
              : undefined;
          const chunks = contenders.map(() => [] as Chunk[]);
          for (let round = 0; round < rounds; round++) {
            for (let i = 0; i < contenders.length; i++) {
              const index = (round + i) % contenders.length;
              chunks[index]!.push(await load(contenders[index]!.target, connections, seconds / rounds));
            }
          }
          for (const [server, window] of windows ?? []) {
            rss.push({ server, workload: w.id, startMb: startMb.get(server)!, beforeMb: window.beforeMb, ...window.stop() });
          }
          contenders.forEach((c, index) => {
            const run = merge(c.server, kind, w.id, connections, seconds, chunks[index]!);
            runs.push(run);
            log(
              `http: ${run.server} ${run.kind} ${w.id} c=${connections}: ${run.rps.toFixed(1)} req/s, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms, ` +
                `CPU ms/request server ${run.cpu.server.toFixed(1)}, S3 ${run.cpu.s3.toFixed(1)}, load generator ${run.cpu.client.toFixed(1)}, other ${run.cpu.other.toFixed(1)}` +
                `${run.non2xx || run.errors ? `, ${run.non2xx} non-2xx, ${run.errors} errors` : ''}${run.server === 'ipx' ? '' : ` ${JSON.stringify(run.xCache)}`}`,
            );
          });
        }
      }
      log(`http: ${w.id} peak RSS (c=2 misses): ${rss.filter((r) => r.workload === w.id).map((r) => `${r.server} ${r.peakMb.toFixed(0)} MB`).join(', ')}`);
    }
    return {
      runs,
      rss,
      seconds: Object.fromEntries(workloads.map((w) => [w.id, { miss: w.missSeconds, hit: w.hitSeconds }])),
      startupMs,
      engine: { concurrency: engine.info.concurrency, queue: engine.info.queue, freshnessRecognised: engine.info.freshnessRecognised },
      emulatorError,
      outputs,
      workloads: workloads.map((w) => ({ id: w.id, label: w.label })),
    };
  } finally {
    for (const server of servers.reverse()) await server.stop();
    rmSync(join(options.work, 'emulator-s3'), { recursive: true, force: true });
  }
}
