import { beforeAll, describe, expect, it } from 'vitest';
import { alphaPng, animatedGif, encodeAs, photoLikeJpeg } from '../../scripts/samples.js';
import { sniffFormat, type SniffedFormat } from '../../src/transform/sniff.js';

/** An ISO-BMFF `ftyp` box with the given major and compatible brands, then some filler. */
function ftyp(major: string, compatible: string[]): Buffer {
  const size = 16 + 4 * compatible.length;
  const box = Buffer.alloc(size + 32);
  box.writeUInt32BE(size, 0);
  box.write('ftyp', 4, 'ascii');
  box.write(major, 8, 'ascii');
  compatible.forEach((brand, i) => box.write(brand, 16 + 4 * i, 'ascii'));
  return box;
}

describe('sniffFormat: generated images of every readable format', () => {
  const images: Partial<Record<SniffedFormat, Buffer>> = {};
  beforeAll(async () => {
    const photo = await photoLikeJpeg(16, 12);
    images.jpeg = photo;
    images.png = await alphaPng(16, 16);
    images.webp = await encodeAs(photo, 'webp');
    images.avif = await encodeAs(photo, 'avif');
    images.gif = await animatedGif(8, 8, 2);
    images.tiff = await encodeAs(photo, 'tiff');
  });

  it.each(['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff'] as const)('%s', (format) => {
    expect(sniffFormat(images[format]!)).toBe(format);
  });

  it('reads only the first bytes: a truncated image still sniffs as its format', () => {
    expect(sniffFormat(images.jpeg!.subarray(0, 3))).toBe('jpeg');
    expect(sniffFormat(images.png!.subarray(0, 8))).toBe('png');
    expect(sniffFormat(images.avif!.subarray(0, 40))).toBe('avif');
  });
});

describe('sniffFormat: signatures', () => {
  it.each([
    ['JPEG SOI + marker', Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 'jpeg'],
    ['PNG signature', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'png'],
    ['GIF87a', Buffer.from('GIF87a\x01\x00', 'latin1'), 'gif'],
    ['GIF89a', Buffer.from('GIF89a\x01\x00', 'latin1'), 'gif'],
    ['RIFF WEBP', Buffer.from('RIFF\x00\x00\x00\x00WEBPVP8 ', 'latin1'), 'webp'],
    ['TIFF little-endian', Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]), 'tiff'],
    ['TIFF big-endian', Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]), 'tiff'],
    ['AVIF major brand', ftyp('avif', ['mif1', 'miaf']), 'avif'],
    ['AVIF sequence', ftyp('avis', ['msf1']), 'avif'],
    ['AVIF as a compatible brand', ftyp('mif1', ['miaf', 'avif']), 'avif'],
    ['HEIC major brand', ftyp('heic', ['mif1', 'heic']), 'heic'],
    ['HEIF generic brands', ftyp('mif1', ['heic']), 'heic'],
    ['HEIC with only mif1', ftyp('mif1', []), 'heic'],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'), 'svg'],
    ['SVG with prolog', Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg>\n</svg>'), 'svg'],
    ['SVG with BOM and whitespace', Buffer.from('\uFEFF  \n<svg\n width="1"/>'), 'svg'],
    ['SVG after a comment', Buffer.from('<!-- drawn by hand --><svg></svg>'), 'svg'],
  ])('%s → %s', (_name, bytes, expected) => {
    expect(sniffFormat(bytes)).toBe(expected);
  });

  it.each([
    ['no bytes', Buffer.alloc(0)],
    ['one byte', Buffer.from([0xff])],
    ['two JPEG bytes', Buffer.from([0xff, 0xd8])],
    ['half a PNG signature', Buffer.from([0x89, 0x50, 0x4e, 0x47])],
    ['GIF8 only', Buffer.from('GIF8', 'latin1')],
    ['plain text', Buffer.from('hello, this is not an image')],
    ['JSON', Buffer.from('{"svg": "<svg>"}')],
    ['HTML without SVG', Buffer.from('<!doctype html><html><body>hi</body></html>')],
    ['an element merely named svg-like', Buffer.from('<svgx></svgx>')],
    ['RIFF WAVE', Buffer.from('RIFF\x00\x00\x00\x00WAVEfmt ', 'latin1')],
    ['MP4 (ISO-BMFF, video brands)', ftyp('isom', ['iso2', 'mp41'])],
    ['PDF', Buffer.from('%PDF-1.7\n')],
    ['zip', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0])],
    ['zeros', Buffer.alloc(64)],
  ])('%s → undefined', (_name, bytes) => {
    expect(sniffFormat(bytes)).toBeUndefined();
  });

  it('accepts a Uint8Array as well as a Buffer', () => {
    expect(sniffFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xdb]))).toBe('jpeg');
  });
});
