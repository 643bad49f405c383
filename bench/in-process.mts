import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config.js';
import { makeResizeHandler } from '../src/http/resize-handler.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics, SERVICES } from '../src/observability/metrics.js';
import { createVariantService } from '../src/service.js';
import { createS3Client, createS3Store } from '../src/storage/s3-store.js';
import { apiEvent, HIT_CASES, MISS_CASES, rawTransform, type Format, type MissCase } from './cases.js';
import { report } from './children.js';
import type { Corpus } from './corpus.js';
import { summarize, type Summary } from './stats.js';

/**
 * Sections 1 and 2, in one fresh process: the real handler module (handlers/resize.ts, built at
 * import exactly as Lambda builds it) invoked with API Gateway v2 events against the local S3,
 * next to the baselines made with plain SDK calls and raw sharp in the same process, with
 * the same S3 client settings and the same sharp settings (the handler's import has already run
 * pipeline.ts's `sharp.cache(false)`). Every round runs each contender once, in a rotating order,
 * so drift and noise hit all of them alike.
 *
 *   miss baseline: GET of the original → sharp (the same operations and output) → PUT of the result
 *   hit baseline:  one GetObject of the stored variant, its body read to the end
 *
 * Hits are measured with FRESHNESS=strict and FRESHNESS=events side by side: the module's handler
 * runs in the mode the environment names (strict when unset), a second handler built the way
 * handlers/resize.ts builds one runs in the other. Until config.ts knows FRESHNESS, both are the
 * same service; the result says so (`freshness.recognised`).
 *
 * Usage: tsx bench/in-process.mts '<json: {corpus, quick}>'  (S3 settings come from the environment)
 */
interface Input {
  readonly corpus: Corpus;
  readonly quick: boolean;
}

export type Freshness = 'strict' | 'events';

export interface MissResult {
  readonly id: string;
  readonly label: string;
  readonly target: number;
  readonly targetNote: string;
  /** The handler on an original this instance has never seen (a fresh copy each time): the target's side. */
  readonly handler: Summary;
  /** The handler on the same original every time: its in-memory original and ETag as configured. */
  readonly handlerKnown: Summary;
  /** Raw GET of the original → raw sharp → raw PUT of the result, sequential. */
  readonly baseline: Summary;
  readonly rawSharp: Summary;
  /** Medians of the handler's own Server-Timing parts (new original; known original). */
  readonly serverTiming: { s3Read: number; transform: number; s3Write: number };
  readonly serverTimingKnown: { s3Read: number; transform: number; s3Write: number };
  /** CPU time (all threads) of this process per call, median, ms. */
  readonly cpu: { handler: number; baseline: number; rawSharp: number };
  /** CPU time the local S3 process spent per call (mean over the run), ms. */
  readonly s3ServerCpu: { handler: number; handlerKnown: number; baseline: number };
  readonly outputBytes: { handler: number; rawSharp: number; identical: boolean };
  readonly originalBytes: number;
}

export interface HitResult {
  readonly id: string;
  readonly label: string;
  /** FRESHNESS=strict (also what cost.ts models). */
  readonly handler: Summary;
  /** FRESHNESS=events. */
  readonly handlerEvents: Summary;
  readonly rawGet: Summary;
  /** GET of the variant ‖ HEAD of the original: two requests in one round trip, as a strict hit may make them. */
  readonly rawGetHead: Summary;
  readonly bytes: number;
  /** The handler's own Server-Timing s3-read, median (strict, events): the rest of its time is its own work. */
  readonly s3Read: { handler: number; handlerEvents: number };
  readonly cpu: { handler: number; handlerEvents: number; rawGet: number };
  readonly s3ServerCpu: { handler: number; handlerEvents: number; rawGet: number };
}

