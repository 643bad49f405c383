import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Notification } from '../../scripts/s3-notifications.js';
import { describeImage, photoLikeJpeg, seededBytes } from '../../scripts/samples.js';
import { expandVariants } from '../../src/batch/job.js';
import { decodeEventKey, parseS3Event } from '../../src/sync/s3-events.js';
import { syncDependencies } from '../../src/sync/dependencies.js';
import { syncVariants, type SyncDeps } from '../../src/sync/sync-variants.js';
import { FORMER_RENDER_VERSIONS, originalVariantsPrefix, RENDER_VERSION } from '../../src/transform/variant-key.js';
import { accessDenied, created as createdAnswer, startCloudFrontStub, type CloudFrontStub } from '../support/cloudfront-stub.js';
import { buildApp, countingStore, event, ORIGINALS, startStack, VARIANTS, type App, type Stack } from '../support/stack.js';

/**
 * syncVariants against the real local S3 and real sharp: variants made by the real handler,
 * originals replaced and deleted with real S3 calls, events shaped as S3 sends them.
 */

let stack: Stack;
let jpegA: Buffer;
let jpegB: Buffer;

beforeAll(async () => {
  stack = await startStack();
  jpegA = await photoLikeJpeg(120, 80, { seed: 1 });
  jpegB = await photoLikeJpeg(120, 80, { seed: 2 });
}, 60_000);
afterAll(() => stack?.close());

const created = (key: string, bucket = ORIGINALS) => s3Notification([{ bucket, key, eventName: 'ObjectCreated:Put', etag: 'ignored', size: 1 }]);
const removed = (key: string, eventName = 'ObjectRemoved:Delete') => s3Notification([{ bucket: ORIGINALS, key, eventName }]);

/** The variants stored for one original (every version's folder). */
async function variantsOf(key: string, app: App = stack) {
  const out: string[] = [];
  for (const version of [RENDER_VERSION, ...FORMER_RENDER_VERSIONS]) {
    out.push(...(await stack.listing(VARIANTS, originalVariantsPrefix(app.config.variantsPrefix, key, version))).map((o) => o.key));
  }
  return out;
}

async function request(path: string, query: string, app: App = stack) {
  const response = await app.handler(event(path, query));
  expect(response.statusCode).toBe(200);
  return response.headers?.['X-Cache'] ?? response.headers?.['x-cache'];
}

function deps(app: App, extra: Partial<SyncDeps> = {}): SyncDeps & { invalidated: string[][] } {
  const invalidated: string[][] = [];
  return { config: app.config, store: app.store, log: app.log, eagerVariants: [], invalidate: async (keys) => void invalidated.push([...keys]), invalidated, ...extra };
}

