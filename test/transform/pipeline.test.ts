import zlib from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  alphaPng,
  animatedGif,
  describeImage,
  encodeAs,
  meanColour,
  photoLikeJpeg,
} from '../../scripts/samples.js';
import { InvalidRequestError, TooLargeError, UndecodableImageError, UnsupportedImageError } from '../../src/errors.js';
import { parseOperations } from '../../src/transform/operations.js';
import { renderVariant } from '../../src/transform/pipeline.js';
import { buildSpec, type TransformSpec } from '../../src/transform/spec.js';
import { render, rendered } from '../support/render.js';


type Region = { left: number; top: number; width: number; height: number };

/** Mean colour (alpha dropped) of one region. */
async function colourOf(bytes: Buffer, region: Region): Promise<number[]> {
  return meanColour(bytes, region);
}

async function alphaOf(bytes: Buffer, region: Region): Promise<number> {
  const stats = await sharp(await sharp(bytes).extract(region).png().toBuffer()).stats();
  return Math.round(stats.channels[3]?.mean ?? 255);
}

async function sharpness(bytes: Buffer): Promise<number> {
  return (await sharp(bytes).stats()).sharpness;
}

function expectColour(actual: number[], expected: number[], tolerance = 16): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `channel ${i}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
}

const svg = (width: number, height: number, body: string) =>
  encodeAs(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`), 'png');

/** A PNG that libvips reads the header of in microseconds but that would take width × height bytes to decode. */
function bombPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 1; // 1 bit per pixel, greyscale: the smallest file for the most pixels
  const rows = zlib.deflateSync(Buffer.alloc((1 + Math.ceil(width / 8)) * height), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', rows),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An AVIF with its brands and item type renamed to HEIC, but still an AV1 configuration box. */
function relabelledHeic(avif: Buffer): Buffer {
  return Buffer.from(avif.toString('latin1').replaceAll('avif', 'heic').replaceAll('av01', 'hvc1'), 'latin1');
}

/**
 * An AVIF rebuilt as HEIC: brands, item type and a well-formed HEVC configuration box, so that
 * libheif reads its header (format heif, compression hevc) as it would an iPhone photo's.
 */
function heicHeader(avif: Buffer): Buffer {
  type Box = { type: string; body: Buffer };
  const parse = (bytes: Buffer): Box[] => {
    const boxes: Box[] = [];
    for (let offset = 0; offset < bytes.length; offset += bytes.readUInt32BE(offset)) {
      const size = bytes.readUInt32BE(offset);
      boxes.push({ type: bytes.toString('latin1', offset + 4, offset + 8), body: bytes.subarray(offset + 8, offset + size) });
    }
    return boxes;
  };
  const box = (type: string, body: Buffer) => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(body.length + 8);
    header.write(type, 4, 'latin1');
    return Buffer.concat([header, body]);
  };
  const renamed = (body: Buffer, from: string, to: string) => Buffer.from(body.toString('latin1').replaceAll(from, to), 'latin1');
  // HEVCDecoderConfigurationRecord: version 1, Main profile, level 3.1, no parameter sets.
  const hvcC = Buffer.from([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5d, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0]);
  const rebuild = (boxes: Box[]): Buffer =>
    Buffer.concat(
      boxes.map(({ type, body }) => {
        if (type === 'ftyp') return box(type, renamed(body, 'avif', 'heic'));
        if (type === 'meta') return box(type, Buffer.concat([body.subarray(0, 4), rebuild(parse(body.subarray(4)))]));
        if (type === 'iprp' || type === 'ipco') return box(type, rebuild(parse(body)));
        if (type === 'iinf') return box(type, renamed(body, 'av01', 'hvc1'));
        if (type === 'av1C') return box('hvcC', hvcC);
        return box(type, body);
      }),
    );
  return rebuild(parse(avif));
}

const BLUE = [0, 0, 255];
const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const WHITE = [255, 255, 255];

let photo: Buffer; // 120×80 photo-like JPEG
let halves: Buffer; // 200×100 PNG: blue left half, red right half
let corner: Buffer; // 40×30 PNG: blue with a red 10×10 square in the top-left corner
let alpha: Buffer; // 64×64 PNG: a disc on a transparent canvas

