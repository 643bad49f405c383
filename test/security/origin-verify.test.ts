import { inspect } from 'node:util';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { photoLikeJpeg } from '../../scripts/samples.js';
import { makeResizeHandler } from '../../src/http/resize-handler.js';
import type { HttpResponse } from '../../src/http/response.js';
import { createLogger } from '../../src/observability/logger.js';
import { signPath } from '../../src/security/url-signature.js';
import { countingStore, event, startStack, uniqueKey, type App, type Stack } from '../support/stack.js';

// Secrets Manager and SSM cannot run here: the Powertools parameter functions are replaced for
// this file only. Everything after them (parsing, memoising, retrying, the check, the handler) is real.
const ssm = vi.hoisted(() => ({ getParameter: vi.fn<(name: string, options?: unknown) => Promise<string | undefined>>() }));
const secretsManager = vi.hoisted(() => ({
  getSecret: vi.fn<(id: string, options?: unknown) => Promise<string | Uint8Array | undefined>>(),
}));
vi.mock('@aws-lambda-powertools/parameters/ssm', () => ssm);
vi.mock('@aws-lambda-powertools/parameters/secrets', () => secretsManager);

const CURRENT = 'origin-current-5f1c0e7b2a9d4c36';
const PREVIOUS = 'origin-previous-8e2d4b6a1c3f5a79';
const SIGNING = 'signing-secret-0123456789';

/** An event as CloudFront forwards it, with `X-Origin-Verify` under the given header name. */
function via(e: APIGatewayProxyEventV2, value: string | undefined, name = 'x-origin-verify'): APIGatewayProxyEventV2 {
  return value === undefined ? e : { ...e, headers: { ...e.headers, [name]: value } };
}

