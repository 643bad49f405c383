import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { CONTROLS, formatParams, imagePath, pageQuery, readParams } from '../../playground/params.js';
import { loadConfig, type Config } from '../../src/config.js';
import { makeResizeHandler } from '../../src/http/resize-handler.js';
import { makePlaygroundHandler } from '../../src/playground/handler.js';
import { listOriginals } from '../../src/playground/originals.js';
import { PLAYGROUND_SEGMENT, validateKey } from '../../src/request/original-key.js';
import { verifySignature } from '../../src/security/url-signature.js';
import type { VariantService } from '../../src/service.js';
import type { ListedObject, ObjectStore } from '../../src/storage/image-store.js';
import { OPERATIONS } from '../../src/transform/operations.js';
import { thrownBy } from '../support/thrown.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SECRET = 'unit-test-signing-secret-0123456789';
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const assets = { page: '<!doctype html><title>p</title>', script: 'console.log(1)', style: 'body{}' };

const configOf = (env: Record<string, string> = {}) => loadConfig({ ORIGINALS_BUCKET: 'originals', VARIANTS_BUCKET: 'variants', ...env });

/** An originals bucket in memory, listed as ListObjectsV2 lists (sorted, after StartAfter), counting the listings. */
function memoryObjects(keys: readonly string[]): ObjectStore & { listings: number } {
  const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const store = {
    listings: 0,
    async bucketExists() {
      return true;
    },
    async *listObjects(_bucket: string, prefix: string, startAfter?: string): AsyncIterable<ListedObject> {
      store.listings += 1;
      const after = startAfter === undefined ? undefined : Buffer.from(startAfter);
      for (const key of sorted) {
        if (!key.startsWith(prefix) || (after && Buffer.compare(Buffer.from(key), after) <= 0)) continue;
        yield { key, etag: '"e"', size: key.length };
      }
    },
    async readObject() {
      return undefined;
    },
    async writeObject() {},
  };
  return store;
}

const event = (rawPath: string, rawQueryString = '', method = 'GET') =>
  ({ rawPath, rawQueryString, headers: {}, requestContext: { http: { method } } }) as unknown as APIGatewayProxyEventV2;

const json = (response: { body?: string }) => JSON.parse(response.body ?? '');

const handlerFor = (config: Config, objects: ObjectStore = memoryObjects(['photos/a.jpg'])) =>
  makePlaygroundHandler({ config, objects, assets, log: quiet });