beforeAll(async () => {
  photo = await photoLikeJpeg(120, 80);
  halves = await svg(200, 100, '<rect width="100" height="100" fill="#00f"/><rect x="100" width="100" height="100" fill="#f00"/>');
  corner = await svg(40, 30, '<rect width="40" height="30" fill="#00f"/><rect width="10" height="10" fill="#f00"/>');
  alpha = await alphaPng(64, 64);
});

describe('renderVariant: size and fit', () => {
  it.each([
    [{}, 120, 80],
    [{ w: 60 }, 60, 40],
    [{ h: 40 }, 60, 40],
    [{ w: 60, h: 60 }, 60, 60],
    [{ w: 60, h: 60, fit: 'cover' }, 60, 60],
    [{ w: 60, h: 60, fit: 'contain' }, 60, 60],
    [{ w: 60, h: 60, fit: 'fill' }, 60, 60],
    [{ w: 60, h: 60, fit: 'inside' }, 60, 40],
    [{ w: 60, h: 60, fit: 'outside' }, 90, 60],
    [{ w: 30, fit: 'fill' }, 30, 80],
  ] as const)('%j → %i×%i', async (spec, width, height) => {
    const { variant, image } = await rendered(photo, spec);
    expect(image).toMatchObject({ format: 'jpeg', width, height });
    expect(variant).toMatchObject({ format: 'jpeg', contentType: 'image/jpeg', width, height });
  });

  it('fill stretches instead of cropping: both halves stay visible', async () => {
    const { data } = await render(halves, { w: 50, h: 50, fit: 'fill' });
    expectColour(await colourOf(data, { left: 2, top: 10, width: 15, height: 30 }), BLUE);
    expectColour(await colourOf(data, { left: 33, top: 10, width: 15, height: 30 }), RED);
  });

  it('dpr multiplies the requested size', async () => {
    const { spec } = buildSpec(parseOperations([['w', '30'], ['dpr', '2']]), { defaultQuality: 80, maxOutputPixels: 1e8 });
    expect(await rendered(photo, spec)).toMatchObject({ image: { width: 60, height: 40 } });
  });

  it('never enlarges unless asked', async () => {
    expect((await rendered(photo, { w: 240 })).image).toMatchObject({ width: 120, height: 80 });
    expect((await rendered(photo, { h: 800 })).image).toMatchObject({ width: 120, height: 80 });
    expect((await rendered(photo, { w: 240, enlarge: true })).image).toMatchObject({ width: 240, height: 160 });
    expect((await rendered(photo, { w: 300, h: 300, fit: 'inside', enlarge: true })).image).toMatchObject({ width: 300, height: 200 });
  });

  it.each([
    [{ w: 240, h: 240 }, 120, 80],
    [{ w: 240, h: 240, fit: 'fill' }, 120, 80],
    [{ w: 240, h: 240, fit: 'outside' }, 120, 80],
    [{ w: 100, h: 240 }, 100, 80],
    [{ w: 240, h: 240, enlarge: true }, 240, 240],
  ] as const)('a box larger than the original without enlarge: %j → %i×%i', async (spec, width, height) => {
    expect((await rendered(photo, spec)).image).toMatchObject({ width, height });
  });

  it('contain without enlarge keeps the image at its size and pads it to the box', async () => {
    const { variant, image } = await rendered(halves, { w: 300, h: 300, fit: 'contain', bg: '00ff00' });
    expect(image).toMatchObject({ width: 300, height: 300 });
    expectColour(await colourOf(variant.data, { left: 50, top: 100, width: 100, height: 100 }), BLUE);
    expectColour(await colourOf(variant.data, { left: 0, top: 0, width: 300, height: 95 }), GREEN);
    expectColour(await colourOf(variant.data, { left: 0, top: 100, width: 45, height: 100 }), GREEN);
  });
});

