import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImage, photoLikeJpeg } from '../scripts/samples.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { createVariantService } from '../src/service.js';
import { queryEntries } from '../src/request/parse-request.js';
import type { ImageStore } from '../src/storage/image-store.js';
import { parseOperations } from '../src/transform/operations.js';
import { buildSpec, type TransformSpec } from '../src/transform/spec.js';
import { normalizeEtag } from '../src/transform/variant-key.js';
import { countingStore, startStack, uniqueKey, type CallCounts, type Stack } from './support/stack.js';

/** The canonical spec for a query string, as the handler would build it. */
function spec(query: string, accept?: string): TransformSpec {
  return buildSpec(parseOperations(queryEntries(query)), { accept, defaultQuality: 80, maxOutputPixels: 8192 * 8192 }).spec;
}

const ONE_YEAR = 'public, max-age=31536000, immutable';

describe('variant service against a local S3', () => {
  let stack: Stack;
  let photo: Buffer;

  beforeAll(async () => {
    stack = await startStack();
    photo = await photoLikeJpeg(600, 400);
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A fresh instance whose store calls are counted. */
  function countedApp() {
    let counted!: ReturnType<typeof countingStore>;
    const app = stack.app({
      wrapStore: (store) => {
        counted = countingStore(store);
        return counted.store;
      },
    });
    return { app, calls: counted.calls, reset: counted.reset };
  }

  it('with FRESHNESS=events, answers a hit this instance has seen stored with one S3 request', async () => {
    const key = uniqueKey('photos/events.jpg');
    await stack.seed(key, photo);
    let counted!: ReturnType<typeof countingStore>;
    const app = stack.app({
      env: { FRESHNESS: 'events' },
      wrapStore: (store) => {
        counted = countingStore(store);
        return counted.store;
      },
    });
    const first = await app.service.getVariant({ key, spec: spec('w=120') });
    expect(first.kind).toBe('miss');
    // The lookup and the original's read together, the write, then the check that the original
    // was not replaced while it rendered.
    expect(counted.calls).toMatchObject({ getVariant: 1, openOriginal: 1, putVariant: 1, headOriginal: 1, getOriginal: 0 });
    counted.reset();
    const second = await app.service.getVariant({ key, spec: spec('w=120') });
    expect(second.kind).toBe('hit');
    expect(counted.calls).toMatchObject({ getVariant: 1, openOriginal: 0, headOriginal: 0, getOriginal: 0 });

    // The trade-off, as documented: until syncVariants has run, a replaced original's old variant is served.
    await stack.seed(key, await photoLikeJpeg(300, 200, { seed: 9 }));
    const stale = await app.service.getVariant({ key, spec: spec('w=120') });
    expect(stale.kind).toBe('hit');
    expect(stale.id).toEqual(first.id);
  });

  it('with HOT_VARIANT_SECONDS, answers repeated hits from memory within the window, without S3', async () => {
    const key = uniqueKey('photos/hot.jpg');
    await stack.seed(key, photo);
    let counted!: ReturnType<typeof countingStore>;
    const app = stack.app({ env: { FRESHNESS: 'events', HOT_VARIANT_SECONDS: '60' }, wrapStore: (store) => (counted = countingStore(store)).store });
    const first = await app.service.getVariant({ key, spec: spec('w=110') });
    expect(first.kind).toBe('miss');
    counted.reset();
    const again = await app.service.getVariant({ key, spec: spec('w=110') });
    const revalidated = await app.service.getVariant({ key, spec: spec('w=110'), ifNoneMatch: first.id.etag });
    expect(again.kind).toBe('hit');
    expect(again.id).toEqual(first.id);
    if (again.kind !== 'hit' || first.kind !== 'miss') throw new Error('unexpected');
    expect(again.body.equals(first.body)).toBe(true);
    expect(revalidated.kind).toBe('not-modified');
    expect(Object.values(counted.calls).every((n) => n === 0)).toBe(true);
  });

  it('refuses HOT_VARIANT_SECONDS without FRESHNESS=events', () => {
    expect(() => loadConfig({ IS_LOCAL: 'true', HOT_VARIANT_SECONDS: '5' })).toThrow(/HOT_VARIANT_SECONDS needs FRESHNESS=events/);
  });

  it('with FRESHNESS=events, a cold instance starts the original read with the lookup and abandons it on a hit', async () => {
    const key = uniqueKey('photos/events-cold.jpg');
    await stack.seed(key, photo);
    const warm = stack.app({ env: { FRESHNESS: 'events' } });
    const first = await warm.service.getVariant({ key, spec: spec('w=130') });
    let counted!: ReturnType<typeof countingStore>;
    const cold = stack.app({ env: { FRESHNESS: 'events' }, wrapStore: (store) => (counted = countingStore(store)).store });
    const hit = await cold.service.getVariant({ key, spec: spec('w=130') });
    expect(hit.kind).toBe('hit');
    expect(hit.id).toEqual(first.id);
    expect(counted.calls).toMatchObject({ getVariant: 1, openOriginal: 1, putVariant: 0, getOriginal: 0 });
  });

  it('with FRESHNESS=events, undoes a write made from an original replaced while it rendered', async () => {
    const key = uniqueKey('photos/events-race.jpg');
    await stack.seed(key, photo);
    const replacement = await photoLikeJpeg(800, 800, { seed: 9 });
    const app = stack.app({
      env: { FRESHNESS: 'events' },
      wrapStore: (store): ImageStore => ({
        ...store,
        async openOriginal(k, ifNoneMatch) {
          const opened = await store.openOriginal(k, ifNoneMatch);
          if (!opened || 'unchanged' in opened) return opened;
          // The upload lands (and syncVariants finds nothing to delete) once this render has the old bytes.
          return { ...opened, bytes: async () => (await Promise.all([opened.bytes(), stack.seed(key, replacement)]))[0] };
        },
      }),
    });
    const raced = await app.service.getVariant({ key, spec: spec('w=100') });
    if (raced.kind === 'not-modified') throw new Error('unexpected 304');
    expect(await describeImage(raced.body)).toMatchObject({ width: 100, height: 67 });
    expect((await stack.listing()).map((v) => v.key)).not.toContain(raced.id.key);
    expect(app.log.entries).toContainEqual(expect.objectContaining({ level: 'warn', message: 'variant deleted: its original changed while it was rendered' }));

    const fresh = await stack.app({ env: { FRESHNESS: 'events' } }).service.getVariant({ key, spec: spec('w=100') });
    if (fresh.kind === 'not-modified') throw new Error('unexpected 304');
    expect(fresh.kind).toBe('miss');
    expect(await describeImage(fresh.body)).toMatchObject({ width: 100, height: 100 });
  });

  it('with FRESHNESS=events in the engine, checks after the write and off the response\'s path, even a replacement during the write', async () => {
    const key = uniqueKey('photos/events-engine-race.jpg');
    await stack.seed(key, photo);
    const replacement = await photoLikeJpeg(800, 800, { seed: 9 });
    const app = stack.app({ env: { FRESHNESS: 'events' } });
    const store: ImageStore = {
      ...app.store,
      async putVariant(k, body, write) {
        await app.store.putVariant(k, body, write);
        await stack.seed(key, replacement);
      },
    };
    const later: Promise<void>[] = [];
    const service = createVariantService(app.config, store, app.log, { afterResponse: (work) => later.push(work) });
    const raced = await service.getVariant({ key, spec: spec('w=100') });
    expect(raced.kind).toBe('miss');
    expect(later).toHaveLength(1);
    await Promise.all(later);
    expect((await stack.listing()).map((v) => v.key)).not.toContain(raced.id.key);
  });

  it('by default (FRESHNESS=strict) checks the original on every hit, in the lookup\'s round trip', async () => {
    const key = uniqueKey('photos/strict.jpg');
    await stack.seed(key, photo);
    const { app, calls, reset } = countedApp();
    await app.service.getVariant({ key, spec: spec('w=120') });
    reset();
    expect((await app.service.getVariant({ key, spec: spec('w=120') })).kind).toBe('hit');
    expect(calls).toMatchObject({ headOriginal: 1, getVariant: 1, getOriginal: 0 });
  });

  it('on a miss reads the original, renders it and stores the variant with its provenance', async () => {
    const key = uniqueKey('photos/miss.jpg');
    const etag = await stack.seed(key, photo);
    const { app, calls } = countedApp();

    const result = await app.service.getVariant({ key, spec: spec('w=300&fm=webp') });

    expect(result.kind).toBe('miss');
    if (result.kind === 'not-modified') throw new Error('unexpected 304');
    expect(result.stored).toBe(true);
    expect(result.contentType).toBe('image/webp');
    expect(await describeImage(result.body)).toMatchObject({ format: 'webp', width: 300, height: 200 });
    // Two sequential round trips: the lookup with the original's read, then the write.
    expect(calls).toEqual<CallCounts>({ headOriginal: 0, getOriginal: 0, openOriginal: 1, getVariant: 1, headVariant: 0, putVariant: 1, variantUrl: 0, listVariants: 0, deleteVariants: 0 });
    expect(result.timings.s3Read).toBeGreaterThan(0);
    expect(result.timings.transform).toBeGreaterThan(0);
    expect(result.timings.s3Write).toBeGreaterThan(0);

    const variants = await stack.listing();
    expect(variants.filter((v) => v.key === result.id.key)).toHaveLength(1);
    const stored = await stack.getObject('variants', result.id.key);
    expect(stored.body.equals(result.body)).toBe(true);
    expect(stored.contentType).toBe('image/webp');
    expect(stored.cacheControl).toBe(ONE_YEAR);
    expect(stored.metadata).toEqual({ 'source-key': encodeURIComponent(key), 'source-etag': normalizeEtag(etag), spec: 'w=300&fm=webp' });
    // The original is only ever read.
    expect(await stack.originalEtag(key)).toBe(etag);
  });

  it('on a hit answers the stored bytes without reading or decoding the original', async () => {
    const key = uniqueKey('photos/hit.jpg');
    await stack.seed(key, photo);
    const { app, calls, reset } = countedApp();
    const first = await app.service.getVariant({ key, spec: spec('w=200&fm=png') });
    reset();

    const second = await app.service.getVariant({ key, spec: spec('fm=png&w=200') });

    expect(second.kind).toBe('hit');
    if (first.kind === 'not-modified' || second.kind === 'not-modified') throw new Error('unexpected 304');
    expect(second.id).toEqual(first.id);
    expect(second.body.equals(first.body)).toBe(true);
    expect(second.contentType).toBe('image/png');
    expect(second.timings.transform).toBe(0);
    expect(calls.getOriginal).toBe(0);
    expect(calls.putVariant).toBe(0);

    // A cold instance (no memory of earlier requests) finds it in S3 too.
    const cold = countedApp();
    const third = await cold.app.service.getVariant({ key, spec: spec('w=200&fm=png') });
    expect(third.kind).toBe('hit');
    expect(cold.calls.getOriginal).toBe(0);
  });

  it('serves a new variant, never a stale one, once the original is replaced', async () => {
    const key = uniqueKey('photos/replaced.jpg');
    const oldEtag = await stack.seed(key, photo);
    const request = { key, spec: spec('w=300') };
    const before = await stack.service.getVariant(request);
    expect((await stack.service.getVariant(request)).kind).toBe('hit');

    const newEtag = await stack.seed(key, await photoLikeJpeg(900, 300, { seed: 5 }));
    expect(newEtag).not.toBe(oldEtag);
    const after = await stack.service.getVariant(request);

    expect(after.kind).toBe('miss');
    expect(after.id.etag).not.toBe(before.id.etag);
    // The same key, overwritten: the stored variant says which version it was made from.
    expect(after.id.key).toBe(before.id.key);
    if (after.kind === 'not-modified') throw new Error('unexpected 304');
    expect(await describeImage(after.body)).toMatchObject({ format: 'jpeg', width: 300, height: 100 });
    expect((await stack.getObject('variants', after.id.key)).metadata['source-etag']).toBe(normalizeEtag(newEtag));
    expect((await stack.service.getVariant(request)).kind).toBe('hit');
  });

  it('in strict mode, a variant made from an original replaced while it rendered is never served', async () => {
    const key = uniqueKey('photos/racing.jpg');
    await stack.seed(key, photo);
    const replacement = await photoLikeJpeg(800, 800, { seed: 9 });
    const app = stack.app({
      wrapStore: (store): ImageStore => ({
        ...store,
        async putVariant(k, body, write) {
          await stack.seed(key, replacement);
          await store.putVariant(k, body, write);
        },
      }),
    });
    const raced = await app.service.getVariant({ key, spec: spec('w=100') });
    if (raced.kind === 'not-modified') throw new Error('unexpected 304');
    expect(await describeImage(raced.body)).toMatchObject({ width: 100, height: 67 });

    const next = await stack.app().service.getVariant({ key, spec: spec('w=100') });
    if (next.kind === 'not-modified') throw new Error('unexpected 304');
    expect(next.kind).toBe('miss');
    expect(next.id.etag).not.toBe(raced.id.etag);
    expect(await describeImage(next.body)).toMatchObject({ width: 100, height: 100 });
  });

  it('answers 8 identical concurrent misses with one render, one write and identical bytes', async () => {
    const key = uniqueKey('photos/concurrent.jpg');
    await stack.seed(key, photo);
    const { app, calls } = countedApp();

    const results = await Promise.all(
      Array.from({ length: 8 }, () => app.service.getVariant({ key, spec: spec('w=240&fm=webp') })),
    );

    const bodies = results.map((r) => (r.kind === 'not-modified' ? Buffer.alloc(0) : r.body));
    expect(new Set(results.map((r) => r.id.key)).size).toBe(1);
    for (const body of bodies) expect(body.equals(bodies[0]!)).toBe(true);
    expect(calls.putVariant).toBe(1);
    const variants = (await stack.listing()).filter((v) => v.key === results[0]!.id.key);
    expect(variants).toHaveLength(1);
    const stored = await stack.getObject('variants', results[0]!.id.key);
    expect(stored.body.equals(bodies[0]!)).toBe(true);
    expect(await describeImage(stored.body)).toMatchObject({ format: 'webp', width: 240, height: 160 });
  });

  it('leaves one whole variant when two instances (two Lambdas) miss the same variant at once', async () => {
    const key = uniqueKey('photos/two-lambdas.jpg');
    await stack.seed(key, photo);
    const a = stack.app();
    const b = stack.app();
    const request = { key, spec: spec('w=320&fm=avif') };

    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).service.getVariant(request)),
    );

    const bodies = results.map((r) => (r.kind === 'not-modified' ? Buffer.alloc(0) : r.body));
    for (const body of bodies) expect(body.equals(bodies[0]!)).toBe(true);
    const id = results[0]!.id;
    const prefix = id.key.slice(0, id.key.lastIndexOf('/') + 1);
    expect((await stack.listing('variants', prefix)).map((v) => v.key)).toEqual([id.key]);
    const stored = await stack.getObject('variants', id.key);
    expect(stored.body.equals(bodies[0]!)).toBe(true);
    expect(await describeImage(stored.body)).toMatchObject({ format: 'heif', width: 320, height: 213 });
  });

  it('refuses a missing original with 404 and writes nothing', async () => {
    const variantsBefore = await stack.listing();
    await expect(
      stack.service.getVariant({ key: uniqueKey('photos/absent.jpg'), spec: spec('w=100') }),
    ).rejects.toMatchObject({ statusCode: 404, code: 'original_not_found' });
    expect(await stack.listing()).toEqual(variantsBefore);
  });

  it('refuses an original over MAX_ORIGINAL_BYTES from its headers, without reading its body', async () => {
    const key = uniqueKey('photos/big.jpg');
    await stack.seed(key, photo);
    let counted!: ReturnType<typeof countingStore>;
    const app = stack.app({
      env: { MAX_ORIGINAL_BYTES: String(photo.length - 1) },
      wrapStore: (store) => (counted = countingStore(store)).store,
    });
    await expect(app.service.getVariant({ key, spec: spec('w=100') })).rejects.toMatchObject({
      statusCode: 413,
      code: 'original_too_large',
    });
    expect(counted.calls.getOriginal).toBe(0);
  });

  it('answers not-modified for the current ETag without reading the original', async () => {
    const key = uniqueKey('photos/etag.jpg');
    await stack.seed(key, photo);
    const { app, calls, reset } = countedApp();
    const first = await app.service.getVariant({ key, spec: spec('w=100') });
    reset();

    const again = await app.service.getVariant({ key, spec: spec('w=100'), ifNoneMatch: first.id.etag });
    expect(again).toEqual({ kind: 'not-modified', id: first.id });
    expect(calls.getOriginal).toBe(0);
    const other = await app.service.getVariant({ key, spec: spec('w=100'), ifNoneMatch: '"0000"' });
    expect(other.kind).toBe('hit');
  });

  it('still answers the image when the variant write fails, and logs a warning', async () => {
    const key = uniqueKey('photos/unwritable.jpg');
    await stack.seed(key, photo);
    const app = stack.app({
      wrapStore: (store): ImageStore => ({
        ...store,
        putVariant: async () => {
          throw new Error('simulated write failure');
        },
      }),
    });
    const variantsBefore = await stack.listing();

    const result = await app.service.getVariant({ key, spec: spec('w=150') });

    expect(result.kind).toBe('miss');
    if (result.kind === 'not-modified') throw new Error('unexpected 304');
    expect(result.stored).toBe(false);
    expect(await describeImage(result.body)).toMatchObject({ format: 'jpeg', width: 150, height: 100 });
    expect(app.log.entries).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'variant write failed',
        details: [expect.objectContaining({ variantKey: result.id.key })],
      }),
    );
    expect(await stack.listing()).toEqual(variantsBefore);
  });

  it('gives up with 503 processing_timeout when the work outlasts PROCESSING_TIMEOUT_MS', async () => {
    const key = uniqueKey('photos/slow.jpg');
    await stack.seed(key, photo);
    // A read that stalls until released, and then finds nothing, so no late write follows.
    let release!: () => void;
    const stalled = new Promise<undefined>((resolve) => (release = () => resolve(undefined)));
    const app = stack.app({
      env: { PROCESSING_TIMEOUT_MS: '200' },
      wrapStore: (store): ImageStore => ({ ...store, openOriginal: () => stalled }),
    });
    try {
      await expect(app.service.getVariant({ key, spec: spec('w=100') })).rejects.toMatchObject({
        statusCode: 503,
        code: 'processing_timeout',
        headers: { 'Retry-After': '1' },
      });
    } finally {
      release();
    }
  });
});

