import sharp from 'sharp';
import { thumbHashToRGBA } from 'thumbhash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alphaPng, describeImage, photoLikeJpeg } from '../scripts/samples.js';
import type { HttpResponse } from '../src/http/response.js';
import { MAX_ENCODES, MIN_QUALITY } from '../src/transform/byte-budget.js';
import type { Description } from '../src/transform/describe.js';
import { readKeptExif } from '../src/transform/exif-copyright.js';
import { VARIANTS, bodyBytes, event, startStack, uniqueKey, type Stack } from './support/stack.js';

/**
 * Issue 14 over the handler and a local S3: maxbytes' outcome in the response headers and, for
 * hits, in the stored object's metadata; meta=copyright end to end; fm=json as a cached JSON body.
 */

/** Keys of the variants the action added to the bucket. */
async function newVariants(stack: Stack, action: () => Promise<unknown>): Promise<string[]> {
  const before = new Set((await stack.listing()).map((v) => v.key));
  await action();
  return (await stack.listing()).map((v) => v.key).filter((k) => !before.has(k));
}

/** ThumbHash keeps the aspect ratio roughly, and decodes to at most 32 pixels a side: within 25 %. */
function expectAspect(decoded: { w: number; h: number }, ratio: number) {
  expect(Math.abs(Math.log(decoded.w / decoded.h / ratio)), `${decoded.w}×${decoded.h} vs ${ratio}`).toBeLessThan(Math.log(1.25));
}

function expectOk(response: HttpResponse, cache: 'hit' | 'miss', contentType: string) {
  expect(response.statusCode).toBe(200);
  expect(response.headers).toMatchObject({ 'Content-Type': contentType, 'X-Cache': cache, 'X-Content-Type-Options': 'nosniff' });
  expect(response.headers.ETag).toMatch(/^"[0-9a-f]{40}"$/);
}