describe('the playground function', () => {
  it('serves the page with a strict CSP, its script and style, never cached', async () => {
    const handler = handlerFor(configOf());
    const page = await handler(event('/_playground'));
    expect(page).toMatchObject({ statusCode: 200, body: assets.page });
    expect(page.headers).toMatchObject({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY' });
    expect(page.headers['Content-Security-Policy']).toContain("script-src 'self'");
    expect(page.headers['Content-Security-Policy']).not.toContain('unsafe-inline');
    expect((await handler(event('/_playground/'))).body).toBe(assets.page);
    expect(await handler(event('/_playground/app.js'))).toMatchObject({ body: assets.script, headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
    expect(await handler(event('/_playground/app.css'))).toMatchObject({ body: assets.style, headers: { 'Content-Type': 'text/css; charset=utf-8' } });
  });

  it('answers other paths 404 and other methods 405, as JSON', async () => {
    const handler = handlerFor(configOf());
    for (const path of ['/_playground/nope', '/_playground/api', '/_playgroundx', '/photos/a.jpg']) {
      const response = await handler(event(path));
      expect(response.statusCode).toBe(404);
      expect(json(response)).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await handler(event('/_playground', '', 'POST'))).statusCode).toBe(405);
  });

  it('tells the page the presets and whether signing is on, never a secret', async () => {
    const off = await handlerFor(configOf())(event('/_playground/api/config'));
    expect(json(off)).toEqual({ signing: false, presets: ['thumb', 'card', 'hero'] });
    const on = await handlerFor(configOf({ SIGNING_SECRETS: SECRET }))(event('/_playground/api/config'));
    expect(json(on)).toMatchObject({ signing: true });
    expect(on.body ?? '').not.toContain(SECRET);
  });

  it('signs image paths with the configured secret, server-side', async () => {
    const handler = handlerFor(configOf({ SIGNING_SECRETS: `${SECRET},an-older-secret-0123456789` }));
    const query = new URLSearchParams([['path', '/photos/a b.jpg?w=400&fm=webp'], ['path', '/photos/a b.jpg']]);
    const response = await handler(event('/_playground/api/sign', query.toString()));
    const { signed, urls } = json(response) as { signed: boolean; urls: string[] };
    expect(signed).toBe(true);
    expect(response.body ?? '').not.toContain(SECRET);
    for (const url of urls) {
      const parsed = new URL(url, 'http://x');
      // What the resize function checks: signed with the first (newest) secret.
      expect(() => verifySignature([SECRET], decodeURIComponent(parsed.pathname).slice(1), [...parsed.searchParams])).not.toThrow();
    }
    expect(urls[0]).toMatch(/^\/photos\/a%20b\.jpg\?w=400&fm=webp&s=[\w-]{43}$/);
  });

  it('returns paths unchanged when signing is off, and refuses what is not an image path', async () => {
    const handler = handlerFor(configOf());
    const plain = await handler(event('/_playground/api/sign', 'path=%2Fphotos%2Fa.jpg%3Fw%3D1&path=%2F_playgrounds%2Fa.jpg'));
    expect(json(plain)).toEqual({ signed: false, urls: ['/photos/a.jpg?w=1', '/_playgrounds/a.jpg'] });
    for (const query of ['', 'path=photos/a.jpg', 'path=%2F%2Fevil.example%2Fa.jpg', 'path=%2F_playground%2Fapi%2Fsign', 'path=%2F_playground', 'path=%2F_playground%3Fkey%3Da', `${'path=%2Fa&'.repeat(11)}`]) {
      const response = await handler(event('/_playground/api/sign', query));
      expect(response.statusCode, query).toBe(400);
      expect(json(response)).toMatchObject({ error: { code: 'invalid_param' } });
    }
  });

  it('checks the CDN’s origin-verify header like the image function', async () => {
    const handler = makePlaygroundHandler({ config: configOf({ ORIGIN_VERIFY_SECRET: 'origin-verify-secret-0123456789' }), objects: memoryObjects([]), assets, log: quiet });
    expect((await handler(event('/_playground'))).statusCode).toBe(403);
    const verified = { ...event('/_playground'), headers: { 'x-origin-verify': 'origin-verify-secret-0123456789' } };
    expect((await handler(verified)).statusCode).toBe(200);
  });
});

describe('the originals listing', () => {
  const keys = [
    ...Array.from({ length: 130 }, (_, i) => `photos/img-${String(i).padStart(3, '0')}.jpg`),
    'graphics/logo alpha.png',
    'graphics/',
    '_playground/shadow.jpg',
    'bad/../key.jpg',
  ];

  it('pages with a cursor, never more than a page of keys at a time', async () => {
    const objects = memoryObjects(keys);
    const config = configOf();
    const first = await listOriginals(config, objects, { prefix: '' });
    expect(first.items).toHaveLength(60);
    expect(first.items[0]).toEqual({ key: 'graphics/logo alpha.png', size: 23 });
    const seen = [...first.items];
    let page = first;
    while (page.next !== undefined) {
      page = await listOriginals(config, objects, { prefix: '', after: page.next });
      seen.push(...page.items);
    }
    // Folder placeholders, keys no URL can name and the playground's reserved segment are left out.
    expect(seen.map((i) => i.key)).toEqual(['graphics/logo alpha.png', ...keys.slice(0, 130)]);
  });

  it('narrows by prefix at S3 and by substring (any case) among the keys read', async () => {
    const config = configOf();
    const byPrefix = await listOriginals(config, memoryObjects(keys), { prefix: 'graphics/' });
    expect(byPrefix).toEqual({ items: [{ key: 'graphics/logo alpha.png', size: 23 }], scanned: 2 });
    const bySubstring = await listOriginals(config, memoryObjects(keys), { prefix: 'photos/', q: 'IMG-12' });
    expect(bySubstring.items.map((i) => i.key)).toEqual(['photos/img-120.jpg', 'photos/img-121.jpg', 'photos/img-122.jpg', 'photos/img-123.jpg', 'photos/img-124.jpg', 'photos/img-125.jpg', 'photos/img-126.jpg', 'photos/img-127.jpg', 'photos/img-128.jpg', 'photos/img-129.jpg']);
    expect(bySubstring.next).toBeUndefined();
  });

  it('reads a bounded number of keys per page, and says where to go on', async () => {
    const page = await listOriginals(configOf(), memoryObjects(keys), { prefix: '', q: 'nothing-matches' }, { scanLimit: 50 });
    expect(page).toMatchObject({ items: [], scanned: 50 });
    expect(page.next).toBeDefined();
  });

  it('jumps over the variants cache of a same-bucket setup without reading it', async () => {
    const config = configOf({ VARIANTS_BUCKET: 'originals' });
    const variants = Array.from({ length: 5000 }, (_, i) => `_variants/v2/${i}/x.webp`);
    const objects = memoryObjects(['a.jpg', ...variants, 'b.jpg']);
    const page = await listOriginals(config, objects, { prefix: '' });
    expect(page).toEqual({ items: [{ key: 'a.jpg', size: 5 }, { key: 'b.jpg', size: 5 }], scanned: 3 });
    expect(objects.listings).toBe(2);
  });

  it('answers the endpoint’s parameters, refusing bad ones', async () => {
    const handler = handlerFor(configOf(), memoryObjects(keys));
    const response = await handler(event('/_playground/api/originals', 'prefix=graphics%2F&q=LOGO'));
    expect(json(response)).toEqual({ items: [{ key: 'graphics/logo alpha.png', size: 23 }], scanned: 2 });
    for (const query of ['prefix=%2Fphotos', 'q=a&q=b', `q=${'x'.repeat(201)}`, 'after=%00']) {
      expect((await handler(event('/_playground/api/originals', query))).statusCode, query).toBe(400);
    }
  });
});

describe('the reserved /_playground segment', () => {
  it('is never an image key: 404 from the image function, whatever the stage', async () => {
    for (const key of [PLAYGROUND_SEGMENT, `${PLAYGROUND_SEGMENT}/`, `${PLAYGROUND_SEGMENT}/photos/a.jpg`]) {
      expect(thrownBy(() => validateKey(key))).toMatchObject({ statusCode: 404, code: 'not_found' });
    }
    // Only that exact first segment (routes are case-sensitive).
    for (const key of ['_playgrounds/a.jpg', 'photos/_playground/a.jpg', '_Playground/a.jpg']) expect(validateKey(key)).toBe(key);

    const service = { getVariant: () => Promise.reject(new Error('must not be reached')) } as unknown as VariantService;
    const resize = makeResizeHandler({ config: configOf(), service, log: quiet });
    for (const path of ['/_playground', '/_playground/app.js', '/300x200/_playground/a.jpg']) {
      const response = await resize({ ...event(path), pathParameters: { proxy: path.slice(1) } });
      expect(response.statusCode, path).toBe(404);
      expect(json(response).error.message).toContain('reserved for the playground');
    }
  });
});

describe('the page’s parameter table', () => {
  it('has every URL API parameter with its aliases, in the table’s order, plus preset', () => {
    expect(CONTROLS.filter((c) => c.name !== 'preset').map((c) => [c.name, [...(c.aliases ?? [])].sort()])).toEqual(
      OPERATIONS.map((op) => [op.name, [...op.aliases].sort()]),
    );
    expect(CONTROLS.map((c) => c.name)).toContain('preset');
  });

  it('writes image URLs and deep links that read back the same', () => {
    const values = readParams(new URLSearchParams('width=400&fm=webp&gray&pos=right%20top&rect=1,2,3,4&ar=16:9&unknown=1'));
    expect([...values]).toEqual([['w', '400'], ['pos', 'right top'], ['fm', 'webp'], ['gray', ''], ['rect', '1,2,3,4'], ['ar', '16:9']]);
    expect(formatParams(values)).toBe('w=400&pos=right%20top&fm=webp&gray&rect=1,2,3,4&ar=16:9');
    expect(imagePath('graphics/logo alpha.png', values)).toBe('/graphics/logo%20alpha.png?w=400&pos=right%20top&fm=webp&gray&rect=1,2,3,4&ar=16:9');
    expect(imagePath('a.jpg', new Map())).toBe('/a.jpg');
    const deepLink = pageQuery('photos/a&b.jpg', values);
    expect(deepLink).toBe('key=photos/a%26b.jpg&w=400&pos=right%20top&fm=webp&gray&rect=1,2,3,4&ar=16:9');
    const back = new URLSearchParams(deepLink);
    expect(back.get('key')).toBe('photos/a&b.jpg');
    expect([...readParams(back)]).toEqual([...values]);
  });
});

describe('the stage setting (param playground)', () => {
  const run = promisify(execFile);
  const SLS = join(ROOT, 'node_modules/.bin/sls');
  const env = { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' };
  const functionsOf = async (...args: string[]) => {
    const { stdout } = await run(SLS, ['print', '--format', 'json', '--path', 'functions', ...args], { cwd: ROOT, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout) as Record<string, { events: { httpApi: { path: string } }[] }>;
  };

  it('leaves the function and its routes out of deployed stages unless turned on', async () => {
    const [prod, on, local] = await Promise.all([functionsOf('--stage', 'prod'), functionsOf('--stage', 'prod', '--param', 'playground=true'), functionsOf()]);
    expect(Object.keys(prod)).not.toContain('playground');
    expect(on.playground!.events.map((e) => e.httpApi.path)).toEqual(['/_playground', '/_playground/{proxy+}']);
    expect(local.playground).toBeDefined();
    const invalid = await functionsOf('--stage', 'prod', '--param', 'playground=yes').then(
      () => 'packaged',
      (error: { stdout?: string; stderr?: string }) => `${error.stdout}${error.stderr}`,
    );
    expect(invalid).toMatch(/param playground must be 'true' or 'false', not 'yes'/);
  }, 90_000);
});
