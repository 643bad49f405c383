import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { describeImage, meanColour } from '../../scripts/samples.js';
import { TooLargeError, UndecodableImageError } from '../../src/errors.js';
import { decodeHeic } from '../../src/transform/heic.js';
import { renderVariant } from '../../src/transform/pipeline.js';
import type { TransformSpec } from '../../src/transform/spec.js';
import { withDeclaredSize } from '../support/heif-boxes.js';
import { render } from '../support/render.js';

/**
 * HEIC originals, decoded by libheif-js (WebAssembly) since sharp's libvips has no HEVC decoder.
 * The fixtures are real HEVC-coded files made with libheif's heif-enc (test/fixtures/heic/).
 */
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/heic', name));
/** 64×96 upright: stored 96×64 with irot and EXIF Orientation 6, Display P3. */
const portrait = fixture('portrait-p3.heic');
/** 96×64, left half opaque red, right half transparent. */
const alpha = fixture('alpha.heic');
/** Two images: 96×64 blue, and the primary, 48×32 green. */
const burst = fixture('burst.heic');


const BLUE = [0, 0, 255];
const GREEN = [0, 255, 0];
const RED = [255, 0, 0];
/** The portrait's orange in sRGB; stored in Display P3 numbers as about 186,88,67. */
const ORANGE = [200, 80, 60];

