import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalS3 } from '../scripts/local-s3.js';
import { describeImage, photoLikeJpeg } from '../scripts/samples.js';
import type { HttpResponse } from '../src/http/response.js';
import type { ImageStore } from '../src/storage/image-store.js';
import { errorCacheControl } from './support/cache-contract.js';
import { normalizeEtag } from '../src/transform/variant-key.js';
import {
  ORIGINALS,
  VARIANTS,
  bodyBytes,
  buildApp,
  countingStore,
  event,
  freePort,
  startStack,
  uniqueKey,
  type App,
  type Stack,
} from './support/stack.js';

const ONE_YEAR = 'public, max-age=31536000, immutable';
const SERVER_TIMING = /^s3-read;dur=\d+\.\d, transform;dur=\d+\.\d, s3-write;dur=\d+\.\d$/;

function expectImage(response: HttpResponse, expected: { cache: 'hit' | 'miss'; contentType: string; cacheControl?: string }) {
  expect(response.statusCode).toBe(200);
  expect(response.isBase64Encoded).toBe(true);
  expect(response.headers).toMatchObject({
    'Content-Type': expected.contentType,
    'Cache-Control': expected.cacheControl ?? ONE_YEAR,
    'X-Cache': expected.cache,
    'X-Content-Type-Options': 'nosniff',
  });
  expect(response.headers.ETag).toMatch(/^"[0-9a-f]{40}"$/);
  expect(response.headers['Server-Timing']).toMatch(SERVER_TIMING);
}

/**
 * The error contract: JSON `{"error":{"code","message"}}`, nothing internal in it; a 5xx never
 * cached, a 4xx at most ERROR_MAX_AGE.
 */
function expectError(response: HttpResponse, status: number, code: string) {
  expect(response.statusCode).toBe(status);
  expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8');
  expect(response.headers['Cache-Control']).toBe(errorCacheControl(status));
  const body = JSON.parse(response.body ?? '') as unknown;
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  expect(response.body).not.toMatch(/\bat .+:\d+:\d+|node_modules|\/src\/|stack|ECONNREFUSED|127\.0\.0\.1/i);
}

/** Keys of the variants the action added to the bucket. */
async function newVariants(stack: Stack, action: () => Promise<unknown>): Promise<string[]> {
  const before = new Set((await stack.listing()).map((v) => v.key));
  await action();
  return (await stack.listing()).map((v) => v.key).filter((k) => !before.has(k));
}

