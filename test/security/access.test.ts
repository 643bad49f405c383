import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImage, photoLikeJpeg } from '../../scripts/samples.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { makeResizeHandler, type ResizeHandler } from '../../src/http/resize-handler.js';
import type { HttpResponse } from '../../src/http/response.js';
import { signPath } from '../../src/security/url-signature.js';
import { errorCacheControl } from '../support/cache-contract.js';
import {
  ORIGINALS,
  VARIANTS,
  bodyBytes,
  countingStore,
  event,
  startStack,
  testEnv,
  uniqueKey,
  type App,
  type Query,
  type Stack,
} from '../support/stack.js';

const A = 'alpha-secret-0123456789';
const B = 'bravo-secret-0123456789';
const C = 'charlie-secret-0123456789';
const CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/** The error contract: JSON `{"error":{"code","message"}}`; a 403 never cached, another 4xx at most ERROR_MAX_AGE. */
function expectError(response: HttpResponse, status: number, code: string): string {
  expect(response.statusCode).toBe(status);
  expect(response.headers).toMatchObject({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': errorCacheControl(status) });
  const body = JSON.parse(response.body ?? '') as { error: { code: string; message: string } };
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  return body.error.message;
}

/** An event for a signed URL as `signPath` prints it (path encoded, query as is). */
function signedEvent(pathAndQuery: string, secret: string, options: { expiresAt?: number; headers?: Record<string, string> } = {}) {
  const [path, query = ''] = signPath(pathAndQuery, secret, { expiresAt: options.expiresAt }).split('?') as [string, string?];
  return event(decodeURIComponent(path), query, options.headers);
}

const signatureOf = (e: APIGatewayProxyEventV2) => new URLSearchParams(e.rawQueryString).get('s')!;

/** An event with only rawPath (no decoded proxy parameter), exactly as given. */
const rawEvent = (rawPath: string, rawQueryString = ''): APIGatewayProxyEventV2 => ({
  ...event('placeholder.jpg', rawQueryString),
  rawPath,
  pathParameters: undefined,
});

describe('safe to expose', () => {
  let stack: Stack;
  let photo: Buffer;
  let key: string;

  beforeAll(async () => {
    stack = await startStack();
    photo = await photoLikeJpeg(600, 400);
    key = uniqueKey('photos/shared.jpg');
    await stack.seed(key, photo);
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Keys of the objects the action added to a bucket. */
  async function added(action: () => Promise<unknown>, bucket = VARIANTS): Promise<string[]> {
    const before = new Set((await stack.listing(bucket)).map((v) => v.key));
    await action();
    return (await stack.listing(bucket)).map((v) => v.key).filter((k) => !before.has(k));
  }

  async function size(response: HttpResponse) {
    expect(response.statusCode).toBe(200);
    const { width, height, format } = await describeImage(bodyBytes(response));
    return { width, height, format };
  }

  describe('signed URLs', () => {
    let app: App;
    let calls: ReturnType<typeof countingStore>;
    beforeAll(() => {
      app = stack.app({
        env: { SIGNING_SECRETS: `${A},${B}` },
        wrapStore: (store) => (calls = countingStore(store)).store,
      });
    });

    it.each([
      ['the first secret', A],
      ['the second secret (rotation)', B],
    ])('serves a URL signed with %s', async (_name, secret) => {
      const response = await app.handler(signedEvent(`/${key}?w=120&fm=webp`, secret));
      expect(await size(response)).toEqual({ width: 120, height: 80, format: 'webp' });
    });

    it('serves a signed classic /{W}x{H}/ path', async () => {
      const response = await app.handler(signedEvent(`/90x30/${key}`, A));
      expect(await size(response)).toMatchObject({ width: 90, height: 30 });
    });

    describe('survive re-encoding', () => {
      let spaced: string;
      let s: string;
      beforeAll(async () => {
        spaced = uniqueKey('photos/crème brûlée.jpg');
        await stack.seed(spaced, photo);
        s = signatureOf(signedEvent(`/${spaced}?w=60&h=60&pos=left top`, A));
      });
      const encoded = () => `/${spaced.split('/').map(encodeURIComponent).join('/')}`;

      it.each([
        ['as signed (+ for spaces)', () => event(spaced, `w=60&h=60&pos=left+top&s=${s}`)],
        ['%20 for spaces in the query', () => event(spaced, `w=60&h=60&pos=left%20top&s=${s}`)],
        ['another parameter order', () => event(spaced, `s=${s}&pos=left%20top&h=60&w=60`)],
        ['rawPath only, %20 in the path', () => rawEvent(encoded(), `w=60&h=60&pos=left+top&s=${s}`)],
        ['rawPath only, a literal space', () => rawEvent(`/${spaced}`, `w=60&h=60&pos=left+top&s=${s}`)],
        ['rawPath only, lower-case escapes', () => rawEvent(encoded().replace(/%[0-9A-F]{2}/g, (x) => x.toLowerCase()), `w=60&h=60&pos=left+top&s=${s}`)],
      ])('%s', async (_name, build) => {
        expect(await size(await app.handler(build()))).toMatchObject({ width: 60, height: 60 });
      });
    });

    describe('refuse anything not signed as sent', () => {
      let other: string;
      let valid: APIGatewayProxyEventV2;
      let s: string;
      beforeAll(async () => {
        other = uniqueKey('photos/other.jpg');
        await stack.seed(other, photo);
        valid = signedEvent(`/${key}?w=100&fm=png`, A);
        s = signatureOf(valid);
      });

      type Case = [name: string, build: () => APIGatewayProxyEventV2, code: string];
      const cases: Case[] = [
        ['no signature', () => event(key, 'w=100&fm=png'), 'signature_required'],
        ['no signature, for a key that does not exist', () => event(uniqueKey('missing.jpg'), 'w=100'), 'signature_required'],
        ['no signature, for an invalid key', () => event('a/../b.jpg', 'w=100'), 'signature_required'],
        ['no signature, with an invalid parameter', () => event(key, 'w=abc'), 'signature_required'],
        ['a secret that is not configured', () => signedEvent(`/${key}?w=100&fm=png`, C), 'invalid_signature'],
        ['a changed value', () => event(key, `w=101&fm=png&s=${s}`), 'invalid_signature'],
        ['another existing key', () => event(other, `w=100&fm=png&s=${s}`), 'invalid_signature'],
        ['an extra parameter', () => event(key, `w=100&fm=png&blur=10&s=${s}`), 'invalid_signature'],
        ['a parameter dropped', () => event(key, `w=100&s=${s}`), 'invalid_signature'],
        ['the width moved into a classic path', () => event(`100x/${key}`, `fm=png&s=${s}`), 'invalid_signature'],
        ['a signature for another classic size', () => event(`100x60/${key}`, `s=${signatureOf(signedEvent(`/100x50/${key}`, A))}`), 'invalid_signature'],
        ['a signature of the wrong length', () => event(key, `w=100&fm=png&s=abc`), 'invalid_signature'],
        ['the signature twice', () => event(key, `w=100&fm=png&s=${s}&s=${s}`), 'invalid_signature'],
      ];

      it.each(cases)('%s → 403 %s, nothing read or written', async (_name, build, code) => {
        calls.reset();
        let response!: HttpResponse;
        const written = await added(async () => {
          response = await app.handler(build());
        });
        expectError(response, 403, code);
        expect(written).toEqual([]);
        expect(calls.calls).toEqual({ headOriginal: 0, getOriginal: 0, openOriginal: 0, getVariant: 0, headVariant: 0, putVariant: 0, variantUrl: 0, listVariants: 0, deleteVariants: 0 });
      });

      it('serves the untouched URL', async () => {
        expect(await size(await app.handler(valid))).toEqual({ width: 100, height: 67, format: 'png' });
      });
    });
  });

  describe('expiring URLs', () => {
    const NOW = 1_900_000_000;
    let clock: number;
    let handler: ResizeHandler;
    let shortCache: ResizeHandler;

    beforeAll(() => {
      const app = stack.app({ env: { SIGNING_SECRETS: `${A},${B}` } });
      handler = makeResizeHandler({ config: app.config, service: app.service, log: app.log, now: () => clock });
      const short = stack.app({ env: { SIGNING_SECRETS: A, CACHE_MAX_AGE: '60' } });
      shortCache = makeResizeHandler({ config: short.config, service: short.service, log: short.log, now: () => clock });
    });

    it('caps max-age at the remaining lifetime, then answers 403 url_expired from the expiry second on', async () => {
      const e = signedEvent(`/${key}?w=30`, A, { expiresAt: NOW + 600 });
      const seen: [number, number, string | undefined][] = [];
      for (const at of [NOW - 100, NOW, NOW + 599, NOW + 599.999, NOW + 600, NOW + 86_400]) {
        clock = at * 1000;
        const response = await handler(e);
        seen.push([at, response.statusCode, response.headers['Cache-Control']]);
      }
      expect(seen).toEqual([
        [NOW - 100, 200, 'public, max-age=700, immutable'],
        [NOW, 200, 'public, max-age=600, immutable'],
        [NOW + 599, 200, 'public, max-age=1, immutable'],
        [NOW + 599.999, 200, 'public, max-age=1, immutable'],
        [NOW + 600, 403, 'no-store'],
        [NOW + 86_400, 403, 'no-store'],
      ]);
      clock = (NOW + 600) * 1000;
      expectError(await handler(e), 403, 'url_expired');
    });

    it('caps the max-age of the stored copy a 302 sends the client to', async () => {
      clock = NOW * 1000;
      const large = stack.app({ env: { SIGNING_SECRETS: A, MAX_INLINE_BYTES: '200' } });
      const redirecting = makeResizeHandler({ config: large.config, service: large.service, log: large.log, now: () => clock });
      const response = await redirecting(signedEvent(`/${key}?w=40`, A, { expiresAt: NOW + 90 }));
      expect(response.statusCode).toBe(302);
      const stored = await fetch(response.headers.Location!);
      expect(stored.status).toBe(200);
      expect(stored.headers.get('cache-control')).toBe('public, max-age=90, immutable');
    });

    it('keeps the configured max-age when it is shorter than the remaining lifetime', async () => {
      clock = NOW * 1000;
      const response = await shortCache(signedEvent(`/${key}?w=31`, A, { expiresAt: NOW + 600 }));
      expect(response.statusCode).toBe(200);
      expect(response.headers['Cache-Control']).toBe('public, max-age=60, immutable');
    });

    it('caps max-age on cache hits and 304s too', async () => {
      clock = NOW * 1000;
      const first = await handler(signedEvent(`/${key}?w=32`, A));
      expect(first.headers['Cache-Control']).toBe('public, max-age=31536000, immutable');
      const e = signedEvent(`/${key}?w=32`, A, { expiresAt: NOW + 120 });
      const hit = await handler(e);
      expect(hit).toMatchObject({ statusCode: 200, headers: { 'X-Cache': 'hit', 'Cache-Control': 'public, max-age=120, immutable' } });
      const notModified = await handler({ ...e, headers: { ...e.headers, 'if-none-match': first.headers.ETag! } });
      expect(notModified).toMatchObject({ statusCode: 304, headers: { 'Cache-Control': 'public, max-age=120, immutable' } });
    });

    it.each([
      ['extended', (s: string) => `w=33&expires=${NOW + 86_400}&s=${s}`],
      ['shortened', (s: string) => `w=33&expires=${NOW + 1}&s=${s}`],
      ['dropped', (s: string) => `w=33&s=${s}`],
      ['given twice', (s: string) => `w=33&expires=${NOW + 600}&expires=${NOW + 600}&s=${s}`],
    ])('refuses an expiry that was %s with invalid_signature', async (_name, query) => {
      clock = NOW * 1000;
      const s = signatureOf(signedEvent(`/${key}?w=33`, A, { expiresAt: NOW + 600 }));
      expectError(await handler(event(key, query(s))), 403, 'invalid_signature');
    });

    it('cannot revive an expired URL by moving its expiry', async () => {
      clock = (NOW + 1000) * 1000;
      const s = signatureOf(signedEvent(`/${key}?w=34`, A, { expiresAt: NOW + 600 }));
      expectError(await handler(event(key, `w=34&expires=${NOW + 600}&s=${s}`)), 403, 'url_expired');
      expectError(await handler(event(key, `w=34&expires=${NOW + 5000}&s=${s}`)), 403, 'invalid_signature');
    });

    it('enforces a signed expiry whatever the case of its name', async () => {
      clock = NOW * 1000;
      expectError(await handler(signedEvent(`/${key}?w=35&Expires=${NOW - 1}`, A)), 403, 'url_expired');
    });
  });

  describe('presets', () => {
    it.each([
      ['thumb', { width: 160, height: 160 }],
      ['card', { width: 480, height: 320 }],
      ['hero', { width: 600, height: 400 }],
      ['THUMB', { width: 160, height: 160 }],
    ])('serves the default preset %s (fm=auto)', async (preset, expected) => {
      const response = await stack.handler(event(key, { preset }, { accept: 'image/webp,*/*' }));
      expect(await size(response)).toEqual({ ...expected, format: 'webp' });
      expect(response.headers.Vary).toBe('Accept');
    });

    it('answers an unknown preset with 400 naming the presets there are', async () => {
      const message = expectError(await stack.handler(event(key, 'preset=huge')), 400, 'invalid_param');
      expect(message).toContain('thumb, card, hero');
    });

    it('takes its presets from PRESETS, replacing the defaults', async () => {
      const app = stack.app({ env: { PRESETS: JSON.stringify({ tiny: 'w=24&h=24&fm=png', Wide: 'w=300&h=100' }) } });
      expect(await size(await app.handler(event(key, 'preset=tiny')))).toEqual({ width: 24, height: 24, format: 'png' });
      expect(await size(await app.handler(event(key, 'preset=wide')))).toEqual({ width: 300, height: 100, format: 'jpeg' });
      const message = expectError(await app.handler(event(key, 'preset=thumb')), 400, 'invalid_param');
      expect(message).toContain('tiny, wide');
    });

    it.each([
      ['not JSON', '{tiny: w=10}'],
      ['not an object', '["w=10"]'],
      ['an invalid parameter', '{"tiny": "w=0"}'],
      ['an unknown parameter', '{"tiny": "witdh=10"}'],
      ['an invalid name', '{"../x": "w=10"}'],
    ])('refuses PRESETS that are %s at cold start', (_name, value) => {
      expect(() => loadConfig(testEnv('http://127.0.0.1:1', { PRESETS: value }))).toThrow(ConfigError);
    });
  });

  describe('allowlist mode', () => {
    type Refusal = [name: string, path: () => string, query: Query, mentions?: string];

    async function expectRefused(app: App, path: string, query: Query, mentions?: string) {
      let response!: HttpResponse;
      const written = await added(async () => {
        response = await app.handler(event(path, query));
      });
      const message = expectError(response, 400, 'not_allowed');
      if (mentions !== undefined) expect(message).toContain(mentions);
      expect(written).toEqual([]);
    }

    describe('ALLOWLIST=presets', () => {
      let app: App;
      beforeAll(() => {
        app = stack.app({ env: { ALLOWLIST: 'presets' } });
      });

      it.each([
        ['a preset', 'preset=card', { width: 480, height: 320, format: 'jpeg' }],
        ['a preset with fm', 'preset=thumb&fm=png', { width: 160, height: 160, format: 'png' }],
        ['a preset with dpr', 'preset=thumb&dpr=2&fm=webp', { width: 320, height: 320, format: 'webp' }],
      ])('serves %s', async (_name, query, expected) => {
        expect(await size(await app.handler(event(key, query)))).toEqual(expected);
      });

      const refused: Refusal[] = [
        ['a width', () => key, 'w=100', 'preset='],
        ['a classic size', () => `100x100/${key}`, '', 'preset='],
        ['the original size', () => key, '', 'preset='],
        ['only a format', () => key, 'fm=webp', 'preset='],
        ['a preset with a width', () => key, 'preset=thumb&w=100', 'fm and dpr'],
        ['a preset with q', () => key, 'preset=thumb&q=50', 'not: q'],
        ['a preset with blur', () => key, 'preset=thumb&blur=3', 'not: blur'],
        ['a preset with a fractional dpr', () => key, 'preset=thumb&dpr=1.5', 'whole-number'],
      ];
      it.each(refused)('refuses %s with 400 not_allowed', async (_name, path, query, mentions) => {
        await expectRefused(app, path(), query, mentions);
      });

      it('names the presets when it refuses a request without one', async () => {
        const message = expectError(await app.handler(event(key, 'w=100')), 400, 'not_allowed');
        expect(message).toContain('thumb, card, hero');
      });
    });

    describe('ALLOWLIST=widths', () => {
      let app: App;
      beforeAll(() => {
        app = stack.app({ env: { ALLOWLIST: 'widths', ALLOWED_WIDTHS: '400, 100,200', ALLOWED_HEIGHTS: '50,100' } });
      });

      it.each([
        ['an allowed width', 'w=100', { width: 100, height: 67 }],
        ['an allowed width and height', 'w=200&h=100', { width: 200, height: 100 }],
        ['an allowed height alone', 'h=50', { width: 75, height: 50 }],
        ['an allowed width in device pixels (w × dpr)', 'w=100&dpr=2', { width: 200, height: 133 }],
        ['w and h × dpr both allowed', 'w=50&h=25&dpr=2', { width: 100, height: 50 }],
      ])('serves %s', async (_name, query, expected) => {
        expect(await size(await app.handler(event(key, query)))).toMatchObject(expected);
      });

      it('serves an allowed classic size', async () => {
        expect(await size(await app.handler(event(`200x100/${key}`)))).toMatchObject({ width: 200, height: 100 });
      });

      const refused: Refusal[] = [
        ['another width', () => key, 'w=150', 'allowed widths: 100, 200, 400'],
        ['another width in a classic path', () => `150x/${key}`, '', 'allowed widths: 100, 200, 400'],
        ['a width whose w × dpr is not allowed', () => key, 'w=100&dpr=3', 'allowed widths: 100, 200, 400'],
        ['another height', () => key, 'w=100&h=60', 'allowed heights: 50, 100'],
        ['another height alone', () => key, 'h=60', 'allowed heights: 50, 100'],
        ['a fractional dpr', () => key, 'w=100&dpr=1.5', 'whole-number'],
        ['bg', () => key, 'w=100&bg=ff0000', 'bg is not served'],
        ['blur', () => key, 'w=100&blur=2', 'blur is not served'],
        ['q (a hundred variants per width)', () => key, 'w=100&q=37', 'q is not served'],
        ['sharpen and blur', () => key, 'w=100&sharpen=1&blur=1', 'blur, sharpen are not served'],
        ['a preset', () => key, 'preset=thumb', 'allowed widths: 100, 200, 400'],
      ];
      it.each(refused)('refuses %s with 400 not_allowed', async (_name, path, query, mentions) => {
        await expectRefused(app, path(), query, mentions);
      });

      it('lets nobody mint more variants than there are allowed sizes', async () => {
        const own = uniqueKey('photos/walk.jpg');
        await stack.seed(own, photo);
        const statuses: number[] = [];
        const written = await added(async () => {
          for (let w = 90; w < 140; w++) statuses.push((await app.handler(event(own, { w: String(w) }))).statusCode);
        });
        expect(statuses.filter((s) => s === 200)).toHaveLength(1);
        expect(statuses.filter((s) => s === 400)).toHaveLength(49);
        expect(written).toHaveLength(1);
      });
    });

    describe('ALLOWLIST=widths with SNAP_WIDTHS=true', () => {
      let app: App;
      beforeAll(() => {
        app = stack.app({ env: { ALLOWLIST: 'widths', ALLOWED_WIDTHS: '100,200,400', SNAP_WIDTHS: 'true' } });
      });

      it.each([
        ['w=1', 100],
        ['w=100', 100],
        ['w=101', 200],
        ['w=150', 200],
        ['w=399', 400],
        ['w=401', 400],
        ['w=8192', 400],
        ['w=75&dpr=2', 200],
        ['w=60&dpr=4', 400],
      ])('snaps %s up to %i pixels wide', async (query, width) => {
        expect(await size(await app.handler(event(key, `${query}&enlarge=1`)))).toMatchObject({ width });
      });

      it('snaps 50 different widths (and dprs) into at most |ALLOWED_WIDTHS| stored variants', async () => {
        const own = uniqueKey('photos/snapped.jpg');
        await stack.seed(own, photo);
        const widths = Array.from({ length: 50 }, (_, i) => 1 + i * 13);
        const statuses: number[] = [];
        const written = await added(async () => {
          for (const [i, w] of widths.entries()) {
            const query = i % 3 === 0 ? `w=${Math.ceil(w / 2)}&dpr=2` : `w=${w}`;
            statuses.push((await app.handler(event(own, query))).statusCode);
          }
        });
        expect(statuses).toEqual(widths.map(() => 200));
        expect(written.length).toBeGreaterThan(0);
        expect(written.length).toBeLessThanOrEqual(3);
      });

      it('still refuses the parameters only presets may use', async () => {
        await expectRefused(app, key, 'w=150&blur=3', 'blur');
      });
    });

    describe('ALLOWLIST=presets,widths', () => {
      let app: App;
      beforeAll(() => {
        app = stack.app({ env: { ALLOWLIST: 'presets,widths', ALLOWED_WIDTHS: '100' } });
      });

      it('serves presets and allowed widths', async () => {
        expect(await size(await app.handler(event(key, 'preset=thumb')))).toMatchObject({ width: 160 });
        expect(await size(await app.handler(event(key, 'w=100')))).toMatchObject({ width: 100 });
      });

      it.each([
        ['another width', 'w=150', 'allowed widths: 100'],
        ['a preset with a width', 'preset=thumb&w=100', 'fm and dpr'],
        ['bg without a preset', 'w=100&bg=000000', 'bg is only available through presets'],
      ])('refuses %s', async (_name, query, mentions) => {
        await expectRefused(app, key, query, mentions);
      });
    });

    it.each([
      ['an unknown mode', { ALLOWLIST: 'sizes' }],
      ['widths without ALLOWED_WIDTHS', { ALLOWLIST: 'widths' }],
      ['off with another mode', { ALLOWLIST: 'off,presets' }],
      ['a width out of range', { ALLOWLIST: 'widths', ALLOWED_WIDTHS: '100,9000' }],
      ['presets with none defined', { ALLOWLIST: 'presets', PRESETS: '{}' }],
    ])('refuses %s at cold start', (_name, env) => {
      expect(() => loadConfig(testEnv('http://127.0.0.1:1', env))).toThrow(ConfigError);
    });
  });

  describe('keys', () => {
    let app: App;
    let inside: string;
    let secret: string;
    let calls: ReturnType<typeof countingStore>;

    beforeAll(async () => {
      app = stack.app({ env: { ORIGINALS_PREFIX: 'public/' }, wrapStore: (store) => (calls = countingStore(store)).store });
      inside = uniqueKey('ok.jpg');
      secret = `secret-${inside.replace(/\W/g, '-')}.jpg`;
      await stack.seed(`public/${inside}`, photo);
      // Outside the originals prefix: must never be readable, however it is asked for.
      await stack.seed(secret, await photoLikeJpeg(64, 64, { seed: 9 }));
    });

    it('reads keys under ORIGINALS_PREFIX', async () => {
      expect(await size(await app.handler(event(inside, 'w=20')))).toMatchObject({ width: 20 });
    });

    it.each([
      ['the plain key (read under the prefix)', () => event(secret, 'w=20'), 404, 'original_not_found'],
      ['the prefix spelled out', () => event(`public/../${secret}`, 'w=20'), 400, 'invalid_key'],
      ['a ".." segment', () => event(`../${secret}`, 'w=20'), 400, 'invalid_key'],
      ['".." after a folder', () => event(`x/../../${secret}`, 'w=20'), 400, 'invalid_key'],
      ['a "." segment', () => event(`./${inside}`, 'w=20'), 400, 'invalid_key'],
      ['"%2e%2e" in rawPath', () => rawEvent(`/%2e%2e/${secret}`, 'w=20'), 400, 'invalid_key'],
      ['"..%2f" in rawPath', () => rawEvent(`/..%2f${secret}`, 'w=20'), 400, 'invalid_key'],
      ['"%2e%2e%2f" in rawPath', () => rawEvent(`/%2e%2e%2f${secret}`, 'w=20'), 400, 'invalid_key'],
      ['double-encoded "%252e%252e%252f"', () => event(`%2e%2e%2f${secret}`, 'w=20'), 400, 'invalid_key'],
      ['double-encoded in rawPath', () => rawEvent(`/%252e%252e%252f${secret}`, 'w=20'), 400, 'invalid_key'],
      ['a backslash', () => event(`..\\${secret}`, 'w=20'), 400, 'invalid_key'],
      ['"%5c" in rawPath', () => rawEvent(`/..%5c${secret}`, 'w=20'), 400, 'invalid_key'],
      ['NUL (%00)', () => event(`${inside}\u0000.png`, 'w=20'), 400, 'invalid_key'],
      ['NUL in rawPath', () => rawEvent(`/${inside}%00`, 'w=20'), 400, 'invalid_key'],
      ['a newline', () => event(`${inside}\n`, 'w=20'), 400, 'invalid_key'],
      ['a tab', () => event(`a\tb.jpg`, 'w=20'), 400, 'invalid_key'],
      ['DEL', () => event(`a\u007fb.jpg`, 'w=20'), 400, 'invalid_key'],
      ['an encoded slash in front', () => rawEvent(`/%2F${secret}`, 'w=20'), 400, 'invalid_key'],
      ['invalid UTF-8', () => rawEvent(`/caf%E9.jpg`, 'w=20'), 400, 'invalid_key'],
    ])('%s → %i %s, and the secret is never read', async (_name, build, status, code) => {
      calls.reset();
      expectError(await app.handler(build()), status, code);
      expect(calls.calls.getOriginal).toBe(0);
    });

    it('refuses keys over 1024 bytes counting the prefix', async () => {
      const room = 1024 - 'public/'.length;
      // Short segments: s3rver keeps objects as files, whose names cannot exceed 255 bytes.
      const keyOf = (bytes: number) => `${'k'.repeat(99)}/`.repeat(10).padEnd(bytes, 'k');
      expect(Buffer.byteLength(keyOf(room))).toBe(room);
      expectError(await app.handler(event(keyOf(room), 'w=20')), 404, 'original_not_found');
      const message = expectError(await app.handler(event(keyOf(room + 1), 'w=20')), 400, 'invalid_key');
      expect(message).toContain(`longer than ${room} bytes`);
      const utf8 = `${'日'.repeat(30)}/`.repeat(12);
      expect(Buffer.byteLength(utf8)).toBeGreaterThan(room);
      expect(utf8.length).toBeLessThan(room);
      expectError(await app.handler(event(utf8, 'w=20')), 400, 'invalid_key');
    });

    it.each([
      ['rawPath //etc/passwd', { rawPath: '//etc/passwd', pathParameters: undefined }],
      ['decoded path /x', { rawPath: '//x', pathParameters: { proxy: '/x' } }],
      ['rawPath /%2Fx with its decoded path /x', { rawPath: '/%2Fx', pathParameters: { proxy: '/x' } }],
    ])('refuses a leading slash in the key: %s', async (_name, overrides) => {
      expectError(await app.handler({ ...event('x', 'w=20'), ...overrides }), 400, 'invalid_key');
    });

    it.each([
      ['the default _variants/ prefix', { VARIANTS_BUCKET: ORIGINALS }],
      ['an explicit prefix', { VARIANTS_BUCKET: ORIGINALS, VARIANTS_PREFIX: 'cache/' }],
    ])('never reads stored variants as originals in a shared bucket: %s', async (_name, env) => {
      const shared = stack.app({ env });
      const own = uniqueKey('photos/shared-bucket.jpg');
      await stack.seed(own, photo);
      const variants = await added(async () => {
        expect((await shared.handler(event(own, 'w=40'))).statusCode).toBe(200);
      }, ORIGINALS);
      expect(variants).toHaveLength(1);
      expect(variants[0]!.startsWith(shared.config.variantsPrefix)).toBe(true);

      expectError(await shared.handler(event(variants[0]!, 'w=40')), 400, 'invalid_key');
      expectError(await shared.handler(event(`${shared.config.variantsPrefix}anything.jpg`)), 400, 'invalid_key');
    });
  });

  describe('response headers', () => {
    type Case = [name: string, build: () => Promise<HttpResponse>, status: number];
    const small = () => stack.app({ env: { MAX_INLINE_BYTES: '500' } });
    const signed = () => stack.app({ env: { SIGNING_SECRETS: A } });
    const cases: Case[] = [
      ['an image', () => stack.handler(event(key, 'w=50')), 200],
      ['HEAD', () => stack.handler(event(key, 'w=50', {}, 'HEAD')), 200],
      ['a 304', async () => stack.handler(event(key, 'w=50', { 'if-none-match': (await stack.handler(event(key, 'w=50'))).headers.ETag! })), 304],
      ['a redirect to a large variant', () => small().handler(event(key, 'w=300')), 302],
      ['a bad parameter', () => stack.handler(event(key, 'w=0')), 400],
      ['an unsigned URL', () => signed().handler(event(key, 'w=50')), 403],
      ['a missing original', () => stack.handler(event(uniqueKey('missing.jpg'))), 404],
      ['a POST', () => stack.handler(event(key, 'w=50', {}, 'POST')), 405],
    ];

    it.each(cases)('nosniff and a restrictive CSP on %s', async (_name, build, status) => {
      const response = await build();
      expect(response.statusCode).toBe(status);
      expect(response.headers['X-Content-Type-Options']).toBe('nosniff');
      expect(response.headers['Content-Security-Policy']).toBe(CSP);
    });

    describe('CORS', () => {
      const accessControl = (r: HttpResponse) =>
        Object.fromEntries(Object.entries(r.headers).filter(([h]) => /^(access-control-|timing-allow-origin)/i.test(h)));

      it.each([
        ['an image', 'w=50', 200],
        ['an error', 'w=0', 400],
      ])('is off by default: no Access-Control-* headers on %s, even for a cross-origin request', async (_name, query, status) => {
        const response = await stack.handler(event(key, query, { origin: 'https://a.example' }));
        expect(response.statusCode).toBe(status);
        expect(accessControl(response)).toEqual({});
        expect(response.headers.Vary ?? '').not.toContain('Origin');
      });

      describe('with CORS_ORIGINS', () => {
        let app: App;
        beforeAll(() => {
          app = stack.app({ env: { CORS_ORIGINS: 'https://a.example, https://b.example:8443' } });
        });

        it.each([['https://a.example'], ['https://b.example:8443']])('echoes the listed origin %s with Vary: Origin', async (origin) => {
          const response = await app.handler(event(key, 'w=50', { Origin: origin }));
          expect(response.statusCode).toBe(200);
          expect(response.headers).toMatchObject({ 'Access-Control-Allow-Origin': origin, Vary: 'Origin' });
          expect(response.headers['Access-Control-Allow-Credentials']).toBeUndefined();
        });

        it.each([
          ['another site', 'https://evil.example'],
          ['a listed origin as a subdomain', 'https://a.example.evil.example'],
          ['a listed origin over http', 'http://a.example'],
          ['a listed origin on another port', 'https://a.example:444'],
          ['a listed origin with a path', 'https://a.example/'],
          ['"null"', 'null'],
          ['"*"', '*'],
        ])('sends no Access-Control-Allow-Origin to %s, but still Vary: Origin', async (_name, origin) => {
          const response = await app.handler(event(key, 'w=50', { origin }));
          expect(response.statusCode).toBe(200);
          expect(accessControl(response)).toEqual({});
          expect(response.headers.Vary).toBe('Origin');
        });

        it('says Vary: Origin without an Origin header, so a shared cache cannot replay it cross-origin', async () => {
          const response = await app.handler(event(key, 'w=50'));
          expect(accessControl(response)).toEqual({});
          expect(response.headers.Vary).toBe('Origin');
        });

        it('merges Vary: Origin with Vary: Accept for fm=auto', async () => {
          const response = await app.handler(event(key, 'w=50&fm=auto', { origin: 'https://a.example', accept: 'image/webp' }));
          expect(response.headers['Content-Type']).toBe('image/webp');
          expect(response.headers.Vary).toBe('Accept, Origin');
          expect(response.headers['Access-Control-Allow-Origin']).toBe('https://a.example');
        });

        it.each([
          ['a 404', () => event(uniqueKey('missing.jpg'), 'w=50', { origin: 'https://a.example' }), 404],
          ['a 400', () => event(key, 'w=0', { origin: 'https://a.example' }), 400],
          ['a 405', () => event(key, 'w=50', { origin: 'https://a.example' }, 'PUT'), 405],
        ])('puts CORS headers on errors: %s', async (_name, build, status) => {
          const response = await app.handler(build());
          expect(response.statusCode).toBe(status);
          expect(response.headers).toMatchObject({ 'Access-Control-Allow-Origin': 'https://a.example', Vary: 'Origin' });
        });
      });

      it('answers any origin with * when CORS_ORIGINS=*', async () => {
        const app = stack.app({ env: { CORS_ORIGINS: '*' } });
        for (const e of [event(key, 'w=50', { origin: 'https://x.example' }), event(key, 'w=0', { origin: 'https://y.example' })]) {
          const response = await app.handler(e);
          expect(response.headers['Access-Control-Allow-Origin']).toBe('*');
          expect(response.headers['Access-Control-Allow-Credentials']).toBeUndefined();
        }
      });

      it('allows credentials only to a listed origin with CORS_CREDENTIALS=true', async () => {
        const app = stack.app({ env: { CORS_ORIGINS: 'https://a.example', CORS_CREDENTIALS: 'true' } });
        const listed = await app.handler(event(key, 'w=50', { origin: 'https://a.example' }));
        expect(listed.headers).toMatchObject({ 'Access-Control-Allow-Origin': 'https://a.example', 'Access-Control-Allow-Credentials': 'true' });
        const other = await app.handler(event(key, 'w=50', { origin: 'https://evil.example' }));
        expect(accessControl(other)).toEqual({});
        const error = await app.handler(event(key, 'w=0', { origin: 'https://a.example' }));
        expect(error.headers).toMatchObject({ 'Access-Control-Allow-Origin': 'https://a.example', 'Access-Control-Allow-Credentials': 'true' });
      });

      it.each([
        ['credentials with *', { CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' }],
        ['credentials with * among origins', { CORS_ORIGINS: 'https://a.example,*', CORS_CREDENTIALS: 'yes' }],
        ['an origin with a path', { CORS_ORIGINS: 'https://a.example/' }],
        ['a host without a scheme', { CORS_ORIGINS: 'a.example' }],
        ['"null"', { CORS_ORIGINS: 'null' }],
      ])('refuses %s at cold start', (_name, env) => {
        expect(() => loadConfig(testEnv('http://127.0.0.1:1', env))).toThrow(ConfigError);
      });
    });
  });
});
