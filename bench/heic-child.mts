import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import heicDecode from 'heic-decode';
import { decodeHeic } from '../src/transform/heic.js';
import { renderVariant, type RenderLimits } from '../src/transform/pipeline.js';
import { report } from './children.js';
import { summarize, type Summary } from './stats.js';

/**
 * Section 8, in fresh processes: an iPhone-style 12 MP HEIC through the service's pipeline
 * (renderVariant: header read, limits, libheif-js decode, sharp) against the plain way, heic-decode
 * then sharp from its RGBA, from the same buffer in the same process; and the same photo as a JPEG
 * through renderVariant, for scale.
 *
 * Usage: tsx bench/heic-child.mts timing '<json: {heic, jpeg, runs}>'   → BENCH {HeicTiming}
 *        tsx bench/heic-child.mts rss-service|rss-baseline|rss-jpeg '<json>'  → BENCH {HeicMemory}
 * (one render in a process of its own: its peak RSS is that render's).
 */
export interface HeicTiming {
  /** The first HEIC of the process: libheif-js loaded and compiled, then the render. */
  readonly firstMs: number;
  readonly service: Summary;
  readonly baseline: Summary;
  readonly jpeg: Summary;
  readonly decode: { readonly service: Summary; readonly baseline: Summary };
  readonly output: { readonly service: string; readonly baseline: string };
}

export interface HeicMemory {
  readonly maxRssMb: number;
  readonly rssAfterMb: number;
  readonly ms: number;
}

const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp').default;
const [mode, json] = process.argv.slice(2) as [string, string];
const input = JSON.parse(json) as { heic: string; jpeg: string; runs: number };
const heic = readFileSync(input.heic);
const jpeg = readFileSync(input.jpeg);
const limits: RenderLimits = { defaultQuality: 80, maxInputPixels: 100_000_000, maxOutputPixels: 8192 * 8192, maxFrames: 300, allowSvg: false };
const SPEC = { w: 800, fm: 'jpeg' } as const;

const service = async () => (await renderVariant(heic, SPEC, limits)).data;
/** What a developer writes with heic-decode: RGBA out (no ICC profile: read as sRGB), sharp in. */
const baseline = async () => {
  const { width, height, data } = await heicDecode({ buffer: heic });
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 4 } })
    .resize({ width: 800, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 80, progressive: true })
    .toBuffer();
};
const asJpeg = async () => (await renderVariant(jpeg, SPEC, limits)).data;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

if (mode === 'timing') {
  const firstMs = await timed(service);
  const samples = { service: [] as number[], baseline: [] as number[], jpeg: [] as number[], decodeService: [] as number[], decodeBaseline: [] as number[] };
  const icc = (await sharp(heic).metadata()).icc;
  const contenders: [keyof typeof samples, () => Promise<unknown>][] = [
    ['service', service],
    ['baseline', baseline],
    ['jpeg', asJpeg],
    ['decodeService', () => decodeHeic(heic, icc)],
    ['decodeBaseline', () => heicDecode({ buffer: heic })],
  ];
  // One untimed round (the baseline's own libheif-js instance loads here), then rounds in a
  // rotating order so that noise spreads evenly.
  for (const [, run] of contenders) await run();
  for (let round = 0; round < input.runs; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const [name, run] = contenders[(i + round) % contenders.length]!;
      samples[name].push(await timed(run));
    }
    process.stderr.write(`heic: round ${round + 1}/${input.runs}\n`);
  }
  const describe = async (data: Buffer) => {
    const meta = await sharp(data).metadata();
    return `${meta.width}×${meta.height} ${meta.format}, ${(data.length / 1e3).toFixed(0)} kB`;
  };
  report({
    firstMs,
    service: summarize(samples.service),
    baseline: summarize(samples.baseline),
    jpeg: summarize(samples.jpeg),
    decode: { service: summarize(samples.decodeService), baseline: summarize(samples.decodeBaseline) },
    output: { service: await describe(await service()), baseline: await describe(await baseline()) },
  } satisfies HeicTiming);
} else {
  const run = { 'rss-service': service, 'rss-baseline': baseline, 'rss-jpeg': asJpeg }[mode];
  if (!run) throw new Error(`unknown mode ${mode}`);
  const ms = await timed(run);
  report({ maxRssMb: process.resourceUsage().maxRSS / 1024, rssAfterMb: process.memoryUsage.rss() / 1e6, ms } satisfies HeicMemory);
}