describe('the test event builder', () => {
  const dir = join(__dirname, '..', 'events');
  // The HTTP API's events (other functions have their own: startBatch's job, S3 notifications).
  const samples = readdirSync(dir).filter((f) => f.endsWith('.json') && 'routeKey' in JSON.parse(readFileSync(join(dir, f), 'utf8')));

  it.each(samples)('builds what events/%s holds', (file) => {
    const sample = JSON.parse(readFileSync(join(dir, file), 'utf8')) as APIGatewayProxyEventV2;
    const built = event(sample.pathParameters!.proxy!, sample.rawQueryString, sample.headers as Record<string, string>, sample.requestContext.http.method);
    const shape = (e: APIGatewayProxyEventV2) => ({
      version: e.version,
      routeKey: e.routeKey,
      rawPath: e.rawPath,
      rawQueryString: e.rawQueryString,
      queryStringParameters: e.queryStringParameters,
      pathParameters: e.pathParameters,
      headers: e.headers,
      http: { ...e.requestContext.http, userAgent: undefined },
      requestKeys: Object.keys(e.requestContext).sort(),
      time: e.requestContext.time.replace(/\d/g, '0').replace(/\/[A-Z][a-z]{2}\//, '/Mon/'),
    });
    expect(shape(built)).toEqual(shape(sample));
  });
});

describe('resize handler over a local S3', () => {
  let stack: Stack;
  let photo: Buffer;

  beforeAll(async () => {
    stack = await startStack();
    photo = await photoLikeJpeg(600, 400);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('renders on a miss, stores the variant and answers the same bytes from the cache on a hit', async () => {
    const key = uniqueKey('photos/sunset.jpg');
    const originalEtag = await stack.seed(key, photo);
    let counted!: ReturnType<typeof countingStore>;
    const app = stack.app({ wrapStore: (store) => (counted = countingStore(store)).store });

    let miss!: HttpResponse;
    const added = await newVariants(stack, async () => {
      miss = await app.handler(event(key, { w: '300', fm: 'webp' }));
    });

    expectImage(miss, { cache: 'miss', contentType: 'image/webp' });
    expect(miss.headers.Vary).toBeUndefined();
    expect(await describeImage(bodyBytes(miss))).toMatchObject({ format: 'webp', width: 300, height: 200 });
    expect(added).toHaveLength(1);
    const stored = await stack.getObject(VARIANTS, added[0]!);
    expect(stored.body.equals(bodyBytes(miss))).toBe(true);
    expect(stored.contentType).toBe('image/webp');
    expect(stored.cacheControl).toBe(ONE_YEAR);
    expect(stored.metadata).toEqual({ 'source-key': encodeURIComponent(key), 'source-etag': normalizeEtag(originalEtag), spec: 'w=300&fm=webp' });
    expect(counted.calls.openOriginal).toBe(1);

    counted.reset();
    const hit = await app.handler(event(key, { w: '300', fm: 'webp' }));
    expectImage(hit, { cache: 'hit', contentType: 'image/webp' });
    expect(hit.headers.ETag).toBe(miss.headers.ETag);
    expect(bodyBytes(hit).equals(bodyBytes(miss))).toBe(true);
    expect(counted.calls.getOriginal + counted.calls.openOriginal).toBe(0);
    expect(counted.calls.putVariant).toBe(0);
    expect(await stack.originalEtag(key)).toBe(originalEtag);
  });

  it('serves an iPhone-style HEIC original: upright JPEG by default, WebP when asked', async () => {
    // 64×96 once turned by its HEIF rotation (test/fixtures/heic/README.md).
    const key = uniqueKey('photos/IMG_0001.HEIC');
    await stack.seed(key, readFileSync(join(__dirname, 'fixtures/heic/portrait-p3.heic')), 'image/heic');

    const jpeg = await stack.handler(event(key, { w: '32' }));
    expectImage(jpeg, { cache: 'miss', contentType: 'image/jpeg' });
    expect(await describeImage(bodyBytes(jpeg))).toMatchObject({ format: 'jpeg', width: 32, height: 48, hasExif: false });
    const webp = await stack.handler(event(key, { w: '32', fm: 'webp' }));
    expectImage(webp, { cache: 'miss', contentType: 'image/webp' });
    expect(await describeImage(bodyBytes(webp))).toMatchObject({ format: 'webp', width: 32, height: 48 });
    expectImage(await stack.handler(event(key, { w: '32' })), { cache: 'hit', contentType: 'image/jpeg' });
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const key = uniqueKey('photos/head.jpg');
    await stack.seed(key, photo);
    const head = await stack.handler(event(key, 'w=50', {}, 'HEAD'));
    expect(head).toMatchObject({ statusCode: 200, body: '', isBase64Encoded: false });
    const get = await stack.handler(event(key, 'w=50'));
    expectImage(get, { cache: 'hit', contentType: 'image/jpeg' });
    expect(head.headers).toMatchObject({ 'Content-Type': 'image/jpeg', ETag: get.headers.ETag, 'X-Cache': 'miss' });
  });

  it('sets max-age from CACHE_MAX_AGE', async () => {
    const key = uniqueKey('photos/short-lived.jpg');
    await stack.seed(key, photo);
    const app = stack.app({ env: { CACHE_MAX_AGE: '600' } });
    const response = await app.handler(event(key, 'w=64'));
    expectImage(response, { cache: 'miss', contentType: 'image/jpeg', cacheControl: 'public, max-age=600, immutable' });
    const hit = await app.handler(event(key, 'w=64'));
    expectImage(hit, { cache: 'hit', contentType: 'image/jpeg', cacheControl: 'public, max-age=600, immutable' });
  });

  it('negotiates fm=auto from Accept and says so with Vary: Accept', async () => {
    const key = uniqueKey('photos/auto.jpg');
    await stack.seed(key, photo);
    const avif = await stack.handler(event(key, 'w=120&fm=auto', { Accept: 'image/avif,image/webp,*/*' }));
    const webp = await stack.handler(event(key, 'w=120&fm=auto', { Accept: 'image/webp,*/*' }));
    const plain = await stack.handler(event(key, 'w=120&fm=auto', { Accept: '*/*' }));

    expectImage(avif, { cache: 'miss', contentType: 'image/avif' });
    expectImage(webp, { cache: 'miss', contentType: 'image/webp' });
    expectImage(plain, { cache: 'miss', contentType: 'image/jpeg' });
    for (const response of [avif, webp, plain]) expect(response.headers.Vary).toBe('Accept');
    expect(new Set([avif, webp, plain].map((r) => r.headers.ETag)).size).toBe(3);
    const again = await stack.handler(event(key, 'w=120&fm=auto', { accept: 'image/webp' }));
    expectImage(again, { cache: 'hit', contentType: 'image/webp' });
    expect(again.headers.Vary).toBe('Accept');
  });

  it('serves equivalent URLs from one stored variant', async () => {
    const key = uniqueKey('photos/equivalent.jpg');
    await stack.seed(key, photo);
    const equivalent = [
      event(key, 'w=300&fm=webp'),
      event(key, 'fm=webp&w=300&q=80'),
      event(`300x/${key}`, 'fm=webp'),
      event(`300x0/${key}`, 'format=WEBP'),
      event(key, 'width=300&f=webp&dpr=1&fit=inside'),
    ];
    const responses: HttpResponse[] = [];
    const added = await newVariants(stack, async () => {
      for (const e of equivalent) responses.push(await stack.handler(e));
    });

    expect(added).toHaveLength(1);
    expect(responses.map((r) => r.headers['X-Cache'])).toEqual(['miss', 'hit', 'hit', 'hit', 'hit']);
    for (const r of responses) {
      expectImage(r, { cache: r.headers['X-Cache'] as 'hit' | 'miss', contentType: 'image/webp' });
      expect(r.headers.ETag).toBe(responses[0]!.headers.ETag);
      expect(bodyBytes(r).equals(bodyBytes(responses[0]!))).toBe(true);
    }
    // /300x200/ is another spec (h too), even though it has the same size for this original.
    const boxed = await newVariants(stack, () => stack.handler(event(`300x200/${key}`, 'fm=webp')));
    expect(boxed).toHaveLength(1);
  });

  it('never serves a stale variant after the original is replaced', async () => {
    const key = uniqueKey('photos/replaced.jpg');
    await stack.seed(key, photo);
    const before = await stack.handler(event(key, 'w=300'));
    expect((await stack.handler(event(key, 'w=300'))).headers['X-Cache']).toBe('hit');

    await stack.seed(key, await photoLikeJpeg(900, 300, { seed: 4 }));
    const after = await stack.handler(event(key, 'w=300'));

    expectImage(after, { cache: 'miss', contentType: 'image/jpeg' });
    expect(after.headers.ETag).not.toBe(before.headers.ETag);
    expect(await describeImage(bodyBytes(before))).toMatchObject({ width: 300, height: 200 });
    expect(await describeImage(bodyBytes(after))).toMatchObject({ width: 300, height: 100 });
  });

  it('answers If-None-Match with the current ETag with 304 and an old one with 200', async () => {
    const key = uniqueKey('photos/conditional.jpg');
    await stack.seed(key, photo);
    const first = await stack.handler(event(key, 'w=100&fm=png'));
    const etag = first.headers.ETag!;

    for (const header of [etag, `W/${etag}`, `"0123", ${etag}`]) {
      const notModified = await stack.handler(event(key, 'fm=png&w=100', { 'If-None-Match': header }));
      expect(notModified.statusCode).toBe(304);
      expect(notModified.body ?? '').toBe('');
      expect(notModified.headers).toMatchObject({ ETag: etag, 'Cache-Control': ONE_YEAR });
      expect(notModified.headers['Content-Type']).toBeUndefined();
    }

    await stack.seed(key, await photoLikeJpeg(500, 500, { seed: 8 }));
    const changed = await stack.handler(event(key, 'w=100&fm=png', { 'if-none-match': etag }));
    expectImage(changed, { cache: 'miss', contentType: 'image/png' });
    expect(changed.headers.ETag).not.toBe(etag);
    expect(await describeImage(bodyBytes(changed))).toMatchObject({ width: 100, height: 100 });
  });

  describe('responses over MAX_INLINE_BYTES', () => {
    let app: App;
    beforeAll(() => {
      app = stack.app({ env: { MAX_INLINE_BYTES: '2000', PRESIGNED_URL_TTL: '60' } });
    });

    it('redirect to a presigned URL of the stored variant, on a miss and on a hit', async () => {
      const key = uniqueKey('photos/large.jpg');
      await stack.seed(key, photo);

      for (const cache of ['miss', 'hit'] as const) {
        const response = await app.handler(event(key, 'w=400'));
        expect(response.statusCode).toBe(302);
        expect(response.body ?? '').toBe('');
        expect(response.headers).toMatchObject({ 'X-Cache': cache, 'Cache-Control': 'no-store' });
        expect(response.headers['Server-Timing']).toMatch(SERVER_TIMING);
        const location = response.headers.Location!;
        expect(location.startsWith(`${stack.s3.endpoint}/${VARIANTS}/`)).toBe(true);
        expect(location).toContain('X-Amz-Expires=60');

        const fetched = await fetch(location);
        expect(fetched.status).toBe(200);
        expect(fetched.headers.get('content-type')).toBe('image/jpeg');
        const bytes = Buffer.from(await fetched.arrayBuffer());
        expect(bytes.length).toBeGreaterThan(2000);
        expect(await describeImage(bytes)).toMatchObject({ format: 'jpeg', width: 400, height: 267 });
        const variantKey = decodeURIComponent(new URL(location).pathname.slice(`/${VARIANTS}/`.length));
        expect((await stack.getObject(VARIANTS, variantKey)).body.equals(bytes)).toBe(true);
      }
    });

    it('still inlines responses under the limit', async () => {
      const key = uniqueKey('photos/thumb.jpg');
      await stack.seed(key, photo);
      const response = await app.handler(event(key, 'w=16'));
      expectImage(response, { cache: 'miss', contentType: 'image/jpeg' });
      expect(bodyBytes(response).length).toBeLessThanOrEqual(2000);
    });
  });

  it('still answers 200 with the image when the variant write fails, and logs a warning', async () => {
    const key = uniqueKey('photos/unwritable.jpg');
    await stack.seed(key, photo);
    const app = stack.app({
      wrapStore: (store): ImageStore => ({
        ...store,
        putVariant: () => Promise.reject(new Error('simulated S3 outage on write')),
      }),
    });

    let response!: HttpResponse;
    const added = await newVariants(stack, async () => {
      response = await app.handler(event(key, 'w=120'));
    });

    expectImage(response, { cache: 'miss', contentType: 'image/jpeg' });
    expect(await describeImage(bodyBytes(response))).toMatchObject({ width: 120, height: 80 });
    expect(added).toEqual([]);
    expect(app.log.entries.filter((e) => e.level === 'warn').map((e) => e.message)).toEqual(['variant write failed']);
    expect((await app.handler(event(key, 'w=120'))).headers['X-Cache']).toBe('miss');
  });

  describe('keys', () => {
    it('round-trips UTF-8 and spaces through the percent-encoded rawPath', async () => {
      const key = uniqueKey('photos/crème brûlée 1.jpg');
      const etag = await stack.seed(key, photo);
      const e = event(key, 'w=100');
      expect(e.rawPath).toContain('/photos/cr%C3%A8me%20br%C3%BBl%C3%A9e%201.jpg');
      expect(e.pathParameters?.proxy).toBe(key);

      let response!: HttpResponse;
      const added = await newVariants(stack, async () => {
        response = await stack.handler(e);
      });
      expectImage(response, { cache: 'miss', contentType: 'image/jpeg' });
      expect(await stack.getObject(VARIANTS, added[0]!)).toMatchObject({
        metadata: { 'source-key': encodeURIComponent(key), 'source-etag': normalizeEtag(etag) },
      });

      // Without pathParameters (e.g. a `$default` route) the key comes from rawPath alone.
      const rawOnly = { ...event(key, 'w=100'), pathParameters: undefined };
      const hit = await stack.handler(rawOnly);
      expectImage(hit, { cache: 'hit', contentType: 'image/jpeg' });
      expect(hit.headers.ETag).toBe(response.headers.ETag);
    });

    it.each([
      ['300x300', 300, 300],
      ['300x', 300, 200],
      ['x100', 150, 100],
      ['0x100', 150, 100],
    ])('understands the classic /%s/{key} form', async (size, width, height) => {
      const key = uniqueKey('photos/classic.jpg');
      await stack.seed(key, photo);
      const response = await stack.handler(event(`${size}/${key}`));
      expectImage(response, { cache: 'miss', contentType: 'image/jpeg' });
      expect(await describeImage(bodyBytes(response))).toMatchObject({ width, height });
    });
  });

  describe('errors', () => {
    let good: string;
    let text: string;
    let truncated: string;
    let small: App;

    beforeAll(async () => {
      good = uniqueKey('photos/good.jpg');
      text = uniqueKey('photos/not-an-image.jpg');
      truncated = uniqueKey('photos/truncated.jpg');
      await stack.seed(good, photo);
      await stack.seed(text, Buffer.from('This is a text file, whatever its name says.\n'.repeat(20)), 'image/jpeg');
      await stack.seed(truncated, photo.subarray(0, Math.floor(photo.length / 2)));
      small = stack.app({ env: { MAX_ORIGINAL_BYTES: '1000' } });
    });

    type Case = [name: string, path: () => string, query: string, status: number, code: string, options?: { method?: string; small?: true }];
    const cases: Case[] = [
      ['w not a number', () => good, 'w=abc', 400, 'invalid_param'],
      ['w of 0', () => good, 'w=0', 400, 'invalid_param'],
      ['w over the maximum', () => good, 'w=99999', 400, 'invalid_param'],
      ['q out of range', () => good, 'q=0', 400, 'invalid_param'],
      ['unknown format', () => good, 'fm=bmp', 400, 'invalid_param'],
      ['dpr pushing w over the maximum', () => good, 'w=5000&dpr=2', 400, 'invalid_param'],
      ['unknown parameter', () => good, 'witdh=100', 400, 'unknown_param'],
      ['parameter given twice', () => good, 'w=100&width=200', 400, 'duplicate_param'],
      ['size in path and query', () => `300x200/${good}`, 'w=100', 400, 'duplicate_param'],
      ['".." segment in the key', () => good.replace('/photos/', '/photos/../'), '', 400, 'invalid_key'],
      ['no key', () => '', 'w=100', 400, 'invalid_key'],
      ['POST', () => good, 'w=100', 405, 'method_not_allowed', { method: 'POST' }],
      ['missing original', () => uniqueKey('photos/missing.jpg'), 'w=100', 404, 'original_not_found'],
      ['original over MAX_ORIGINAL_BYTES', () => good, 'w=100', 413, 'original_too_large', { small: true }],
      ['text file named .jpg', () => text, 'w=100', 415, 'unsupported_image'],
      ['truncated JPEG', () => truncated, 'w=100', 422, 'undecodable_image'],
    ];

    it.each(cases)('%s → %i %s, nothing written, original untouched', async (_name, path, query, status, code, options = {}) => {
      const originalsBefore = await stack.listing(ORIGINALS);
      const variantsBefore = await stack.listing(VARIANTS);

      const response = await (options.small ? small : stack).handler(event(path(), query, {}, options.method));

      expectError(response, status, code);
      expect(await stack.listing(VARIANTS)).toEqual(variantsBefore);
      expect(await stack.listing(ORIGINALS)).toEqual(originalsBefore);
    });

    it('answers 405 with the methods that work', async () => {
      const response = await stack.handler(event(good, 'w=100', {}, 'DELETE'));
      expect(response.headers.Allow).toBe('GET, HEAD');
    });

    it('answers an unexpected failure with 500 and no detail', async () => {
      const app = stack.app({
        wrapStore: (store): ImageStore => ({
          ...store,
          getVariant: () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'x') at /var/task/src/secret.js:1:2")),
        }),
      });
      const response = await app.handler(event(good, 'w=100'));
      expectError(response, 500, 'internal_error');
      expect(response.body).not.toContain('secret');
      expect(app.log.entries).toContainEqual(expect.objectContaining({ level: 'error', message: 'request failed' }));
    });
  });
});

describe('resize handler while storage is unavailable', () => {
  it('answers 503 with Retry-After, and serves again once storage is back on the same endpoint', async () => {
    const port = await freePort();
    const app = buildApp(`http://127.0.0.1:${port}`, { env: { S3_MAX_ATTEMPTS: '1', S3_REQUEST_TIMEOUT_MS: '500' } });
    const key = uniqueKey('photos/outage.jpg');
    try {
      const started = performance.now();
      const down = await app.handler(event(key, 'w=100'));
      expectError(down, 503, 'storage_unavailable');
      expect(down.headers['Retry-After']).toBe('1');
      expect(JSON.parse(down.body!).error.message).toBe('Image storage is temporarily unavailable; retry shortly.');
      expect(performance.now() - started).toBeLessThan(3000);
      expect(app.log.entries).toContainEqual(expect.objectContaining({ level: 'error', message: 'request failed' }));

      const s3 = await startLocalS3({ port, buckets: [ORIGINALS, VARIANTS] });
      try {
        const { PutObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
        await app.client.send(new PutObjectCommand({ Bucket: ORIGINALS, Key: key, Body: await photoLikeJpeg(300, 200) }));
        expect((await app.client.send(new ListObjectsV2Command({ Bucket: VARIANTS }))).KeyCount).toBe(0);

        const up = await app.handler(event(key, 'w=100'));

        expectImage(up, { cache: 'miss', contentType: 'image/jpeg' });
        expect(await describeImage(bodyBytes(up))).toMatchObject({ width: 100, height: 67 });
        expect((await app.client.send(new ListObjectsV2Command({ Bucket: VARIANTS }))).KeyCount).toBe(1);
      } finally {
        await s3.close();
      }
    } finally {
      app.close();
    }
  });
});
