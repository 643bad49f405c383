import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeImage, photoLikeJpeg } from '../scripts/samples.js';
import type { HttpResponse } from '../src/http/response.js';
import { startFaultyS3Proxy, type FaultyS3Proxy, type ProxyMode } from './support/faulty-s3-proxy.js';
import {
  ORIGINALS,
  VARIANTS,
  bodyBytes,
  buildApp,
  countingStore,
  event,
  startStack,
  uniqueKey,
  type App,
  type CallCounts,
  type Stack,
} from './support/stack.js';

/**
 * Storage that fails for real, at the network: the service talks to a proxy in front of a local
 * S3 that can drop connections, hang, or throttle. Whatever storage does, the client gets a
 * prompt 503 it may retry, the S3 traffic stays bounded, nothing half-done lands in the cache,
 * and the same warm instance serves again as soon as storage is back.
 */

const S3_REQUEST_TIMEOUT_MS = 300;
const S3_MAX_ATTEMPTS = 2;
const PROCESSING_TIMEOUT_MS = 3000;
/** Slack for the event loop and the SDK's retry back-off on a busy machine: a bound, not a benchmark. */
const MARGIN_MS = 1000;
const FAULT_ENV = {
  S3_REQUEST_TIMEOUT_MS: String(S3_REQUEST_TIMEOUT_MS),
  S3_MAX_ATTEMPTS: String(S3_MAX_ATTEMPTS),
  PROCESSING_TIMEOUT_MS: String(PROCESSING_TIMEOUT_MS),
};
const FAULTS: ProxyMode[] = ['down', 'slow', 'slowdown'];

/** 503 with Retry-After and the JSON error contract, and no internal detail. */
function expectRetryLater(response: HttpResponse, code: 'storage_unavailable' | 'processing_timeout') {
  expect(response.statusCode).toBe(503);
  expect(response.headers['Retry-After']).toBe('1');
  expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8');
  expect(response.headers['Cache-Control']).toBe('no-store');
  expect(JSON.parse(response.body ?? '')).toEqual({ error: { code, message: expect.any(String) } });
  expect(response.body).not.toMatch(/ {2,}at |node_modules|127\.0\.0\.1|ECONN|socket|SlowDown|[A-Z]\w*Error\b/);
}

function expectImage(response: HttpResponse, cache: 'hit' | 'miss') {
  expect(response.statusCode).toBe(200);
  expect(response.headers['X-Cache']).toBe(cache);
  expect(response.headers['Content-Type']).toBe('image/jpeg');
}