export interface InProcessResult {
  readonly misses: MissResult[];
  readonly hits: HitResult[];
  readonly concurrency: { id: string; threads1: Summary; threads2: Summary; cpuPerWall1: number }[];
  readonly sharp: { concurrency: number; cacheMaxItems: number; versions: Record<string, string | undefined> };
  readonly freshness: {
    /** The mode of the misses (and of the module's handler). */
    readonly misses: Freshness;
    /** Whether config.ts reads FRESHNESS: the two configs differ. */
    readonly recognised: boolean;
  };
  readonly originalCacheBytes: number;
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const progress = (line: string) => process.stderr.write(`${line}\n`);

// The handler module reads its configuration from the environment at import, like in Lambda.
const moduleMode: Freshness = process.env.FRESHNESS === 'events' ? 'events' : 'strict';
const otherMode: Freshness = moduleMode === 'strict' ? 'events' : 'strict';
const { handler: moduleHandler } = await import('../handlers/resize.js');
type Handler = typeof moduleHandler;

/** handlers/resize.ts's module scope, with FRESHNESS set: a second instance in the other mode. */
function buildHandler(env: NodeJS.ProcessEnv): Handler {
  const config = loadConfig(env);
  const log = createLogger(SERVICES.resize);
  const metrics = createMetrics(SERVICES.resize, config.metrics, log);
  return makeResizeHandler({ config, service: createVariantService(config, createS3Store(config), log), log, metrics });
}
const handlers: Record<Freshness, Handler> = {
  [moduleMode]: moduleHandler,
  [otherMode]: buildHandler({ ...process.env, FRESHNESS: otherMode }),
} as Record<Freshness, Handler>;
const configOf = (mode: Freshness) => JSON.stringify(loadConfig({ ...process.env, FRESHNESS: mode }));
const freshnessRecognised = configOf('strict') !== configOf('events');
if (!freshnessRecognised) progress('  FRESHNESS is not read by config.ts yet: the strict and events hit columns measure the same service');

// The CommonJS sharp, the very instance pipeline.ts loaded (sharp ships separate ESM and CJS builds).
const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp').default;

const config = loadConfig(process.env);
const ORIGINALS = config.originalsBucket;
const VARIANTS = config.variantsBucket;
// The raw side's own client, built with the service's transport settings (keep-alive agent,
// timeouts): a raw call then differs from the handler's only by what the handler adds.
const client = createS3Client(config.s3);
const CONTENT_TYPE: Record<Format, string> = { jpeg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', png: 'image/png' };

async function getBytes(bucket: string, key: string): Promise<Buffer> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await object.Body!.transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function head(bucket: string, key: string) {
  return client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

async function variantKeys(): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: VARIANTS, MaxKeys: 1000 }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

/** Untimed, before each timed miss: the next request for the same variant is a miss again. */
async function clearVariants(): Promise<void> {
  const keys = await variantKeys();
  if (keys.length > 0) {
    await client.send(new DeleteObjectsCommand({ Bucket: VARIANTS, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  }
}

const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

type Timing = { s3Read: number; transform: number; s3Write: number };
function parseServerTiming(header: string | undefined): Timing {
  const part = (name: string) => Number(new RegExp(`${name};dur=([\\d.]+)`).exec(header ?? '')?.[1] ?? Number.NaN);
  return { s3Read: part('s3-read'), transform: part('transform'), s3Write: part('s3-write') };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = await fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { value, ms, cpuMs: (used.user + used.system) / 1000 };
}

const median = (values: number[]) => summarize(values).median;
const medianTiming = (t: Timing[]): Timing => ({
  s3Read: median(t.map((x) => x.s3Read)),
  transform: median(t.map((x) => x.transform)),
  s3Write: median(t.map((x) => x.s3Write)),
});

// The local S3 runs in its own process on the same two cores; on AWS that work is not the
// function's. Its CPU time per call is measured from /proc (whole-run totals: 10 ms ticks).
const S3_PID = Number(process.env.BENCH_S3_PID ?? 0);
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);
function s3CpuMs(): number {
  if (!S3_PID) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${S3_PID}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return Number.NaN;
  }
}

async function invoke(handler: Handler, key: string, query: string, expect: 'hit' | 'miss') {
  const response = await handler(apiEvent(key, query) as never);
  if (response.statusCode !== 200 || response.headers['X-Cache'] !== expect) {
    throw new Error(`${key}?${query}: expected 200 ${expect}, got ${response.statusCode} ${response.headers['X-Cache']} ${response.body?.slice(0, 200)}`);
  }
  return response;
}

/** Runs every contender once per round, in an order that rotates by round; warm-up rounds unrecorded. */
async function rounds(contenders: Record<string, (record: boolean, round: number) => Promise<void>>, warmup: number, runs: number) {
  const names = Object.keys(contenders);
  for (let round = 0; round < warmup + runs; round++) {
    for (let i = 0; i < names.length; i++) await contenders[names[(round + i) % names.length]!]!(round >= warmup, round);
  }
}

async function missCase(c: MissCase): Promise<MissResult> {
  const image = input.corpus[c.image];
  const original = readFileSync(image.file);
  const hasIcc = (await sharp(original).metadata()).icc !== undefined;
  const runs = input.quick ? Math.min(c.runs, 3) : c.runs;
  const handler = handlers[moduleMode];
  const samples = { handler: [] as number[], handlerKnown: [] as number[], baseline: [] as number[], rawSharp: [] as number[] };
  const cpu = { handler: [] as number[], baseline: [] as number[], rawSharp: [] as number[] };
  const timing = { handler: [] as Timing[], handlerKnown: [] as Timing[] };
  const s3Cpu = { handler: 0, handlerKnown: 0, baseline: 0 };
  const scratchKey = `bench-raw/${c.id}`;
  let handlerOut: Buffer | undefined;
  let rawOut: Buffer | undefined;
  await rounds(
    {
      // An original the instance has never seen: a fresh copy (same bytes, another key), made and
      // removed untimed. Neither the in-memory original nor a remembered ETag can help.
      handler: async (record, round) => {
        const copy = `bench-copies/${c.id}/${round}-${image.key.split('/').pop()}`;
        await client.send(new CopyObjectCommand({ Bucket: ORIGINALS, Key: copy, CopySource: `${ORIGINALS}/${encodeKey(image.key)}` }));
        await clearVariants();
        const s3Before = s3CpuMs();
        const { value, ms, cpuMs } = await timed(() => invoke(handler, copy, c.query, 'miss'));
        const s3Used = s3CpuMs() - s3Before;
        await client.send(new DeleteObjectCommand({ Bucket: ORIGINALS, Key: copy }));
        handlerOut ??= Buffer.from(value.body ?? '', 'base64');
        if (!record) return;
        samples.handler.push(ms);
        cpu.handler.push(cpuMs);
        s3Cpu.handler += s3Used;
        timing.handler.push(parseServerTiming(value.headers['Server-Timing']));
      },
      // The same original every time, as when a page asks one instance for several sizes of it.
      handlerKnown: async (record) => {
        await clearVariants();
        const s3Before = s3CpuMs();
        const { value, ms } = await timed(() => invoke(handler, image.key, c.query, 'miss'));
        if (!record) return;
        samples.handlerKnown.push(ms);
        s3Cpu.handlerKnown += s3CpuMs() - s3Before;
        timing.handlerKnown.push(parseServerTiming(value.headers['Server-Timing']));
      },
      baseline: async (record) => {
        const s3Before = s3CpuMs();
        const { ms, cpuMs } = await timed(async () => {
          const output = await rawTransform(sharp, await getBytes(ORIGINALS, image.key), c.recipe, hasIcc).toBuffer();
          await client.send(new PutObjectCommand({ Bucket: VARIANTS, Key: scratchKey, Body: output, ContentType: CONTENT_TYPE[c.recipe.format] }));
        });
        const s3Used = s3CpuMs() - s3Before;
        // Untimed: the handler's PUT creates an object, so this one must too.
        await client.send(new DeleteObjectCommand({ Bucket: VARIANTS, Key: scratchKey }));
        if (!record) return;
        samples.baseline.push(ms);
        cpu.baseline.push(cpuMs);
        s3Cpu.baseline += s3Used;
      },
      rawSharp: async (record) => {
        const { value, ms, cpuMs } = await timed(() => rawTransform(sharp, original, c.recipe, hasIcc).toBuffer());
        rawOut ??= value;
        if (!record) return;
        samples.rawSharp.push(ms);
        cpu.rawSharp.push(cpuMs);
      },
    },
    c.warmup,
    runs,
  );
  const [handlerMeta, rawMeta] = await Promise.all([sharp(handlerOut!).metadata(), sharp(rawOut!).metadata()]);
  if (handlerMeta.width !== rawMeta.width || handlerMeta.height !== rawMeta.height || handlerMeta.format !== rawMeta.format) {
    throw new Error(
      `${c.id}: raw sharp does not do the same transform: ${handlerMeta.format} ${handlerMeta.width}×${handlerMeta.height} vs ${rawMeta.format} ${rawMeta.width}×${rawMeta.height}`,
    );
  }
  const result: MissResult = {
    id: c.id,
    label: c.label,
    target: c.target,
    targetNote: c.targetNote,
    handler: summarize(samples.handler),
    handlerKnown: summarize(samples.handlerKnown),
    baseline: summarize(samples.baseline),
    rawSharp: summarize(samples.rawSharp),
    serverTiming: medianTiming(timing.handler),
    serverTimingKnown: medianTiming(timing.handlerKnown),
    cpu: { handler: median(cpu.handler), baseline: median(cpu.baseline), rawSharp: median(cpu.rawSharp) },
    s3ServerCpu: { handler: s3Cpu.handler / runs, handlerKnown: s3Cpu.handlerKnown / runs, baseline: s3Cpu.baseline / runs },
    outputBytes: { handler: handlerOut!.length, rawSharp: rawOut!.length, identical: handlerOut!.equals(rawOut!) },
    originalBytes: original.length,
  };
  progress(
    `  miss ${c.id}: handler ${result.handler.median.toFixed(1)} ms (known original ${result.handlerKnown.median.toFixed(1)}), ` +
      `raw GET+sharp+PUT ${result.baseline.median.toFixed(1)} ms → ${(result.handler.median / result.baseline.median).toFixed(2)}×, raw sharp ${result.rawSharp.median.toFixed(1)} ms`,
  );
  return result;
}

async function hitCase(c: (typeof HIT_CASES)[number]): Promise<HitResult> {
  const image = input.corpus[c.image];
  await clearVariants();
  await invoke(handlers.strict, image.key, c.query, 'miss');
  const stored = await variantKeys();
  const variantKey = stored[0];
  if (!variantKey) throw new Error(`${c.id}: no stored variant after a miss`);
  if (stored.length > 1) progress(`  ${c.id}: ${stored.length} objects stored by one miss; the raw GET reads ${variantKey}`);
  // Each instance has now seen the original once more (its ETag and any freshness state), as for
  // every request but the first of a warm instance.
  await invoke(handlers.strict, image.key, c.query, 'hit');
  await invoke(handlers.events, image.key, c.query, 'hit');
  const runs = input.quick ? 15 : 80;
  const samples = { strict: [] as number[], events: [] as number[], rawGet: [] as number[], rawGetHead: [] as number[] };
  const cpu = { strict: [] as number[], events: [] as number[], rawGet: [] as number[] };
  const s3Cpu = { strict: 0, events: 0, rawGet: 0 };
  const s3Read = { strict: [] as number[], events: [] as number[] };
  let bytes = 0;
  const measure = (name: 'strict' | 'events' | 'rawGet', call: () => Promise<unknown>) => async (record: boolean) => {
    const s3Before = s3CpuMs();
    const { value, ms, cpuMs } = await timed(call);
    if (!record) return;
    if (name !== 'rawGet') s3Read[name].push(parseServerTiming((value as { headers: Record<string, string> }).headers['Server-Timing']).s3Read);
    samples[name].push(ms);
    cpu[name].push(cpuMs);
    s3Cpu[name] += s3CpuMs() - s3Before;
  };
  await rounds(
    {
      strict: measure('strict', () => invoke(handlers.strict, image.key, c.query, 'hit')),
      events: measure('events', () => invoke(handlers.events, image.key, c.query, 'hit')),
      rawGet: measure('rawGet', async () => void (bytes = (await getBytes(VARIANTS, variantKey)).length)),
      rawGetHead: async (record) => {
        const { ms } = await timed(() => Promise.all([getBytes(VARIANTS, variantKey), head(ORIGINALS, image.key)]));
        if (record) samples.rawGetHead.push(ms);
      },
    },
    10,
    runs,
  );
  const result: HitResult = {
    id: c.id,
    label: c.label,
    handler: summarize(samples.strict),
    handlerEvents: summarize(samples.events),
    rawGet: summarize(samples.rawGet),
    rawGetHead: summarize(samples.rawGetHead),
    bytes,
    s3Read: { handler: median(s3Read.strict), handlerEvents: median(s3Read.events) },
    cpu: { handler: median(cpu.strict), handlerEvents: median(cpu.events), rawGet: median(cpu.rawGet) },
    s3ServerCpu: { handler: s3Cpu.strict / runs, handlerEvents: s3Cpu.events / runs, rawGet: s3Cpu.rawGet / runs },
  };
  progress(
    `  ${c.id} (${bytes} B): strict ${result.handler.median.toFixed(2)} ms, events ${result.handlerEvents.median.toFixed(2)} ms, ` +
      `raw GET ${result.rawGet.median.toFixed(2)} ms, raw GET ‖ HEAD ${result.rawGetHead.median.toFixed(2)} ms`,
  );
  return result;
}

/** Does a second libvips thread help? (Lambda gives a second vCPU only from 3 538 MB up.) */
async function concurrencyCheck(): Promise<InProcessResult['concurrency']> {
  const out: InProcessResult['concurrency'] = [];
  const before = sharp.concurrency();
  for (const id of ['p16-webp800', 'p3-jpeg320']) {
    const c = MISS_CASES.find((m) => m.id === id)!;
    const original = readFileSync(input.corpus[c.image].file);
    const hasIcc = (await sharp(original).metadata()).icc !== undefined;
    const runs = input.quick ? 2 : c.runs > 15 ? 15 : 5;
    const t1: number[] = [];
    const t2: number[] = [];
    const cpuPerWall: number[] = [];
    for (let round = 0; round < runs + 1; round++) {
      for (const threads of round % 2 === 0 ? [1, 2] : [2, 1]) {
        sharp.concurrency(threads);
        const { ms, cpuMs } = await timed(() => rawTransform(sharp, original, c.recipe, hasIcc).toBuffer());
        if (round === 0) continue;
        (threads === 1 ? t1 : t2).push(ms);
        if (threads === 1) cpuPerWall.push(cpuMs / ms);
      }
    }
    sharp.concurrency(before);
    out.push({ id, threads1: summarize(t1), threads2: summarize(t2), cpuPerWall1: median(cpuPerWall) });
    progress(`  libvips threads ${id}: 1 → ${summarize(t1).median.toFixed(1)} ms, 2 → ${summarize(t2).median.toFixed(1)} ms`);
  }
  return out;
}

for (const image of Object.values(input.corpus)) {
  await client.send(
    new PutObjectCommand({ Bucket: ORIGINALS, Key: image.key, Body: readFileSync(image.file), ContentType: image.contentType }),
  );
}

const misses: MissResult[] = [];
for (const c of MISS_CASES) misses.push(await missCase(c));
const hits: HitResult[] = [];
for (const c of HIT_CASES) hits.push(await hitCase(c));
const concurrency = await concurrencyCheck();
await clearVariants();
client.destroy();

const cacheStats = sharp.cache() as { items: { max: number } };
const result: InProcessResult = {
  misses,
  hits,
  concurrency,
  sharp: { concurrency: sharp.concurrency(), cacheMaxItems: cacheStats.items.max, versions: { ...sharp.versions } },
  freshness: { misses: moduleMode, recognised: freshnessRecognised },
  originalCacheBytes: config.originalCacheBytes,
};
report(result);
// The handlers' S3 clients keep sockets open: leave without waiting for them.
process.exit(0);
