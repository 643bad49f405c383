import sharp from 'sharp';
import { thumbHashToApproximateAspectRatio, thumbHashToRGBA } from 'thumbhash';
import { beforeAll, describe, expect, it } from 'vitest';
import { alphaPng, animatedGif, describeImage, encodeAs, meanColour, photoLikeJpeg, photoLikeRaw } from '../../scripts/samples.js';
import { parseOperations } from '../../src/transform/operations.js';
import { MAX_ENCODES, MIN_QUALITY, QUALITY_STEP } from '../../src/transform/byte-budget.js';
import type { Description } from '../../src/transform/describe.js';
import { ifd0Values, readKeptExif } from '../../src/transform/exif-copyright.js';
import { renderVariant } from '../../src/transform/pipeline.js';
import { buildSpec, type TransformSpec } from '../../src/transform/spec.js';
import { render, TEST_LIMITS } from '../support/render.js';

/**
 * Issue 14, output control, with real sharp: maxbytes (a bounded quality search over pixels
 * rendered once), meta=copyright (two EXIF fields kept, nothing else) and fm=json (a description
 * with a ThumbHash instead of the image).
 */
const specOf = (query: string, accept?: string) =>
  buildSpec(parseOperations([...new URLSearchParams(query)]), { defaultQuality: 80, maxOutputPixels: 8192 * 8192, accept }).spec;

let photo: Buffer; // 1800×1200 (2.2 MP) photo-like JPEG

beforeAll(async () => {
  photo = await photoLikeJpeg(1800, 1200, { seed: 11 });
});