describe('loadConfig', () => {
  it('builds a typed config with the documented defaults', () => {
    const config = loadConfig({ S3_ENDPOINT: 'http://127.0.0.1:9', IS_LOCAL: 'true' });
    expect(config).toMatchObject({
      originalsBucket: 'originals',
      variantsBucket: 'variants',
      originalsPrefix: '',
      variantsPrefix: '',
      defaultQuality: 80,
      cacheMaxAge: 31536000,
      presignedUrlTtl: 300,
      s3: { endpoint: 'http://127.0.0.1:9', forcePathStyle: true, region: 'us-east-1', maxAttempts: 3 },
    });
    expect(config.s3.credentials).toEqual({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('keeps variants apart from originals when they share a bucket', () => {
    const config = loadConfig({ ORIGINALS_BUCKET: 'images', VARIANTS_BUCKET: 'images', ORIGINALS_PREFIX: 'img' });
    expect(config.originalsPrefix).toBe('img/');
    expect(config.variantsPrefix).toBe('_variants/');
  });

  it('treats an empty variable as unset rather than as 0', () => {
    expect(loadConfig({ CACHE_MAX_AGE: '', DEFAULT_QUALITY: ' ' })).toMatchObject({ cacheMaxAge: 31536000, defaultQuality: 80 });
  });

  it.each([
    [{ DEFAULT_QUALITY: '500' }, 'DEFAULT_QUALITY'],
    [{ DEFAULT_QUALITY: 'high' }, 'DEFAULT_QUALITY'],
    [{ CACHE_MAX_AGE: '-1' }, 'CACHE_MAX_AGE'],
    [{ MAX_INLINE_BYTES: String(7 * 1024 * 1024) }, 'MAX_INLINE_BYTES'],
    [{ S3_MAX_ATTEMPTS: '0' }, 'S3_MAX_ATTEMPTS'],
    [{ S3_FORCE_PATH_STYLE: 'maybe' }, 'S3_FORCE_PATH_STYLE'],
    [{ ORIGINALS_BUCKET: 'ab' }, 'ORIGINALS_BUCKET'],
    [{ ORIGINALS_PREFIX: '/photos' }, 'ORIGINALS_PREFIX'],
    [{ VARIANTS_PREFIX: '/cache' }, 'VARIANTS_PREFIX'],
    [{ ORIGINALS_BUCKET: 'images', VARIANTS_BUCKET: 'images', VARIANTS_PREFIX: '' }, 'VARIANTS_PREFIX'],
    [{ ORIGINALS_BUCKET: 'images', VARIANTS_BUCKET: 'images', VARIANTS_PREFIX: 'v', ORIGINALS_PREFIX: 'v/img' }, 'ORIGINALS_PREFIX'],
  ])('rejects %j naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`Invalid configuration: .*${variable}`));
  });
});
