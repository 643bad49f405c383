import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { animatedGif, describeImage, encodeAs, meanColour, photoLikeJpeg } from '../../scripts/samples.js';
import {
  focalCrop,
  innerBox,
  outerBox,
  outputBound,
  planGeometry,
  rectRegion,
  turnBox,
  turnPoint,
  wholeImage,
} from '../../src/transform/geometry.js';
import { parseOperations } from '../../src/transform/operations.js';
import { queryEntries } from '../../src/request/parse-request.js';
import { buildSpec, type TransformSpec } from '../../src/transform/spec.js';
import { render, rendered } from '../support/render.js';

/**
 * The geometry parameters (rect, fp, ar, trim, pad): their arithmetic on its own, then rendered
 * with real sharp on generated images whose content shows where a crop, trim or pad landed.
 */


/** The spec a URL query makes (aliases, dpr, ar folding, fm=auto against `accept`). */
const specOf = (query: string, accept?: string) =>
  buildSpec(parseOperations(queryEntries(query)), { defaultQuality: 80, maxOutputPixels: 8192 * 8192, accept }).spec;

type Region = { left: number; top: number; width: number; height: number };

const colourAt = (bytes: Buffer, region: Region) => meanColour(bytes, region);

async function alphaOf(bytes: Buffer, region: Region): Promise<number> {
  const stats = await sharp(await sharp(bytes).extract(region).png().toBuffer()).stats();
  return Math.round(stats.channels[3]?.mean ?? 255);
}

function expectColour(actual: number[], expected: number[], tolerance = 16): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `channel ${i}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
}

const svg = (width: number, height: number, body: string) =>
  encodeAs(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`), 'png');

/** Four coloured quadrants: red top left, green top right, blue bottom left, yellow bottom right. */
const quadrants = (width: number, height: number, at = { x: 0, y: 0 }) => {
  const [w, h] = [width / 2, height / 2];
  return (
    `<rect x="${at.x}" y="${at.y}" width="${w}" height="${h}" fill="#f00"/><rect x="${at.x + w}" y="${at.y}" width="${w}" height="${h}" fill="#0f0"/>` +
    `<rect x="${at.x}" y="${at.y + h}" width="${w}" height="${h}" fill="#00f"/><rect x="${at.x + w}" y="${at.y + h}" width="${w}" height="${h}" fill="#ff0"/>`
  );
};

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const YELLOW = [255, 255, 0];
const WHITE = [255, 255, 255];
const GREY = [128, 128, 128];

const centre = (size: number) => ({ left: size / 2 - 2, top: size / 2 - 2, width: 4, height: 4 });