describe('renderVariant: position', () => {
  it.each([
    ['left', BLUE],
    ['right', RED],
    ['left top', BLUE],
    ['right bottom', RED],
  ] as const)('pos=%s crops to that side', async (pos, colour) => {
    const { data } = await render(halves, { w: 50, h: 50, pos });
    expectColour(await colourOf(data, { left: 0, top: 0, width: 50, height: 50 }), colour);
  });

  it('crops around the centre by default', async () => {
    const { data } = await render(halves, { w: 50, h: 50 });
    expectColour(await colourOf(data, { left: 0, top: 0, width: 20, height: 50 }), BLUE);
    expectColour(await colourOf(data, { left: 30, top: 0, width: 20, height: 50 }), RED);
  });

  it.each(['attention', 'entropy'] as const)('pos=%s finds the detailed, saturated region', async (pos) => {
    // Flat grey with one busy red/yellow chequered patch near the right edge.
    const squares = Array.from({ length: 64 }, (_, i) => {
      const [x, y] = [220 + (i % 8) * 8, 18 + Math.floor(i / 8) * 8];
      return `<rect x="${x}" y="${y}" width="8" height="8" fill="${(i + Math.floor(i / 8)) % 2 ? '#ff0' : '#f00'}"/>`;
    }).join('');
    const busy = await svg(300, 100, `<rect width="300" height="100" fill="#808080"/>${squares}`);
    const left = await render(busy, { w: 100, h: 100, pos: 'left' });
    expectColour(await colourOf(left.data, { left: 0, top: 0, width: 100, height: 100 }), [128, 128, 128], 2);
    const smart = await render(busy, { w: 100, h: 100, pos });
    const [r, g, b] = await colourOf(smart.data, { left: 0, top: 0, width: 100, height: 100 });
    expect(r! - b!).toBeGreaterThan(60);
    expect(g! - b!).toBeGreaterThan(20);
  });

  it('places the image in a padded box (contain) by pos', async () => {
    const { data } = await render(halves, { w: 100, h: 100, fit: 'contain', pos: 'top', bg: '00ff00' });
    expectColour(await colourOf(data, { left: 0, top: 0, width: 40, height: 45 }), BLUE);
    expectColour(await colourOf(data, { left: 0, top: 55, width: 100, height: 45 }), GREEN);
  });
});

describe('renderVariant: background', () => {
  it('pads contain on JPEG with bg', async () => {
    const { variant, image } = await rendered(halves, { w: 100, h: 100, fit: 'contain', bg: '00ff00', fm: 'jpeg' });
    expect(image).toMatchObject({ format: 'jpeg', width: 100, height: 100, hasAlpha: false });
    expectColour(await colourOf(variant.data, { left: 0, top: 0, width: 100, height: 20 }), GREEN);
    expectColour(await colourOf(variant.data, { left: 0, top: 80, width: 100, height: 20 }), GREEN);
    expectColour(await colourOf(variant.data, { left: 5, top: 35, width: 40, height: 30 }), BLUE);
  });

  it('pads contain on JPEG with white when no bg is given', async () => {
    const { data } = await render(halves, { w: 100, h: 100, fit: 'contain', fm: 'jpeg' });
    expectColour(await colourOf(data, { left: 0, top: 0, width: 100, height: 20 }), WHITE);
  });

  it('pads contain with transparency where the format has alpha', async () => {
    const { variant, image } = await rendered(halves, { w: 100, h: 100, fit: 'contain' });
    expect(image).toMatchObject({ format: 'png', hasAlpha: true });
    expect(await alphaOf(variant.data, { left: 0, top: 0, width: 100, height: 20 })).toBe(0);
    expect(await alphaOf(variant.data, { left: 0, top: 30, width: 100, height: 40 })).toBe(255);
  });

  it('flattens transparency onto bg', async () => {
    const { variant, image } = await rendered(alpha, { bg: 'ff0000' });
    expect(image).toMatchObject({ format: 'png', hasAlpha: false });
    expectColour(await colourOf(variant.data, { left: 0, top: 0, width: 6, height: 6 }), RED);
  });
});

