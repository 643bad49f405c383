import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config.js';
import { createS3Client } from '../src/storage/s3-store.js';
import { apiEvent, HIT_CASES, MISS_CASES, rawTransform, type MissCase } from './cases.js';
import { report } from './children.js';
import type { Corpus } from './corpus.js';
import { summarize, type Summary } from './stats.js';

/**
 * Sections 1 and 2, in one fresh process: the real handler module (handlers/resize.ts, built at
 * import exactly as Lambda builds it) invoked with API Gateway v2 events against the local S3,
 * next to raw sharp and raw S3 GetObject doing the same work in the same process, with the same
 * sharp settings (the handler's import has already run pipeline.ts's `sharp.cache(false)`).
 * Every round runs each contender once, in a rotating order, so noise spreads evenly.
 *
 * Usage: tsx bench/in-process.mts '<json: {corpus, quick}>'  (S3 settings come from the environment)
 */
interface Input {
  readonly corpus: Corpus;
  readonly quick: boolean;
}

export interface MissResult {
  readonly id: string;
  readonly label: string;
  readonly target: number;
  readonly targetNote: string;
  readonly handler: Summary;
  readonly rawSharp: Summary;
  readonly rawGetSharp: Summary;
  /** Raw SDK calls in the handler's order (HEAD ‖ variant GET → GET original → sharp → PUT). */
  readonly rawSameCalls: Summary;
  /** Medians of the handler's own Server-Timing parts. */
  readonly serverTiming: { s3Read: number; transform: number; s3Write: number };
  /** CPU time (all threads) per call, median, ms. */
  readonly cpu: { handler: number; rawSharp: number };
  /** CPU time the local S3 process spent per call (mean over the run), ms. */
  readonly s3ServerCpu: { handler: number; rawGetSharp: number };
  readonly outputBytes: { handler: number; rawSharp: number; identical: boolean };
  readonly originalBytes: number;
}

export interface HitResult {
  readonly id: string;
  readonly label: string;
  readonly handler: Summary;
  readonly rawGet: Summary;
  /** HEAD of the original in parallel with the GET of the variant: the two calls a hit makes. */
  readonly rawHeadGet: Summary;
  readonly bytes: number;
  readonly cpu: { handler: number; rawGet: number };
  readonly s3ServerCpu: { handler: number; rawGet: number };
}