function expectForbidden(response: HttpResponse) {
  expect(response.statusCode).toBe(403);
  expect(response.headers).toMatchObject({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  expect(JSON.parse(response.body!)).toEqual({
    error: { code: 'origin_forbidden', message: 'Direct access is not allowed: use the CDN URL.' },
  });
}

/** Everything a response and a log could show, flattened to one string. */
const shown = (...values: unknown[]) => values.map((v) => (typeof v === 'string' ? v : inspect(v, { depth: 20 }))).join('\n');

describe('origin verify', () => {
  let stack: Stack;
  let key: string;

  beforeAll(async () => {
    stack = await startStack();
    key = uniqueKey('photos/origin.jpg');
    await stack.seed(key, await photoLikeJpeg(120, 80));
  });
  afterAll(async () => {
    await stack?.close();
  });
  beforeEach(() => {
    ssm.getParameter.mockReset();
    secretsManager.getSecret.mockReset();
  });

  describe('with secrets configured (two during a rotation)', () => {
    let app: App;
    let calls: ReturnType<typeof countingStore>;
    beforeAll(() => {
      app = stack.app({
        env: { ORIGIN_VERIFY_SECRET: `${CURRENT},${PREVIOUS}` },
        wrapStore: (store) => (calls = countingStore(store)).store,
      });
    });

    it.each([
      ['no header', undefined],
      ['an empty header', ''],
      ['a wrong value', 'origin-wrong-0000000000000000'],
      ['the secret with something appended', `${CURRENT}x`],
      ['the secret cut short', CURRENT.slice(0, -1)],
      ['the secret in another case', CURRENT.toUpperCase()],
      ['both secrets at once', `${CURRENT},${PREVIOUS}`],
      ['the secret padded with spaces', ` ${CURRENT} `],
    ])('refuses %s with 403 origin_forbidden, reading nothing', async (_name, value) => {
      calls.reset();
      expectForbidden(await app.handler(via(event(key, 'w=40'), value)));
      expect(Object.values(calls.calls).every((n) => n === 0)).toBe(true);
    });

    it.each([
      ['the current secret', CURRENT],
      ['the previous secret (rotation)', PREVIOUS],
    ])('serves a request carrying %s', async (_name, secret) => {
      const response = await app.handler(via(event(key, 'w=40'), secret));
      expect(response.statusCode).toBe(200);
      expect(response.headers['Content-Type']).toBe('image/jpeg');
      expect(response.headers['Cache-Control']).toBe('public, max-age=31536000, immutable');
    });

    it.each(['x-origin-verify', 'X-Origin-Verify', 'X-ORIGIN-VERIFY'])('reads the header name in any case: %s', async (name) => {
      expect((await app.handler(via(event(key, 'w=41'), CURRENT, name))).statusCode).toBe(200);
      expectForbidden(await app.handler(via(event(key, 'w=41'), 'origin-wrong-0000000000000000', name)));
    });

    it.each([
      ['another method', () => event(key, 'w=40', {}, 'POST')],
      ['an invalid key', () => event('a/../b.jpg', 'w=40')],
      ['an invalid parameter', () => event(key, 'w=abc')],
      ['a missing original', () => event(uniqueKey('missing.jpg'), 'w=40')],
    ])('checks before anything else about the request: %s', async (_name, build) => {
      expectForbidden(await app.handler(build()));
    });

    it('checks before the signature', async () => {
      const signedApp = stack.app({ env: { ORIGIN_VERIFY_SECRET: CURRENT, SIGNING_SECRETS: SIGNING } });
      expectForbidden(await signedApp.handler(event(key, 'w=40')));
      const [path, query] = signPath(`/${key}?w=40`, SIGNING).split('?') as [string, string];
      expectForbidden(await signedApp.handler(event(decodeURIComponent(path), query)));
      expect((await signedApp.handler(via(event(decodeURIComponent(path), query), CURRENT))).statusCode).toBe(200);
      const unsigned = await signedApp.handler(via(event(key, 'w=40'), CURRENT));
      expect(JSON.parse(unsigned.body!).error.code).toBe('signature_required');
    });
  });

  it('checks nothing when no secret is configured', async () => {
    expect(stack.config.edge.originVerify).toEqual({ kind: 'none' });
    expect((await stack.handler(event(key, 'w=42'))).statusCode).toBe(200);
    expect((await stack.handler(via(event(key, 'w=42'), 'anything at all'))).statusCode).toBe(200);
    expect(ssm.getParameter).not.toHaveBeenCalled();
    expect(secretsManager.getSecret).not.toHaveBeenCalled();
  });

  describe.each([
    ['Secrets Manager', { ORIGIN_VERIFY_SECRET_ID: 'image-resizer/origin-verify' }, () => secretsManager.getSecret],
    ['SSM', { ORIGIN_VERIFY_SSM_PARAMETER: '/image-resizer/origin-verify' }, () => ssm.getParameter],
  ])('with the secret in %s', (_name, env, fetcher) => {
    it('loads it once, answers 503 while loading fails and tries again on the next request', async () => {
      const fetch = fetcher() as ReturnType<typeof vi.fn>;
      fetch.mockRejectedValueOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
      fetch.mockResolvedValueOnce(JSON.stringify({ current: CURRENT, previous: PREVIOUS }));
      const app = stack.app({ env });

      const down = await app.handler(via(event(key, 'w=43'), CURRENT));
      expect(down.statusCode).toBe(503);
      expect(down.headers).toMatchObject({ 'Retry-After': '1', 'Cache-Control': 'no-store' });
      expect(JSON.parse(down.body!)).toEqual({ error: { code: 'secrets_unavailable', message: expect.any(String) } });
      expect(down.body).not.toContain('Rate exceeded');

      const statuses = [];
      for (const value of [CURRENT, PREVIOUS, 'origin-wrong-0000000000000000', undefined, CURRENT]) {
        statuses.push((await app.handler(via(event(key, 'w=43'), value))).statusCode);
      }
      expect(statuses).toEqual([200, 200, 403, 403, 200]);
      expect(fetch).toHaveBeenCalledTimes(2);
    });
  });

  describe('never shows the secret', () => {
    let output: string[];
    beforeEach(() => {
      output = [];
      for (const stream of [process.stdout, process.stderr]) {
        vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown) => {
          output.push(String(chunk));
          return true;
        }) as typeof stream.write);
      }
    });
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('in responses or logs, whatever the request, with the real logger', async () => {
      const app = stack.app({ env: { ORIGIN_VERIFY_SECRET: `${CURRENT},${PREVIOUS}`, POWERTOOLS_LOG_LEVEL: 'DEBUG' } });
      const handler = makeResizeHandler({ config: app.config, service: app.service, log: createLogger('origin-verify-test') });
      const responses = [];
      for (const value of [undefined, 'origin-wrong-0000000000000000', CURRENT, PREVIOUS, `${CURRENT}x`]) {
        for (const e of [event(key, 'w=44'), event(key, 'w=abc'), event(uniqueKey('missing.jpg'), 'w=44')]) {
          responses.push(await handler(via(e, value)));
        }
      }
      expect(responses.map((r) => r.statusCode)).toEqual([403, 403, 403, 403, 403, 403, 200, 400, 404, 200, 400, 404, 403, 403, 403]);
      const text = shown(responses.map((r) => ({ headers: r.headers, body: r.statusCode === 200 ? '' : r.body })), output);
      expect(output.join('')).toContain('request refused');
      expect(text).not.toContain(CURRENT);
      expect(text).not.toContain(PREVIOUS);
    });

    it('in the recorded log, nor when the loaded value is refused', async () => {
      secretsManager.getSecret.mockResolvedValueOnce('too-short-value').mockResolvedValueOnce(CURRENT);
      const app = stack.app({ env: { ORIGIN_VERIFY_SECRET_ID: 'image-resizer/origin-verify' } });
      const refused = await app.handler(via(event(key, 'w=45'), 'too-short-value'));
      expect(refused.statusCode).toBe(503);
      expect((await app.handler(via(event(key, 'w=45'), CURRENT))).statusCode).toBe(200);
      expectForbidden(await app.handler(event(key, 'w=45')));
      const text = shown(app.log.entries, refused, output);
      expect(text).toContain('request failed');
      expect(text).toContain('at least 16 characters');
      expect(text).not.toContain('too-short-value');
      expect(text).not.toContain(CURRENT);
    });
  });
});
