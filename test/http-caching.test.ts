import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photoLikeJpeg } from '../scripts/samples.js';
import { StorageUnavailableError } from '../src/errors.js';
import { makeResizeHandler, type ResizeHandler } from '../src/http/resize-handler.js';
import { signPath } from '../src/security/url-signature.js';
import type { ImageStore } from '../src/storage/image-store.js';
import { event, startStack, uniqueKey, VARIANTS, type App, type Stack } from './support/stack.js';

/**
 * What caches may keep, through the real handler, service and a local S3: images for
 * CACHE_MAX_AGE in browsers and CDN_MAX_AGE at the CDN (one header, also stored with each variant
 * for presigned redirects); a 4xx at most ERROR_MAX_AGE unless it depends on credentials; a 5xx
 * never.
 */

const SECRET = 'alpha-secret-0123456789';
const YEAR = 31_536_000;

describe('Cache-Control', () => {
  let stack: Stack;
  let photo: Buffer;

  beforeAll(async () => {
    stack = await startStack();
    photo = await photoLikeJpeg(300, 200);
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function seeded(name: string): Promise<string> {
    const key = uniqueKey(name);
    await stack.seed(key, photo);
    return key;
  }

  /** Miss, hit and 304 of one URL, and the Cache-Control stored with the variant. */
  async function imageHeaders(app: App, key: string, query: string) {
    const before = new Set((await stack.listing(VARIANTS)).map((v) => v.key));
    const miss = await app.handler(event(key, query));
    const added = (await stack.listing(VARIANTS)).filter((v) => !before.has(v.key));
    expect(added).toHaveLength(1);
    const hit = await app.handler(event(key, query));
    const notModified = await app.handler(event(key, query, { 'if-none-match': hit.headers.ETag! }));
    expect([miss, hit, notModified].map((r) => [r.statusCode, r.headers['X-Cache']])).toEqual([
      [200, 'miss'],
      [200, 'hit'],
      [304, undefined],
    ]);
    const stored = await stack.getObject(VARIANTS, added[0]!.key);
    return [miss, hit, notModified].map((r) => r.headers['Cache-Control']).concat(stored.cacheControl);
  }

  describe('of images', () => {
    it('is exactly as before without CDN_MAX_AGE: one lifetime for everyone', async () => {
      const key = await seeded('caching/plain.jpg');
      expect(await imageHeaders(stack, key, 'w=40')).toEqual(Array(4).fill(`public, max-age=${YEAR}, immutable`));
    });

    it('gives the CDN its own lifetime with CDN_MAX_AGE (s-maxage), on hits, misses, 304s and stored variants', async () => {
      const app = stack.app({ env: { CACHE_MAX_AGE: '86400', CDN_MAX_AGE: String(YEAR) } });
      const key = await seeded('caching/cdn.jpg');
      expect(await imageHeaders(app, key, 'w=41')).toEqual(Array(4).fill(`public, max-age=86400, s-maxage=${YEAR}, immutable`));
    });

    it('accepts CDN_MAX_AGE=0: browsers may keep it, the CDN must not', async () => {
      const app = stack.app({ env: { CACHE_MAX_AGE: '600', CDN_MAX_AGE: '0' } });
      const response = await app.handler(event(await seeded('caching/cdn-zero.jpg'), 'w=42'));
      expect(response.headers['Cache-Control']).toBe('public, max-age=600, s-maxage=0, immutable');
    });

    it('sends the same header with a presigned redirect’s stored copy', async () => {
      const app = stack.app({ env: { CACHE_MAX_AGE: '3600', CDN_MAX_AGE: '7200', MAX_INLINE_BYTES: '200' } });
      const response = await app.handler(event(await seeded('caching/large.jpg'), 'w=120'));
      expect(response.statusCode).toBe(302);
      expect(response.headers['Cache-Control']).toBe('no-store');
      const stored = await fetch(response.headers.Location!);
      expect(stored.status).toBe(200);
      expect(stored.headers.get('cache-control')).toBe('public, max-age=3600, s-maxage=7200, immutable');
    });

    describe('of signed URLs that expire', () => {
      const NOW = 1_900_000_000;
      let handler: ResizeHandler;
      let redirecting: ResizeHandler;
      beforeAll(() => {
        const env = { SIGNING_SECRETS: SECRET, CACHE_MAX_AGE: '600', CDN_MAX_AGE: String(YEAR) };
        const app = stack.app({ env });
        handler = makeResizeHandler({ config: app.config, service: app.service, log: app.log, now: () => NOW * 1000 });
        const large = stack.app({ env: { ...env, MAX_INLINE_BYTES: '200' } });
        redirecting = makeResizeHandler({ config: large.config, service: large.service, log: large.log, now: () => NOW * 1000 });
      });
      const signed = (pathAndQuery: string, expiresAt: number) => {
        const [path, query] = signPath(pathAndQuery, SECRET, { expiresAt }).split('?') as [string, string];
        return event(decodeURIComponent(path), query);
      };

      it('caps max-age and s-maxage at the remaining lifetime, each only when it is shorter', async () => {
        const key = await seeded('caching/signed.jpg');
        expect((await handler(signed(`/${key}?w=43`, NOW + 120))).headers['Cache-Control']).toBe('public, max-age=120, s-maxage=120, immutable');
        expect((await handler(signed(`/${key}?w=43`, NOW + 3600))).headers['Cache-Control']).toBe('public, max-age=600, s-maxage=3600, immutable');
      });

      it('caps the stored copy a 302 sends the client to', async () => {
        const response = await redirecting(signed(`/${await seeded('caching/signed-large.jpg')}?w=120`, NOW + 90));
        expect(response.statusCode).toBe(302);
        expect((await fetch(response.headers.Location!)).headers.get('cache-control')).toBe('public, max-age=90, s-maxage=90, immutable');
      });

      it('caps a 4xx at the remaining lifetime too', async () => {
        const missing = uniqueKey('caching/missing.jpg');
        const soon = await handler(signed(`/${missing}?w=44`, NOW + 30));
        expect(soon).toMatchObject({ statusCode: 404, headers: { 'Cache-Control': 'public, max-age=30' } });
        const later = await handler(signed(`/${missing}?w=44`, NOW + 3600));
        expect(later).toMatchObject({ statusCode: 404, headers: { 'Cache-Control': 'public, max-age=60' } });
      });
    });
  });

  describe('of errors', () => {
    let key: string;
    beforeAll(async () => {
      key = await seeded('caching/errors.jpg');
    });

    it.each([
      ['an invalid parameter', () => event(key, 'w=abc'), 400, 'invalid_param'],
      ['an unknown parameter', () => event(key, 'witdh=10'), 400, 'unknown_param'],
      ['an invalid key', () => event('a/../b.jpg', 'w=10'), 400, 'invalid_key'],
      ['a missing original', () => event(uniqueKey('caching/missing.jpg'), 'w=10'), 404, 'original_not_found'],
      ['POST', () => event(key, 'w=10', {}, 'POST'), 405, 'method_not_allowed'],
    ])('keeps a 4xx for ERROR_MAX_AGE (60 s by default): %s', async (_name, build, status, code) => {
      const response = await stack.handler(build());
      expect(response.statusCode).toBe(status);
      expect(JSON.parse(response.body!).error.code).toBe(code);
      expect(response.headers['Cache-Control']).toBe('public, max-age=60');
    });

    it('takes the 4xx lifetime from ERROR_MAX_AGE, whatever CACHE_MAX_AGE and CDN_MAX_AGE say', async () => {
      const app = stack.app({ env: { ERROR_MAX_AGE: '5', CACHE_MAX_AGE: '600', CDN_MAX_AGE: String(YEAR) } });
      const response = await app.handler(event(uniqueKey('caching/missing.jpg'), 'w=10'));
      expect(response).toMatchObject({ statusCode: 404, headers: { 'Cache-Control': 'public, max-age=5' } });
    });

    it('caches no error at all with ERROR_MAX_AGE=0', async () => {
      const app = stack.app({ env: { ERROR_MAX_AGE: '0' } });
      const response = await app.handler(event(uniqueKey('caching/missing.jpg'), 'w=10'));
      expect(response).toMatchObject({ statusCode: 404, headers: { 'Cache-Control': 'no-store' } });
    });

    it.each([
      ['signature_required', () => 'w=10'],
      ['invalid_signature', () => 'w=10&s=AAAA'],
      ['url_expired', () => signPath(`/${key}?w=10`, SECRET, { expiresAt: 1 }).split('?')[1]!],
    ])('never caches a 403 that depends on credentials: %s', async (code, query) => {
      const app = stack.app({ env: { SIGNING_SECRETS: SECRET } });
      const response = await app.handler(event(key, query()));
      expect(response.statusCode).toBe(403);
      expect(JSON.parse(response.body!).error.code).toBe(code);
      expect(response.headers['Cache-Control']).toBe('no-store');
    });

    it.each([
      ['storage unavailable (503)', () => Promise.reject(new StorageUnavailableError(new Error('down'))), 503, 'storage_unavailable'],
      ['an unexpected failure (500)', () => Promise.reject(new TypeError('boom')), 500, 'internal_error'],
    ])('never caches a 5xx: %s', async (_name, fail, status, code) => {
      const app = stack.app({
        env: { ERROR_MAX_AGE: '3600', CDN_MAX_AGE: String(YEAR) },
        wrapStore: (store): ImageStore => ({ ...store, getVariant: fail, openOriginal: fail }),
      });
      const response = await app.handler(event(key, 'w=10'));
      expect(response.statusCode).toBe(status);
      expect(JSON.parse(response.body!).error.code).toBe(code);
      expect(response.headers['Cache-Control']).toBe('no-store');
    });

    it('keeps the JSON error body as it is', async () => {
      const response = await stack.handler(event(key, 'w=abc'));
      expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8');
      expect(JSON.parse(response.body!)).toEqual({ error: { code: 'invalid_param', message: expect.stringContaining('w') } });
    });
  });
});
