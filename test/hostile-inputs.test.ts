import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alphaPng, animatedGif, describeImage, encodeAs, photoLikeJpeg } from '../scripts/samples.js';
import type { HttpResponse } from '../src/http/response.js';
import { errorCacheControl } from './support/cache-contract.js';
import { hostileCorpus, type HostileOriginal } from './support/hostile-corpus.js';
import { ORIGINALS, bodyBytes, countingStore, event, startStack, uniqueKey, type App, type CallCounts, type Stack } from './support/stack.js';

/**
 * Hostile originals and hostile URLs through the real handler, service, sharp and a local S3.
 * Whatever comes in, the answer is a documented status with the JSON error contract, nothing is
 * stored for a failure, no 5xx is cacheable and no 4xx for longer than ERROR_MAX_AGE, the original
 * is never touched, and memory does not run away.
 */

// Small output limit so that large requested outputs are refused (413) before any work.
const ENV = { MAX_OUTPUT_PIXELS: '1000000', MAX_ORIGINAL_BYTES: '1048576', MAX_INLINE_BYTES: '6000' };
const RSS_GROWTH_LIMIT_MIB = 256;
const FUZZ_REQUESTS = 1200;
const ALLOWED_STATUSES = new Set([200, 302, 304, 400, 403, 404, 405, 413, 415, 422, 503, 504]);
/** Codes a client can meet, by status: anything else (internal_error above all) is a failure. */
const CODES: Record<number, readonly string[]> = {
  400: ['invalid_param', 'unknown_param', 'duplicate_param', 'invalid_key', 'not_allowed'],
  403: ['signature_required', 'invalid_signature', 'invalid_expires', 'url_expired'],
  404: ['original_not_found'],
  405: ['method_not_allowed'],
  413: ['input_too_large', 'output_too_large', 'too_many_frames', 'original_too_large'],
  415: ['unsupported_image'],
  422: ['undecodable_image'],
  503: ['storage_unavailable', 'processing_timeout', 'secrets_unavailable'],
};

const corpus = await hostileCorpus();

/**
 * The error contract: JSON `{"error":{"code","message"}}`, a 5xx never cacheable and a 4xx at most
 * ERROR_MAX_AGE (a 403 not at all), and nothing internal (stack frames, file paths, error class names). `sent` is what the client sent: a 4xx message
 * may quote it, so text the client itself wrote is not held against the response.
 */
