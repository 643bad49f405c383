import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImage, meanColour } from '../scripts/samples.js';
import type { HttpResponse } from '../src/http/response.js';
import { signPath } from '../src/security/url-signature.js';
import { bodyBytes, event, startStack, uniqueKey, type Stack } from './support/stack.js';

/**
 * SIH's base64 JSON requests and Thumbor paths end to end: the real handler, the local S3, real
 * sharp. A foreign URL and its query-form equivalent are one variant, stored once.
 */

const RED = [255, 0, 0];
const BLUE = [0, 0, 255];
const GREEN = [0, 255, 0];
const YELLOW = [255, 255, 0];

/** 200×100 PNG in quadrants: red | blue over green | yellow, so mirrors and crops show. */
async function quadrants(): Promise<Buffer> {
  const tile = (background: number[]) =>
    sharp({ create: { width: 100, height: 50, channels: 3, background: { r: background[0]!, g: background[1]!, b: background[2]! } } })
      .png()
      .toBuffer();
  return sharp({ create: { width: 200, height: 100, channels: 3, background: '#000' } })
    .composite([
      { input: await tile(RED), left: 0, top: 0 },
      { input: await tile(BLUE), left: 100, top: 0 },
      { input: await tile(GREEN), left: 0, top: 50 },
      { input: await tile(YELLOW), left: 100, top: 50 },
    ])
    .png()
    .toBuffer();
}

/** SIH's default request, as its docs build it. */
const sih = (request: unknown) => `/${Buffer.from(JSON.stringify(request)).toString('base64')}`;

/** The mean colour of a quarter of an output, rounded to the nearest pure colour channel. */
async function quarter(bytes: Buffer, corner: 'tl' | 'tr' | 'bl' | 'br') {
  const { width, height } = await sharp(bytes).metadata();
  const w = Math.floor(width! / 2);
  const h = Math.floor(height! / 2);
  const region = { left: corner.endsWith('r') ? width! - w : 0, top: corner.startsWith('b') ? height! - h : 0, width: w, height: h };
  // Stay away from the edges, where resampling mixes the neighbours in.
  const inner = { left: region.left + Math.floor(w / 4), top: region.top + Math.floor(h / 4), width: Math.ceil(w / 2), height: Math.ceil(h / 2) };
  return (await meanColour(bytes, inner)).map((c) => (c > 200 ? 255 : c < 55 ? 0 : c));
}

function expectError(response: HttpResponse, status: number, code: string) {
  expect(response.statusCode).toBe(status);
  expect(JSON.parse(response.body ?? '')).toEqual({ error: { code, message: expect.any(String) } });
}