describe('S3 event notifications', () => {
  it('decodes keys as S3 encodes them: + for a space, %2B for a plus, UTF-8 percent-escapes', () => {
    expect(decodeEventKey('photos/my+cat+%C3%A9t%C3%A9%2B1.jpg')).toBe('photos/my cat été+1.jpg');
    expect(decodeEventKey('bad%E0%A4%A')).toBeUndefined();
    const parsed = parseS3Event(s3Notification([{ bucket: 'b', key: 'a b/c+d é.jpg', eventName: 'ObjectCreated:Put' }]));
    expect(parsed.changes).toEqual([{ bucket: 'b', key: 'a b/c+d é.jpg', kind: 'created', eventName: 'ObjectCreated:Put' }]);
  });

  it('ignores the test event S3 sends when a notification is configured, and anything not from S3', () => {
    expect(parseS3Event({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' })).toEqual({ changes: [], ignored: ['s3:TestEvent'] });
    expect(parseS3Event({ Records: [{ eventSource: 'aws:sqs', body: '{}' }] }).changes).toEqual([]);
    expect(parseS3Event(null).changes).toEqual([]);
    const replication = s3Notification([{ bucket: 'b', key: 'k', eventName: 'Replication:OperationFailedReplication' }]);
    expect(parseS3Event(replication).ignored).toHaveLength(1);
  });
});

describe('an original replaced', () => {
  const key = 'sync/replaced photo é.jpg';

  it('deletes only the variants made from older versions, after one listing, reading only those stored since the upload', async () => {
    await stack.seed(key, jpegA);
    expect(await request(key, 'w=40&fm=webp')).toBe('miss');
    expect(await request(key, 'w=30&fm=jpeg')).toBe('miss');
    expect(await request(key, 'w=20&fm=jpeg')).toBe('miss');
    const before = await variantsOf(key);
    expect(before).toHaveLength(3);

    // S3 keeps times in whole seconds: the upload lands in a later second than these variants.
    await new Promise((resolve) => setTimeout(resolve, 1020 - (Date.now() % 1000)));
    await stack.seed(key, jpegB);
    // The new version's variant, made before the event arrives, overwrites the old one's.
    expect(await request(key, 'w=40&fm=webp')).toBe('miss');
    expect(await variantsOf(key)).toEqual(before);

    const counted = countingStore(stack.store);
    const d = deps(stack, { store: counted.store });
    const result = await syncVariants(created(key), d);
    expect(result).toMatchObject({ deleted: 2, invalidated: [key], originals: [{ key, state: 'current', deleted: 2 }] });
    const left = await variantsOf(key);
    expect(left).toHaveLength(1);
    expect(before).toContain(left[0]);
    expect((await stack.getObject(VARIANTS, left[0]!)).metadata).toMatchObject({ spec: 'w=40&fm=webp', supersedes: 'true' });
    // One HEAD of the original, one listing per layout version, one HEAD of the variant stored
    // since the upload, one batched delete; no variant or original body read.
    expect(counted.calls).toMatchObject({ headOriginal: 1, listVariants: 1 + FORMER_RENDER_VERSIONS.length, deleteVariants: 1, getVariant: 0, headVariant: 1, getOriginal: 0, openOriginal: 0, putVariant: 0 });
    expect(d.invalidated).toEqual([[key]]);
    // The original itself is untouched, and the API serves the new version.
    expect(await stack.originalEtag(key)).toBeDefined();
    expect(await request(key, 'w=40&fm=webp')).toBe('hit');
  });

  it('is idempotent: the same event again (at-least-once delivery) deletes nothing', async () => {
    const d = deps(stack);
    expect(await syncVariants(created(key), d)).toMatchObject({ deleted: 0 });
    expect(await variantsOf(key)).toHaveLength(1);
  });

  it('acts on the current state, not the event: a late "removed" for an original that exists again keeps its current variants', async () => {
    const d = deps(stack);
    const result = await syncVariants(removed(key), d);
    expect(result).toMatchObject({ deleted: 0, originals: [{ state: 'current' }] });
    expect(await variantsOf(key)).toHaveLength(1);
  });

  it('also deletes variants stored under a former key layout (render version)', async () => {
    const former = `${originalVariantsPrefix(stack.config.variantsPrefix, key, FORMER_RENDER_VERSIONS[0])}0123456789abcdef`;
    await stack.client.send(new PutObjectCommand({ Bucket: VARIANTS, Key: former, Body: 'old' }));
    expect(await syncVariants(created(key), deps(stack))).toMatchObject({ deleted: 1 });
    expect((await variantsOf(key)).includes(former)).toBe(false);
  });
});

describe('an original removed', () => {
  it.each([['ObjectRemoved:Delete'], ['ObjectRemoved:DeleteMarkerCreated']])('deletes all its variants on %s', async (eventName) => {
    const key = `sync/removed-${eventName.split(':')[1]}.jpg`;
    await stack.seed(key, jpegA);
    await request(key, 'w=20');
    await request(key, 'w=24&fm=png');
    expect(await variantsOf(key)).toHaveLength(2);
    await stack.client.send(new DeleteObjectCommand({ Bucket: ORIGINALS, Key: key }));

    const d = deps(stack);
    expect(await syncVariants(removed(key, eventName), d)).toMatchObject({ deleted: 2, originals: [{ key, state: 'removed' }] });
    expect(await variantsOf(key)).toEqual([]);
    expect(d.invalidated).toEqual([[key]]);
    expect((await stack.handler(event(key, 'w=20'))).statusCode).toBe(404);
  });

  it('acts on the current state: an early "created" for an original already deleted removes its variants', async () => {
    const key = 'sync/created-then-gone.jpg';
    await stack.seed(key, jpegA);
    await request(key, 'w=20');
    await stack.client.send(new DeleteObjectCommand({ Bucket: ORIGINALS, Key: key }));
    expect(await syncVariants(created(key), deps(stack))).toMatchObject({ deleted: 1, originals: [{ state: 'removed' }] });
  });
});

describe('events it ignores', () => {
  it('keys outside ORIGINALS_PREFIX, other buckets, and in a same-bucket setup its own variant and report writes', async () => {
    const app = stack.app({ env: { ORIGINALS_BUCKET: ORIGINALS, VARIANTS_BUCKET: ORIGINALS, ORIGINALS_PREFIX: 'media/' } });
    const counted = countingStore(app.store);
    const d = deps(app, { store: counted.store });
    const result = await syncVariants(
      s3Notification([
        { bucket: ORIGINALS, key: '_variants/v2/abc/def/0123', eventName: 'ObjectCreated:Put' },
        { bucket: ORIGINALS, key: '_variants/batch-reports/job/report.jsonl', eventName: 'ObjectCreated:Put' },
        { bucket: ORIGINALS, key: 'elsewhere/a.jpg', eventName: 'ObjectCreated:Put' },
        { bucket: 'another-bucket', key: 'media/a.jpg', eventName: 'ObjectRemoved:Delete' },
      ]),
      d,
    );
    expect(result.originals).toEqual([]);
    expect(result.ignored).toHaveLength(4);
    expect(Object.values(counted.calls).every((n) => n === 0)).toBe(true);
    expect(d.invalidated).toEqual([]);
  });

  it('handles several records for one original as one', async () => {
    const key = 'sync/twice.jpg';
    await stack.seed(key, jpegA);
    const counted = countingStore(stack.store);
    const twice = s3Notification([
      { bucket: ORIGINALS, key, eventName: 'ObjectCreated:Put' },
      { bucket: ORIGINALS, key, eventName: 'ObjectCreated:Put' },
    ]);
    expect((await syncVariants(twice, deps(stack, { store: counted.store }))).originals).toHaveLength(1);
    expect(counted.calls.headOriginal).toBe(1);
  });
});

describe('eager presets', () => {
  let app: App;
  beforeAll(() => {
    app = stack.app({ env: { EAGER_PRESETS: 'thumb' } });
  });
  const eager = () => deps(app, { eagerVariants: app.config.edge.eagerPresets.flatMap((p) => expandVariants(`preset=${p}`, app.config)) });

  it('renders them on upload, so the first visitor of every Accept class gets a hit', async () => {
    const key = 'sync/eager.jpg';
    await stack.seed(key, jpegA);
    const result = await syncVariants(created(key), eager());
    expect(result.originals).toEqual([{ key, state: 'current', deleted: 0, rendered: 3, failed: 0 }]);
    for (const accept of ['image/avif,image/webp,*/*', 'image/webp,*/*', '*/*']) {
      const response = await app.handler(event(key, 'preset=thumb', { accept }));
      expect(response.headers?.['X-Cache']).toBe('hit');
    }
    const avif = await app.handler(event(key, 'preset=thumb', { accept: 'image/avif' }));
    expect(await describeImage(Buffer.from(avif.body ?? '', 'base64'))).toMatchObject({ format: 'heif' });
  });

  it('logs an upload that cannot be rendered and does not fail the invocation (no retries, no dead letter)', async () => {
    const key = 'sync/eager-corrupt.jpg';
    await stack.seed(key, seededBytes(3000, 9));
    const d = eager();
    const result = await syncVariants(created(key), d);
    expect(result.originals).toEqual([{ key, state: 'current', deleted: 0, rendered: 0, failed: 3 }]);
    expect(app.log.entries.some((e) => e.level === 'warn' && e.message === 'eager variant not rendered')).toBe(true);
  });

  it('renders nothing for a removed original', async () => {
    expect((await syncVariants(removed('sync/never-there.jpg'), eager())).originals).toEqual([
      { key: 'sync/never-there.jpg', state: 'removed', deleted: 0, rendered: 0, failed: 0 },
    ]);
  });
});

describe('storage trouble', () => {
  it('fails the invocation (so Lambda retries it and then dead-letters it) when S3 cannot be reached', async () => {
    const app = buildApp('http://127.0.0.1:9', { env: { S3_MAX_ATTEMPTS: '1', S3_REQUEST_TIMEOUT_MS: '500' } });
    await expect(syncVariants(created('sync/x.jpg'), deps(app))).rejects.toMatchObject({ code: 'storage_unavailable' });
    app.close();
  });
});

describe('with the CDN: the handler’s own wiring against a CloudFront stand-in', () => {
  let cloudfront: CloudFrontStub;
  beforeAll(async () => {
    cloudfront = await startCloudFrontStub();
  });
  afterAll(() => cloudfront?.close());

  const wired = (extra: Record<string, string> = {}) => {
    const app = stack.app({ env: { CDN_DISTRIBUTION_ID: 'E2EXAMPLE', CLOUDFRONT_ENDPOINT: cloudfront.endpoint, ...extra } });
    return syncDependencies(app.config, app.store, app.log);
  };

  it('invalidates one wildcard path per original whose variants it deleted, keys encoded as browsers send them', async () => {
    const replaced = 'sync/cdn/été photo.jpg';
    const removedKey = 'sync/cdn/gone.jpg';
    for (const key of [replaced, removedKey]) {
      await stack.seed(key, jpegA);
      await request(key, 'w=20');
    }
    await stack.seed(replaced, jpegB);
    await stack.client.send(new DeleteObjectCommand({ Bucket: ORIGINALS, Key: removedKey }));
    const fresh = 'sync/cdn/brand-new.jpg';
    await stack.seed(fresh, jpegA);
    cloudfront.requests.length = 0;

    const both = s3Notification([
      { bucket: ORIGINALS, key: replaced, eventName: 'ObjectCreated:Put' },
      { bucket: ORIGINALS, key: removedKey, eventName: 'ObjectRemoved:Delete' },
      { bucket: ORIGINALS, key: fresh, eventName: 'ObjectCreated:Put' },
    ]);
    const result = await syncVariants(both, wired());
    expect(result.deleted).toBe(2);
    expect(cloudfront.requests).toHaveLength(1);
    expect(cloudfront.requests[0]!.distributionId).toBe('E2EXAMPLE');
    // The brand-new original had nothing stored, so nothing of it can be cached at the edge.
    expect([...cloudfront.requests[0]!.batch.paths].sort()).toEqual(['/sync/cdn/gone.jpg*', '/sync/cdn/%C3%A9t%C3%A9%20photo.jpg*'].sort());
  });

  it('fails the invocation when CloudFront refuses, keeping the stale variants, so the retried event invalidates again', async () => {
    const key = 'sync/cdn/denied.jpg';
    await stack.seed(key, jpegA);
    await request(key, 'w=20');
    await stack.seed(key, jpegB);
    cloudfront.answer(() => accessDenied);
    await expect(syncVariants(created(key), wired())).rejects.toMatchObject({ name: 'CdnInvalidationError' });
    expect(await variantsOf(key)).toHaveLength(1);
    // Meanwhile the origin serves the current version.
    expect(await request(key, 'w=20')).toBe('miss');

    cloudfront.answer(() => createdAnswer);
    cloudfront.requests.length = 0;
    // The request overwrote the stale variant, which leaves nothing to delete; it said what it
    // replaced, so the edge's old copies are still invalidated.
    expect(await syncVariants(created(key), wired())).toMatchObject({ deleted: 0, invalidated: [key] });
    expect(cloudfront.requests.map((r) => r.batch.paths)).toEqual([['/sync/cdn/denied.jpg*']]);
    expect(await variantsOf(key)).toHaveLength(1);
  });
});