function expectErrorContract(response: HttpResponse, sent = '') {
  expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8');
  expect(response.headers['Cache-Control']).toBe(errorCacheControl(response.statusCode));
  const body = JSON.parse(response.body ?? '') as { error: { code: string; message: string } };
  expect(body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  expect(CODES[response.statusCode] ?? []).toContain(body.error.code);
  const text = response.body ?? '';
  expect(text).not.toMatch(/ {2,}at |node_modules|file:\/\/|\.[cm]?[jt]s:\d+/);
  expect(text).not.toContain(process.cwd());
  if (!sent.includes('Error')) expect(text).not.toMatch(/\b\w*Error\b:?/);
}

describe('hostile inputs', () => {
  let stack: Stack;
  let svgApp: App;
  let calls: CallCounts;
  const seeded = new Map<string, { key: string; etag: string }>();
  let rssBefore = 0;

  const rss = () => {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage().rss;
  };

  beforeAll(async () => {
    stack = await startStack({
      env: ENV,
      wrapStore: (store) => {
        const counted = countingStore(store);
        calls = counted.calls;
        return counted.store;
      },
    });
    svgApp = stack.app({ env: { ...ENV, ALLOW_SVG: 'true' } });
    for (const original of corpus) {
      const key = uniqueKey(`hostile/${original.file}`);
      seeded.set(original.name, { key, etag: await stack.seed(key, original.body, original.contentType) });
    }
    // Warm up every decoder and encoder the run uses, so that the baseline already holds them
    // (on keys of their own: the corpus cases below must still be cache misses).
    const warmUp: [string, Buffer, string][] = [
      ['warm-up.jpg', await photoLikeJpeg(64, 48), 'w=32&fm='],
      ['warm-up.png', await alphaPng(32, 32), 'w=16'],
      ['warm-up.gif', await animatedGif(16, 16, 3), 'w=8'],
      ['warm-up.webp', await encodeAs(await photoLikeJpeg(32, 32), 'webp'), 'w=16'],
      ['warm-up.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><circle r="8"/></svg>'), 'fm=png'],
    ];
    for (const [name, body, query] of warmUp) {
      const key = uniqueKey(name);
      await stack.seed(key, body);
      const formats = query.endsWith('fm=') ? ['jpeg', 'png', 'webp', 'avif', 'gif'] : [''];
      for (const fm of formats) await svgApp.handler(event(key, query + fm));
    }
    rssBefore = rss();
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('a corpus of hostile originals', () => {
    it.each(corpus)('$name: $expect.status ($why)', async (original: HostileOriginal) => {
      const { key, etag } = seeded.get(original.name)!;
      const app = original.svg ? svgApp : stack;
      const variantsBefore = await stack.listing();
      const errorsBefore = app.log.entries.filter((e) => e.level === 'error').length;
      const response = await app.handler(event(key, original.query));

      expect(response.statusCode).toBe(original.expect.status);
      if ('code' in original.expect) {
        expectErrorContract(response);
        expect(JSON.parse(response.body!).error.code).toBe(original.expect.code);
        // Nothing stored for a failure.
        expect(await stack.listing()).toEqual(variantsBefore);
      } else {
        expect(response.headers['Content-Type']).toBe(original.expect.contentType);
        // The output really is the format the header says, whatever the original's name claimed.
        const described = await describeImage(bodyBytes(response));
        expect(`image/${described.format}`).toBe(original.expect.contentType);
        expect(described.hasExif).toBe(false);
        // One frame: none of these asks for an animation (the 5000-frame GIF as JPEG included).
        expect(described.pages).toBe(1);
        expect(response.headers['X-Cache']).toBe('miss');
        expect(await stack.listing()).toHaveLength(variantsBefore.length + 1);
      }
      expect(app.log.entries.filter((e) => e.level === 'error')).toHaveLength(errorsBefore);
      expect(await stack.originalEtag(key)).toBe(etag);
    });
  });

  describe(`${FUZZ_REQUESTS} randomized URLs`, () => {
    it('answer only documented statuses, never 500, always the error contract, never a cacheable 5xx nor a 4xx cacheable past ERROR_MAX_AGE', async () => {
      const seed = Number(process.env.HOSTILE_SEED ?? 0x5eed2026) >>> 0;
      console.log(`hostile-inputs: fuzz seed ${seed} (replay with HOSTILE_SEED=${seed})`);
      const random = mulberry32(seed);

      const existing = {
        photo: uniqueKey('fuzz/photo.jpg'),
        alpha: uniqueKey('fuzz/ünï cödé/alpha logo.png'),
        anim: uniqueKey('fuzz/anim.gif'),
        webp: uniqueKey('fuzz/photo.webp'),
      };
      const photo = await photoLikeJpeg(96, 64, { seed: 21 });
      await stack.seed(existing.photo, photo);
      await stack.seed(existing.alpha, await alphaPng(48, 48), 'image/png');
      await stack.seed(existing.anim, await animatedGif(24, 16, 4), 'image/gif');
      await stack.seed(existing.webp, await encodeAs(photo, 'webp'), 'image/webp');
      const originalsBefore = await stack.listing(ORIGINALS);
      const hostileKeys = [...seeded.values()].map((s) => s.key);
      // ETags the service has answered with, so If-None-Match sometimes names a real one (304).
      const seenEtags: string[] = [];
      const fuzz = fuzzer(random, Object.values(existing), hostileKeys, seenEtags);

      const statuses = new Map<number, number>();
      for (let i = 0; i < FUZZ_REQUESTS; i++) {
        const request = fuzz();
        const putsBefore = calls.putVariant;
        const errorsBefore = stack.log.entries.filter((e) => e.level === 'error').length;
        const response = await stack.handler(request.event);
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        if (response.statusCode === 200 && response.headers.ETag) seenEtags.push(response.headers.ETag);
        const context = `request #${i} (seed ${seed}): ${request.describe}`;

        expect(ALLOWED_STATUSES.has(response.statusCode), `${context} → ${response.statusCode} ${response.body}`).toBe(true);
        if (response.statusCode >= 400) {
          expect(() => expectErrorContract(response, request.describe), `${context} → ${response.body}`).not.toThrow();
          expect(calls.putVariant, `${context}: a variant was written for a failure`).toBe(putsBefore);
        }
        if (response.statusCode === 503) {
          // The one storage failure a healthy local S3 produces: s3rver keeps objects as files, so
          // a key segment over the file system's 255-byte name limit makes it answer 500 (S3
          // itself would answer 404). Any other 503 here is a failure.
          expect(JSON.parse(response.body!).error.code, context).toBe('storage_unavailable');
          expect(request.longestSegmentBytes, `${context}: 503 for a key S3 can hold`).toBeGreaterThan(200);
        }
        if (response.statusCode < 500) {
          expect(stack.log.entries.filter((e) => e.level === 'error').length, `${context}: logged an error`).toBe(errorsBefore);
        }
        if (response.statusCode === 200 && request.method === 'GET') expect(bodyBytes(response).length).toBeGreaterThan(0);
      }

      console.log(`hostile-inputs: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
      expect(statuses.has(500)).toBe(false);
      // The run reached the renderer and the error paths alike, not just the parser.
      for (const status of [200, 304, 400, 404, 405, 413]) expect(statuses.get(status) ?? 0, `no ${status} answered`).toBeGreaterThan(0);
      expect(await stack.listing(ORIGINALS)).toEqual(originalsBefore);
    });
  });

  it(`keeps process RSS growth under ${RSS_GROWTH_LIMIT_MIB} MiB over the corpus and the randomized run`, () => {
    const rssAfter = rss();
    const growthMiB = (rssAfter - rssBefore) / 1024 / 1024;
    console.log(
      `hostile-inputs: RSS ${(rssBefore / 1024 / 1024).toFixed(0)} → ${(rssAfter / 1024 / 1024).toFixed(0)} MiB ` +
        `(growth ${growthMiB.toFixed(1)} MiB; gc ${typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'exposed' : 'not exposed'})`,
    );
    expect(growthMiB).toBeLessThan(RSS_GROWTH_LIMIT_MIB);
  });
});

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID_NAMES = ['w', 'h', 'fit', 'pos', 'fm', 'q', 'dpr', 'bg', 'blur', 'sharpen', 'gray', 'rot', 'flip', 'flop', 'enlarge'];
const ALIASES = ['width', 'height', 'position', 'crop', 'gravity', 'format', 'f', 'quality', 'background', 'grey', 'grayscale', 'greyscale', 'rotate', 'or', 'upscale', 'W', 'Width', 'FM'];
const ODD_NAMES = ['preset', 'expires', 's', 'x', 'wdth', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'w[]', 'w.x', '', '%77', '%2577', 'w%00', '%00', 'ẃ', '%C3%A9', 'w%20', '%20w', 'w;h', '&', '=', '%26w'];
/** Values a parameter accepts (mostly), by kind; then values nothing should accept. */
const GOOD_VALUES: Record<string, readonly string[]> = {
  size: ['1', '16', '32', '50', '64', '100', '640', '1000', '4096', '8192'],
  quality: ['1', '50', '80', '100'],
  dpr: ['1', '1.5', '2', '3', '4'],
  sigma: ['0.3', '1', '2.5', '10'],
  fit: ['cover', 'contain', 'fill', 'inside', 'outside', 'COVER'],
  pos: ['center', 'top', 'left top', 'right%20bottom', 'north_east', 'northeast', 'attention', 'entropy', 'centre'],
  fm: ['jpeg', 'jpg', 'png', 'webp', 'avif', 'gif', 'auto', 'JPEG'],
  bg: ['fff', 'ffffff', 'ff000080', '%23fff'],
  flag: ['', '1', '0', 'true', 'false'],
  rot: ['0', '90', '180', '270'],
  preset: ['thumb', 'card', 'hero', 'THUMB'],
  expires: [String(Math.floor(Date.now() / 1000) + 3600)],
};
const BAD_VALUES: readonly string[] = [
  '0', '8193', '65535', '99999999999', '-1', '-100', '.5', '1e3', '1E2', '0x10', 'Infinity', 'NaN', '+100', '%2B100', ' 100',
  '100%20', '١٠٠', '１００', '10%30', '%31%30%30', '%2531%2530', 'crop', 'scale-down', 'constructor', '__proto__', 'top top',
  'tiff', 'heic', 'svg', 'red', 'ggg', '12345', 'yes', '45', '-90', '360', 'nope', 'tomorrow', '9999999999', '1',
  '', '%', '%zz', '%E0%A4%A', '%FF', '%C0%AF', '%00', 'a%00b', '💥', 'ünï', '%F0%9F%92%A5', '%25', '%2525', '<script>', '"', "'",
  '\\', '..', '%2e%2e%2f', 'null', 'undefined', '[]', '{}',
];
const VALUES_BY_NAME: Record<string, keyof typeof GOOD_VALUES> = {
  w: 'size', width: 'size', W: 'size', Width: 'size', h: 'size', height: 'size', q: 'quality', quality: 'quality',
  dpr: 'dpr', blur: 'sigma', sharpen: 'sigma', fit: 'fit', pos: 'pos', position: 'pos', crop: 'pos', gravity: 'pos',
  fm: 'fm', format: 'fm', f: 'fm', FM: 'fm', bg: 'bg', background: 'bg', gray: 'flag', grey: 'flag', grayscale: 'flag',
  greyscale: 'flag', flip: 'flag', flop: 'flag', enlarge: 'flag', upscale: 'flag', rot: 'rot', rotate: 'rot', or: 'rot',
  preset: 'preset', expires: 'expires',
};
const ACCEPTS = ['', '*/*', 'image/avif,image/webp,*/*', 'image/webp', 'image/avif;q=0, image/webp;q=0', 'image/*', 'text/html', 'ÿÿÿ', 'image/webp;q=abc', ','.repeat(500), 'image/avif;'.repeat(200)];
const METHODS = ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'get', 'TRACE', 'GET ', 'X'.repeat(300)];

interface FuzzRequest {
  readonly event: APIGatewayProxyEventV2;
  readonly method: string;
  /** The longest segment of the decoded path, in UTF-8 bytes. */
  readonly longestSegmentBytes: number;
  /** Everything the client sent, for failure messages and for telling echoed input from leaks. */
  readonly describe: string;
}

/** Percent-encodes a decoded key per segment, the way a well-behaved client would. */
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** Requests against well-formed originals mostly, and against the hostile corpus now and then. */
function fuzzer(
  random: () => number,
  goodKeys: readonly string[],
  hostileKeys: readonly string[],
  seenEtags: readonly string[],
): () => FuzzRequest {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const chance = (p: number) => random() < p;
  const long = (unit: string) => unit.repeat(1 + Math.floor(random() * 4000));

  function rawKey(): string {
    const existing = encodeKey(pick(chance(0.7) ? goodKeys : hostileKeys));
    if (chance(0.55)) return existing;
    switch (Math.floor(random() * 12)) {
      case 0:
        return pick([`../${existing}`, `a/../../${existing}`, `%2e%2e/${existing}`, `.%2e/${existing}`]);
      case 1:
        return existing.replace('/', pick(['%2F', '%252F', '%5C', '%2f%2f']));
      case 2:
        return `${existing}${pick(['%00.jpg', '%00', '%0A', '%7F'])}`;
      case 3:
        return long(pick(['a/', 'ab', '%C3%BC', '%F0%9F%92%A5']));
      case 4:
        return `${pick(['x/', 'photos/', ''])}${'ü'.repeat(1 + Math.floor(random() * 600))}.jpg`;
      case 5:
      case 6:
        return `missing/${Math.floor(random() * 1e6)}.jpg`;
      case 7:
      case 8:
        return `${pick(['100x100', '0x0', 'x50', '50x', '99999x1', 'x', '1x1x1', '64x', '8192x8192'])}/${existing}`;
      case 9:
        return pick(['', '/', '//x.jpg', 'a\\b.jpg', '%E0%A4%A.jpg', '%FF.jpg', '%C0%AE%C0%AE/x', '.', './x.jpg', '%', 'con.jpg', '~/x.jpg']);
      case 10:
        return `${existing}${pick(['?', '#', ';', '%3F', '%23', '/', '/.', '%20'])}`;
      default:
        return existing.normalize('NFD') === existing ? existing.toUpperCase() : existing.normalize('NFD');
    }
  }

  function rawName(): string {
    const r = random();
    if (r < 0.65) return pick(VALID_NAMES);
    if (r < 0.8) return pick(ALIASES);
    if (r < 0.98) return pick(ODD_NAMES);
    return long('w');
  }

  function rawValue(name: string): string {
    const r = random();
    // Own keys only: the odd names include `constructor` and `__proto__`.
    const kind = Object.hasOwn(VALUES_BY_NAME, name) ? VALUES_BY_NAME[name] : undefined;
    if (kind && r < 0.8) return pick(GOOD_VALUES[kind]!);
    if (r < 0.97) return pick(BAD_VALUES);
    return long(pick(['9', 'a', '%25', '%C3%BC']));
  }

  return () => {
    const path = rawKey();
    const entries: string[] = [];
    const count = Math.floor(random() * random() * 5);
    for (let i = 0; i < count; i++) {
      const name = rawName();
      const value = rawValue(name);
      entries.push(chance(0.05) ? name : `${name}=${value}`);
      if (chance(0.04)) entries.push(`${name}=${rawValue(name)}`);
    }
    const query = entries.join(chance(0.03) ? '&&' : '&');
    const headers: Record<string, string> = {};
    if (chance(0.4)) headers.accept = pick(ACCEPTS);
    if (chance(0.1)) {
      const real = seenEtags.length > 0 ? [pick(seenEtags), `W/"x", ${pick(seenEtags)}`] : [];
      headers['if-none-match'] = pick(['*', '"0000"', 'W/"x", *', '', long('"a", '), ...real, ...real]);
    }
    if (chance(0.05)) headers.origin = pick(['https://evil.example', 'null', '']);
    const method = chance(0.03) ? pick(METHODS) : chance(0.05) ? 'HEAD' : 'GET';

    const built = event('placeholder', query, headers, method);
    // Build the path as API Gateway would: rawPath as sent, the proxy parameter decoded once
    // (absent when the path does not decode, so the handler has to decode rawPath itself).
    let decoded: string | undefined;
    try {
      decoded = decodeURIComponent(path.replace(/^\/+/, ''));
    } catch {
      decoded = undefined;
    }
    const fuzzed: APIGatewayProxyEventV2 = {
      ...built,
      rawPath: `/${path}`,
      pathParameters: decoded === undefined ? undefined : { proxy: decoded },
      requestContext: { ...built.requestContext, http: { ...built.requestContext.http, path: `/${path}` } },
    };
    const shown = (s: string) => (s.length > 160 ? `${s.slice(0, 160)}…(${s.length})` : s);
    return {
      event: fuzzed,
      method,
      longestSegmentBytes: Math.max(0, ...(decoded ?? '').split('/').map((segment) => Buffer.byteLength(segment))),
      describe: `${shown(method)} /${shown(path)}?${shown(query)} ${shown(JSON.stringify(headers))}`,
    };
  };
}