describe('foreign URL forms over a local S3', () => {
  let stack: Stack;
  let image: Buffer;

  beforeAll(async () => {
    stack = await startStack();
    image = await quadrants();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function seeded(name = 'quads.png') {
    const key = uniqueKey(name);
    await stack.seed(key, image, 'image/png');
    return key;
  }

  it('serves a Thumbor URL, then its query-form equivalent from the same stored variant', async () => {
    const key = await seeded();
    const thumbor = await stack.handler(event(`/unsafe/fit-in/80x80/filters:format(webp):quality(70)/${key}`));
    expect(thumbor.statusCode).toBe(200);
    expect(thumbor.headers['X-Cache']).toBe('miss');
    expect(await describeImage(bodyBytes(thumbor))).toMatchObject({ format: 'webp', width: 80, height: 40 });

    const query = await stack.handler(event(key, { w: '80', h: '80', fit: 'inside', fm: 'webp', q: '70' }));
    expect(query.statusCode).toBe(200);
    expect(query.headers['X-Cache']).toBe('hit');
    expect(query.headers.ETag).toBe(thumbor.headers.ETag);
    expect(bodyBytes(query).equals(bodyBytes(thumbor))).toBe(true);
  });

  it('serves an SIH request, then its query-form equivalent from the same stored variant', async () => {
    const key = await seeded();
    const request = { bucket: 'originals', key, edits: { resize: { width: 60, height: 60, fit: 'cover' }, grayscale: true }, outputFormat: 'jpeg' };
    const first = await stack.handler(event(sih(request)));
    expect(first.statusCode).toBe(200);
    expect(first.headers['X-Cache']).toBe('miss');
    expect(first.headers['Content-Type']).toBe('image/jpeg');
    expect(await describeImage(bodyBytes(first))).toMatchObject({ format: 'jpeg', width: 60, height: 60 });

    const query = await stack.handler(event(key, 'w=60&h=60&gray&fm=jpeg'));
    expect(query.headers['X-Cache']).toBe('hit');
    expect(query.headers.ETag).toBe(first.headers.ETag);

    // And the other way round: a Thumbor URL for what the query form stored first.
    const thumbor = await stack.handler(event(`/unsafe/60x60/filters:grayscale():format(jpeg)/${key}`));
    expect(thumbor.headers['X-Cache']).toBe('hit');
    expect(thumbor.headers.ETag).toBe(first.headers.ETag);
  });

  it('decodes a URL-safe SIH request with a prefix-free key and no bucket', async () => {
    const key = await seeded();
    const path = `/${Buffer.from(JSON.stringify({ key, edits: { resize: { width: 50 } } })).toString('base64url')}`;
    const response = await stack.handler(event(path));
    expect(response.statusCode).toBe(200);
    expect(await describeImage(bodyBytes(response))).toMatchObject({ format: 'png', width: 50, height: 25 });
  });

  it('mirrors a Thumbor size with a minus: -W flops (left ↔ right), -H flips (top ↔ bottom)', async () => {
    const key = await seeded();
    const plain = bodyBytes(await stack.handler(event(`/unsafe/100x50/${key}`)));
    expect(await quarter(plain, 'tl')).toEqual(RED);
    expect(await quarter(plain, 'tr')).toEqual(BLUE);

    const flopped = bodyBytes(await stack.handler(event(`/unsafe/-100x50/${key}`)));
    expect(await describeImage(flopped)).toMatchObject({ width: 100, height: 50 });
    expect(await quarter(flopped, 'tl')).toEqual(BLUE);
    expect(await quarter(flopped, 'tr')).toEqual(RED);
    expect(await quarter(flopped, 'bl')).toEqual(YELLOW);

    const flipped = bodyBytes(await stack.handler(event(`/unsafe/100x-50/${key}`)));
    expect(await quarter(flipped, 'tl')).toEqual(GREEN);
    expect(await quarter(flipped, 'br')).toEqual(BLUE);

    const both = bodyBytes(await stack.handler(event(`/unsafe/-100x-50/${key}`)));
    expect(await quarter(both, 'tl')).toEqual(YELLOW);
    expect(await quarter(both, 'br')).toEqual(RED);
  });

  it('fits within the box with fit-in, crops to it without, pads it with fit-in and fill()', async () => {
    const key = await seeded();
    const fitIn = await stack.handler(event(`/unsafe/fit-in/80x80/${key}`));
    expect(await describeImage(bodyBytes(fitIn))).toMatchObject({ width: 80, height: 40 });

    const cropped = await stack.handler(event(`/unsafe/80x80/${key}`));
    expect(await describeImage(bodyBytes(cropped))).toMatchObject({ width: 80, height: 80 });

    const fullFitIn = await stack.handler(event(`/unsafe/full-fit-in/80x80/${key}`));
    expect(await describeImage(bodyBytes(fullFitIn))).toMatchObject({ width: 160, height: 80 });

    const filled = bodyBytes(await stack.handler(event(`/unsafe/fit-in/80x80/filters:fill(ff00ff)/${key}`)));
    expect(await describeImage(filled)).toMatchObject({ width: 80, height: 80 });
    // 80×40 of image centred in 80×80: magenta bands above and below.
    expect(await meanColour(filled, { left: 10, top: 2, width: 60, height: 10 })).toEqual([255, 0, 255]);
    expect(await meanColour(filled, { left: 10, top: 68, width: 60, height: 10 })).toEqual([255, 0, 255]);

    // A classic size with a Thumbor part after it, and the CDN's rewrite of it, are one variant.
    const classic = await stack.handler(event(`/80x80/smart/filters:fill(ff00ff)/${key}`));
    expect(classic.headers['X-Cache']).toBe('miss');
    expect(await describeImage(bodyBytes(classic))).toMatchObject({ width: 80, height: 80 });
    const rewritten = await stack.handler(event(`/smart/filters:fill(ff00ff)/${key}`, 'h=80&w=80'));
    expect(rewritten.headers['X-Cache']).toBe('hit');
    const query = await stack.handler(event(key, 'w=80&h=80&pos=attention&bg=ff00ff'));
    expect(query.headers['X-Cache']).toBe('hit');
  });

  it('gives a grey WebP for filters:format(webp):quality(70):grayscale()', async () => {
    const key = await seeded();
    const response = await stack.handler(event(`/unsafe/filters:format(webp):quality(70):grayscale()/${key}`));
    expect(response.statusCode).toBe(200);
    expect(response.headers['Content-Type']).toBe('image/webp');
    const bytes = bodyBytes(response);
    expect(await describeImage(bytes)).toMatchObject({ format: 'webp', width: 200, height: 100 });
    for (const corner of ['tl', 'tr', 'bl', 'br'] as const) {
      const [r, g, b] = await meanColour(bytes, { left: corner.endsWith('r') ? 120 : 20, top: corner.startsWith('b') ? 60 : 10, width: 60, height: 30 });
      expect(Math.max(r!, g!, b!) - Math.min(r!, g!, b!)).toBeLessThanOrEqual(2);
    }
    const query = await stack.handler(event(key, 'fm=webp&q=70&gray'));
    expect(query.headers['X-Cache']).toBe('hit');
  });

  it('crops the original with a Thumbor manual crop and with an SIH extract, as rect does', async () => {
    const key = await seeded();
    // The blue quadrant: x 100–200, y 0–50.
    const thumbor = await stack.handler(event(`/unsafe/100x0:200x50/${key}`));
    expect(thumbor.statusCode).toBe(200);
    expect(await describeImage(bodyBytes(thumbor))).toMatchObject({ width: 100, height: 50 });
    expect(await meanColour(bodyBytes(thumbor))).toEqual(BLUE);

    const viaSih = await stack.handler(event(sih({ key, edits: { extract: { left: 100, top: 0, width: 100, height: 50 } } })));
    expect(viaSih.headers['X-Cache']).toBe('hit');
    const query = await stack.handler(event(key, 'rect=100,0,100,50'));
    expect(query.headers['X-Cache']).toBe('hit');
  });

  it('trims with Thumbor\'s trim/ and SIH\'s trim, and pads with SIH\'s extend, as trim and pad do', async () => {
    const key = uniqueKey('framed.png');
    const framed = await sharp({ create: { width: 100, height: 80, channels: 3, background: '#fff' } })
      .composite([{ input: await sharp({ create: { width: 40, height: 30, channels: 3, background: '#f00' } }).png().toBuffer(), left: 30, top: 25 }])
      .png()
      .toBuffer();
    await stack.seed(key, framed, 'image/png');
    const trimmed = await stack.handler(event(`/trim/${key}`));
    expect(trimmed.statusCode).toBe(200);
    expect(await describeImage(bodyBytes(trimmed))).toMatchObject({ width: 40, height: 30 });
    expect((await stack.handler(event(sih({ key, edits: { trim: true } })))).headers['X-Cache']).toBe('hit');
    expect((await stack.handler(event(key, 'trim'))).headers['X-Cache']).toBe('hit');

    const padded = await stack.handler(event(sih({ key, edits: { extend: { top: 5, bottom: 5, left: 10, right: 10, background: '#0000ff' } } })));
    expect(padded.statusCode).toBe(200);
    expect(await describeImage(bodyBytes(padded))).toMatchObject({ width: 120, height: 90 });
    expect(await meanColour(bodyBytes(padded), { left: 0, top: 10, width: 8, height: 60 })).toEqual(BLUE);
    expect((await stack.handler(event(key, 'pad=5,10,5,10&bg=0000ff'))).headers['X-Cache']).toBe('hit');
  });

  it('refuses what has no equivalent with 400 unsupported_edit, and other buckets with 403', async () => {
    const key = await seeded();
    expectError(await stack.handler(event(`/unsafe/filters:round_corner(20,255,255,255)/${key}`)), 400, 'unsupported_edit');
    expectError(await stack.handler(event(sih({ key, edits: { roundCrop: true, overlayWith: { key: 'w.png' } } }))), 400, 'unsupported_edit');
    const other = await stack.handler(event(sih({ bucket: 'someone-elses', key })));
    expectError(other, 403, 'bucket_forbidden');
    expect(other.headers['Cache-Control']).toBe('no-store');
    expectError(await stack.handler(event(`/${Buffer.from('{"key": ').toString('base64')}`)), 400, 'invalid_request');
  });

  it('obeys the allowlist: a Thumbor size that is not allowed is 400 not_allowed', async () => {
    const key = await seeded();
    const app = stack.app({ env: { ALLOWLIST: 'widths', ALLOWED_WIDTHS: '100,150' } });
    expectError(await app.handler(event(`/unsafe/120x0/${key}`)), 400, 'not_allowed');
    expectError(await app.handler(event(sih({ key, edits: { resize: { width: 120 } } }))), 400, 'not_allowed');
    const allowed = await app.handler(event(`/unsafe/fit-in/100x0/${key}`));
    expect(allowed.statusCode).toBe(200);
    expect(await describeImage(bodyBytes(allowed))).toMatchObject({ width: 100, height: 50 });
  });

  describe('with signed URLs on', () => {
    const SECRET = 'compat-urls-test-secret-0123456789';

    it('refuses unsigned Thumbor and SIH URLs with 403 and serves signed ones', async () => {
      const key = await seeded();
      const app = stack.app({ env: { SIGNING_SECRETS: SECRET } });
      const thumborPath = `/unsafe/fit-in/90x90/filters:grayscale()/${key}`;
      const sihPath = sih({ key, edits: { resize: { width: 70 }, toFormat: 'webp' } });

      expectError(await app.handler(event(thumborPath)), 403, 'signature_required');
      expectError(await app.handler(event(sihPath)), 403, 'signature_required');

      for (const path of [thumborPath, sihPath]) {
        const signed = signPath(path, SECRET);
        const [rawPath, query] = signed.split('?') as [string, string];
        const response = await app.handler(event(decodeURIComponent(rawPath), query));
        expect(response.statusCode).toBe(200);
      }
      // The signature covers the path as sent: another size is another URL.
      const [, query] = signPath(thumborPath, SECRET).split('?') as [string, string];
      expectError(await app.handler(event(thumborPath.replace('90x90', '900x900'), query)), 403, 'invalid_signature');
    });
  });

  describe('URL_COMPAT', () => {
    it('reads a key that begins like Thumbor syntax as Thumbor by default, and as a key with URL_COMPAT=none', async () => {
      const folder = uniqueKey('x').replace(/\/x$/, '');
      const key = `smart/${folder}/a.png`;
      await stack.seed(key, image, 'image/png');
      // By default `smart/` is Thumbor's smart crop, and the key is what follows it.
      expectError(await stack.handler(event(`/${key}`)), 404, 'original_not_found');
      const off = stack.app({ env: { URL_COMPAT: 'none' } });
      const served = await off.handler(event(`/${key}`, 'w=50'));
      expect(served.statusCode).toBe(200);
      const sihOff = await off.handler(event(sih({ key })));
      expectError(sihOff, 404, 'original_not_found');
      // Even after other Thumbor parts: `/unsafe/50x0/smart/…` is a smart crop of what follows.
      expectError(await stack.handler(event(`/unsafe/50x0/${key}`)), 404, 'original_not_found');
      // SIH alone: such keys are keys again, SIH requests still SIH.
      const sihOnly = stack.app({ env: { URL_COMPAT: 'sih' } });
      expect((await sihOnly.handler(event(`/${key}`))).statusCode).toBe(200);
      expect((await sihOnly.handler(event(sih({ key, edits: { resize: { width: 50 } } })))).statusCode).toBe(200);
      // Thumbor alone: SIH paths are keys again.
      const thumborOnly = stack.app({ env: { URL_COMPAT: 'thumbor' } });
      expectError(await thumborOnly.handler(event(sih({ key }))), 404, 'original_not_found');
      expect((await thumborOnly.handler(event(`/unsafe/50x0/${await seeded()}`))).statusCode).toBe(200);
    });

    it.each(['nope', 'thumbor,none', ',', 'sih,imgix'])('refuses URL_COMPAT=%j at cold start, naming the variable', (value) => {
      expect(() => stack.app({ env: { URL_COMPAT: value } })).toThrow(/URL_COMPAT/);
    });
  });
});
