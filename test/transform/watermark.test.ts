import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { animatedGif, describeImage, meanColour } from '../../scripts/samples.js';
import { queryEntries } from '../../src/request/parse-request.js';
import { parseOperations } from '../../src/transform/operations.js';
import { renderVariant } from '../../src/transform/pipeline.js';
import { buildSpec, type TransformSpec } from '../../src/transform/spec.js';
import { madeFrom, sourceMetadata, variantId } from '../../src/transform/variant-key.js';
import { placeWatermark, scaleAlpha, type WatermarkImage } from '../../src/transform/watermark.js';
import { watermarkKey } from '../../src/watermarks.js';
import { TEST_LIMITS } from '../support/render.js';

/** Watermarks in the pipeline, with real sharp: a solid blue mark on a solid red image. */

const RED = [255, 0, 0];
const BLUE = [0, 0, 255];

const spec = (query: string): TransformSpec =>
  buildSpec(parseOperations(queryEntries(query)), { defaultQuality: 80, maxOutputPixels: 8192 * 8192 }).spec;

const solid = (width: number, height: number, colour: string, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background: colour } }).png().toBuffer();

const mark = (bytes: Buffer, name = 'logo.png'): WatermarkImage => ({ name, key: `watermarks/${name}`, bytes });

/** The colour of one pixel (alpha dropped), of the given frame. */
async function pixel(bytes: Buffer, left: number, top: number, page = 0): Promise<number[]> {
  return [...(await sharp(bytes, { page }).extract({ left, top, width: 1, height: 1 }).removeAlpha().raw().toBuffer())];
}

/** Where the blue is: the bounding box of the pixels that are mostly blue. */
async function blueBox(bytes: Buffer) {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let [left, top, right, bottom] = [Infinity, Infinity, -1, -1];
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * 3;
      if (data[i + 2]! > 200 && data[i]! < 60) {
        left = Math.min(left, x);
        top = Math.min(top, y);
        right = Math.max(right, x);
        bottom = Math.max(bottom, y);
      }
    }
  }
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}

describe('placeWatermark (sizes and offsets)', () => {
  const output = { width: 200, height: 100 };
  const logo = { width: 20, height: 20 };
  it.each([
    ['default: right bottom, natural size', {}, { width: 20, height: 20, left: 180, top: 80 }],
    ['markpad from the edges it touches', { markpad: 10 }, { width: 20, height: 20, left: 170, top: 70 }],
    ['center ignores markpad', { markpos: 'center', markpad: 10 }, { width: 20, height: 20, left: 90, top: 40 }],
    ['left top', { markpos: 'left top', markpad: 5 }, { width: 20, height: 20, left: 5, top: 5 }],
    ['top: centred across', { markpos: 'top' }, { width: 20, height: 20, left: 90, top: 0 }],
    ['markscale: a fraction of the output width, aspect kept', { markscale: 0.5 }, { width: 100, height: 100, left: 100, top: 0 }],
    ['scaled too large: fitted inside, never cropped', { markscale: 1 }, { width: 100, height: 100, left: 100, top: 0 }],
    ['fitted inside markpad', { markscale: 1, markpad: 10 }, { width: 80, height: 80, left: 110, top: 10 }],
  ] as const)('%s', (_, options, expected) => {
    expect(placeWatermark(output, logo, options as Partial<TransformSpec>)).toEqual(expected);
  });

  it('scales a watermark larger than the output down to fit, whatever its shape', () => {
    expect(placeWatermark({ width: 50, height: 40 }, { width: 400, height: 100 }, {})).toEqual({ width: 50, height: 13, left: 0, top: 27 });
    expect(placeWatermark({ width: 50, height: 40 }, { width: 100, height: 400 }, {})).toEqual({ width: 10, height: 40, left: 40, top: 0 });
  });

  it('keeps a watermark inside the output when markpad leaves no room', () => {
    expect(placeWatermark({ width: 30, height: 30 }, logo, { markpad: 20 })).toEqual({ width: 20, height: 20, left: 0, top: 0 });
  });

  it('multiplies the alpha channel only', () => {
    expect([...scaleAlpha(Buffer.from([10, 20, 30, 255, 1, 2, 3, 0, 4, 5, 6, 100]), 50)]).toEqual([10, 20, 30, 128, 1, 2, 3, 0, 4, 5, 6, 50]);
  });
});

