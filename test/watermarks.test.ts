import { CreateBucketCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Notification } from '../scripts/s3-notifications.js';
import { describeImage } from '../scripts/samples.js';
import { loadConfig } from '../src/config.js';
import type { HttpResponse } from '../src/http/response.js';
import { syncDependencies } from '../src/sync/dependencies.js';
import { syncVariants } from '../src/sync/sync-variants.js';
import { runBatchCli } from './support/batch-cli.js';
import { bodyBytes, countingStore, event, ORIGINALS, startStack, testEnv, uniqueKey, type Stack } from './support/stack.js';

/**
 * `mark=<name>` against the real local S3 and real sharp: the watermark is an object of the
 * originals bucket below WATERMARKS_PREFIX, its ETag part of the variant key; the HTTP API, the
 * batch worker and syncVariants' eager presets make the same variants from it.
 */

let stack: Stack;
let red: Buffer;
let blue: Buffer;
let green: Buffer;

const solid = (width: number, height: number, colour: string) => sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();

async function pixel(bytes: Buffer, left: number, top: number): Promise<number[]> {
  return [...(await sharp(bytes).extract({ left, top, width: 1, height: 1 }).removeAlpha().raw().toBuffer())];
}

/** A fresh original and a fresh watermark (`<name>` → `watermarks/<name>`). */
async function seedPair(watermark: Buffer = blue) {
  const key = uniqueKey('photos/red.png');
  const name = uniqueKey('logo.png');
  await stack.seed(key, red, 'image/png');
  const etag = await stack.seed(`watermarks/${name}`, watermark, 'image/png');
  return { key, name, etag };
}

function errorOf(response: HttpResponse) {
  return (JSON.parse(response.body ?? '') as { error: { code: string; message: string } }).error;
}

beforeAll(async () => {
  stack = await startStack();
  [red, blue, green] = await Promise.all([solid(200, 100, '#ff0000'), solid(20, 20, '#0000ff'), solid(20, 20, '#00ff00')]);
}, 60_000);
afterAll(() => stack?.close());

describe('WATERMARKS_PREFIX', () => {
  it('defaults to watermarks/, blank included, and is validated like the other prefixes', () => {
    expect(loadConfig({}).watermarksPrefix).toBe('watermarks/');
    expect(loadConfig({ WATERMARKS_PREFIX: ' ' }).watermarksPrefix).toBe('watermarks/');
    expect(loadConfig({ WATERMARKS_PREFIX: 'brand/marks' }).watermarksPrefix).toBe('brand/marks/');
    expect(() => loadConfig({ WATERMARKS_PREFIX: '/marks/' })).toThrow(/WATERMARKS_PREFIX: must not start with "\/"/);
  });

  it('may not overlap the variants in a shared bucket (a name must never read a variant)', () => {
    const shared = { ORIGINALS_BUCKET: 'images', VARIANTS_BUCKET: 'images' };
    expect(loadConfig(shared).watermarksPrefix).toBe('watermarks/');
    expect(() => loadConfig({ ...shared, WATERMARKS_PREFIX: '_variants/marks/' })).toThrow(/WATERMARKS_PREFIX/);
    expect(() => loadConfig({ ...shared, VARIANTS_PREFIX: 'watermarks/cache/' })).toThrow(/WATERMARKS_PREFIX/);
  });
});