describe('renderVariant: filters and orientation', () => {
  it('blur softens the image', async () => {
    const plain = await render(photo, { fm: 'png' });
    const blurred = await render(photo, { fm: 'png', blur: 3 });
    expect(await sharpness(blurred.data)).toBeLessThan((await sharpness(plain.data)) * 0.5);
  });

  it('sharpen crisps the image', async () => {
    const soft = await photoLikeJpeg(120, 80, { seed: 5 });
    const plain = await render(soft, { fm: 'png', blur: 1 });
    const sharpened = await render(soft, { fm: 'png', blur: 1, sharpen: 2 });
    expect(await sharpness(sharpened.data)).toBeGreaterThan((await sharpness(plain.data)) * 1.2);
  });

  it('gray writes one grey channel', async () => {
    expect((await rendered(photo, { gray: true })).image).toMatchObject({ format: 'jpeg', channels: 1, space: 'b-w' });
    expect((await rendered(photo, { gray: true, fm: 'png' })).image).toMatchObject({ format: 'png', channels: 1, space: 'b-w' });
  });

  it('gray keeps transparency', async () => {
    expect((await rendered(alpha, { gray: true })).image).toMatchObject({ format: 'png', channels: 2, space: 'b-w', hasAlpha: true });
  });

  it.each(['webp', 'avif', 'gif'] as const)('gray still encodes as %s', async (fm) => {
    const { variant } = await rendered(photo, { gray: true, fm, w: 40 });
    expect(variant).toMatchObject({ format: fm, width: 40, height: 27 });
    const [r, g, b] = await colourOf(variant.data, { left: 0, top: 0, width: 40, height: 27 });
    expect(Math.abs(r! - g!) + Math.abs(g! - b!)).toBeLessThanOrEqual(4);
  });

  it.each([
    [90, 30, 40, { left: 20, top: 0 }],
    [180, 40, 30, { left: 30, top: 20 }],
    [270, 30, 40, { left: 0, top: 30 }],
  ] as const)('rot=%i turns clockwise', async (rot, width, height, red) => {
    const { variant, image } = await rendered(corner, { rot });
    expect(image).toMatchObject({ width, height });
    expectColour(await colourOf(variant.data, { ...red, width: 10, height: 10 }), RED);
  });

  it.each([
    [{ flip: true }, { left: 0, top: 20 }],
    [{ flop: true }, { left: 30, top: 0 }],
    [{ flip: true, flop: true }, { left: 30, top: 20 }],
    [{}, { left: 0, top: 0 }],
  ] as const)('%j moves the red corner to %j', async (spec, red) => {
    const { variant, image } = await rendered(corner, spec);
    expect(image).toMatchObject({ width: 40, height: 30 });
    expectColour(await colourOf(variant.data, { ...red, width: 10, height: 10 }), RED);
    expectColour(await colourOf(variant.data, { left: 15, top: 10, width: 10, height: 10 }), BLUE);
  });

  it('flips and flops the image as displayed, after EXIF orientation', async () => {
    // Stored 40×30 with the red corner top-left; orientation 6 shows it 30×40, red top-right.
    const turned = await sharp(corner).withMetadata({ orientation: 6 }).png().toBuffer();
    for (const [spec, red] of [
      [{}, { left: 20, top: 0 }],
      [{ flip: true }, { left: 20, top: 30 }],
      [{ flop: true }, { left: 0, top: 0 }],
    ] as const) {
      const { variant, image } = await rendered(turned, spec);
      expect(image).toMatchObject({ width: 30, height: 40 });
      expectColour(await colourOf(variant.data, { ...red, width: 10, height: 10 }), RED);
    }
  });

  it('mirrors before rot, as sharp does: rot=90&flip is flip, then a quarter turn', async () => {
    const { variant, image } = await rendered(corner, { rot: 90, flip: true });
    expect(image).toMatchObject({ width: 30, height: 40 });
    expectColour(await colourOf(variant.data, { left: 0, top: 0, width: 10, height: 10 }), RED);
  });

  it('rotates before resizing: w and h describe the turned image', async () => {
    expect((await rendered(photo, { rot: 90, w: 40 })).image).toMatchObject({ width: 40, height: 60 });
  });
});