describe('geometry arithmetic', () => {
  it.each([
    [{}, { left: 10, top: 5, width: 30, height: 20 }],
    [{ flip: true }, { left: 10, top: 75, width: 30, height: 20 }],
    [{ flop: true }, { left: 160, top: 5, width: 30, height: 20 }],
    [{ rot: 90 }, { left: 75, top: 10, width: 20, height: 30 }],
    [{ rot: 180 }, { left: 160, top: 75, width: 30, height: 20 }],
    [{ rot: 270 }, { left: 5, top: 160, width: 20, height: 30 }],
    // sharp mirrors, then turns.
    [{ flop: true, rot: 90 }, { left: 75, top: 160, width: 20, height: 30 }],
  ] as const)('turnBox of a box of a 200×100 image: %j', (turns, expected) => {
    expect(turnBox({ left: 10, top: 5, width: 30, height: 20 }, { width: 200, height: 100 }, turns)).toEqual(expected);
  });

  it.each([
    [{}, [150, 25]],
    [{ flip: true }, [150, 75]],
    [{ flop: true }, [50, 25]],
    [{ rot: 90 }, [75, 150]],
    [{ rot: 180 }, [50, 75]],
    [{ rot: 270 }, [25, 50]],
  ] as const)('turnPoint of (150, 25) in a 200×100 image: %j', (turns, expected) => {
    expect(turnPoint([150, 25], { width: 200, height: 100 }, turns)).toEqual(expected);
  });

  it.each([
    [{ width: 200, height: 100 }, 1, { width: 100, height: 100 }, { width: 200, height: 200 }],
    [{ width: 200, height: 100 }, 4, { width: 200, height: 50 }, { width: 400, height: 100 }],
    [{ width: 100, height: 200 }, 16 / 9, { width: 100, height: 56 }, { width: 356, height: 200 }],
    [{ width: 1, height: 1000 }, 100, { width: 1, height: 1 }, { width: 100000, height: 1000 }],
  ])('ar boxes of %j at %f: inside %j, around %j', (size, ar, inner, outer) => {
    expect(innerBox(size, ar)).toEqual(inner);
    expect(outerBox(size, ar)).toEqual(outer);
  });

  it.each([
    ['centred', [300, 100], false, { width: 200, height: 100 }, { left: 100, top: 0, width: 100, height: 100 }],
    ['clamped left', [0, 0], false, { width: 200, height: 100 }, { left: 0, top: 0, width: 100, height: 100 }],
    ['clamped right', [400, 200], false, { width: 200, height: 100 }, { left: 100, top: 0, width: 100, height: 100 }],
  ] as const)('focalCrop of 400×200 to 100×100, %s', (_name, point, enlarge, resized, window) => {
    expect(focalCrop({ width: 400, height: 200 }, { width: 100, height: 100 }, point, enlarge)).toEqual({ resized, window });
  });

  it('focalCrop never enlarges without enlarge, like sharp: the window shrinks to the image', () => {
    expect(focalCrop({ width: 120, height: 80 }, { width: 100, height: 240 }, [120, 40], false)).toEqual({
      resized: { width: 120, height: 80 },
      window: { left: 20, top: 0, width: 100, height: 80 },
    });
    expect(focalCrop({ width: 120, height: 80 }, { width: 100, height: 240 }, [120, 40], true)).toMatchObject({
      resized: { width: 360, height: 240 },
      window: { left: 260, top: 0, width: 100, height: 240 },
    });
  });

  it('rectRegion accepts a region touching the edges and refuses one crossing them, naming rect and the size', () => {
    expect(rectRegion([100, 50, 100, 50], { width: 200, height: 100 })).toEqual({ left: 100, top: 50, width: 100, height: 50 });
    expect(() => rectRegion([101, 0, 100, 10], { width: 200, height: 100 })).toThrow(/"rect" 101,0,100,10 .*200×100/);
    expect(() => rectRegion([0, 60, 10, 41], { width: 200, height: 100 })).toThrow(expect.objectContaining({ statusCode: 400, code: 'invalid_param' }));
  });

  it('planGeometry turns the region only when a rotation makes sharp turn before it extracts', () => {
    const upright = { width: 200, height: 100 };
    const region = { left: 0, top: 0, width: 100, height: 50 };
    expect(planGeometry(upright, region, { flop: true }).extract).toEqual(region);
    expect(planGeometry(upright, region, { rot: 90, flop: true }).extract).toEqual({ left: 50, top: 100, width: 50, height: 100 });
    expect(planGeometry(upright, wholeImage(upright), { rot: 90 }).extract).toBeUndefined();
  });

  it.each([
    ['no resize', {}, { width: 200, height: 100 }],
    ['rect', { rect: [0, 0, 50, 40] }, { width: 50, height: 40 }],
    ['rect turned', { rect: [0, 0, 50, 40], rot: 90 }, { width: 40, height: 50 }],
    ['rect then w', { rect: [0, 0, 50, 40], w: 25 }, { width: 25, height: 20 }],
    ['pad', { w: 100, pad: [1, 2, 3, 4] }, { width: 106, height: 54 }],
    ['ar alone', { ar: 1 }, { width: 100, height: 100 }],
    ['ar contain', { ar: 1, fit: 'contain' }, { width: 200, height: 200 }],
    ['ar contain of a rect, padded', { ar: 1, fit: 'contain', rect: [0, 0, 10, 20], pad: [5, 5, 5, 5] }, { width: 30, height: 30 }],
    ['w and h', { w: 300, h: 300, pad: [0, 10, 0, 10] }, { width: 320, height: 300 }],
  ] as const)('outputBound of 200×100: %s', (_name, spec, expected) => {
    expect(outputBound({ width: 200, height: 100 }, spec as TransformSpec)).toEqual(expected);
  });
});

