import { describe, expect, it } from 'vitest';
import { exifForOutput, ifd0Values, readKeptExif } from '../../src/transform/exif-copyright.js';

/** A TIFF structure with one IFD of ASCII entries, in either byte order, as cameras write it. */
function exifBlock(entries: Record<number, string | Buffer>, options: { bigEndian?: boolean; prefix?: boolean } = {}): Buffer {
  const le = !options.bigEndian;
  const tags = Object.keys(entries).map(Number).sort((a, b) => a - b);
  const ifdSize = 2 + tags.length * 12 + 4;
  const header = Buffer.alloc(8);
  header.write(le ? 'II' : 'MM', 0, 'latin1');
  le ? header.writeUInt16LE(42, 2) : header.writeUInt16BE(42, 2);
  le ? header.writeUInt32LE(8, 4) : header.writeUInt32BE(8, 4);
  const ifd = Buffer.alloc(ifdSize);
  const values: Buffer[] = [];
  let offset = 8 + ifdSize;
  le ? ifd.writeUInt16LE(tags.length, 0) : ifd.writeUInt16BE(tags.length, 0);
  tags.forEach((tag, i) => {
    const raw = entries[tag]!;
    const value = typeof raw === 'string' ? Buffer.from(`${raw}\0`, 'utf8') : raw;
    const at = 2 + i * 12;
    const w16 = (v: number, o: number) => (le ? ifd.writeUInt16LE(v, o) : ifd.writeUInt16BE(v, o));
    const w32 = (v: number, o: number) => (le ? ifd.writeUInt32LE(v, o) : ifd.writeUInt32BE(v, o));
    w16(tag, at);
    w16(2, at + 2);
    w32(value.length, at + 4);
    if (value.length <= 4) {
      value.copy(ifd, at + 8);
    } else {
      w32(offset, at + 8);
      values.push(value);
      offset += value.length;
    }
  });
  const tiff = Buffer.concat([header, ifd, ...values]);
  return options.prefix === false ? tiff : Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
}

const COPYRIGHT = 0x8298;
const ARTIST = 0x013b;
const MAKE = 0x010f;

describe('readKeptExif', () => {
  it.each([
    ['little-endian, with the Exif prefix (JPEG, WebP, AVIF)', {}],
    ['big-endian', { bigEndian: true }],
    ['without the prefix (PNG eXIf)', { prefix: false }],
  ])('%s', (_name, options) => {
    const block = exifBlock({ [COPYRIGHT]: '(c) 2024 Jane Doe', [ARTIST]: 'Jane Doe', [MAKE]: 'TestCam' }, options);
    expect(readKeptExif(block)).toEqual({ Copyright: '(c) 2024 Jane Doe', Artist: 'Jane Doe' });
  });

  it('reads values of up to 4 bytes from the entry itself', () => {
    expect(readKeptExif(exifBlock({ [ARTIST]: 'Ann' }))).toEqual({ Artist: 'Ann' });
  });

  it('joins the photographer and editor notices of Copyright, and reads UTF-8', () => {
    const block = exifBlock({ [COPYRIGHT]: Buffer.from('Jos\u00e9 M\u00fcller\0Editor Inc.\0', 'utf8') });
    expect(readKeptExif(block)).toEqual({ Copyright: 'José Müller; Editor Inc.' });
  });

  it('reads bytes that are not UTF-8 as Latin-1', () => {
    expect(readKeptExif(exifBlock({ [ARTIST]: Buffer.from([0x4a, 0x6f, 0x73, 0xe9, 0]) }))).toEqual({ Artist: 'José' });
  });

  it('keeps neither field when they are empty or absent', () => {
    expect(readKeptExif(exifBlock({ [MAKE]: 'TestCam' }))).toBeUndefined();
    expect(readKeptExif(exifBlock({ [COPYRIGHT]: '   ', [ARTIST]: '' }))).toBeUndefined();
    expect(readKeptExif(undefined)).toBeUndefined();
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['not TIFF', Buffer.from('Exif\0\0XX*\0\x08\0\0\0', 'latin1')],
    ['an IFD offset past the end', Buffer.from('II*\0\xff\xff\0\0', 'latin1')],
    ['cut inside the IFD', exifBlock({ [COPYRIGHT]: 'a long enough copyright notice' }).subarray(0, 20)],
    ['cut before the value', exifBlock({ [COPYRIGHT]: 'a long enough copyright notice' }).subarray(0, 40)],
  ])('reads a malformed block (%s) as nothing kept', (_name, block) => {
    expect(readKeptExif(block)).toBeUndefined();
  });

  it('records which tags IFD0 has', () => {
    expect([...ifd0Values(exifBlock({ [COPYRIGHT]: 'c', [MAKE]: 'm' })).keys()].sort()).toEqual([MAKE, COPYRIGHT].sort());
  });

  it('cuts overlong values and drops control characters', () => {
    const kept = readKeptExif(exifBlock({ [ARTIST]: `a\tb\u0007c${'x'.repeat(2000)}` }));
    expect(kept?.Artist).toMatch(/^a b cx+$/);
    expect(kept?.Artist?.length).toBe(512);
  });
});

describe('exifForOutput', () => {
  it('ends each value with the " ()" libvips drops, so a value ending in parentheses survives', () => {
    expect(exifForOutput({ Copyright: 'Jane (Studio)', Artist: 'Jane' })).toEqual({ Copyright: 'Jane (Studio) ()', Artist: 'Jane ()' });
    expect(exifForOutput({ Artist: 'Jane' })).toEqual({ Artist: 'Jane ()' });
  });
});