describe('maxbytes', () => {
  let sizes: Map<number, number>;
  const sizeAt = (q: number) => sizes.get(q)!;

  beforeAll(async () => {
    // What each quality of the grid weighs, encoded the ordinary way (no maxbytes).
    sizes = new Map();
    for (let q = MIN_QUALITY; q <= 80; q += QUALITY_STEP) sizes.set(q, (await render(photo, { q })).data.length);
  });

  it('the grid qualities of this photo weigh more as the quality rises', () => {
    const weights = [...sizes.values()];
    expect(weights).toEqual([...weights].sort((a, b) => a - b));
    expect(sizeAt(80)).toBeGreaterThan(sizeAt(MIN_QUALITY) * 3);
  });

  it.each([0.2, 0.5, 0.8, 0.95])('fits a budget at %f of the way from the lowest to the default quality, at the highest quality that fits', async (at) => {
    const budget = Math.round(sizeAt(MIN_QUALITY) + at * (sizeAt(80) - sizeAt(MIN_QUALITY)));
    const variant = await render(photo, { maxbytes: budget });
    expect(variant).toMatchObject({ format: 'jpeg', width: 1800, height: 1200 });
    expect(variant.data.length).toBeLessThanOrEqual(budget);
    const { quality, fits, encodes } = variant.budget!;
    expect(fits).toBe(true);
    expect(encodes).toBeLessThanOrEqual(MAX_ENCODES);
    expect(quality).toBeLessThan(80);
    // The next step up does not fit, and the answer is exactly the ordinary encode at that quality.
    expect(sizeAt(quality! + QUALITY_STEP)).toBeGreaterThan(budget);
    expect(variant.data.length).toBe(sizeAt(quality!));
    expect(await describeImage(variant.data)).toMatchObject({ format: 'jpeg', width: 1800, height: 1200, isProgressive: true, hasExif: false });
  });

  it('answers the requested quality in one encode when it fits already', async () => {
    const variant = await render(photo, { maxbytes: sizeAt(80) + 1 });
    expect(variant.budget).toEqual({ fits: true, quality: 80, encodes: 1 });
    const explicit = await render(photo, { q: 60, maxbytes: sizeAt(60) });
    expect(explicit.budget).toEqual({ fits: true, quality: 60, encodes: 1 });
  });

  it('searches down from q when q is given', async () => {
    const variant = await render(photo, { q: 50, maxbytes: sizeAt(45) - 1 });
    expect(variant.budget).toMatchObject({ fits: true });
    expect(variant.budget!.quality).toBeLessThan(45);
  });

  it('answers the smallest image, marked as exceeded, when even the lowest quality does not fit', async () => {
    const variant = await render(photo, { maxbytes: 1024 });
    expect(variant.budget).toMatchObject({ fits: false, quality: MIN_QUALITY });
    expect(variant.budget!.encodes).toBeLessThanOrEqual(MAX_ENCODES);
    expect(variant.data.length).toBe(sizeAt(MIN_QUALITY));
    expect(await describeImage(variant.data)).toMatchObject({ format: 'jpeg', width: 1800, height: 1200 });
  });

  it.each([
    ['image/avif,image/webp', 'avif', 'heif'],
    ['image/webp', 'webp', 'webp'],
    ['*/*', 'jpeg', 'jpeg'],
  ] as const)('with fm=auto (Accept %s) searches %s', async (accept, format, sharpName) => {
    const plain = await render(photo, specOf('w=600&fm=auto', accept));
    const budget = Math.round(plain.data.length * 0.6);
    const spec = specOf(`w=600&fm=auto&maxbytes=${budget}`, accept);
    const variant = await render(photo, spec);
    expect(variant).toMatchObject({ format, width: 600, height: 400, budget: { fits: true } });
    expect(variant.data.length).toBeLessThanOrEqual(budget);
    expect(variant.budget!.quality).toBeLessThan(80);
    expect(variant.budget!.encodes).toBeLessThanOrEqual(MAX_ENCODES);
    expect(await describeImage(variant.data)).toMatchObject({ format: sharpName, width: 600, height: 400 });
  });

  it('fm=auto that comes out as PNG (alpha, a client without AVIF/WebP) reports the budget without lowering anything', async () => {
    const alpha = await alphaPng(200, 200);
    const small = await render(alpha, specOf('fm=auto&maxbytes=1024'));
    expect(small).toMatchObject({ format: 'png', budget: { fits: false, encodes: 1 } });
    expect(small.budget!.quality).toBeUndefined();
    expect((await render(alpha, specOf('fm=auto&maxbytes=1000000'))).budget).toEqual({ fits: true, encodes: 1 });
  });

  it.each([
    ['a PNG', () => alphaPng(64, 64), 'PNG'],
    ['a GIF', () => animatedGif(32, 24, 3), 'GIF'],
    ['a TIFF with alpha', () => sharp(photo).resize(64).ensureAlpha().tiff({ compression: 'deflate' }).toBuffer(), 'PNG'],
  ])('refuses %s original without fm with 400 naming the formats to ask for', async (_name, make, kept) => {
    const attempt = render(await make(), { maxbytes: 5000 });
    await expect(attempt).rejects.toMatchObject({ statusCode: 400, code: 'invalid_param' });
    await expect(attempt).rejects.toThrow(new RegExp(`stays ${kept}.*fm=jpeg, fm=webp or fm=avif`));
  });

  it('keeps what the direct encode keeps: one grey channel, an sRGB profile, the EXIF of meta=copyright', async () => {
    const gray = await render(photo, { w: 300, gray: true, maxbytes: 6000 });
    expect(await describeImage(gray.data)).toMatchObject({ format: 'jpeg', channels: 1, space: 'b-w', width: 300 });
    expect(gray.data.length).toBeLessThanOrEqual(6000);

    const p3 = await sharp(photo).resize(300).withIccProfile('p3').jpeg().toBuffer();
    const direct = await render(p3, { q: 40 });
    const searched = await render(p3, { maxbytes: direct.data.length });
    expect(searched.budget).toMatchObject({ fits: true, quality: 40 });
    expect(searched.data.equals(direct.data)).toBe(true);
    expect(await describeImage(searched.data)).toMatchObject({ hasIcc: true, space: 'srgb' });

    const credited = await sharp(photo).resize(300).withExif({ IFD0: { Copyright: 'Jane', Make: 'TestCam' } }).jpeg().toBuffer();
    const kept = await render(credited, { meta: 'copyright', maxbytes: 9000, fm: 'webp' });
    expect(kept.data.length).toBeLessThanOrEqual(9000);
    expect(readKeptExif((await sharp(kept.data).metadata()).exif)).toEqual({ Copyright: 'Jane' });
  });

  describe('animated WebP output', () => {
    let animation: Buffer; // 3 photo-like frames of 240×160, 120 ms each
    beforeAll(async () => {
      const frames = await Promise.all(
        [1, 2, 3].map(async (seed) => sharp(await photoLikeRaw(240, 160, seed), { raw: { width: 240, height: 160, channels: 3 } }).png().toBuffer()),
      );
      animation = await sharp(frames, { join: { animated: true } }).webp({ quality: 90, delay: [120, 120, 120], loop: 2 }).toBuffer();
    });

    it('searches too, and stays animated with its timing', async () => {
      const plain = await render(animation, { w: 120 });
      const budget = Math.round(plain.data.length * 0.6);
      const variant = await render(animation, { w: 120, maxbytes: budget });
      expect(variant).toMatchObject({ format: 'webp', width: 120, height: 80, budget: { fits: true } });
      expect(variant.data.length).toBeLessThanOrEqual(budget);
      const meta = await sharp(variant.data, { animated: true }).metadata();
      expect(meta).toMatchObject({ pages: 3, pageHeight: 80, width: 120, delay: [120, 120, 120], loop: 2 });
    });

    it('from a GIF with fm=webp', async () => {
      const gif = await sharp(animation, { animated: true }).gif().toBuffer();
      const variant = await render(gif, { fm: 'webp', maxbytes: 4000 });
      expect(variant).toMatchObject({ format: 'webp', width: 240, height: 160 });
      expect(await describeImage(variant.data)).toMatchObject({ format: 'webp', pages: 3 });
      expect(variant.budget!.fits ? variant.data.length <= 4000 : variant.budget!.quality === MIN_QUALITY).toBe(true);
    });
  });
});