describe('rect', () => {
  let quad: Buffer; // 200×100
  let turned: Buffer; // the same stored with EXIF orientation 6: shows 100×200, blue red / yellow green
  beforeAll(async () => {
    quad = await svg(200, 100, quadrants(200, 100));
    turned = await sharp(quad).withMetadata({ orientation: 6 }).png().toBuffer();
  });

  it.each([
    [[100, 0, 100, 50], 100, 50, GREEN],
    [[0, 50, 100, 50], 100, 50, BLUE],
    [[150, 60, 50, 40], 50, 40, YELLOW],
  ] as const)('rect=%j cuts that region out', async (rect, width, height, colour) => {
    const { data, image } = await rendered(quad, { rect });
    expect(image).toMatchObject({ format: 'png', width, height });
    expectColour(await colourAt(data, { left: 0, top: 0, width, height }), colour);
  });

  it('crops, then resizes: rect + w', async () => {
    const { data, image } = await rendered(quad, { rect: [100, 0, 100, 50], w: 50 });
    expect(image).toMatchObject({ width: 50, height: 25 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 50, height: 25 }), GREEN);
  });

  it('crops, then cover-resizes a region spanning two colours', async () => {
    const { data, image } = await rendered(quad, { rect: [50, 0, 100, 50], w: 20, h: 20 });
    expect(image).toMatchObject({ width: 20, height: 20 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 8, height: 20 }), RED);
    expectColour(await colourAt(data, { left: 12, top: 0, width: 8, height: 20 }), GREEN);
  });

  it('is in the coordinates of the original as shown, after EXIF orientation', async () => {
    expect(await describeImage(turned)).toMatchObject({ width: 200, height: 100, orientation: 6 });
    const right = await rendered(turned, { rect: [50, 0, 50, 100] });
    expect(right.image).toMatchObject({ width: 50, height: 100 });
    expectColour(await colourAt(right.data, { left: 0, top: 0, width: 50, height: 100 }), RED);
    const bottom = await rendered(turned, { rect: [0, 100, 100, 100], w: 50 });
    expect(bottom.image).toMatchObject({ width: 50, height: 50 });
    expectColour(await colourAt(bottom.data, { left: 0, top: 0, width: 25, height: 50 }), YELLOW);
    expectColour(await colourAt(bottom.data, { left: 25, top: 0, width: 25, height: 50 }), GREEN);
  });

  it.each([
    ['beyond the right edge', () => quad, [150, 0, 51, 10], '200×100'],
    ['beyond the bottom', () => quad, [0, 0, 10, 101], '200×100'],
    ['past the stored width of an EXIF-turned image', () => turned, [0, 0, 200, 100], '100×200'],
  ] as const)('a region %s is a 400 naming rect and the size', async (_name, image, rect, size) => {
    await expect(render(image(), { rect })).rejects.toMatchObject({
      statusCode: 400,
      code: 'invalid_param',
      message: expect.stringMatching(new RegExp(`"rect".*${size}`)),
    });
  });

  it('comes before rot: the region is of the original, then turned', async () => {
    // Top half: red | green. A quarter turn clockwise puts its left end on top.
    const { data, image } = await rendered(quad, { rect: [0, 0, 200, 50], rot: 90 });
    expect(image).toMatchObject({ width: 50, height: 200 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 50, height: 90 }), RED);
    expectColour(await colourAt(data, { left: 0, top: 110, width: 50, height: 90 }), GREEN);
    // And w describes the turned region.
    expect((await rendered(quad, { rect: [0, 0, 200, 50], rot: 90, w: 25 })).image).toMatchObject({ width: 25, height: 100 });
  });

  it.each([
    [{ flop: true }, 200, 50, [GREEN, RED]],
    [{ flip: true }, 200, 50, [RED, GREEN]],
    [{ rot: 90, flop: true }, 50, 200, [GREEN, RED]],
    [{ rot: 270 }, 50, 200, [GREEN, RED]],
    [{ rot: 180, w: 100 }, 100, 25, [GREEN, RED]],
  ] as const)('comes before mirroring and turning: rect=0,0,200,50 with %j', async (turns, width, height, [first, second]) => {
    const { data, image } = await rendered(quad, { rect: [0, 0, 200, 50], ...turns });
    expect(image).toMatchObject({ width, height });
    const half = width > height ? { width: width / 2 - 10, height } : { width, height: height / 2 - 10 };
    expectColour(await colourAt(data, { left: 0, top: 0, ...half }), first);
    const end = width > height ? { left: width / 2 + 10, top: 0 } : { left: 0, top: height / 2 + 10 };
    expectColour(await colourAt(data, { ...end, ...half }), second);
  });

  it('reduces the output bound; the input bound stays the whole original', async () => {
    const pixels = 200 * 100;
    await expect(render(quad, {}, { maxOutputPixels: pixels - 1 })).rejects.toMatchObject({ statusCode: 413, code: 'output_too_large' });
    expect((await rendered(quad, { rect: [0, 0, 100, 50] }, { maxOutputPixels: pixels - 1 })).image).toMatchObject({ width: 100, height: 50 });
    await expect(render(quad, { rect: [0, 0, 10, 10] }, { maxInputPixels: pixels - 1 })).rejects.toMatchObject({
      statusCode: 413,
      code: 'input_too_large',
    });
  });

  it.each(['gif', 'webp'] as const)('keeps an animation animated (every frame cut alike) as %s', async (fm) => {
    const gif = await animatedGif(32, 24, 3);
    const { variant, image } = await rendered(gif, { rect: [4, 4, 16, 8], fm });
    expect(image).toMatchObject({ format: fm, pages: 3, width: 16, height: 8 });
    expect(variant).toMatchObject({ width: 16, height: 8 });
    // The last frame keeps its own colour (frame i is r = 40·i).
    const last = await sharp(variant.data, { page: 2 }).png().toBuffer();
    expectColour(await meanColour(last), [80, 120, 200], 24);
  });
});