export interface InProcessResult {
  readonly misses: MissResult[];
  readonly hits: HitResult[];
  readonly concurrency: { id: string; threads1: Summary; threads2: Summary; cpuPerWall1: number }[];
  readonly sharp: { concurrency: number; cacheMaxItems: number; versions: Record<string, string | undefined> };
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const progress = (line: string) => process.stderr.write(`${line}\n`);

// The handler module reads its configuration from the environment at import, like in Lambda.
const { handler } = await import('../handlers/resize.js');
// The CommonJS sharp, the very instance pipeline.ts loaded (sharp ships separate ESM and CJS builds).
const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp').default;

const ORIGINALS = process.env.ORIGINALS_BUCKET!;
const VARIANTS = process.env.VARIANTS_BUCKET!;
// The raw side's own client, built with the service's transport settings (keep-alive agent,
// timeouts): a raw GetObject then differs from the handler's only by what the handler adds.
const client = createS3Client(loadConfig(process.env).s3);

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

function parseServerTiming(header: string | undefined): { s3Read: number; transform: number; s3Write: number } {
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

async function invoke(key: string, query: string, expect: 'hit' | 'miss') {
  const response = await handler(apiEvent(key, query) as never);
  if (response.statusCode !== 200 || response.headers['X-Cache'] !== expect) {
    throw new Error(`${key}?${query}: expected 200 ${expect}, got ${response.statusCode} ${response.headers['X-Cache']} ${response.body?.slice(0, 200)}`);
  }
  return response;
}

async function missCase(c: MissCase): Promise<MissResult> {
  const image = input.corpus[c.image];
  const original = readFileSync(image.file);
  const hasIcc = (await sharp(original).metadata()).icc !== undefined;
  const runs = input.quick ? Math.min(c.runs, 3) : c.runs;
  const samples = { handler: [] as number[], rawSharp: [] as number[], rawGetSharp: [] as number[], rawSameCalls: [] as number[] };
  const scratchKey = `bench-raw/${c.id}`;
  const cpu = { handler: [] as number[], rawSharp: [] as number[] };
  const timing = { s3Read: [] as number[], transform: [] as number[], s3Write: [] as number[] };
  const s3Cpu = { handler: 0, rawGetSharp: 0 };
  let handlerOut: Buffer | undefined;
  let rawOut: Buffer | undefined;
  const contenders = {
    handler: async (record: boolean) => {
      await clearVariants();
      const s3Before = s3CpuMs();
      const { value, ms, cpuMs } = await timed(() => invoke(image.key, c.query, 'miss'));
      if (record) s3Cpu.handler += s3CpuMs() - s3Before;
      handlerOut ??= Buffer.from(value.body ?? '', 'base64');
      if (!record) return;
      samples.handler.push(ms);
      cpu.handler.push(cpuMs);
      const t = parseServerTiming(value.headers['Server-Timing']);
      timing.s3Read.push(t.s3Read);
      timing.transform.push(t.transform);
      timing.s3Write.push(t.s3Write);
    },
    rawSharp: async (record: boolean) => {
      const { value, ms, cpuMs } = await timed(() => rawTransform(sharp, original, c.recipe, hasIcc).toBuffer());
      rawOut ??= value;
      if (!record) return;
      samples.rawSharp.push(ms);
      cpu.rawSharp.push(cpuMs);
    },
    rawGetSharp: async (record: boolean) => {
      const s3Before = s3CpuMs();
      const { ms } = await timed(async () => rawTransform(sharp, await getBytes(ORIGINALS, image.key), c.recipe, hasIcc).toBuffer());
      if (record) {
        samples.rawGetSharp.push(ms);
        s3Cpu.rawGetSharp += s3CpuMs() - s3Before;
      }
    },
    // The S3 calls a miss needs, made directly: what is left between this and the handler is
    // the handler's own work (parsing, spec, key, limits, base64, logging).
    rawSameCalls: async (record: boolean) => {
      const { ms } = await timed(async () => {
        await Promise.all([head(ORIGINALS, image.key), getBytes(VARIANTS, scratchKey).catch(() => undefined)]);
        const output = await rawTransform(sharp, await getBytes(ORIGINALS, image.key), c.recipe, hasIcc).toBuffer();
        await client.send(new PutObjectCommand({ Bucket: VARIANTS, Key: scratchKey, Body: output, ContentType: 'image/jpeg' }));
      });
      // Untimed: the next round's variant GET must be a 404 again.
      await client.send(new DeleteObjectCommand({ Bucket: VARIANTS, Key: scratchKey }));
      if (record) samples.rawSameCalls.push(ms);
    },
  };
  const names = Object.keys(contenders) as (keyof typeof contenders)[];
  for (let round = 0; round < c.warmup + runs; round++) {
    for (let i = 0; i < names.length; i++) {
      await contenders[names[(round + i) % names.length]!](round >= c.warmup);
    }
  }
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
    rawSharp: summarize(samples.rawSharp),
    rawGetSharp: summarize(samples.rawGetSharp),
    rawSameCalls: summarize(samples.rawSameCalls),
    serverTiming: { s3Read: median(timing.s3Read), transform: median(timing.transform), s3Write: median(timing.s3Write) },
    cpu: { handler: median(cpu.handler), rawSharp: median(cpu.rawSharp) },
    s3ServerCpu: { handler: s3Cpu.handler / runs, rawGetSharp: s3Cpu.rawGetSharp / runs },
    outputBytes: { handler: handlerOut!.length, rawSharp: rawOut!.length, identical: handlerOut!.equals(rawOut!) },
    originalBytes: original.length,
  };
  progress(
    `  miss ${c.id}: handler ${result.handler.median.toFixed(1)} ms, raw sharp ${result.rawSharp.median.toFixed(1)} ms, raw GET+sharp ${result.rawGetSharp.median.toFixed(1)} ms, raw same S3 calls+sharp ${result.rawSameCalls.median.toFixed(1)} ms`,
  );
  return result;
}

async function hitCase(c: (typeof HIT_CASES)[number]): Promise<HitResult> {
  const image = input.corpus[c.image];
  await clearVariants();
  await invoke(image.key, c.query, 'miss');
  const [variantKey] = await variantKeys();
  if (!variantKey) throw new Error(`${c.id}: no stored variant after a miss`);
  // Second request: the instance has now seen the original (its ETag guess lets the variant GET
  // run alongside the HEAD), as for every request but the first of a warm Lambda.
  await invoke(image.key, c.query, 'hit');
  const warmup = 10;
  const runs = input.quick ? 15 : 60;
  const samples = { handler: [] as number[], rawGet: [] as number[], rawHeadGet: [] as number[] };
  const cpu = { handler: [] as number[], rawGet: [] as number[] };
  const s3Cpu = { handler: 0, rawGet: 0 };
  let bytes = 0;
  const contenders = {
    handler: async (record: boolean) => {
      const s3Before = s3CpuMs();
      const { ms, cpuMs } = await timed(() => invoke(image.key, c.query, 'hit'));
      if (!record) return;
      samples.handler.push(ms);
      cpu.handler.push(cpuMs);
      s3Cpu.handler += s3CpuMs() - s3Before;
    },
    rawGet: async (record: boolean) => {
      const s3Before = s3CpuMs();
      const { value, ms, cpuMs } = await timed(() => getBytes(VARIANTS, variantKey));
      bytes = value.length;
      if (!record) return;
      samples.rawGet.push(ms);
      cpu.rawGet.push(cpuMs);
      s3Cpu.rawGet += s3CpuMs() - s3Before;
    },
    rawHeadGet: async (record: boolean) => {
      const { ms } = await timed(() => Promise.all([head(ORIGINALS, image.key), getBytes(VARIANTS, variantKey)]));
      if (record) samples.rawHeadGet.push(ms);
    },
  };
  const names = Object.keys(contenders) as (keyof typeof contenders)[];
  for (let round = 0; round < warmup + runs; round++) {
    for (let i = 0; i < names.length; i++) await contenders[names[(round + i) % names.length]!](round >= warmup);
  }
  const result: HitResult = {
    id: c.id,
    label: c.label,
    handler: summarize(samples.handler),
    rawGet: summarize(samples.rawGet),
    rawHeadGet: summarize(samples.rawHeadGet),
    bytes,
    cpu: { handler: median(cpu.handler), rawGet: median(cpu.rawGet) },
    s3ServerCpu: { handler: s3Cpu.handler / runs, rawGet: s3Cpu.rawGet / runs },
  };
  progress(`  ${c.id} (${bytes} B): handler ${result.handler.median.toFixed(2)} ms, raw GET ${result.rawGet.median.toFixed(2)} ms, raw HEAD ‖ GET ${result.rawHeadGet.median.toFixed(2)} ms`);
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
    const runs = input.quick ? 2 : c.runs > 10 ? 15 : 5;
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
};
report(result);
// The handler's S3 client keeps sockets open: leave without waiting for them.
process.exit(0);