describe('renderVariant: EXIF orientation and metadata', () => {
  let rotated: Buffer;
  beforeAll(async () => {
    rotated = await photoLikeJpeg(120, 80, { orientation: 6 });
  });

  it('the generated original is stored 120×80 with orientation 6', async () => {
    expect(await describeImage(rotated)).toMatchObject({ width: 120, height: 80, orientation: 6, hasExif: true });
  });

  it.each([
    [{}, 80, 120],
    [{ w: 40 }, 40, 60],
    [{ h: 60 }, 40, 60],
    [{ rot: 90 }, 120, 80],
    [{ w: 40, h: 40 }, 40, 40],
  ] as const)('auto-orients: %j → %i×%i with no orientation left', async (spec, width, height) => {
    const { image } = await rendered(rotated, spec);
    expect(image).toMatchObject({ width, height, orientation: undefined, hasExif: false });
  });

  it.each(['jpeg', 'png', 'webp', 'avif'] as const)('strips EXIF from %s output', async (fm) => {
    const withExif = await photoLikeJpeg(48, 32, { orientation: 1 });
    expect(await describeImage(withExif)).toMatchObject({ hasExif: true });
    const { image } = await rendered(withExif, { fm });
    expect(image).toMatchObject({ hasExif: false, orientation: undefined });
  });

  it('strips EXIF, XMP and GPS data, keeping only the colour profile', async () => {
    const tagged = await sharp(photo)
      .withExif({ IFD0: { Copyright: 'someone', Artist: 'someone' }, IFD3: { GPSLatitudeRef: 'N' } })
      .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
      .jpeg()
      .toBuffer();
    const before = await sharp(tagged).metadata();
    expect(before.exif).toBeDefined();
    expect(before.xmp).toBeDefined();
    for (const fm of ['jpeg', 'webp', 'png'] as const) {
      const after = await sharp((await render(tagged, { fm, w: 60 })).data).metadata();
      expect(after.exif, fm).toBeUndefined();
      expect(after.xmp, fm).toBeUndefined();
      expect(after.iptc, fm).toBeUndefined();
    }
  });

  it('converts an embedded profile to sRGB and tags the output with sRGB', async () => {
    // A flat saturated red, stored as Display P3: its numbers differ from the sRGB ones.
    const [width, height] = [32, 32];
    const srgbRed = Buffer.alloc(width * height * 3);
    for (let i = 0; i < srgbRed.length; i += 3) srgbRed.set([220, 40, 30], i);
    const p3 = await sharp(srgbRed, { raw: { width, height, channels: 3 } }).withIccProfile('p3').png().toBuffer();
    const storedAs = await meanColour(p3);
    expect(Math.abs(storedAs[0]! - 220) + Math.abs(storedAs[1]! - 40)).toBeGreaterThan(20);

    const { variant, image } = await rendered(p3, { fm: 'png' });
    expect(image).toMatchObject({ hasIcc: true, hasExif: false });
    expectColour(await colourOf(variant.data, { left: 0, top: 0, width, height }), [220, 40, 30], 3);
    const srgbTagged = await sharp(srgbRed, { raw: { width, height, channels: 3 } }).withIccProfile('srgb').png().toBuffer();
    const [outIcc, srgbIcc] = await Promise.all([sharp(variant.data).metadata(), sharp(srgbTagged).metadata()]);
    expect(outIcc.icc).toEqual(srgbIcc.icc);
  });

  it('converts CMYK to sRGB', async () => {
    const red = Buffer.alloc(16 * 16 * 3);
    for (let i = 0; i < red.length; i += 3) red.set([220, 40, 30], i);
    const cmyk = await sharp(red, { raw: { width: 16, height: 16, channels: 3 } }).withIccProfile('cmyk').jpeg().toBuffer();
    expect(await describeImage(cmyk)).toMatchObject({ space: 'cmyk', channels: 4 });
    const { variant, image } = await rendered(cmyk, {});
    expect(image).toMatchObject({ format: 'jpeg', space: 'srgb', channels: 3, hasIcc: true });
    expectColour(await colourOf(variant.data, { left: 0, top: 0, width: 16, height: 16 }), [220, 40, 30], 20);
  });

  it('writes progressive JPEG and interlaced PNG', async () => {
    expect(await describeImage(photo)).toMatchObject({ isProgressive: false });
    expect((await rendered(photo, { w: 60 })).image).toMatchObject({ format: 'jpeg', isProgressive: true });
    expect((await rendered(photo, { w: 60, fm: 'png' })).image).toMatchObject({ format: 'png', isProgressive: true });
  });
});