describe('fp: focal point of cover crops', () => {
  let wide: Buffer; // 400×200 grey, blue band on the left, green band on the right, red dot at (300, 100)
  let tall: Buffer; // 200×400 grey, red dot at (100, 300)
  const dot = (x: number, y: number) => `<rect x="${x - 20}" y="${y - 20}" width="40" height="40" fill="#f00"/>`;
  beforeAll(async () => {
    wide = await svg(
      400,
      200,
      `<rect width="400" height="200" fill="#808080"/><rect width="40" height="200" fill="#00f"/><rect x="360" width="40" height="200" fill="#0f0"/>${dot(300, 100)}`,
    );
    tall = await svg(200, 400, `<rect width="200" height="400" fill="#808080"/>${dot(100, 300)}`);
  });

  it('centres the crop on the point: a wide image cut to a square', async () => {
    const plain = await rendered(wide, { w: 100, h: 100 });
    expectColour(await colourAt(plain.data, centre(100)), GREY);
    const { data, image } = await rendered(wide, { w: 100, h: 100, fp: [0.75, 0.5] });
    expect(image).toMatchObject({ width: 100, height: 100 });
    expectColour(await colourAt(data, centre(100)), RED);
  });

  it('centres the crop on the point vertically in a tall image', async () => {
    const { data, image } = await rendered(tall, { w: 100, h: 100, fp: [0.5, 0.75] });
    expect(image).toMatchObject({ width: 100, height: 100 });
    expectColour(await colourAt(data, centre(100)), RED);
  });

  it.each([
    [[0, 0], { left: 0, top: 0, width: 10, height: 100 }, BLUE],
    [[0.02, 1], { left: 0, top: 0, width: 10, height: 100 }, BLUE],
    [[1, 0.5], { left: 90, top: 0, width: 10, height: 100 }, GREEN],
  ] as const)('fp=%j near an edge: the crop stops at the edge', async (fp, edge, colour) => {
    const { data, image } = await rendered(wide, { w: 100, h: 100, fp });
    expect(image).toMatchObject({ width: 100, height: 100 });
    expectColour(await colourAt(data, edge), colour);
  });

  it('fp=0,0 gives the same crop as pos=left top', async () => {
    const focal = await render(wide, { w: 100, h: 100, fp: [0, 0], fm: 'png' });
    const gravity = await render(wide, { w: 100, h: 100, pos: 'left top', fm: 'png' });
    const [a, b] = await Promise.all([sharp(focal.data).raw().toBuffer(), sharp(gravity.data).raw().toBuffer()]);
    const diff = a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;
    expect(diff).toBeLessThan(1);
  });

  it('with dpr: the crop is dpr times larger and still centred on the point', async () => {
    const { data, image } = await rendered(wide, specOf('w=50&h=50&dpr=2&fp=0.75,0.5'));
    expect(image).toMatchObject({ width: 100, height: 100 });
    expectColour(await colourAt(data, centre(100)), RED);
  });

  it('is a point of the original: it stays on the dot through rect, rot and flop', async () => {
    // rect=100,0,300,200 leaves the dot at (200, 100) of a 300×200 region.
    const cut = await rendered(wide, { rect: [100, 0, 300, 200], w: 100, h: 100, fp: [0.75, 0.5] });
    expectColour(await colourAt(cut.data, centre(100)), RED);
    for (const turns of [{ rot: 90 }, { rot: 270, flop: true }, { rot: 180, flip: true }, { flop: true }] as const) {
      const { data, image } = await rendered(wide, { w: 100, h: 100, fp: [0.75, 0.5], ...turns });
      expect(image).toMatchObject({ width: 100, height: 100 });
      expectColour(await colourAt(data, centre(100)), RED);
    }
  });

  it('without enlarge, never upscales: a box larger than the image gets what there is, around the point', async () => {
    const { data, image } = await rendered(wide, { w: 100, h: 300, fp: [0.75, 0.5] });
    expect(image).toMatchObject({ width: 100, height: 200 });
    expectColour(await colourAt(data, { left: 48, top: 98, width: 4, height: 4 }), RED);
    const enlarged = await rendered(wide, { w: 100, h: 300, fp: [0.75, 0.5], enlarge: true });
    expect(enlarged.image).toMatchObject({ width: 100, height: 300 });
    expectColour(await colourAt(enlarged.data, { left: 48, top: 148, width: 4, height: 4 }), RED);
  });

  it('keeps an animation animated, every frame cut alike', async () => {
    const frames = await Promise.all(
      ['#808080', '#404040'].map((bg) => svg(400, 200, `<rect width="400" height="200" fill="${bg}"/>${dot(300, 100)}`)),
    );
    const gif = await sharp(frames, { join: { animated: true } }).gif({ delay: 100 }).toBuffer();
    const { variant, image } = await rendered(gif, { w: 100, h: 100, fp: [0.75, 0.5] });
    expect(image).toMatchObject({ format: 'gif', pages: 2, width: 100, height: 100 });
    for (const page of [0, 1]) {
      const frame = await sharp(variant.data, { page }).png().toBuffer();
      expectColour(await colourAt(frame, centre(100)), RED);
    }
  });
});

