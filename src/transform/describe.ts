import { rgbaToThumbHash, thumbHashToRGBA } from 'thumbhash';
import type { OutputFormat } from './operations.js';

/**
 * `fm=json`: a description of the original and of what the other parameters make of it, instead
 * of the image. The pipeline (the only sharp user) renders the output to pixels and hands over
 * a ≤ PREVIEW_SIDE RGBA copy; this module turns that into a ThumbHash and the JSON body.
 * (Imported statically: thumbhash is one small file, and a dynamic import() does not resolve
 * under every loader the service runs in, tsx's among them.)
 */

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
/** ThumbHash takes at most 100×100 pixels. */
export const PREVIEW_SIDE = 100;

export interface OriginalFacts {
  /** After EXIF orientation; of one frame when animated. */
  readonly width: number;
  readonly height: number;
  /** jpeg, png, webp, gif, avif, heic, tiff, svg, … */
  readonly format: string;
  readonly bytes: number;
  readonly hasAlpha: boolean;
  readonly pages: number;
  /** libvips' interpretation: srgb, cmyk, b-w, … */
  readonly space?: string;
  /** EXIF orientation (1–8) as stored; already applied to width and height. */
  readonly orientation: number;
  /** Pixels per inch, when the file says. */
  readonly density?: number;
}

export interface OutputFacts {
  readonly width: number;
  readonly height: number;
  /** The format these parameters give without fm=json (the source's, or what fm=auto leaves). */
  readonly format: OutputFormat;
}

export interface Rgba {
  readonly width: number;
  readonly height: number;
  /** Not premultiplied, row by row. */
  readonly rgba: Uint8Array;
}

export interface Description extends OriginalFacts {
  readonly output: OutputFacts;
  /** The output's dominant colour, `#rrggbb`. */
  readonly dominant: string;
  /** The output's ThumbHash, base64. */
  readonly thumbhash: string;
  /** The ThumbHash rendered as a tiny image, ready for `<img src>` or CSS. */
  readonly placeholder: string;
}

export interface DescribeInput {
  readonly original: OriginalFacts;
  readonly output: OutputFacts;
  /** The output scaled to fit PREVIEW_SIDE × PREVIEW_SIDE. */
  readonly preview: Rgba;
}

/** Encodes the decoded ThumbHash as a small image: WebP, a few hundred bytes. */
export type PlaceholderEncoder = (image: Rgba) => Promise<Buffer>;

const hex = (value: number) => Math.max(0, Math.min(255, Math.round(value))).toString(16).padStart(2, '0');

/**
 * The most common colour of the visible pixels: a histogram of 16 levels per channel, each pixel
 * counted by its opacity (sharp's stats().dominant counts transparent pixels as black and answers
 * the bin's centre), then the mean colour of the winning bin, so a flat red is #ff0000.
 */
export function dominantColour({ rgba }: Rgba): string {
  const bin = (i: number) => ((rgba[i]! >> 4) << 8) | ((rgba[i + 1]! >> 4) << 4) | (rgba[i + 2]! >> 4);
  // A sliver of weight for transparent pixels: an image with none visible still has an answer.
  const weight = (i: number) => rgba[i + 3]! + 1e-3;
  const weights = new Float64Array(4096);
  for (let i = 0; i < rgba.length; i += 4) weights[bin(i)]! += weight(i);
  let best = 0;
  for (let b = 1; b < weights.length; b++) if (weights[b]! > weights[best]!) best = b;
  const sum = [0, 0, 0];
  for (let i = 0; i < rgba.length; i += 4) {
    if (bin(i) !== best) continue;
    for (let c = 0; c < 3; c++) sum[c]! += rgba[i + c]! * weight(i);
  }
  return `#${sum.map((v) => hex(v / weights[best]!)).join('')}`;
}

export async function describe(input: DescribeInput, encodePlaceholder: PlaceholderEncoder): Promise<{ description: Description; body: Buffer }> {
  const { preview } = input;
  const hash = rgbaToThumbHash(preview.width, preview.height, preview.rgba);
  // thumbHashToDataURL would give an uncompressed PNG (about 4 kB as a data URL); the same
  // pixels as WebP are a few hundred bytes.
  const decoded = thumbHashToRGBA(hash);
  const placeholder = await encodePlaceholder({ width: decoded.w, height: decoded.h, rgba: decoded.rgba });
  const description: Description = {
    ...input.original,
    output: input.output,
    dominant: dominantColour(preview),
    thumbhash: Buffer.from(hash).toString('base64'),
    placeholder: `data:image/webp;base64,${placeholder.toString('base64')}`,
  };
  return { description, body: Buffer.from(JSON.stringify(description)) };
}