const totalCalls = (calls: CallCounts) => Object.values(calls).reduce((a, b) => a + b, 0);

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('storage faults between the service and S3', () => {
  let stack: Stack;
  let proxy: FaultyS3Proxy;
  let photo: Buffer;
  const apps: App[] = [];

  /** A fresh "Lambda instance" whose S3 is the proxy, with its store calls counted. */
  function instance(): { app: App; calls: CallCounts; resetCalls(): void } {
    let counted!: ReturnType<typeof countingStore>;
    const app = buildApp(proxy.endpoint, {
      env: FAULT_ENV,
      wrapStore: (store) => (counted = countingStore(store)).store,
    });
    apps.push(app);
    return { app, calls: counted.calls, resetCalls: counted.reset };
  }

  beforeAll(async () => {
    stack = await startStack();
    photo = await photoLikeJpeg(320, 240, { seed: 31 });
  });
  // A proxy per test: a retry an earlier test's instance still has in flight goes to that
  // test's (closed) proxy and cannot blur this test's request counts.
  beforeEach(async () => {
    proxy = await startFaultyS3Proxy(stack.s3.endpoint);
  });
  afterEach(async () => {
    await proxy.close();
  });
  afterAll(async () => {
    for (const app of apps) app.close();
    await stack?.close();
  });

  it('forwards everything untouched in pass mode (the baseline the faults are measured against)', async () => {
    const key = uniqueKey('photos/pass.jpg');
    await stack.seed(key, photo);
    const { app } = instance();

    expectImage(await app.handler(event(key, 'w=100')), 'miss');
    expectImage(await app.handler(event(key, 'w=100')), 'hit');

    const seen = proxy.requests.map((r) => `${r.method} ${r.bucket}`);
    // The miss: the lookup and the original's read together (in either order), then the write.
    expect(seen.slice(0, 2).sort()).toEqual([`GET ${ORIGINALS}`, `GET ${VARIANTS}`]);
    expect(seen[2]).toBe(`PUT ${VARIANTS}`);
    // The hit (strict freshness): the lookup and the original's ETag, together.
    expect(seen.slice(3).sort()).toEqual([`GET ${VARIANTS}`, `HEAD ${ORIGINALS}`]);
    expect(proxy.count('pass')).toBe(5);
  });

  describe.each(FAULTS)('storage in mode %s', (mode) => {
    it(`a cold instance answers 503 + Retry-After within ${PROCESSING_TIMEOUT_MS} ms (+${MARGIN_MS}), with at most ${S3_MAX_ATTEMPTS} S3 requests per call, writes nothing, and recovers by itself`, async () => {
      const key = uniqueKey(`photos/${mode}.jpg`);
      const etag = await stack.seed(key, photo);
      const { app, calls } = instance();
      const variantsBefore = await stack.listing();
      proxy.setMode(mode);

      const { value: response, ms } = await timed(() => app.handler(event(key, 'w=100')));

      expectRetryLater(response, 'storage_unavailable');
      expect(ms).toBeLessThan(PROCESSING_TIMEOUT_MS + MARGIN_MS);
      // The lookup and the original's read were tried; nothing rendered, nothing written.
      expect(calls).toMatchObject({ openOriginal: 1, getVariant: 1, headOriginal: 0, getOriginal: 0, putVariant: 0 });
      expect(proxy.count(mode)).toBeGreaterThanOrEqual(1);
      // The one that failed second is not waited for: its retries may come after the response
      // (up to a second later for SlowDown's back-off), still within S3_MAX_ATTEMPTS each.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(proxy.requests.length).toBeLessThanOrEqual(S3_MAX_ATTEMPTS * totalCalls(calls));
      expect(proxy.requests.every((r) => r.method === 'GET')).toBe(true);
      expect(app.log.entries).toContainEqual(expect.objectContaining({ level: 'error', message: 'request failed' }));
      expect(await stack.listing()).toEqual(variantsBefore);

      proxy.setMode('pass');
      const recovered = await app.handler(event(key, 'w=100'));
      expectImage(recovered, 'miss');
      expect(await describeImage(bodyBytes(recovered))).toMatchObject({ format: 'jpeg', width: 100, height: 75 });
      expect(await stack.listing()).toHaveLength(variantsBefore.length + 1);
      expect(await stack.originalEtag(key)).toBe(etag);
    });

    it('a warm instance that served the image before answers 503 for its cached variant too, then serves the hit again', async () => {
      const key = uniqueKey(`photos/warm-${mode}.jpg`);
      await stack.seed(key, photo);
      const { app, calls, resetCalls } = instance();
      expectImage(await app.handler(event(key, 'w=80')), 'miss');
      const variantsBefore = await stack.listing();
      resetCalls();
      proxy.reset();
      proxy.setMode(mode);

      const { value: response, ms } = await timed(() => app.handler(event(key, 'w=80')));

      expectRetryLater(response, 'storage_unavailable');
      expect(ms).toBeLessThan(PROCESSING_TIMEOUT_MS + MARGIN_MS);
      expect(calls).toMatchObject({ headOriginal: 1, getVariant: 1, getOriginal: 0, putVariant: 0 });
      // The speculative variant lookup is not cancelled when the HEAD fails: its retry can come
      // after the response (up to a second later for SlowDown's back-off). It too stays within
      // S3_MAX_ATTEMPTS: the HEAD and the lookup make at most 2 × S3_MAX_ATTEMPTS requests.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(proxy.requests.length).toBeLessThanOrEqual(S3_MAX_ATTEMPTS * totalCalls(calls));
      expect(proxy.requests.filter((r) => r.method === 'HEAD').length).toBeLessThanOrEqual(S3_MAX_ATTEMPTS);
      expect(await stack.listing()).toEqual(variantsBefore);

      proxy.setMode('pass');
      expectImage(await app.handler(event(key, 'w=80')), 'hit');
    });

    it('a failed variant write (PUT only) still returns the image, logs a warning, and the next request stores it', async () => {
      const key = uniqueKey(`photos/put-${mode}.jpg`);
      await stack.seed(key, photo);
      const { app, calls } = instance();
      const variantsBefore = await stack.listing();
      proxy.setMode(mode, { methods: ['PUT'] });

      const { value: response, ms } = await timed(() => app.handler(event(key, 'w=120')));

      expectImage(response, 'miss');
      expect(await describeImage(bodyBytes(response))).toMatchObject({ format: 'jpeg', width: 120, height: 90 });
      expect(ms).toBeLessThan(PROCESSING_TIMEOUT_MS + MARGIN_MS);
      expect(calls.putVariant).toBe(1);
      const puts = proxy.requests.filter((r) => r.method === 'PUT');
      expect(puts.length).toBeGreaterThanOrEqual(1);
      expect(puts.length).toBeLessThanOrEqual(S3_MAX_ATTEMPTS);
      expect(puts.every((r) => r.mode === mode)).toBe(true);
      expect(app.log.entries).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: 'variant write failed',
          details: [expect.objectContaining({ variantKey: expect.any(String) })],
        }),
      );
      expect(await stack.listing()).toEqual(variantsBefore);

      proxy.setMode('pass');
      expectImage(await app.handler(event(key, 'w=120')), 'miss');
      expect(await stack.listing()).toHaveLength(variantsBefore.length + 1);
      expectImage(await app.handler(event(key, 'w=120')), 'hit');
    });
  });

  it('storage hanging in the middle of a miss (the lookup answered, the original\'s read hangs) is a 503, and no variant', async () => {
    const key = uniqueKey('photos/midway.jpg');
    await stack.seed(key, photo);
    const { app, calls } = instance();
    const variantsBefore = await stack.listing();
    proxy.setMode('slow', { methods: ['GET'], buckets: [ORIGINALS] });

    const { value: response, ms } = await timed(() => app.handler(event(key, 'w=100')));

    expectRetryLater(response, 'storage_unavailable');
    expect(ms).toBeLessThan(PROCESSING_TIMEOUT_MS + MARGIN_MS);
    expect(calls).toMatchObject({ openOriginal: 1, getVariant: 1, putVariant: 0 });
    expect(proxy.requests.filter((r) => r.mode === 'pass').map((r) => `${r.method} ${r.bucket}`)).toEqual([`GET ${VARIANTS}`]);
    expect(proxy.count('slow')).toBeGreaterThanOrEqual(1);
    expect(proxy.count('slow')).toBeLessThanOrEqual(S3_MAX_ATTEMPTS);
    expect(await stack.listing()).toEqual(variantsBefore);

    proxy.setMode('pass');
    expectImage(await app.handler(event(key, 'w=100')), 'miss');
  });

  it('a render that outlasts PROCESSING_TIMEOUT_MS is a 503 processing_timeout, and the abandoned render stores nothing', async () => {
    const large = await photoLikeJpeg(4000, 3000, { seed: 32 });
    const key = uniqueKey('photos/large.jpg');
    await stack.seed(key, large);
    let counted!: ReturnType<typeof countingStore>;
    // Straight to the local S3: the time goes into rendering, not into storage.
    const app = stack.app({
      env: { PROCESSING_TIMEOUT_MS: '100' },
      wrapStore: (store) => (counted = countingStore(store)).store,
    });
    const variantsBefore = await stack.listing();

    const { value: response, ms } = await timed(() => app.handler(event(key, 'w=3999')));

    expectRetryLater(response, 'processing_timeout');
    expect(ms).toBeLessThan(100 + MARGIN_MS);
    // The render goes on in the background (sharp cannot be cancelled; libvips stops it after
    // a whole second at most). Wait until it has ended one way or the other, then look.
    const waitUntil = performance.now() + 5000;
    while (performance.now() < waitUntil && counted.calls.putVariant === 0 && !app.log.entries.some((e) => e.message.startsWith('variant not stored'))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(counted.calls.putVariant).toBe(0);
    expect(await stack.listing()).toEqual(variantsBefore);
  });
});