describe('watermark names', () => {
  it.each(['../x.png', 'a/../../x.png', '/x.png', 'a//x.png', './x.png', 'a/./x.png', 'a\\..\\x.png', ''])('refuses %j', (name) => {
    expect(() => watermarkKey('watermarks/', name)).toThrow(expect.objectContaining({ statusCode: 400, code: 'invalid_param' }));
  });

  it('makes full keys below the watermarks prefix', () => {
    expect(watermarkKey('watermarks/', 'logo.png')).toBe('watermarks/logo.png');
    expect(watermarkKey('brand/marks/', 'dark/logo.png')).toBe('brand/marks/dark/logo.png');
  });
});

describe('variant keys with a watermark', () => {
  const original = { key: 'photos/cat.jpg', etag: '"abc"' };
  it('keep the keys of variants without one unchanged', () => {
    const plain = variantId('', original, spec('w=100'));
    expect(variantId('', { ...original, watermarkEtag: undefined }, spec('w=100'))).toEqual(plain);
  });

  it('keep their key but change their ETag and provenance with the watermark’s ETag', () => {
    const a = variantId('', { ...original, watermarkEtag: '"one"' }, spec('w=100&mark=logo.png'));
    const b = variantId('', { ...original, watermarkEtag: '"two"' }, spec('w=100&mark=logo.png'));
    expect(a.key).toBe(b.key);
    expect(a.etag).not.toBe(b.etag);
    expect(madeFrom(sourceMetadata({ ...original, watermarkEtag: '"one"' }), { ...original, watermarkEtag: 'two' })).toBe(false);
    expect(variantId('', { ...original, watermarkEtag: 'one' }, spec('w=100&mark=logo.png'))).toEqual(a);
  });
});

