import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  CdnInvalidationError,
  chunkPaths,
  createCdnInvalidator,
  invalidationPaths,
  MAX_FILE_PATHS_IN_PROGRESS,
  MAX_PATH_LENGTH,
  MAX_WILDCARD_PATHS_IN_PROGRESS,
  type CdnInvalidatorOptions,
} from '../../src/edge/cdn-invalidator.js';
import {
  accessDenied,
  created,
  failFirst,
  noSuchDistribution,
  serviceUnavailable,
  startCloudFrontStub,
  tooManyInProgress,
  type CloudFrontStub,
} from '../support/cloudfront-stub.js';

/**
 * The invalidator end to end below syncVariants: original keys → wildcard paths →
 * CreateInvalidation, sent by the real CloudFront client to a stand-in that speaks its protocol.
 */

const DISTRIBUTION = 'EDFDVBD6EXAMPLE';

let cloudfront: CloudFrontStub;
beforeAll(async () => {
  cloudfront = await startCloudFrontStub();
});
afterAll(() => cloudfront?.close());
beforeEach(() => {
  cloudfront.requests.length = 0;
  cloudfront.answer(() => created);
});

const edge = (more: Record<string, string> = {}) =>
  loadConfig({
    ORIGINALS_BUCKET: 'originals',
    VARIANTS_BUCKET: 'variants',
    CDN_DISTRIBUTION_ID: DISTRIBUTION,
    CLOUDFRONT_ENDPOINT: cloudfront.endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    ...more,
  }).edge;

/** A clock that only the injected sleep moves, and the waits it was asked for. */
function fakeTime(random?: () => number) {
  const time = { clock: 0, waits: [] as number[] };
  const options: CdnInvalidatorOptions = {
    now: () => time.clock,
    sleep: async (ms) => {
      time.waits.push(ms);
      time.clock += ms;
    },
    random,
  };
  return { time, options };
}

function invalidator(options: CdnInvalidatorOptions = {}, more: Record<string, string> = {}) {
  const created = createCdnInvalidator(edge(more), options);
  if (!created) throw new Error('expected an invalidator');
  return created;
}

describe('invalidationPaths', () => {
  it.each([
    ['a plain key', 'photos/cat.jpg', '/photos/cat.jpg*'],
    ['spaces and non-ASCII, as browsers send them', 'photos/my cat é.jpg', '/photos/my%20cat%20%C3%A9.jpg*'],
    ['non-ASCII segments, "/" kept', 'photos/猫/ü.png', '/photos/%E7%8C%AB/%C3%BC.png*'],
    ['an emoji (two UTF-16 units, four UTF-8 bytes)', 'photos/😀.png', '/photos/%F0%9F%98%80.png*'],
    ['"?", "#" and "%", which would end or escape the path', 'q?a#b%c.jpg', '/q%3Fa%23b%25c.jpg*'],
    ['characters no client sends raw', 'photos/"x" <y> {z} `w`.jpg', '/photos/%22x%22%20%3Cy%3E%20%7Bz%7D%20%60w%60.jpg*'],
    ['characters every client sends raw', "photos/it's (1)!_-.jpg", "/photos/it's%20(1)!_-.jpg*"],
    // `*` is a wildcard only at the end, and %2A would match only clients that encode it (browsers
    // and encodeURIComponent do not): stop before it, covering both spellings.
    ['a literal "*", which must not become a wildcard', 'photos/a*b.jpg', '/photos/a*'],
    ['"~", refused raw by CloudFront and not matched as %7E', 'photos/v~1.jpg', '/photos/v*'],
    ['":", raw from a browser but %3A from encodeURIComponent', 'photos/2024:05:01 party.jpg', '/photos/2024*'],
    ['"+"', 'photos/a+b.jpg', '/photos/a*'],
    ['"&" and "="', 'photos/x&y=z.jpg', '/photos/x*'],
  ])('%s', (_name, key, path) => {
    expect(invalidationPaths([key])).toEqual([path]);
  });

  it('gives one path per original, deduplicated, sorted, without paths a shorter one covers', () => {
    expect(invalidationPaths(['photos/b.jpg', 'photos/a.jpg', 'photos/b.jpg', 'dogs/rex.png'])).toEqual([
      '/dogs/rex.png*',
      '/photos/a.jpg*',
      '/photos/b.jpg*',
    ]);
    expect(invalidationPaths(['photos/abc.jpg', 'photos/a*1.jpg', 'photos/a.jpg', 'photos/b.jpg'])).toEqual(['/photos/a*', '/photos/b.jpg*']);
    expect(invalidationPaths(['photos/cat.jpg.webp', 'photos/cat.jpg'])).toEqual(['/photos/cat.jpg*']);
    expect(invalidationPaths([])).toEqual([]);
  });

  it('keeps a path within CloudFront’s 4000 characters, never cutting an escape in two', () => {
    const [path] = invalidationPaths(['é'.repeat(1500)]);
    expect(path!.length).toBeLessThanOrEqual(MAX_PATH_LENGTH);
    expect(path).toMatch(/^\/(%C3%A9)+\*$/);
  });

  it('refuses an empty key rather than invalidate the whole distribution', () => {
    expect(() => invalidationPaths(['photos/a.jpg', ''])).toThrow(RangeError);
  });
});

