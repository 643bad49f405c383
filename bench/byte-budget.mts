import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fitByteBudget } from '../src/transform/byte-budget.js';
import { renderVariant, type RenderLimits } from '../src/transform/pipeline.js';
import type { TransformSpec } from '../src/transform/spec.js';
import { rawTransform, type Recipe } from './cases.js';
import { report } from './children.js';
import type { Corpus, ImageId } from './corpus.js';
import { summarize, type Summary } from './stats.js';

/**
 * Section 7, in one fresh process: what `maxbytes` costs. The service's render (renderVariant, no
 * S3: the transform alone) with a byte budget, next to the same render without one, one plain
 * sharp encode at q=80, and plain sharp doing the same bounded search by hand — re-running the
 * whole pipeline per attempt, or decoding once and encoding the raw pixels per attempt (what the
 * service does). Every round runs each contender once, in a rotating order.
 *
 * Usage: tsx bench/byte-budget.mts '<json: {corpus, quick}>'
 */
interface Input {
  readonly corpus: Corpus;
  readonly quick: boolean;
}

interface BudgetCase {
  readonly id: string;
  readonly label: string;
  readonly image: ImageId;
  readonly spec: TransformSpec & { maxbytes: number };
  readonly recipe: Recipe;
}

export const BUDGET_CASES: readonly BudgetCase[] = [
  {
    id: 'p3-webp800-30k',
    label: '3 MP JPEG → 800w WebP, maxbytes=30000',
    image: 'photo3',
    spec: { w: 800, fm: 'webp', maxbytes: 30_000 },
    recipe: { width: 800, format: 'webp', quality: 80 },
  },
  {
    id: 'p3-webp800-12k',
    label: '3 MP JPEG → 800w WebP, maxbytes=12000',
    image: 'photo3',
    spec: { w: 800, fm: 'webp', maxbytes: 12_000 },
    recipe: { width: 800, format: 'webp', quality: 80 },
  },
  {
    id: 'p3-jpeg800-30k',
    label: '3 MP JPEG → 800w JPEG, maxbytes=30000',
    image: 'photo3',
    spec: { w: 800, fm: 'jpeg', maxbytes: 30_000 },
    recipe: { width: 800, format: 'jpeg', quality: 80 },
  },
];

export interface Contender {
  readonly time: Summary;
  readonly bytes: number;
  readonly quality: number;
  readonly encodes: number;
  readonly fits: boolean;
}

export interface BudgetCaseResult {
  readonly id: string;
  readonly label: string;
  readonly maxBytes: number;
  /** renderVariant with maxbytes: decode + resize once, then the search's encodes of the raw pixels. */
  readonly service: Contender;
  /** renderVariant without maxbytes: the same transform at q=80. */
  readonly servicePlain: Contender;
  /** One plain sharp pipeline at q=80. */
  readonly rawOnce: Contender;
  /** Plain sharp, the same search, the whole pipeline (decode, resize, encode) per attempt. */
  readonly rawSearchFull: Contender;
  /** Plain sharp, the same search, decoded once to raw pixels, encoded per attempt. */
  readonly rawSearchReuse: Contender;
}

export interface BudgetBenchResult {
  readonly cases: BudgetCaseResult[];
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const progress = (line: string) => process.stderr.write(`${line}\n`);
// The CommonJS sharp, the very instance pipeline.ts loaded (sharp ships separate ESM and CJS builds).
const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp').default;

const limits: RenderLimits = { defaultQuality: 80, maxInputPixels: 100_000_000, maxOutputPixels: 8192 * 8192, maxFrames: 300, allowSvg: false };

type Outcome = { data: Buffer; quality: number; encodes: number; fits: boolean };

async function budgetCase(c: BudgetCase): Promise<BudgetCaseResult> {
  const original = readFileSync(input.corpus[c.image].file);
  const hasIcc = (await sharp(original).metadata()).icc !== undefined;
  const withQuality = (quality: number) => rawTransform(sharp, original, { ...c.recipe, quality }, hasIcc);
  const { maxbytes, ...plainSpec } = c.spec;

  const contenders: Record<keyof Omit<BudgetCaseResult, 'id' | 'label' | 'maxBytes'>, () => Promise<Outcome>> = {
    service: async () => {
      const variant = await renderVariant(original, c.spec, limits);
      return { data: variant.data, quality: variant.budget!.quality!, encodes: variant.budget!.encodes, fits: variant.budget!.fits };
    },
    servicePlain: async () => {
      const variant = await renderVariant(original, plainSpec, limits);
      return { data: variant.data, quality: 80, encodes: 1, fits: variant.data.length <= maxbytes };
    },
    rawOnce: async () => {
      const data = await withQuality(80).toBuffer();
      return { data, quality: 80, encodes: 1, fits: data.length <= maxbytes };
    },
    rawSearchFull: async () => {
      const found = await fitByteBudget(maxbytes, 80, (quality) => withQuality(quality).toBuffer());
      return { data: found.data, quality: found.quality!, encodes: found.encodes, fits: found.fits };
    },
    rawSearchReuse: async () => {
      // rawTransform's pipeline up to the encoder, rendered once; the same encoder options after.
      const { data, info } = await withQuality(80).raw().toBuffer({ resolveWithObject: true });
      const raw = { width: info.width, height: info.height, channels: info.channels as 3 };
      const found = await fitByteBudget(maxbytes, 80, (quality) => {
        let again = sharp(data, { raw });
        if (hasIcc) again = again.withIccProfile('srgb');
        return (c.recipe.format === 'jpeg' ? again.jpeg({ quality, progressive: true }) : again.webp({ quality })).toBuffer();
      });
      return { data: found.data, quality: found.quality!, encodes: found.encodes, fits: found.fits };
    },
  };

  const names = Object.keys(contenders) as (keyof typeof contenders)[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<(typeof names)[number], number[]>;
  const last = {} as Record<(typeof names)[number], Outcome>;
  const warmup = 1;
  const runs = input.quick ? 3 : 9;
  for (let round = 0; round < warmup + runs; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!;
      const started = performance.now();
      last[name] = await contenders[name]();
      if (round >= warmup) samples[name].push(performance.now() - started);
    }
  }
  const contender = (name: (typeof names)[number]): Contender => ({
    time: summarize(samples[name]),
    bytes: last[name].data.length,
    quality: last[name].quality,
    encodes: last[name].encodes,
    fits: last[name].fits,
  });
  const result: BudgetCaseResult = {
    id: c.id,
    label: c.label,
    maxBytes: maxbytes,
    service: contender('service'),
    servicePlain: contender('servicePlain'),
    rawOnce: contender('rawOnce'),
    rawSearchFull: contender('rawSearchFull'),
    rawSearchReuse: contender('rawSearchReuse'),
  };
  if (result.service.quality !== result.rawSearchReuse.quality) {
    throw new Error(`${c.id}: the service settled on q=${result.service.quality}, plain sharp's search on q=${result.rawSearchReuse.quality}`);
  }
  progress(
    `  ${c.id}: maxbytes ${result.service.time.median.toFixed(1)} ms (q=${result.service.quality}, ${result.service.encodes} encodes), ` +
      `plain sharp once ${result.rawOnce.time.median.toFixed(1)} ms, search by hand ${result.rawSearchFull.time.median.toFixed(1)} ms (full) / ${result.rawSearchReuse.time.median.toFixed(1)} ms (raw reused)`,
  );
  return result;
}

const cases: BudgetCaseResult[] = [];
for (const c of BUDGET_CASES) cases.push(await budgetCase(c));
report({ cases } satisfies BudgetBenchResult);
process.exit(0);