describe('ar alone: the original cropped (or padded) to a ratio at its own size', () => {
  let quad: Buffer; // 200×100
  beforeAll(async () => {
    quad = await svg(200, 100, quadrants(200, 100));
  });

  it('crops around the centre', async () => {
    const { data, image } = await rendered(quad, specOf('ar=1:1'));
    expect(image).toMatchObject({ width: 100, height: 100 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 45, height: 45 }), RED);
    expectColour(await colourAt(data, { left: 55, top: 0, width: 45, height: 45 }), GREEN);
    expectColour(await colourAt(data, { left: 55, top: 55, width: 45, height: 45 }), YELLOW);
  });

  it('crops the other side for a wider ratio', async () => {
    const { data, image } = await rendered(quad, specOf('ar=4:1'));
    expect(image).toMatchObject({ width: 200, height: 50 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 100, height: 20 }), RED);
    expectColour(await colourAt(data, { left: 0, top: 30, width: 100, height: 20 }), BLUE);
  });

  it('crops at pos or around fp', async () => {
    const left = await rendered(quad, { ar: 1, pos: 'left' });
    expect(left.image).toMatchObject({ width: 100, height: 100 });
    expectColour(await colourAt(left.data, { left: 0, top: 0, width: 100, height: 50 }), RED);
    const right = await rendered(quad, specOf('ar=1:1&fp=0.9,0.5'));
    expect(right.image).toMatchObject({ width: 100, height: 100 });
    expectColour(await colourAt(right.data, { left: 0, top: 0, width: 100, height: 50 }), GREEN);
  });

  it('pads to the ratio with fit=contain: transparent in PNG', async () => {
    const { data, image } = await rendered(quad, specOf('ar=1:1&fit=contain'));
    expect(image).toMatchObject({ format: 'png', width: 200, height: 200, hasAlpha: true });
    expect(await alphaOf(data, { left: 0, top: 0, width: 200, height: 48 })).toBe(0);
    expect(await alphaOf(data, { left: 0, top: 152, width: 200, height: 48 })).toBe(0);
    expectColour(await colourAt(data, { left: 0, top: 52, width: 95, height: 45 }), RED);
  });

  it('pads to the ratio with fit=contain: white in JPEG, or bg', async () => {
    const photo = await photoLikeJpeg(120, 80);
    const white = await rendered(photo, specOf('ar=1:1&fit=contain'));
    expect(white.image).toMatchObject({ format: 'jpeg', width: 120, height: 120 });
    expectColour(await colourAt(white.data, { left: 0, top: 0, width: 120, height: 18 }), WHITE, 4);
    const green = await rendered(photo, specOf('ar=1:1&fit=contain&bg=00ff00'));
    expectColour(await colourAt(green.data, { left: 0, top: 102, width: 120, height: 18 }), GREEN, 6);
  });

  it('squeezes the whole image into the ratio with fit=fill', async () => {
    const { data, image } = await rendered(quad, specOf('ar=1:1&fit=fill'));
    expect(image).toMatchObject({ width: 100, height: 100 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 45, height: 45 }), RED);
    expectColour(await colourAt(data, { left: 55, top: 55, width: 45, height: 45 }), YELLOW);
  });

  it('applies to the rect region', async () => {
    const { data, image } = await rendered(quad, specOf('rect=0,0,100,100&ar=2:1'));
    expect(image).toMatchObject({ width: 100, height: 50 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 100, height: 20 }), RED);
    expectColour(await colourAt(data, { left: 0, top: 30, width: 100, height: 20 }), BLUE);
  });

  it('keeps an animation animated', async () => {
    const gif = await animatedGif(32, 24, 3);
    expect((await rendered(gif, specOf('ar=1:1'))).image).toMatchObject({ format: 'gif', pages: 3, width: 24, height: 24 });
    expect((await rendered(gif, specOf('ar=2:1&fit=contain&fm=webp'))).image).toMatchObject({ format: 'webp', pages: 3, width: 48, height: 24 });
  });

  it('counts the padded ratio against maxOutputPixels, before decoding', async () => {
    const truncated = (await photoLikeJpeg(120, 80)).subarray(0, 400);
    await expect(render(truncated, specOf('ar=100:1&fit=contain'), { maxOutputPixels: 100_000 })).rejects.toMatchObject({
      statusCode: 413,
      code: 'output_too_large',
    });
  });
});