describe('watermarks over HTTP', () => {
  it('lays the watermark on a miss, then answers the same request as a hit with one more HEAD', async () => {
    const { key, name } = await seedPair();
    let counted!: ReturnType<typeof countingStore>;
    const app = stack.app({ wrapStore: (store) => (counted = countingStore(store)).store });

    const first = await app.handler(event(key, `w=200&mark=${encodeURIComponent(name)}&fm=png`));
    expect(first.statusCode).toBe(200);
    expect(first.headers['X-Cache']).toBe('miss');
    const image = bodyBytes(first);
    expect(await describeImage(image)).toMatchObject({ format: 'png', width: 200, height: 100 });
    expect(await pixel(image, 195, 95)).toEqual([0, 0, 255]);
    expect(await pixel(image, 5, 5)).toEqual([255, 0, 0]);
    // The lookup with the original's read and the watermark's HEAD, the watermark's GET, the write.
    expect(counted.calls).toMatchObject({ getVariant: 1, openOriginal: 1, headOriginal: 1, getOriginal: 1, putVariant: 1 });

    counted.reset();
    const second = await app.handler(event(key, `w=200&mark=${encodeURIComponent(name)}&fm=png`));
    expect(second.headers['X-Cache']).toBe('hit');
    expect(second.headers.ETag).toBe(first.headers.ETag);
    expect(bodyBytes(second).equals(image)).toBe(true);
    // The lookup, the original's and the watermark's ETags: one round trip.
    expect(counted.calls).toMatchObject({ headOriginal: 2, getOriginal: 0, openOriginal: 0, getVariant: 1, putVariant: 0 });

    // Another instance (nothing in memory) finds the same variant.
    const cold = await stack.app().handler(event(key, `mark=${encodeURIComponent(name)}&fm=png&w=200`));
    expect(cold.headers['X-Cache']).toBe('hit');
  });

  it('never serves the old look once the watermark is replaced: a new key, then hits on it', async () => {
    const { key, name, etag } = await seedPair();
    const query = `mark=${encodeURIComponent(name)}&markpos=center`;
    const before = await stack.handler(event(key, query));
    expect(before.headers['X-Cache']).toBe('miss');
    expect(await pixel(bodyBytes(before), 100, 50)).toEqual([0, 0, 255]);
    expect((await stack.handler(event(key, query))).headers['X-Cache']).toBe('hit');

    const newEtag = await stack.seed(`watermarks/${name}`, green, 'image/png');
    expect(newEtag).not.toBe(etag);
    const after = await stack.handler(event(key, query));
    expect(after.headers['X-Cache']).toBe('miss');
    expect(after.headers.ETag).not.toBe(before.headers.ETag);
    expect(await pixel(bodyBytes(after), 100, 50)).toEqual([0, 255, 0]);
    const again = await stack.handler(event(key, query));
    expect(again.headers['X-Cache']).toBe('hit');
    expect(again.headers.ETag).toBe(after.headers.ETag);
  });

  it('answers If-None-Match with 304 for the watermarked variant', async () => {
    const { key, name } = await seedPair();
    const first = await stack.handler(event(key, `mark=${encodeURIComponent(name)}`));
    const revalidated = await stack.handler(event(key, `mark=${encodeURIComponent(name)}`, { 'If-None-Match': first.headers.ETag! }));
    expect(revalidated.statusCode).toBe(304);
  });

  it('answers a missing watermark with a 404 that names it, not the original', async () => {
    const { key } = await seedPair();
    const name = uniqueKey('missing.png');
    const before = await stack.listing();
    const response = await stack.handler(event(key, `w=100&mark=${encodeURIComponent(name)}`));
    expect(response.statusCode).toBe(404);
    expect(errorOf(response)).toEqual({ code: 'watermark_not_found', message: `No watermark "${name}" (watermarks/${name}).` });
    expect(await stack.listing()).toEqual(before);
    // A missing original is still the original's 404.
    const noOriginal = await stack.handler(event(uniqueKey('photos/none.png'), `mark=${encodeURIComponent(name)}`));
    expect(errorOf(noOriginal).code).toBe('original_not_found');
  });

  it('refuses a watermark that is not an image (422) or over the limits (413), naming it', async () => {
    const { key, name } = await seedPair(Buffer.from('<html>not an image</html>'));
    const response = await stack.handler(event(key, `mark=${encodeURIComponent(name)}`));
    expect(response.statusCode).toBe(422);
    expect(errorOf(response)).toMatchObject({ code: 'undecodable_watermark', message: expect.stringContaining(`"${name}" (watermarks/${name})`) });

    const big = await seedPair(await solid(300, 300, '#0000ff'));
    const bytes = stack.app({ env: { MAX_ORIGINAL_BYTES: '1000' } });
    const tooManyBytes = await bytes.handler(event(big.key, `mark=${encodeURIComponent(big.name)}`));
    // The original (a plain red PNG) is smaller than the watermark: the watermark is what is refused.
    expect(tooManyBytes.statusCode).toBe(413);
    expect(errorOf(tooManyBytes)).toMatchObject({ code: 'watermark_too_large', message: expect.stringContaining(big.name) });
    const pixels = stack.app({ env: { MAX_INPUT_PIXELS: '50000' } });
    const tooManyPixels = await pixels.handler(event(big.key, `mark=${encodeURIComponent(big.name)}`));
    expect(tooManyPixels.statusCode).toBe(413);
    expect(errorOf(tooManyPixels).code).toBe('watermark_too_large');
  });

  it.each([
    ['../x.png', 'mark=..%2Fx.png'],
    ['%2e%2e/x.png, decoded', 'mark=%2e%2e/x.png'],
    ['an absolute name', 'mark=%2Fwatermarks%2Fx.png'],
    ['an empty segment', 'mark=a//x.png'],
    ['a dot segment', 'mark=./x.png'],
    ['a backslash', 'mark=..%5Cx.png'],
  ])('refuses a name that leaves the watermarks folder: %s (400)', async (_, query) => {
    const { key } = await seedPair();
    let counted!: ReturnType<typeof countingStore>;
    const app = stack.app({ wrapStore: (store) => (counted = countingStore(store)).store });
    const response = await app.handler(event(key, query));
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).code).toBe('invalid_param');
    expect(counted.calls.headOriginal).toBe(0);
  });

  it('reads watermarks from WATERMARKS_PREFIX, a full key independent of ORIGINALS_PREFIX', async () => {
    const key = uniqueKey('red.png');
    await stack.seed(`site/${key}`, red, 'image/png');
    await stack.seed(`brand/logo.png`, blue, 'image/png');
    const app = stack.app({ env: { ORIGINALS_PREFIX: 'site/', WATERMARKS_PREFIX: 'brand' } });
    const response = await app.handler(event(key, 'mark=logo.png&markpos=left%20top'));
    expect(response.statusCode).toBe(200);
    expect(await pixel(bodyBytes(response), 2, 2)).toEqual([0, 0, 255]);
  });

  it('serves mark through presets only when an allowlist is on', async () => {
    const { key, name } = await seedPair();
    const app = stack.app({ env: { ALLOWLIST: 'presets', PRESETS: JSON.stringify({ branded: `w=100&mark=${name}&markscale=0.5` }) } });
    const viaPreset = await app.handler(event(key, 'preset=branded'));
    expect(viaPreset.statusCode).toBe(200);
    expect(await describeImage(bodyBytes(viaPreset))).toMatchObject({ width: 100, height: 50 });
    expect(await pixel(bodyBytes(viaPreset), 97, 47)).toEqual([0, 0, 255]);
    expect((await app.handler(event(key, 'preset=branded'))).headers['X-Cache']).toBe('hit');
    const explicit = await app.handler(event(key, `w=100&mark=${encodeURIComponent(name)}`));
    expect(explicit.statusCode).toBe(400);
    expect(errorOf(explicit).code).toBe('not_allowed');
  });
});

