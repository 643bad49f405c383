import { describe, expect, it } from 'vitest';
import { CONTENT_TYPES, negotiateFormat, resolveOutputFormat, type SourceTraits } from '../../src/transform/format.js';
import { OUTPUT_FORMATS } from '../../src/transform/operations.js';

describe('negotiateFormat (fm=auto): AVIF, then WebP, else decided by the image', () => {
  it.each([
    // What browsers send for images.
    ['image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'avif'],
    ['image/webp,*/*', 'webp'],
    ['image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5', 'auto'],
    // Order and weights other than 0 do not change the preference.
    ['image/webp, image/avif', 'avif'],
    ['image/webp;q=1,image/avif;q=0.1', 'avif'],
    ['IMAGE/AVIF', 'avif'],
    ['  image/webp ; q=0.9  ', 'webp'],
    // q=0 means "not acceptable".
    ['image/avif;q=0,image/webp', 'webp'],
    ['image/avif;q=0.0,image/webp;q=0', 'auto'],
    ['image/avif; q=0', 'auto'],
    // Wildcards promise nothing about AVIF or WebP.
    ['*/*', 'auto'],
    ['image/*', 'auto'],
    ['image/jpeg', 'auto'],
    ['', 'auto'],
    [undefined, 'auto'],
    ['image/avifx,image/webpx', 'auto'],
  ])('Accept %j → %s', (accept, expected) => {
    expect(negotiateFormat(accept)).toBe(expected);
  });
});

const source = (format: string, extra: Partial<SourceTraits> = {}): SourceTraits => ({
  format,
  isAvif: false,
  hasAlpha: false,
  ...extra,
});

describe('resolveOutputFormat', () => {
  it.each(OUTPUT_FORMATS)('an explicit fm=%s wins whatever the source', (fm) => {
    expect(resolveOutputFormat(fm, source('tiff', { hasAlpha: true }))).toBe(fm);
    expect(resolveOutputFormat(fm, source('heif', { isAvif: true }))).toBe(fm);
  });

  it.each([
    // Without fm the source format is kept when browsers can show it…
    [source('jpeg'), 'jpeg'],
    [source('png'), 'png'],
    [source('png', { hasAlpha: true }), 'png'],
    [source('webp', { hasAlpha: true }), 'webp'],
    [source('gif'), 'gif'],
    [source('heif', { isAvif: true }), 'avif'],
    // …and anything else becomes JPEG, or PNG to keep transparency.
    [source('heif'), 'jpeg'],
    [source('heif', { hasAlpha: true }), 'png'],
    [source('tiff'), 'jpeg'],
    [source('tiff', { hasAlpha: true }), 'png'],
    [source('svg', { hasAlpha: true }), 'png'],
    [source('jp2k'), 'jpeg'],
    [source(''), 'jpeg'],
  ])('no fm, source %j → %s', (traits, expected) => {
    expect(resolveOutputFormat(undefined, traits)).toBe(expected);
  });

  it.each([
    // fm=auto for a client without AVIF/WebP: JPEG, or PNG for alpha, even from a WebP/AVIF original.
    [source('jpeg'), 'jpeg'],
    [source('png'), 'jpeg'],
    [source('png', { hasAlpha: true }), 'png'],
    [source('webp'), 'jpeg'],
    [source('webp', { hasAlpha: true }), 'png'],
    [source('heif', { isAvif: true }), 'jpeg'],
    [source('gif', { hasAlpha: true }), 'png'],
  ])('fm=auto left unresolved, source %j → %s', (traits, expected) => {
    expect(resolveOutputFormat('auto', traits)).toBe(expected);
  });
});

describe('CONTENT_TYPES', () => {
  it('has one image/* type per output format', () => {
    expect(CONTENT_TYPES).toEqual({
      jpeg: 'image/jpeg',
      png: 'image/png',
      webp: 'image/webp',
      avif: 'image/avif',
      gif: 'image/gif',
    });
    expect(Object.keys(CONTENT_TYPES).sort()).toEqual([...OUTPUT_FORMATS].sort());
  });
});