function expectColour(actual: number[], expected: number[], tolerance = 8): void {
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `channel ${i}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
}

/** Colours of the portrait's three parts, in an output of `width` × `height` showing it upright. */
async function portraitParts(data: Buffer, width: number, height: number) {
  const at = (x: number, y: number, w: number, h: number) =>
    meanColour(data, { left: Math.round(x * width), top: Math.round(y * height), width: Math.max(1, Math.round(w * width)), height: Math.max(1, Math.round(h * height)) });
  return { topLeft: await at(0.1, 0.05, 0.3, 0.2), field: await at(0.15, 0.45, 0.7, 0.2), bottom: await at(0.1, 0.8, 0.8, 0.15) };
}

describe('renderVariant: HEIC originals', () => {
  it('renders an iPhone-style portrait upright as JPEG: HEIF rotation applied once, EXIF orientation not again', async () => {
    // Stored 96×64, turned by its irot box; its EXIF says Orientation 6 (right-top) as well.
    expect(portrait.includes(Buffer.from('120103000100000006000000', 'hex'))).toBe(true);
    const variant = await render(portrait, {});
    expect(variant).toMatchObject({ format: 'jpeg', contentType: 'image/jpeg', width: 64, height: 96 });
    const image = await describeImage(variant.data);
    expect(image).toMatchObject({ format: 'jpeg', width: 64, height: 96, hasExif: false, orientation: undefined, hasIcc: true });
    const parts = await portraitParts(variant.data, 64, 96);
    expectColour(parts.topLeft, BLUE);
    expectColour(parts.bottom, GREEN);
  });

  it('honours the Display P3 profile: colours converted to sRGB, not read as sRGB numbers', async () => {
    const variant = await render(portrait, { fm: 'png' });
    expectColour((await portraitParts(variant.data, 64, 96)).field, ORANGE, 4);
    // The same pixels without their profile: the P3 numbers, visibly duller.
    const unprofiled = await decodeHeic(portrait, undefined);
    const asStored = await meanColour(unprofiled, { left: 10, top: 43, width: 44, height: 19 });
    expectColour(asStored, [186, 88, 67], 4);
  });

  it.each([
    [{ w: 32 }, 'jpeg', 32, 48],
    [{ h: 48, fm: 'webp' }, 'webp', 32, 48],
    [{ w: 40, fm: 'avif' }, 'avif', 40, 60],
    [{ fm: 'auto' }, 'jpeg', 64, 96],
    [{ w: 30, h: 30 }, 'jpeg', 30, 30],
    [{ rot: 90 }, 'jpeg', 96, 64],
  ] as const)('%j → %s %i×%i', async (spec, format, width, height) => {
    const variant = await render(portrait, spec as TransformSpec);
    expect(variant).toMatchObject({ format, width, height });
    expect(await describeImage(variant.data)).toMatchObject({ format: format === 'avif' ? 'heif' : format, width, height, pages: 1 });
  });

  it('turns and mirrors the upright image like any other original', async () => {
    // rot=90 turns the upright portrait clockwise: its top-left blue block ends top-right.
    const turned = await render(portrait, { rot: 90, fm: 'png' });
    expectColour(await meanColour(turned.data, { left: 70, top: 4, width: 20, height: 20 }), BLUE);
    const flopped = await render(portrait, { flop: true, fm: 'png' });
    expectColour(await meanColour(flopped.data, { left: 40, top: 4, width: 20, height: 20 }), BLUE);
    const gray = await describeImage((await render(portrait, { gray: true })).data);
    expect(gray).toMatchObject({ channels: 1, space: 'b-w' });
  });

  it('keeps alpha: PNG by default (HEIC is not a kept format), flattened onto white for JPEG', async () => {
    const png = await render(alpha, {});
    expect(png).toMatchObject({ format: 'png', width: 96, height: 64 });
    expect(await describeImage(png.data)).toMatchObject({ hasAlpha: true, channels: 4 });
    const { data, info } = await sharp(png.data).raw().toBuffer({ resolveWithObject: true });
    const pixel = (x: number, y: number) => [...data.subarray((y * info.width + x) * 4, (y * info.width + x) * 4 + 4)];
    expectColour(pixel(10, 30), [...RED, 255]);
    expect(pixel(80, 30)[3]).toBeLessThanOrEqual(8);

    const jpeg = await render(alpha, { fm: 'jpeg' });
    expectColour(await meanColour(jpeg.data, { left: 4, top: 4, width: 36, height: 56 }), RED);
    expectColour(await meanColour(jpeg.data, { left: 56, top: 4, width: 36, height: 56 }), [255, 255, 255]);
  });

  it('renders the primary image of a multi-image file (a burst), as one page', async () => {
    const webp = await render(burst, { fm: 'webp' });
    expect(webp).toMatchObject({ format: 'webp', width: 48, height: 32 });
    expect(await describeImage(webp.data)).toMatchObject({ pages: 1 });
    expectColour(await meanColour(webp.data), GREEN);
  });

  it('refuses an image over MAX_INPUT_PIXELS with 413, the size read from its header', async () => {
    const attempt = render(portrait, { w: 10 }, { maxInputPixels: 64 * 96 - 1 });
    await expect(attempt).rejects.toBeInstanceOf(TooLargeError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 413, code: 'input_too_large', message: `The original has ${64 * 96} pixels, over the limit of ${64 * 96 - 1}.` });
    await expect(render(portrait, { w: 10 }, { maxInputPixels: 64 * 96 })).resolves.toMatchObject({ width: 10 });
  });

  it('refuses a header claiming 30000×30000 without decoding anything', async () => {
    const liar = withDeclaredSize(portrait, 30_000, 30_000);
    expect((await sharp(liar, { limitInputPixels: false }).metadata()).width).toBe(30_000);
    const peakBefore = process.resourceUsage().maxRSS;
    const started = performance.now();
    const attempt = render(liar, { w: 100 });
    await expect(attempt).rejects.toMatchObject({ statusCode: 413, code: 'input_too_large', message: expect.stringContaining('900000000 pixels') });
    expect(performance.now() - started).toBeLessThan(1000);
    // Decoding would need 3.6 GB of RGBA (maxRSS is in kB).
    expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(100_000);
  });

  it.each([
    ['cut in half', () => portrait.subarray(0, Math.floor(portrait.length / 2))],
    ['cut inside its image data', () => portrait.subarray(0, portrait.length - 100)],
    ['cut after its ftyp box', () => portrait.subarray(0, 40)],
  ])('a truncated HEIC (%s) → 422 undecodable_image', async (_name, make) => {
    const attempt = render(make(), { w: 10 });
    await expect(attempt).rejects.toBeInstanceOf(UndecodableImageError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 422, code: 'undecodable_image' });
  });

  it('decodes the same file many times over in one instance (the module is loaded once, its memory reused)', async () => {
    for (let i = 0; i < 20; i++) expect((await render(burst, { fm: 'png' })).width).toBe(48);
  });
});