describe('trim', () => {
  let framed: Buffer; // 100×80: white, with 60×40 quadrants at (10, 15)
  beforeAll(async () => {
    framed = await svg(100, 80, `<rect width="100" height="80" fill="#fff"/>${quadrants(60, 40, { x: 10, y: 15 })}`);
  });

  it('cuts a uniform border away: the size shrinks and the border colour is gone from the edges', async () => {
    const { data, image } = await rendered(framed, { trim: 10 });
    expect(image).toMatchObject({ width: 60, height: 40 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 2, height: 2 }), RED);
    expectColour(await colourAt(data, { left: 58, top: 0, width: 2, height: 2 }), GREEN);
    expectColour(await colourAt(data, { left: 0, top: 38, width: 2, height: 2 }), BLUE);
    expectColour(await colourAt(data, { left: 58, top: 38, width: 2, height: 2 }), YELLOW);
  });

  it('trims before resizing', async () => {
    const { data, image } = await rendered(framed, { trim: 10, w: 30 });
    expect(image).toMatchObject({ width: 30, height: 20 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 3, height: 3 }), RED, 30);
  });

  it('the threshold decides what counts as border', async () => {
    // White, then a pale grey band 5 pixels wide (about 20 away from white), then the picture.
    const banded = await svg(100, 80, `<rect width="100" height="80" fill="#fff"/><rect x="5" y="10" width="70" height="50" fill="#ebebeb"/>${quadrants(60, 40, { x: 10, y: 15 })}`);
    expect((await rendered(banded, { trim: 10 })).image).toMatchObject({ width: 70, height: 50 });
    expect((await rendered(banded, { trim: 40 })).image).toMatchObject({ width: 60, height: 40 });
  });

  it('trims after rect: the border is that of the region', async () => {
    // Blue left half; white right half with a red square. Trimmed whole, the blue goes (its top-left
    // pixel is the border colour) and the white stays; trimmed after rect, the white goes.
    const image = await svg(100, 100, '<rect width="100" height="100" fill="#fff"/><rect width="50" height="100" fill="#00f"/><rect x="70" y="40" width="20" height="20" fill="#f00"/>');
    expect((await rendered(image, { trim: 10 })).image).toMatchObject({ width: 50, height: 100 });
    const { data, image: described } = await rendered(image, { rect: [50, 0, 50, 100], trim: 10 });
    expect(described).toMatchObject({ width: 20, height: 20 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 20, height: 20 }), RED);
  });

  it('trims in the upright original (EXIF orientation 6)', async () => {
    const turned = await sharp(framed).withMetadata({ orientation: 6 }).png().toBuffer();
    const { data, image } = await rendered(turned, { trim: 10 });
    expect(image).toMatchObject({ width: 40, height: 60 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 2, height: 2 }), BLUE);
  });

  it('trims a transparent border', async () => {
    const disc = await svg(64, 64, '<circle cx="32" cy="32" r="20" fill="#f00"/>');
    expect((await rendered(disc, { trim: 10 })).image).toMatchObject({ width: 40, height: 40 });
  });

  it.each([
    ['a uniform image', () => svg(50, 40, '<rect width="50" height="40" fill="#808080"/>'), 50, 40],
    ['an image smaller than 3×3', () => svg(2, 2, '<rect width="2" height="2" fill="#808080"/>'), 2, 2],
  ])('leaves %s whole instead of failing', async (_name, make, width, height) => {
    expect((await rendered(await make(), { trim: 10 })).image).toMatchObject({ width, height });
  });

  it('with ar and fp: both apply to the trimmed picture', async () => {
    const { data, image } = await rendered(framed, { trim: 10, ar: 1, fp: [0.7, 0.5] });
    expect(image).toMatchObject({ width: 40, height: 40 });
    // fp is a point of the original: x 70 is in the green half; the crop is pushed to the right edge.
    expectColour(await colourAt(data, { left: 36, top: 0, width: 4, height: 4 }), GREEN);
  });

  it('refuses an animation that stays animated with a 400, and trims the first frame of a still', async () => {
    const gif = await animatedGif(32, 24, 3);
    await expect(render(gif, { trim: 10 })).rejects.toMatchObject({
      statusCode: 400,
      code: 'invalid_param',
      message: expect.stringContaining('"trim"'),
    });
    expect((await rendered(gif, { trim: 10, fm: 'png' })).image).toMatchObject({ format: 'png', pages: 1, width: 32, height: 24 });
  });

  it('a damaged original is a 422, not a 500', async () => {
    const damaged = (await encodeAs(framed, 'png')).subarray(0, 200);
    await expect(render(damaged, { trim: 10 })).rejects.toMatchObject({ statusCode: 422, code: 'undecodable_image' });
  });
});

