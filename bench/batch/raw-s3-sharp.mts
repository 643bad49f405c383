import { createRequire } from 'node:module';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { createS3Client } from '../../src/storage/s3-store.js';
import { rawTransform, type Recipe } from '../cases.js';
import { peakRssKb } from '../fresh/peak-rss.js';

/**
 * Where the worker's time goes, part 2: the S3 calls the worker makes, made directly with the
 * service's S3 client, around raw sharp — list the prefix; per original a HEAD of each variant
 * (→ 404) and one GET; per variant the transform and a PUT that overlaps the next render.
 * `concurrency` originals in flight. No job parsing, specs, keys, checks, logging or reports.
 *
 * Usage: node --import tsx bench/batch/raw-s3-sharp.mts <prefix> '<json: {recipes, icc, concurrency}>'  →  BENCH {…}
 * (S3 settings and buckets come from the environment, as the worker's do)
 */
interface Input {
  readonly recipes: readonly Recipe[];
  readonly icc: boolean;
  readonly concurrency: number;
}

const [prefix, inputJson] = process.argv.slice(2) as [string, string];
const input = JSON.parse(inputJson) as Input;
// The CommonJS sharp, as the service loads it; cache off as pipeline.ts sets it.
const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp').default;
sharp.cache(false);
const config = loadConfig(process.env);
const client = createS3Client(config.s3);
const contentType = { jpeg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', png: 'image/png' } as const;

async function* keys(): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: config.originalsBucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) yield object.Key!;
    token = page.NextContinuationToken;
  } while (token);
}

async function absent(key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: config.variantsBucket, Key: key }));
    return false;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return true;
    throw error;
  }
}

const cpu = process.cpuUsage();
const started = performance.now();
const source = keys();
let outputs = 0;
let bytesOut = 0;

async function loop(): Promise<void> {
  for (let item = await source.next(); !item.done; item = await source.next()) {
    const key = item.value;
    const variantKeys = input.recipes.map((_, r) => `raw/${key}/${r}`);
    const missing = await Promise.all(variantKeys.map(absent));
    const object = await client.send(new GetObjectCommand({ Bucket: config.originalsBucket, Key: key }));
    const original = Buffer.from(await object.Body!.transformToByteArray());
    const writes: Promise<unknown>[] = [];
    for (const [r, recipe] of input.recipes.entries()) {
      if (!missing[r]) continue;
      const out = await rawTransform(sharp, original, recipe, input.icc).toBuffer();
      bytesOut += out.length;
      writes.push(
        client
          .send(new PutObjectCommand({ Bucket: config.variantsBucket, Key: variantKeys[r]!, Body: out, ContentLength: out.length, ContentType: contentType[recipe.format] }))
          .then(() => void outputs++),
      );
    }
    await Promise.all(writes);
  }
}

// The async generator queues concurrent next() calls: each loop gets the next key in turn.
await Promise.all(Array.from({ length: input.concurrency }, loop));
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const total = process.cpuUsage();
client.destroy();
process.stdout.write(
  `BENCH ${JSON.stringify({
    outputs,
    seconds,
    bytesOut,
    cpuSeconds: (used.user + used.system) / 1e6,
    processCpuSeconds: (total.user + total.system) / 1e6,
    peakRssKb: peakRssKb(),
  })}\n`,
);
process.exit(0);