describe('output control over the handler and a local S3', () => {
  let stack: Stack;
  let photo: Buffer; // 1800×1200 photo-like JPEG

  beforeAll(async () => {
    stack = await startStack();
    photo = await photoLikeJpeg(1800, 1200, { seed: 21 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('maxbytes', () => {
    it('says what it came to (X-Max-Bytes, X-Quality), stores it with the variant and says it again on a hit', async () => {
      const key = uniqueKey('photos/budget.jpg');
      await stack.seed(key, photo);
      const plain = bodyBytes(await stack.handler(event(key, 'w=800&fm=webp')));
      const budget = Math.round(plain.length * 0.6);

      let miss!: HttpResponse;
      const added = await newVariants(stack, async () => {
        miss = await stack.handler(event(key, `w=800&fm=webp&maxbytes=${budget}`));
      });
      expectOk(miss, 'miss', 'image/webp');
      expect(miss.headers['X-Max-Bytes']).toBe('fits');
      const quality = Number(miss.headers['X-Quality']);
      expect(quality).toBeGreaterThanOrEqual(MIN_QUALITY);
      expect(quality).toBeLessThan(80);
      expect(bodyBytes(miss).length).toBeLessThanOrEqual(budget);
      expect(await describeImage(bodyBytes(miss))).toMatchObject({ format: 'webp', width: 800, height: 533 });

      expect(added).toHaveLength(1);
      const stored = await stack.getObject(VARIANTS, added[0]!);
      expect(stored.metadata).toMatchObject({ 'max-bytes': 'fits', quality: String(quality), spec: `w=800&fm=webp&maxbytes=${budget}` });
      expect(Number(stored.metadata.encodes)).toBeGreaterThan(1);
      expect(Number(stored.metadata.encodes)).toBeLessThanOrEqual(MAX_ENCODES);

      const hit = await stack.handler(event(key, `maxbytes=${budget}&fm=webp&width=800`));
      expectOk(hit, 'hit', 'image/webp');
      expect(hit.headers).toMatchObject({ 'X-Max-Bytes': 'fits', 'X-Quality': String(quality), ETag: miss.headers.ETag });
      expect(bodyBytes(hit).equals(bodyBytes(miss))).toBe(true);
    });

    it('answers the smallest image with X-Max-Bytes: exceeded when nothing fits, on the miss and on the hit', async () => {
      const key = uniqueKey('photos/too-tight.jpg');
      await stack.seed(key, photo);
      const miss = await stack.handler(event(key, 'maxbytes=1024'));
      expectOk(miss, 'miss', 'image/jpeg');
      expect(miss.headers).toMatchObject({ 'X-Max-Bytes': 'exceeded', 'X-Quality': String(MIN_QUALITY) });
      expect(bodyBytes(miss).length).toBeGreaterThan(1024);
      const lowest = bodyBytes(await stack.handler(event(key, `q=${MIN_QUALITY}`)));
      expect(bodyBytes(miss).length).toBe(lowest.length);

      const hit = await stack.handler(event(key, 'max-bytes=1024'));
      expectOk(hit, 'hit', 'image/jpeg');
      expect(hit.headers).toMatchObject({ 'X-Max-Bytes': 'exceeded', 'X-Quality': String(MIN_QUALITY) });
    });

    it('with fm=auto: AVIF or WebP by Accept, each within the budget', async () => {
      const key = uniqueKey('photos/auto-budget.jpg');
      await stack.seed(key, photo);
      for (const [accept, contentType] of [
        ['image/avif,image/webp,*/*', 'image/avif'],
        ['image/webp,*/*', 'image/webp'],
      ] as const) {
        const response = await stack.handler(event(key, 'w=600&fm=auto&maxbytes=12000', { Accept: accept }));
        expectOk(response, 'miss', contentType);
        expect(response.headers).toMatchObject({ Vary: 'Accept', 'X-Max-Bytes': 'fits' });
        expect(bodyBytes(response).length).toBeLessThanOrEqual(12000);
      }
    });

    it('refuses a PNG original without fm with 400 and stores nothing', async () => {
      const key = uniqueKey('graphics/logo.png');
      await stack.seed(key, await alphaPng(200, 200));
      const added = await newVariants(stack, async () => {
        const response = await stack.handler(event(key, 'w=100&maxbytes=5000'));
        expect(response.statusCode).toBe(400);
        expect(JSON.parse(response.body!)).toEqual({ error: { code: 'invalid_param', message: expect.stringMatching(/fm=jpeg, fm=webp or fm=avif/) } });
      });
      expect(added).toEqual([]);
      expectOk(await stack.handler(event(key, 'w=100&maxbytes=5000&fm=webp')), 'miss', 'image/webp');
    });

    it('adds no budget headers without maxbytes', async () => {
      const key = uniqueKey('photos/no-budget.jpg');
      await stack.seed(key, photo);
      const response = await stack.handler(event(key, 'w=100'));
      expect(response.headers['X-Max-Bytes']).toBeUndefined();
      expect(response.headers['X-Quality']).toBeUndefined();
    });
  });

  it('meta=copyright keeps the credits and nothing else; without it nothing at all', async () => {
    const key = uniqueKey('photos/credited.jpg');
    const credited = await sharp(await photoLikeJpeg(600, 400))
      .withExif({ IFD0: { Copyright: '(c) Jane Doe', Artist: 'Jane Doe', Make: 'TestCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 3230/100' } })
      .jpeg()
      .toBuffer();
    await stack.seed(key, credited);
    const kept = await sharp(bodyBytes(await stack.handler(event(key, 'w=200&metadata=copyright')))).metadata();
    expect(readKeptExif(kept.exif)).toEqual({ Copyright: '(c) Jane Doe', Artist: 'Jane Doe' });
    expect(kept.exif!.includes('TestCam')).toBe(false);
    const stripped = await sharp(bodyBytes(await stack.handler(event(key, 'w=200&meta=none')))).metadata();
    expect(stripped.exif).toBeUndefined();
  });

  describe('fm=json', () => {
    it('describes the original and the output, is stored like any variant and served again from the cache', async () => {
      const key = uniqueKey('photos/described.jpg');
      const rotated = await photoLikeJpeg(600, 400, { orientation: 6, seed: 5 });
      await stack.seed(key, rotated);

      let miss!: HttpResponse;
      const added = await newVariants(stack, async () => {
        miss = await stack.handler(event(key, 'w=200&fm=json', { Accept: 'image/avif,image/webp,*/*' }));
      });
      expectOk(miss, 'miss', 'application/json; charset=utf-8');
      expect(miss.headers.Vary).toBeUndefined();
      expect(miss.headers['Cache-Control']).toBe('public, max-age=31536000, immutable');
      const description = JSON.parse(bodyBytes(miss).toString('utf8')) as Description;
      expect(description).toEqual({
        width: 400,
        height: 600,
        format: 'jpeg',
        bytes: rotated.length,
        hasAlpha: false,
        pages: 1,
        space: 'srgb',
        orientation: 6,
        output: { width: 200, height: 300, format: 'jpeg' },
        dominant: expect.stringMatching(/^#[0-9a-f]{6}$/),
        thumbhash: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/),
        placeholder: expect.stringMatching(/^data:image\/webp;base64,[A-Za-z0-9+/]+=*$/),
      });
      const decoded = thumbHashToRGBA(Buffer.from(description.thumbhash, 'base64'));
      expectAspect(decoded, 200 / 300);

      expect(added).toHaveLength(1);
      const stored = await stack.getObject(VARIANTS, added[0]!);
      expect(stored.contentType).toBe('application/json; charset=utf-8');
      expect(stored.body.equals(bodyBytes(miss))).toBe(true);

      const hit = await stack.handler(event(key, 'fm=json&width=200'));
      expectOk(hit, 'hit', 'application/json; charset=utf-8');
      expect(hit.headers.ETag).toBe(miss.headers.ETag);
      expect(bodyBytes(hit).equals(bodyBytes(miss))).toBe(true);

      const notModified = await stack.handler(event(key, 'fm=json&w=200', { 'If-None-Match': miss.headers.ETag! }));
      expect(notModified.statusCode).toBe(304);
    });

    it('gives the dominant colour of a solid red image', async () => {
      const key = uniqueKey('photos/red.png');
      await stack.seed(key, await sharp({ create: { width: 300, height: 100, channels: 3, background: '#ff0000' } }).png().toBuffer());
      const response = await stack.handler(event(key, 'fm=json'));
      expectOk(response, 'miss', 'application/json; charset=utf-8');
      const description = JSON.parse(bodyBytes(response).toString('utf8')) as Description;
      expect(description).toMatchObject({ format: 'png', width: 300, height: 100, dominant: '#ff0000', output: { format: 'png', width: 300, height: 100 } });
      const decoded = thumbHashToRGBA(Buffer.from(description.thumbhash, 'base64'));
      expectAspect(decoded, 3);
    });

    it('refuses maxbytes with fm=json', async () => {
      const key = uniqueKey('photos/json-budget.jpg');
      await stack.seed(key, photo);
      expect((await stack.handler(event(key, 'fm=json&maxbytes=5000'))).statusCode).toBe(400);
    });
  });
});