describe('pad', () => {
  let photo: Buffer; // 120×80 JPEG
  let quad: Buffer; // 200×100 PNG
  beforeAll(async () => {
    photo = await photoLikeJpeg(120, 80);
    quad = await svg(200, 100, quadrants(200, 100));
  });

  it('adds top, right, bottom, left around the resized result: white in JPEG', async () => {
    const { data, image } = await rendered(photo, { w: 60, pad: [10, 20, 30, 40] });
    expect(image).toMatchObject({ format: 'jpeg', width: 60 + 20 + 40, height: 40 + 10 + 30 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 38, height: 80 }), WHITE, 3);
    expectColour(await colourAt(data, { left: 102, top: 0, width: 18, height: 80 }), WHITE, 3);
    expectColour(await colourAt(data, { left: 0, top: 0, width: 120, height: 8 }), WHITE, 3);
    expectColour(await colourAt(data, { left: 0, top: 52, width: 120, height: 28 }), WHITE, 3);
  });

  it('in bg', async () => {
    const { data, image } = await rendered(quad, { pad: [10, 10, 10, 10], bg: '0000ff' });
    expect(image).toMatchObject({ width: 220, height: 120 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 220, height: 9 }), BLUE);
    expectColour(await colourAt(data, { left: 12, top: 12, width: 80, height: 30 }), RED);
  });

  it.each(['png', 'webp'] as const)('transparent in %s, even around an image without alpha', async (fm) => {
    const { data, image } = await rendered(photo, { pad: [8, 8, 8, 8], fm });
    expect(image).toMatchObject({ format: fm, width: 136, height: 96, hasAlpha: true });
    expect(await alphaOf(data, { left: 0, top: 0, width: 136, height: 7 })).toBe(0);
    expect(await alphaOf(data, { left: 129, top: 0, width: 7, height: 96 })).toBe(0);
    expect(await alphaOf(data, { left: 10, top: 10, width: 116, height: 76 })).toBe(255);
  });

  it('with fm=auto: transparent where the negotiated format has alpha, white otherwise', async () => {
    const webp = await rendered(photo, specOf('w=60&pad=5&fm=auto', 'image/webp,*/*'));
    expect(webp.image).toMatchObject({ format: 'webp', width: 70, height: 50, hasAlpha: true });
    expect(await alphaOf(webp.data, { left: 0, top: 0, width: 70, height: 4 })).toBe(0);
    const jpeg = await rendered(photo, specOf('w=60&pad=5&fm=auto', 'image/*'));
    expect(jpeg.image).toMatchObject({ format: 'jpeg', width: 70, height: 50 });
    // JPEG blocks bleed a little of the photo into the 5 pixels of padding.
    expectColour(await colourAt(jpeg.data, { left: 0, top: 0, width: 70, height: 4 }), WHITE, 8);
  });

  it('pads after a contain box and after a focal crop', async () => {
    expect((await rendered(quad, { w: 50, h: 50, fit: 'contain', pad: [1, 2, 3, 4] })).image).toMatchObject({ width: 56, height: 54 });
    expect((await rendered(quad, { w: 50, h: 50, fp: [0.9, 0.5], pad: [1, 2, 3, 4] })).image).toMatchObject({ width: 56, height: 54 });
  });

  it.each(['gif', 'webp'] as const)('keeps an animation animated, every frame padded, as %s', async (fm) => {
    const gif = await animatedGif(32, 24, 3);
    const { variant, image } = await rendered(gif, { pad: [2, 3, 4, 5], bg: 'ff0000', fm });
    expect(image).toMatchObject({ format: fm, pages: 3, width: 40, height: 30 });
    expect(variant).toMatchObject({ width: 40, height: 30 });
    const last = await sharp(variant.data, { page: 2 }).png().toBuffer();
    expectColour(await colourAt(last, { left: 0, top: 0, width: 4, height: 30 }), RED, 24);
    expectColour(await colourAt(last, { left: 10, top: 5, width: 20, height: 15 }), [80, 120, 200], 24);
  });

  it('is padded before sharp blurs and greys: a blur reaches only the padding next to the picture, gray greys it', async () => {
    const blurred = await rendered(quad, { pad: [20, 20, 20, 20], bg: '0000ff', blur: 2 });
    expect(blurred.image).toMatchObject({ width: 240, height: 140 });
    expectColour(await colourAt(blurred.data, { left: 0, top: 0, width: 240, height: 10 }), BLUE, 4);
    const gray = await rendered(quad, { pad: [20, 20, 20, 20], bg: 'ff0000', gray: true });
    expect(gray.image).toMatchObject({ width: 240, height: 140, channels: 1 });
    const [level] = await colourAt(gray.data, { left: 0, top: 0, width: 240, height: 10 });
    expect(level).toBeGreaterThan(40);
    expect(level).toBeLessThan(90);
  });

  it('counts the padding against maxOutputPixels, before decoding', async () => {
    const overrides = { maxOutputPixels: 100 * 100 };
    expect((await rendered(photo, { w: 100, h: 100, enlarge: true }, overrides)).image).toMatchObject({ width: 100, height: 100 });
    await expect(render(photo, { w: 100, h: 100, pad: [0, 1, 0, 0] }, overrides)).rejects.toMatchObject({
      statusCode: 413,
      code: 'output_too_large',
    });
    // A truncated file would be a 422 once decoded: the 413 comes first.
    const truncated = photo.subarray(0, 400);
    await expect(render(truncated, { w: 100, h: 100, pad: [0, 1, 0, 0] }, overrides)).rejects.toMatchObject({ code: 'output_too_large' });
    await expect(render(truncated, { w: 100, h: 100 }, overrides)).rejects.toMatchObject({ code: 'undecodable_image' });
  });
});