describe('watermarks in the batch worker and syncVariants', () => {
  it('pre-generates exactly the variant the HTTP API would store: the request is a hit', async () => {
    const prefix = uniqueKey('wm-batch/');
    const key = `${prefix}red.png`;
    await stack.seed(key, red, 'image/png');
    const name = uniqueKey('logo.png');
    await stack.seed(`watermarks/${name}`, blue, 'image/png');
    const env = testEnv(stack.s3.endpoint);
    delete env.IS_LOCAL;
    const run = await runBatchCli(
      ['--prefix', prefix, '--spec', `w=100&mark=${name}`, '--spec', `w=50&mark=${uniqueKey('missing.png')}`, '--spec', 'w=60', '--job-id', uniqueKey('wm').replace('/', '-')],
      env,
    );
    expect(run.summary).toMatchObject({ done: 2, failed: 1 });

    const response = await stack.handler(event(key, `w=100&mark=${encodeURIComponent(name)}`));
    expect(response.headers['X-Cache']).toBe('hit');
    expect(await pixel(bodyBytes(response), 97, 47)).toEqual([0, 0, 255]);

    // Byte for byte what the HTTP API makes, in a bucket of its own.
    await stack.client.send(new CreateBucketCommand({ Bucket: 'variants-wm-http' }));
    const http = stack.app({ env: { VARIANTS_BUCKET: 'variants-wm-http' } });
    const viaHttp = await http.handler(event(key, `w=100&mark=${encodeURIComponent(name)}`));
    expect(viaHttp.headers['X-Cache']).toBe('miss');
    expect(viaHttp.headers.ETag).toBe(response.headers.ETag);
    expect(bodyBytes(viaHttp).equals(bodyBytes(response))).toBe(true);
  }, 120_000);

  it('renders eager presets with a watermark as the HTTP API would', async () => {
    const { key, name } = await seedPair();
    const app = stack.app({ env: { PRESETS: JSON.stringify({ branded: `w=80&mark=${name}` }), EAGER_PRESETS: 'branded' } });
    const result = await syncVariants(
      s3Notification([{ bucket: ORIGINALS, key, eventName: 'ObjectCreated:Put', etag: 'x', size: 1 }]),
      { ...syncDependencies(app.config, app.store, app.log), invalidate: undefined },
    );
    expect(result.originals).toMatchObject([{ key, state: 'current', rendered: 1, failed: 0 }]);
    expect((await app.handler(event(key, 'preset=branded'))).headers['X-Cache']).toBe('hit');
  });
});