describe('renderVariant: formats', () => {
  it('q trades size for quality', async () => {
    const big = await photoLikeJpeg(200, 150, { seed: 9 });
    for (const fm of ['jpeg', 'webp'] as const) {
      const low = await render(big, { fm, q: 10 });
      const high = await render(big, { fm, q: 95 });
      expect(low.data.length).toBeLessThan(high.data.length * 0.6);
    }
  });

  it.each(['png', 'gif'] as const)('q changes nothing in %s (so the spec drops it)', async (fm) => {
    const low = await render(photo, { fm, q: 10 });
    const high = await render(photo, { fm, q: 95 });
    expect(low.data.length).toBe(high.data.length);
  });

  it('uses the default quality when q is absent', async () => {
    const big = await photoLikeJpeg(200, 150, { seed: 9 });
    const byDefault = await render(big, {}, { defaultQuality: 30 });
    const explicit = await render(big, { q: 30 });
    expect(byDefault.data.length).toBe(explicit.data.length);
  });

  it.each([
    ['jpeg', 'jpeg', 'image/jpeg'],
    ['png', 'png', 'image/png'],
    ['webp', 'webp', 'image/webp'],
    ['avif', 'heif', 'image/avif'],
    ['gif', 'gif', 'image/gif'],
  ] as const)('fm=%s', async (fm, sharpName, contentType) => {
    const { variant, image } = await rendered(photo, { fm, w: 30 });
    expect(variant).toMatchObject({ format: fm, contentType, width: 30, height: 20 });
    expect(image).toMatchObject({ format: sharpName, width: 30, height: 20 });
  });

  it.each([
    ['WebP', () => encodeAs(photo, 'webp'), 'webp', 'webp'],
    ['AVIF', () => encodeAs(photo, 'avif'), 'avif', 'heif'],
    ['PNG', () => encodeAs(photo, 'png'), 'png', 'png'],
    ['TIFF', () => encodeAs(photo, 'tiff'), 'jpeg', 'jpeg'],
    // sharp's default TIFF compression (JPEG) has no alpha channel: deflate keeps it.
    ['TIFF with alpha', () => sharp(alpha).tiff({ compression: 'deflate' }).toBuffer(), 'png', 'png'],
  ] as const)('without fm a %s original becomes %s', async (_name, make, format, sharpName) => {
    const { variant, image } = await rendered(await make(), { w: 32 });
    expect(variant.format).toBe(format);
    expect(image).toMatchObject({ format: sharpName, width: 32 });
  });

  it.each([
    [() => photo, 'jpeg'],
    [() => alpha, 'png'],
  ] as const)('fm=auto for a client without AVIF/WebP gives JPEG, or PNG with alpha (%#)', async (source, format) => {
    expect((await render(source(), { fm: 'auto' })).format).toBe(format);
  });

  it('flattens alpha onto white for JPEG', async () => {
    const { variant, image } = await rendered(alpha, { fm: 'jpeg' });
    expect(image).toMatchObject({ format: 'jpeg', hasAlpha: false, channels: 3 });
    expectColour(await colourOf(variant.data, { left: 0, top: 0, width: 6, height: 6 }), WHITE, 3);
    const centre = await colourOf(variant.data, { left: 28, top: 28, width: 8, height: 8 });
    expect(centre[0]).toBeLessThan(150);
  });

  it('keeps alpha for PNG, WebP and AVIF', async () => {
    for (const fm of ['png', 'webp', 'avif'] as const) {
      expect((await rendered(alpha, { fm })).image).toMatchObject({ hasAlpha: true });
    }
  });

  describe('animated GIF', () => {
    let gif: Buffer;
    beforeAll(async () => {
      gif = await animatedGif(32, 24, 3);
    });

    it('stays animated as WebP', async () => {
      const { variant, image } = await rendered(gif, { fm: 'webp', w: 16 });
      expect(image).toMatchObject({ format: 'webp', pages: 3, width: 16, height: 12 });
      expect(variant).toMatchObject({ width: 16, height: 12 });
    });

    it('stays animated as WebP when asked for AVIF (libvips writes still AVIF only)', async () => {
      const { variant, image } = await rendered(gif, { w: 16, fm: 'avif' });
      expect(variant.contentType).toBe('image/webp');
      expect(image).toMatchObject({ format: 'webp', pages: 3, width: 16, height: 12 });
    });

    it('stays animated as GIF without fm', async () => {
      expect((await rendered(gif, { w: 16 })).image).toMatchObject({ format: 'gif', pages: 3, width: 16, height: 12 });
    });

    it('becomes its first frame as JPEG', async () => {
      expect((await rendered(gif, { fm: 'jpeg' })).image).toMatchObject({ format: 'jpeg', pages: 1, width: 32, height: 24 });
    });

    it('counts every frame against maxInputPixels when it stays animated', async () => {
      const overrides = { maxInputPixels: 2000 }; // one frame is 768 pixels, three are 2304
      await expect(render(gif, { fm: 'webp' }, overrides)).rejects.toMatchObject({ statusCode: 413, code: 'input_too_large' });
      expect((await render(gif, { fm: 'jpeg' }, overrides)).format).toBe('jpeg');
    });

    it('stays animated through every operation that works frame by frame', async () => {
      const spec: TransformSpec = { w: 16, h: 16, fit: 'contain', bg: 'ff0000', blur: 1, sharpen: 1, rot: 180, flip: true, flop: true };
      expect((await rendered(gif, spec)).image).toMatchObject({ format: 'gif', pages: 3, width: 16, height: 16 });
    });

    it.each(['gif', 'webp'] as const)('stays animated when gray as %s', async (fm) => {
      const { variant, image } = await rendered(gif, { gray: true, fm });
      expect(image).toMatchObject({ format: fm, pages: 3, width: 32, height: 24 });
      const lastFrame = await sharp(variant.data, { page: 2 }).removeAlpha().png().toBuffer();
      const [r, g, b] = await meanColour(lastFrame);
      expect(Math.abs(r! - g!) + Math.abs(g! - b!)).toBeLessThanOrEqual(4);
    });

    it.each(['attention', 'entropy'] as const)('crops around the centre for pos=%s instead of failing', async (pos) => {
      expect((await rendered(gif, { w: 16, h: 16, pos })).image).toMatchObject({ format: 'gif', pages: 3, width: 16, height: 16 });
    });

    it.each([90, 270] as const)('refuses rot=%i with 400: sharp cannot turn animations a quarter', async (rot) => {
      const attempt = render(gif, { rot });
      await expect(attempt).rejects.toBeInstanceOf(InvalidRequestError);
      await expect(attempt).rejects.toMatchObject({ statusCode: 400, code: 'invalid_param', message: expect.stringContaining('fm=jpeg') });
      expect((await rendered(gif, { rot, fm: 'png' })).image).toMatchObject({ format: 'png', pages: 1, width: 24, height: 32 });
    });

    it('refuses more frames than maxFrames with 413', async () => {
      await expect(render(gif, { fm: 'webp' }, { maxFrames: 2 })).rejects.toMatchObject({ statusCode: 413, code: 'too_many_frames' });
    });
  });

  describe('SVG', () => {
    const drawing = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="20" height="20" fill="#f00"/></svg>');

    it('is refused with 415 unless enabled', async () => {
      await expect(render(drawing, {})).rejects.toBeInstanceOf(UnsupportedImageError);
      await expect(render(drawing, {})).rejects.toMatchObject({ statusCode: 415, code: 'unsupported_image' });
    });

    it('becomes PNG when enabled', async () => {
      expect((await rendered(drawing, {}, { allowSvg: true })).image).toMatchObject({ format: 'png', width: 40, height: 20, hasAlpha: true });
    });
  });
});

