import { describe, expect, it } from 'vitest';
import { queryEntries } from '../../src/request/parse-request.js';
import { parseOperations } from '../../src/transform/operations.js';
import { buildSpec, canonicalString, type TransformSpec } from '../../src/transform/spec.js';
import { madeFrom, originalVariantsPrefix, RENDER_VERSION, sourceMetadata, variantId, variantKey } from '../../src/transform/variant-key.js';

const specOf = (query: string): TransformSpec =>
  buildSpec(parseOperations(queryEntries(query)), { defaultQuality: 80, maxOutputPixels: 8192 * 8192 }).spec;

const original = { key: 'photos/2024/beach.jpg', etag: '"9b2cf535f27731c974343645a3985328"' };
const spec = specOf('w=800&fm=webp');

describe('variantId', () => {
  it('is a pure function of prefix, original key, ETag and spec', () => {
    expect(variantId('variants/', original, spec)).toEqual(variantId('variants/', { ...original }, specOf('fm=webp&w=800')));
  });

  it('lays the key out as prefix/version/original-hash/variant-hash with a strong ETag', () => {
    const id = variantId('variants/', original, spec);
    expect(id.key).toMatch(new RegExp(`^variants/${RENDER_VERSION}/[0-9a-f]{32}/[0-9a-f]{40}$`));
    expect(id.key).toBe(variantKey('variants/', original.key, spec));
    expect(id.etag).toMatch(/^"[0-9a-f]{40}"$/);
    expect(id.spec).toBe('w=800&fm=webp');
    expect(id.spec).toBe(canonicalString(spec));
  });

  it.each(['', 'variants/', '_variants/cache/'])('puts the key below the prefix %j', (prefix) => {
    expect(variantId(prefix, original, spec).key.startsWith(`${prefix}${RENDER_VERSION}/`)).toBe(true);
  });

  it('keeps the key but changes the ETag with the original\'s version, which the metadata records', () => {
    const before = variantId('v/', original, spec);
    const replaced = { ...original, etag: '"0000000000000000000000000000000a"' };
    const after = variantId('v/', replaced, spec);
    // The key is known before the original is asked anything: lookup and read start together.
    expect(after.key).toBe(before.key);
    expect(after.etag).not.toBe(before.etag);
    expect(before.key.startsWith(originalVariantsPrefix('v/', original.key))).toBe(true);
    expect(madeFrom(sourceMetadata(original), original)).toBe(true);
    expect(madeFrom(sourceMetadata(original), replaced)).toBe(false);
    // Events mode checks only the watermark.
    expect(madeFrom(sourceMetadata(original), {})).toBe(true);
  });

  it.each([
    ['another key', { key: 'photos/2024/beach.jpeg', etag: original.etag }, spec],
    ['a key differing only in case', { key: 'Photos/2024/beach.jpg', etag: original.etag }, spec],
    ['another spec', original, specOf('w=801&fm=webp')],
    ['another format', original, specOf('w=800&fm=avif')],
    ['no transform at all', original, specOf('')],
  ])('changes for %s', (_name, other, otherSpec) => {
    expect(variantId('v/', other, otherSpec).key).not.toBe(variantId('v/', original, spec).key);
  });

  it('gives another original its own folder', () => {
    const a = variantId('v/', original, spec).key.split('/');
    const b = variantId('v/', { key: 'photos/other.jpg', etag: original.etag }, spec).key.split('/');
    expect(a[2]).not.toBe(b[2]);
  });

  it('reads an ETag with or without quotes (HEAD responses vs event notifications) as the same version', () => {
    expect(variantId('v/', { ...original, etag: original.etag.slice(1, -1) }, spec)).toEqual(variantId('v/', original, spec));
    expect(madeFrom(sourceMetadata({ ...original, etag: original.etag.slice(1, -1) }), original)).toBe(true);
  });

  it('does not let key and ETag run into each other', () => {
    const a = variantId('v/', { key: 'a', etag: 'bc' }, spec);
    const b = variantId('v/', { key: 'ab', etag: 'c' }, spec);
    expect(a.key).not.toBe(b.key);
    expect(a.etag).not.toBe(b.etag);
  });

  it.each([
    ['1024 ASCII bytes', 'k'.repeat(1020) + '.jpg'],
    ['1024 bytes of 4-byte characters', '😀'.repeat(256)],
    ['slashes, spaces and percent signs', `${'a b/%20/'.repeat(120)}x.png`],
  ])('stays short and S3-safe for a key of %s', (_name, key) => {
    const id = variantId('variants/', { key, etag: original.etag }, specOf('w=8192&h=8192&fit=contain&pos=left+bottom&fm=webp&q=1&bg=ffffff80&blur=100&sharpen=10&gray&rot=270&flip&flop&enlarge'));
    expect(id.key.length).toBe('variants/'.length + RENDER_VERSION.length + 1 + 32 + 1 + 40);
    expect(id.key).toMatch(/^[a-z0-9_/]+$/);
  });

  it('is the same for equivalent URLs', () => {
    const a = variantId('v/', original, specOf('w=800&h=600&fm=webp'));
    const b = variantId('v/', original, specOf('fm=webp&height=600&width=800&q=80&fit=cover&pos=center&enlarge=false'));
    const c = variantId('v/', original, specOf('w=400&h=300&dpr=2&format=webp'));
    expect(b.key).toBe(a.key);
    expect(c.key).toBe(a.key);
  });
});