describe('meta=copyright', () => {
  let tagged: Buffer; // 300×200 stored with orientation 6, camera, dates, GPS and XMP besides the credits
  const COPYRIGHT = '(c) 2024 Jane Doe (Studio)';
  beforeAll(async () => {
    tagged = await sharp(await photoLikeJpeg(300, 200, { seed: 4 }))
      .withExif({
        // " ()": libvips would otherwise take the trailing " (Studio)" for its own annotation.
        IFD0: { Copyright: `${COPYRIGHT} ()`, Artist: 'Jane Doe', Make: 'TestCam', Model: 'Model X', Software: 'SecretApp' },
        IFD2: { DateTimeOriginal: '2024:01:02 03:04:05', ExposureTime: '1/250' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 3230/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 4366/100' },
      })
      .withMetadata({ orientation: 6 })
      .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
      .jpeg()
      .toBuffer();
  });

  it('the generated original carries all of it', async () => {
    const meta = await sharp(tagged).metadata();
    expect(readKeptExif(meta.exif)).toEqual({ Copyright: COPYRIGHT, Artist: 'Jane Doe' });
    expect(ifd0Values(meta.exif).has(0x8825)).toBe(true); // GPS IFD pointer
    expect(meta.exif!.includes('TestCam')).toBe(true);
    expect(meta.xmp).toBeDefined();
  });

  it.each(['jpeg', 'webp', 'avif', 'png'] as const)('keeps Copyright and Artist in %s, and nothing else', async (fm) => {
    const { data, width, height } = await render(tagged, { w: 100, fm, meta: 'copyright' });
    expect({ width, height }).toEqual({ width: 100, height: 150 });
    const meta = await sharp(data).metadata();
    expect(readKeptExif(meta.exif)).toEqual({ Copyright: COPYRIGHT, Artist: 'Jane Doe' });
    const tags = ifd0Values(meta.exif);
    for (const [tag, name] of [[0x8825, 'GPS'], [0x010f, 'Make'], [0x0110, 'Model'], [0x0131, 'Software']] as const) {
      expect(tags.has(tag), name).toBe(false);
    }
    for (const leak of ['TestCam', 'Model X', 'SecretApp', '2024:01:02']) expect(meta.exif!.includes(leak), leak).toBe(false);
    expect(meta.xmp).toBeUndefined();
    // Upright already: no orientation other than 1 is written.
    expect(meta.orientation ?? 1).toBe(1);
  });

  it('strips everything by default', async () => {
    const meta = await sharp((await render(tagged, { w: 100 })).data).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
  });

  it('writes nothing when the original has no credits, and nothing into GIF', async () => {
    const plain = await photoLikeJpeg(60, 40);
    expect((await sharp((await render(plain, { meta: 'copyright' })).data).metadata()).exif).toBeUndefined();
    expect((await sharp((await render(tagged, { fm: 'gif', w: 40, meta: 'copyright' })).data).metadata()).exif).toBeUndefined();
  });

  it('keeps one field when the original has one', async () => {
    const artistOnly = await sharp(await photoLikeJpeg(60, 40)).withExif({ IFD0: { Artist: 'Solo' } }).jpeg().toBuffer();
    expect(readKeptExif((await sharp((await render(artistOnly, { meta: 'copyright' })).data).metadata()).exif)).toEqual({ Artist: 'Solo' });
  });
});

describe('fm=json', () => {
  const json = async (bytes: Buffer, spec: TransformSpec) => {
    const variant = await render(bytes, { ...spec, fm: 'json' });
    expect(variant).toMatchObject({ format: 'json', contentType: 'application/json; charset=utf-8' });
    return { variant, description: JSON.parse(variant.data.toString('utf8')) as Description };
  };

  it('describes the original upright, and what the parameters make of it', async () => {
    const rotated = await photoLikeJpeg(600, 400, { orientation: 6, seed: 2 });
    const { variant, description } = await json(rotated, { w: 200 });
    expect(description).toMatchObject({
      width: 400,
      height: 600,
      format: 'jpeg',
      bytes: rotated.length,
      hasAlpha: false,
      pages: 1,
      space: 'srgb',
      orientation: 6,
      output: { width: 200, height: 300, format: 'jpeg' },
    });
    expect(variant).toMatchObject({ width: 200, height: 300 });
    expect(description.dominant).toMatch(/^#[0-9a-f]{6}$/);
    expect(thumbHashToApproximateAspectRatio(Buffer.from(description.thumbhash, 'base64'))).toBeCloseTo(200 / 300, 1);
  });

  it('gives the density when the original has one', async () => {
    const dense = await sharp(await photoLikeJpeg(60, 40)).withMetadata({ density: 300 }).jpeg().toBuffer();
    expect((await json(dense, {})).description).toMatchObject({ density: 300, orientation: 1 });
  });

  it('gives the dominant colour and a placeholder of the output', async () => {
    const red = await sharp({ create: { width: 400, height: 200, channels: 3, background: '#ff0000' } }).jpeg().toBuffer();
    const { description } = await json(red, {});
    const [r, g, b] = description.dominant.match(/[0-9a-f]{2}/g)!.map((h) => parseInt(h, 16));
    expect(r).toBeGreaterThanOrEqual(250);
    expect(g! + b!).toBeLessThanOrEqual(10);

    const hash = Buffer.from(description.thumbhash, 'base64');
    expect(hash.length).toBeGreaterThan(4);
    expect(hash.length).toBeLessThanOrEqual(25);
    const decoded = thumbHashToRGBA(hash);
    expect(decoded.w / decoded.h).toBeCloseTo(2, 0);
    expect(decoded.rgba[0]).toBeGreaterThan(200);

    const [, mime, base64] = /^data:(image\/\w+);base64,([A-Za-z0-9+/]+=*)$/.exec(description.placeholder)!;
    expect(mime).toBe('image/webp');
    const placeholder = Buffer.from(base64!, 'base64');
    expect(placeholder.length).toBeLessThan(600);
    expect(await describeImage(placeholder)).toMatchObject({ format: 'webp', width: decoded.w, height: decoded.h });
    expectClose(await meanColour(placeholder), [255, 0, 0], 30);
  });

  it('follows the geometry: a cover crop, rotation, and the format fm=auto would have left', async () => {
    const { description } = await json(photo, { w: 300, h: 100, rot: 90 });
    expect(description).toMatchObject({ width: 1800, height: 1200, output: { width: 300, height: 100, format: 'jpeg' } });
    expect(thumbHashToApproximateAspectRatio(Buffer.from(description.thumbhash, 'base64'))).toBeGreaterThan(2);
  });

  it('describes alpha, animations and their first frame', async () => {
    const alpha = await json(await alphaPng(64, 32), {});
    expect(alpha.description).toMatchObject({ format: 'png', hasAlpha: true, output: { width: 64, height: 32, format: 'png' } });
    // The disc is teal to orange on transparency: the dominant colour is the disc's, not black.
    expect(alpha.description.dominant).not.toBe('#000000');

    const gif = await json(await animatedGif(32, 24, 3), { w: 16 });
    expect(gif.description).toMatchObject({ format: 'gif', pages: 3, width: 32, height: 24, output: { width: 16, height: 12, format: 'gif' } });

    const webp = await json(await encodeAs(photo, 'webp'), { w: 90 });
    expect(webp.description).toMatchObject({ format: 'webp', output: { width: 90, height: 60, format: 'webp' } });
  });

  it('refuses what the image would refuse', async () => {
    await expect(render(Buffer.from('not an image'), { fm: 'json' })).rejects.toMatchObject({ statusCode: 415 });
    await expect(renderVariant(photo, { fm: 'json' }, { ...TEST_LIMITS, maxInputPixels: 1000 })).rejects.toMatchObject({ statusCode: 413 });
  });
});

function expectClose(actual: number[], expected: number[], tolerance: number): void {
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `channel ${i}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
}