describe('renderVariant with a watermark', () => {
  it('lays it at the right bottom corner by default, the rest of the image untouched', async () => {
    const out = await renderVariant(await solid(200, 100, '#ff0000'), spec('mark=logo.png'), TEST_LIMITS, mark(await solid(20, 20, '#0000ff')));
    expect(await describeImage(out.data)).toMatchObject({ format: 'png', width: 200, height: 100, channels: 3 });
    expect(await blueBox(out.data)).toEqual({ left: 180, top: 80, width: 20, height: 20 });
    expect(await pixel(out.data, 199, 99)).toEqual(BLUE);
    expect(await pixel(out.data, 0, 0)).toEqual(RED);
  });

  it.each([
    ['markpad shifts it from the edges', 'mark=logo.png&markpad=10', { left: 170, top: 70, width: 20, height: 20 }],
    ['markpos=center', 'mark=logo.png&markpos=center', { left: 90, top: 40, width: 20, height: 20 }],
    ['markpos=left top', 'mark=logo.png&markpos=northwest', { left: 0, top: 0, width: 20, height: 20 }],
    ['markscale=0.5: 100 px wide on a 200 px output', 'mark=logo.png&markscale=0.5', { left: 100, top: 0, width: 100, height: 100 }],
    ['after the resize: on the 100 px wide output', 'w=100&mark=logo.png', { left: 80, top: 30, width: 20, height: 20 }],
  ])('%s', async (_, query, box) => {
    const out = await renderVariant(await solid(200, 100, '#ff0000'), spec(query), TEST_LIMITS, mark(await solid(20, 20, '#0000ff')));
    expect(await blueBox(out.data)).toEqual(box);
  });

  it('markalpha=50 blends it with the image', async () => {
    const out = await renderVariant(await solid(200, 100, '#ff0000'), spec('mark=logo.png&markalpha=50'), TEST_LIMITS, mark(await solid(20, 20, '#0000ff')));
    const [r, g, b] = await pixel(out.data, 190, 90);
    expect(r).toBeGreaterThan(110);
    expect(r).toBeLessThan(145);
    expect(g).toBe(0);
    expect(b).toBeGreaterThan(110);
    expect(b).toBeLessThan(145);
    expect(await pixel(out.data, 10, 10)).toEqual(RED);
  });

  it('keeps the image’s colour where the watermark is transparent', async () => {
    // Left half opaque blue, right half fully transparent.
    const rgba = Buffer.alloc(20 * 20 * 4);
    for (let i = 0; i < 400; i++) rgba.set(i % 20 < 10 ? [0, 0, 255, 255] : [0, 0, 255, 0], i * 4);
    const half = await sharp(rgba, { raw: { width: 20, height: 20, channels: 4 } }).png().toBuffer();
    const out = await renderVariant(await solid(200, 100, '#ff0000'), spec('mark=logo.png'), TEST_LIMITS, mark(half));
    expect(await pixel(out.data, 185, 90)).toEqual(BLUE);
    expect(await pixel(out.data, 195, 90)).toEqual(RED);
  });

  it('fits a watermark larger than the output inside it, never cropped', async () => {
    const out = await renderVariant(await solid(200, 100, '#ff0000'), spec('w=50&mark=logo.png'), TEST_LIMITS, mark(await solid(400, 100, '#0000ff')));
    expect(await describeImage(out.data)).toMatchObject({ width: 50, height: 25 });
    expect(await blueBox(out.data)).toEqual({ left: 0, top: 12, width: 50, height: 13 });
  });

  it('stays crisp and in colour after gray and blur', async () => {
    const out = await renderVariant(await solid(200, 100, '#ff0000'), spec('mark=logo.png&gray&blur=3&fm=png'), TEST_LIMITS, mark(await solid(20, 20, '#0000ff')));
    const [r, g, b] = await pixel(out.data, 190, 90);
    expect(b).toBeGreaterThan(230);
    expect(r! + g!).toBeLessThan(30);
    const [gr, gg, gb] = await pixel(out.data, 20, 20);
    expect(Math.abs(gr! - gg!) + Math.abs(gg! - gb!)).toBeLessThan(6);
    // Its edge is sharp: the blur was the image's, before the watermark.
    expect((await pixel(out.data, 180, 90))[2]).toBeGreaterThan(230);
  });

  it('goes inside the padding, which stays the padding colour', async () => {
    const out = await renderVariant(await solid(200, 100, '#ff0000'), spec('mark=logo.png&pad=10&bg=00ff00&fm=png'), TEST_LIMITS, mark(await solid(20, 20, '#0000ff')));
    expect(await describeImage(out.data)).toMatchObject({ width: 220, height: 120 });
    expect(await blueBox(out.data)).toEqual({ left: 190, top: 90, width: 20, height: 20 });
    expect(await pixel(out.data, 215, 115)).toEqual([0, 255, 0]);
  });

  it('is laid on every frame of an animation, which keeps its timing', async () => {
    const gif = await animatedGif(60, 40, 3);
    const plain = await sharp((await renderVariant(gif, spec('fm=webp'), TEST_LIMITS)).data, { animated: true }).metadata();
    const out = await renderVariant(gif, spec('mark=logo.png&markscale=0.25&fm=webp'), TEST_LIMITS, mark(await solid(20, 20, '#0000ff')));
    const meta = await sharp(out.data, { animated: true }).metadata();
    expect(meta).toMatchObject({ format: 'webp', pages: 3, pageHeight: 40, delay: plain.delay, loop: plain.loop });
    for (let page = 0; page < 3; page++) {
      expect(await pixel(out.data, 55, 35, page)).toEqual(BLUE);
      expect((await pixel(out.data, 5, 5, page))[2]).toBeGreaterThan(150);
      expect((await pixel(out.data, 5, 5, page))[0]).not.toBe(0);
    }
    const colours = await Promise.all([0, 1, 2].map(async (page) => (await pixel(out.data, 5, 5, page))[0]));
    expect(new Set(colours).size).toBe(3);
  });

  it('refuses a watermark that is not an image, naming it (422 undecodable_watermark)', async () => {
    const red = await solid(200, 100, '#ff0000');
    await expect(renderVariant(red, spec('mark=logo.png'), TEST_LIMITS, mark(Buffer.from('<html>no</html>')))).rejects.toMatchObject({
      statusCode: 422,
      code: 'undecodable_watermark',
      message: expect.stringContaining('"logo.png" (watermarks/logo.png)'),
    });
    const truncated = (await solid(20, 20, '#0000ff')).subarray(0, 60);
    await expect(renderVariant(red, spec('mark=logo.png'), TEST_LIMITS, mark(truncated))).rejects.toMatchObject({ statusCode: 422, code: 'undecodable_watermark' });
  });

  it('applies MAX_INPUT_PIXELS to the watermark (413 watermark_too_large)', async () => {
    await expect(
      renderVariant(await solid(20, 20, '#ff0000'), spec('mark=logo.png'), { ...TEST_LIMITS, maxInputPixels: 500 * 100 }, mark(await solid(400, 200, '#0000ff'))),
    ).rejects.toMatchObject({ statusCode: 413, code: 'watermark_too_large' });
  });

  it('is the same image for the same inputs (what a cached variant stands for)', async () => {
    const red = await solid(200, 100, '#ff0000');
    const logo = mark(await solid(20, 20, '#0000ff'));
    const [a, b] = await Promise.all([renderVariant(red, spec('mark=logo.png&w=120'), TEST_LIMITS, logo), renderVariant(red, spec('mark=logo.png&w=120'), TEST_LIMITS, logo)]);
    expect(a.data.equals(b.data)).toBe(true);
    expect(await meanColour(a.data)).not.toEqual(await meanColour(await solid(120, 60, '#ff0000')));
  });
});
