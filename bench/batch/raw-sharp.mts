import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { rawTransform, type Recipe } from '../cases.js';
import { peakRssKb } from '../fresh/peak-rss.js';

/**
 * The batch section's baseline: raw sharp doing the worker's transforms on originals read from
 * local disk, each output written to a local folder. `concurrency` originals in flight, each read
 * once and its variants rendered one after the other, as the worker does; no S3, no checks, no
 * metadata read, no limits. sharp's settings are the service's (pipeline.ts: cache off).
 *
 * Usage: node --import tsx bench/batch/raw-sharp.mts <dir> <outDir> '<json: {recipes, icc, concurrency}>'  →  BENCH {…}
 */
interface Input {
  readonly recipes: readonly Recipe[];
  /** The originals carry an ICC profile (the pipeline then converts to sRGB and tags the output). */
  readonly icc: boolean;
  readonly concurrency: number;
}

const [dir, outDir, inputJson] = process.argv.slice(2) as [string, string, string];
const input = JSON.parse(inputJson) as Input;
sharp.cache(false);
const extension = { jpeg: 'jpg', webp: 'webp', avif: 'avif', png: 'png' } as const;

const cpu = process.cpuUsage();
const started = performance.now();
const files = readdirSync(dir).sort();
let next = 0;
let outputs = 0;
let bytesIn = 0;
let bytesOut = 0;

async function loop(): Promise<void> {
  for (let i = next++; i < files.length; i = next++) {
    const name = files[i]!;
    const original = await readFile(join(dir, name));
    bytesIn += original.length;
    const writes: Promise<void>[] = [];
    for (const [r, recipe] of input.recipes.entries()) {
      const out = await rawTransform(sharp, original, recipe, input.icc).toBuffer();
      bytesOut += out.length;
      // As the worker's PUT: the write goes on while the next variant renders.
      writes.push(writeFile(join(outDir, `${name}.${r}.${extension[recipe.format]}`), out).then(() => void outputs++));
    }
    await Promise.all(writes);
  }
}

await Promise.all(Array.from({ length: input.concurrency }, loop));
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const total = process.cpuUsage();
process.stdout.write(
  `BENCH ${JSON.stringify({
    outputs,
    seconds,
    bytesIn,
    bytesOut,
    cpuSeconds: (used.user + used.system) / 1e6,
    processCpuSeconds: (total.user + total.system) / 1e6,
    peakRssKb: peakRssKb(),
  })}\n`,
);