describe('all together', () => {
  it('rect, trim, ar, fp, resize and pad, in that order', async () => {
    // 300×200: the left 100 columns are noise the rect drops; the rest is white around quadrants.
    const image = await svg(
      300,
      200,
      `<rect width="300" height="200" fill="#fff"/><rect width="100" height="200" fill="#0ff"/>${quadrants(120, 80, { x: 140, y: 60 })}`,
    );
    const { data, image: described } = await rendered(image, {
      rect: [100, 0, 200, 200],
      trim: 10,
      w: 40,
      h: 40,
      fp: [0.7, 0.5],
      pad: [5, 5, 5, 5],
      bg: '000000',
      fm: 'png',
    });
    expect(described).toMatchObject({ width: 50, height: 50 });
    expectColour(await colourAt(data, { left: 0, top: 0, width: 50, height: 4 }), [0, 0, 0]);
    // Trimmed to 120×80 at (140, 60); resized to 60×40; x 210 of the original is 35 of it, so the
    // 40-wide window runs from 15 to 55: red on its left, green on its right.
    expectColour(await colourAt(data, { left: 6, top: 6, width: 12, height: 12 }), RED);
    expectColour(await colourAt(data, { left: 32, top: 6, width: 12, height: 12 }), GREEN);
  });
});