describe('chunkPaths', () => {
  it('makes as few chunks as both in-progress maximums allow, each within them', () => {
    const paths = Array.from({ length: 3100 }, (_, i) => (i % 100 === 0 ? `/w/${i}*` : `/f/${i}.jpg`));
    const chunks = chunkPaths(paths);
    for (const chunk of chunks) {
      expect(chunk.filter((p) => p.endsWith('*')).length).toBeLessThanOrEqual(MAX_WILDCARD_PATHS_IN_PROGRESS);
      expect(chunk.filter((p) => !p.endsWith('*')).length).toBeLessThanOrEqual(MAX_FILE_PATHS_IN_PROGRESS);
    }
    expect(chunks.flat().sort()).toEqual([...paths].sort());
    // 31 wildcard paths need 3 requests (15, 15, 1); the 3069 others ride along (3000, 69, 0).
    expect(chunks.map((c) => c.length)).toEqual([3015, 84, 1]);
    expect(chunkPaths([])).toEqual([]);
  });
});

describe('createCdnInvalidator against a CloudFront stand-in', () => {
  it('is undefined without a distribution', () => {
    expect(createCdnInvalidator(edge({ CDN_DISTRIBUTION_ID: '' }))).toBeUndefined();
  });

  it('sends one signed CreateInvalidation with the paths, their quantity and a caller reference', async () => {
    const paths = invalidationPaths(['photos/my cat é.jpg', 'photos/100%.jpg', 'photos/q?#.png', 'photos/a*b.jpg']);
    const result = await invalidator().invalidate(paths);

    expect(cloudfront.requests).toHaveLength(1);
    const [request] = cloudfront.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe(`/2020-05-31/distribution/${DISTRIBUTION}/invalidation`);
    expect(request!.distributionId).toBe(DISTRIBUTION);
    expect(request!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/cloudfront\/aws4_request/);
    expect(request!.body).toContain('<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">');
    expect(request!.batch).toEqual({
      callerReference: expect.stringMatching(/^image-resizer-[0-9a-f-]{36}$/),
      quantity: 4,
      paths: ['/photos/100%25.jpg*', '/photos/a*', '/photos/my%20cat%20%C3%A9.jpg*', '/photos/q%3F%23.png*'],
    });
    expect(result).toEqual({ invalidationIds: ['I0001STUBEXAMPLE'] });
  });

  it('sends nothing for no paths, and refuses what is not an invalidation path before any call', async () => {
    await expect(invalidator().invalidate([])).resolves.toEqual({ invalidationIds: [] });
    await expect(invalidator().invalidate(['photos/a.jpg*'])).rejects.toMatchObject({ name: 'CdnInvalidationError', code: 'InvalidPath', retryable: false });
    await expect(invalidator().invalidate(['/photos/a*b.jpg'])).rejects.toThrow(/\* only at the end/);
    expect(cloudfront.requests).toHaveLength(0);
  });

  it('splits wildcard paths 15 to a request, each with its own caller reference', async () => {
    const paths = invalidationPaths(Array.from({ length: 40 }, (_, i) => `photos/${String(i).padStart(2, '0')}.jpg`));
    const result = await invalidator().invalidate(paths);

    expect(cloudfront.requests.map((r) => r.batch.quantity)).toEqual([15, 15, 10]);
    expect(cloudfront.requests.map((r) => r.batch.paths.length)).toEqual([15, 15, 10]);
    expect(cloudfront.requests.flatMap((r) => r.batch.paths)).toEqual(paths);
    expect(new Set(cloudfront.requests.map((r) => r.batch.callerReference)).size).toBe(3);
    expect(result.invalidationIds).toHaveLength(3);
  });

  it('splits file paths 3000 to a request', async () => {
    const paths = Array.from({ length: 3005 }, (_, i) => `/photos/${i}.jpg`);
    await invalidator().invalidate(paths);
    expect(cloudfront.requests.map((r) => r.batch.quantity)).toEqual([3000, 5]);
    expect(cloudfront.requests.flatMap((r) => r.batch.paths)).toEqual(paths);
    expect(cloudfront.requests[0]!.batch.callerReference).not.toBe(cloudfront.requests[1]!.batch.callerReference);
  });

  it('waits for invalidations in progress with growing backoff, retrying under the same caller reference', async () => {
    cloudfront.answer(failFirst(4, tooManyInProgress));
    const { time, options } = fakeTime();
    const result = await invalidator(options).invalidate(['/photos/cat.jpg*']);

    expect(result).toEqual({ invalidationIds: [expect.stringMatching(/^I\d{4}STUBEXAMPLE$/)] });
    expect(cloudfront.requests).toHaveLength(5);
    expect(new Set(cloudfront.requests.map((r) => r.batch.callerReference)).size).toBe(1);
    expect(time.waits).toHaveLength(4);
    // Equal jitter around a doubling delay: each wait lies in [d/2, d] for d = 1, 2, 4, 8 s.
    time.waits.forEach((wait, i) => {
      expect(wait).toBeGreaterThanOrEqual(500 * 2 ** i);
      expect(wait).toBeLessThanOrEqual(1000 * 2 ** i);
      if (i > 0) expect(wait).toBeGreaterThanOrEqual(time.waits[i - 1]!);
    });
  });

  it.each([
    ['a 5xx', serviceUnavailable],
    ['throttling', { kind: 'error', status: 400, code: 'Throttling', message: 'Rate exceeded' } as const],
  ])('retries %s', async (_name, answer) => {
    cloudfront.answer(failFirst(2, answer));
    const { time, options } = fakeTime();
    await expect(invalidator(options).invalidate(['/photos/cat.jpg*'])).resolves.toMatchObject({ invalidationIds: [expect.any(String)] });
    expect(cloudfront.requests).toHaveLength(3);
    expect(time.waits).toHaveLength(2);
  });

  it('gives up once the next wait would pass maxWaitMs, saying what failed and how many paths', async () => {
    cloudfront.answer(() => tooManyInProgress);
    const { time, options } = fakeTime(() => 0.5);
    const paths = invalidationPaths(Array.from({ length: 20 }, (_, i) => `photos/${i}.jpg`));
    const invalidating = invalidator({ ...options, maxWaitMs: 60_000 }).invalidate(paths);

    await expect(invalidating).rejects.toBeInstanceOf(CdnInvalidationError);
    await expect(invalidating).rejects.toMatchObject({ code: 'TooManyInvalidationsInProgress', retryable: true, pathCount: 20, invalidationIds: [] });
    await expect(invalidating).rejects.toThrow(
      new RegExp(`^CloudFront invalidation on distribution ${DISTRIBUTION} failed: gave up after 8 attempt\\(s\\) within 60000 ms: TooManyInvalidationsInProgress: .*; 20 of 20 path\\(s\\) not invalidated \\(chunk 1 of 2`),
    );
    // 750 + 1500 + 3000 + 6000 + 12000 + 15000 + 15000 ms slept; the next 15000 would pass 60 s.
    expect(time.waits).toEqual([750, 1500, 3000, 6000, 12000, 15000, 15000]);
    expect(time.clock).toBeLessThanOrEqual(60_000);
    expect(cloudfront.requests).toHaveLength(8);
  });

  it.each([
    ['AccessDenied', accessDenied, 403],
    ['NoSuchDistribution', noSuchDistribution, 404],
    ['InvalidArgument', { kind: 'error', status: 400, code: 'InvalidArgument', message: 'Your request contains one or more invalid invalidation paths.' } as const, 400],
  ])('fails at once on %s, keeping the SDK error as the cause', async (code, answer, status) => {
    cloudfront.answer(() => answer);
    const { time, options } = fakeTime();
    const invalidating = invalidator(options).invalidate(['/photos/cat.jpg*']);

    await expect(invalidating).rejects.toMatchObject({
      name: 'CdnInvalidationError',
      code,
      retryable: false,
      pathCount: 1,
      cause: { name: code, $metadata: { httpStatusCode: status } },
    });
    await expect(invalidating).rejects.toThrow(new RegExp(`failed: ${code}: .*; 1 of 1 path\\(s\\) not invalidated`));
    expect(cloudfront.requests).toHaveLength(1);
    expect(time.waits).toEqual([]);
  });

  it('reports the invalidations already created when a later chunk fails', async () => {
    cloudfront.answer((_request, index) => (index === 0 ? created : accessDenied));
    const paths = invalidationPaths(Array.from({ length: 20 }, (_, i) => `photos/${i}.jpg`));
    await expect(invalidator().invalidate(paths)).rejects.toMatchObject({
      code: 'AccessDenied',
      pathCount: 5,
      invalidationIds: [expect.stringMatching(/^I\d{4}STUBEXAMPLE$/)],
      message: expect.stringMatching(/5 of 20 path\(s\) not invalidated \(chunk 2 of 2, 1 invalidation\(s\) created before\)/),
    });
    expect(cloudfront.requests).toHaveLength(2);
  });

  it('retries a refused connection until the wait is over', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const { time, options } = fakeTime();
    const invalidating = invalidator({ ...options, maxWaitMs: 5_000 }, { CLOUDFRONT_ENDPOINT: `http://127.0.0.1:${port}` }).invalidate(['/photos/cat.jpg*']);
    await expect(invalidating).rejects.toMatchObject({ name: 'CdnInvalidationError', code: 'ECONNREFUSED', retryable: true });
    expect(time.waits.length).toBeGreaterThan(0);
    expect(time.clock).toBeLessThanOrEqual(5_000);
  });
});