describe('renderVariant: limits that allow the render', () => {
  it('accepts a processing time limit below one second (libvips counts whole seconds)', async () => {
    expect((await rendered(photo, { w: 60 }, { timeoutSeconds: 0.2 })).image).toMatchObject({ width: 60, height: 40 });
  });
});

describe('renderVariant: refusals', () => {
  it.each([
    ['zero bytes', () => Buffer.alloc(0)],
    ['text', () => Buffer.from('this is not an image at all')],
    ['HTML', () => Buffer.from('<!doctype html><html><body>404</body></html>')],
    ['a PDF', () => Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj\n')],
  ])('%s → 415 unsupported_image', async (_name, make) => {
    const attempt = render(make(), { w: 10 });
    await expect(attempt).rejects.toBeInstanceOf(UnsupportedImageError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 415, code: 'unsupported_image' });
  });

  // HEIC is read (test/transform/heic.test.ts): a file that claims to be one and is not valid is broken.
  it.each([
    ['with a header libvips cannot read', relabelledHeic],
    ['with a valid header but data that is not HEVC', heicHeader],
  ])('HEIC %s → 422 undecodable_image', async (_name, make) => {
    const heic = make(await encodeAs(photo, 'avif'));
    const attempt = render(heic, {});
    await expect(attempt).rejects.toBeInstanceOf(UndecodableImageError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 422, code: 'undecodable_image' });
  });

  it.each([
    ['a JPEG cut in half', async () => photo.subarray(0, Math.floor(photo.length / 2))],
    ['a JPEG cut after its header', async () => photo.subarray(0, 20)],
    ['a PNG cut in half', async () => (await encodeAs(photo, 'png')).subarray(0, 4000)],
    ['a PNG cut inside its header', async () => (await encodeAs(photo, 'png')).subarray(0, 30)],
    ['a GIF cut short', async () => (await animatedGif(32, 24, 3)).subarray(0, 40)],
    ['a WebP cut short', async () => (await encodeAs(photo, 'webp')).subarray(0, 40)],
  ])('%s → 422 undecodable_image', async (_name, make) => {
    const attempt = render(await make(), { w: 10 });
    await expect(attempt).rejects.toBeInstanceOf(UndecodableImageError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 422, code: 'undecodable_image' });
  });

  it('refuses a decompression bomb from its header, without decoding it', async () => {
    const bomb = bombPng(20_000, 20_000);
    expect(bomb.length).toBeLessThan(100_000);
    const peakBefore = process.resourceUsage().maxRSS;
    const started = performance.now();
    const attempt = render(bomb, { w: 100 });
    await expect(attempt).rejects.toBeInstanceOf(TooLargeError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 413, code: 'input_too_large' });
    expect(performance.now() - started).toBeLessThan(1000);
    // Decoding would need 400 MB for the pixels alone (maxRSS is in kB).
    expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(100_000);
  });

  it('counts input pixels after orientation against maxInputPixels', async () => {
    await expect(render(photo, {}, { maxInputPixels: 120 * 80 - 1 })).rejects.toMatchObject({ statusCode: 413, code: 'input_too_large' });
    expect((await render(photo, {}, { maxInputPixels: 120 * 80 })).width).toBe(120);
  });

  it('refuses an enlargement over maxOutputPixels with 413, renders it without enlarge', async () => {
    const overrides = { maxOutputPixels: 100_000 };
    await expect(render(photo, { w: 1200, enlarge: true }, overrides)).rejects.toMatchObject({ statusCode: 413, code: 'output_too_large' });
    await expect(render(photo, { w: 600, h: 600, fit: 'outside', enlarge: true }, overrides)).rejects.toBeInstanceOf(TooLargeError);
    expect((await rendered(photo, { w: 1200 }, overrides)).image).toMatchObject({ width: 120, height: 80 });
  });

  it('refuses an original larger than maxOutputPixels when it is served at its own size', async () => {
    await expect(render(photo, {}, { maxOutputPixels: 5000 })).rejects.toMatchObject({ code: 'output_too_large' });
    expect((await rendered(photo, { w: 60 }, { maxOutputPixels: 5000 })).image).toMatchObject({ width: 60, height: 40 });
  });

  it('bounds the output of one-sided fill and contain by what they really produce', async () => {
    // fill stretches only the given side: 1000×80, under the limit.
    expect((await rendered(photo, { w: 1000, fit: 'fill', enlarge: true }, { maxOutputPixels: 100_000 })).image).toMatchObject({
      width: 1000,
      height: 80,
    });
    // contain without enlarge pads the given side: 400×80, over the limit.
    expect((await rendered(photo, { w: 400, fit: 'contain' })).image).toMatchObject({ width: 400, height: 80 });
    await expect(render(photo, { w: 400, fit: 'contain' }, { maxOutputPixels: 20_000 })).rejects.toMatchObject({
      code: 'output_too_large',
    });
  });
});
