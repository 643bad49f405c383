import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { photoLikeJpeg } from '../../scripts/samples.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createSecretsProvider, MIN_SECRET_LENGTH, parseSecrets, type SecretsSource } from '../../src/security/signing-secrets.js';
import { signPath } from '../../src/security/url-signature.js';
import { event, startStack, testEnv, uniqueKey, type Stack } from '../support/stack.js';

// SSM and Secrets Manager cannot run here: the Powertools parameter functions are replaced for
// this file only. Everything after them (parsing, memoising, retrying, the handler) is real.
const ssm = vi.hoisted(() => ({ getParameter: vi.fn<(name: string, options?: unknown) => Promise<string | undefined>>() }));
const secretsManager = vi.hoisted(() => ({
  getSecret: vi.fn<(id: string, options?: unknown) => Promise<string | Uint8Array | undefined>>(),
}));
vi.mock('@aws-lambda-powertools/parameters/ssm', () => ssm);
vi.mock('@aws-lambda-powertools/parameters/secrets', () => secretsManager);

const A = 'alpha-secret-0123456789';
const B = 'bravo-secret-0123456789';

const SSM: SecretsSource = { kind: 'ssm', name: '/image-resizer/signing-secrets' };
const SECRETS_MANAGER: SecretsSource = { kind: 'secrets-manager', id: 'image-resizer/signing' };

/** Makes the mocked source answer with `value` (or fail with it when it is an Error). */
function answer(source: SecretsSource, ...values: (string | Uint8Array | Error | undefined)[]) {
  const fn = source.kind === 'ssm' ? ssm.getParameter : secretsManager.getSecret;
  for (const value of values) {
    if (value instanceof Error) fn.mockRejectedValueOnce(value);
    else fn.mockResolvedValueOnce(value as string);
  }
  return fn;
}

beforeEach(() => {
  ssm.getParameter.mockReset();
  secretsManager.getSecret.mockReset();
});

describe('parseSecrets', () => {
  it.each([
    ['one secret', A, [A]],
    ['comma-separated', `${A},${B}`, [A, B]],
    ['comma-separated with spaces', ` ${A} , ${B} `, [A, B]],
    ['one per line', `${A}\n${B}\n`, [A, B]],
    ['CRLF lines', `${A}\r\n${B}\r\n`, [A, B]],
    ['a JSON array', JSON.stringify([A, B]), [A, B]],
    ['a JSON object (Secrets Manager key/value)', JSON.stringify({ current: A, previous: B }), [A, B]],
    ['a secret that happens to be a JSON number', '12345678901234567890', ['12345678901234567890']],
    ['a hex secret that happens to be a JSON number', '12e45678901234567890123456789012', ['12e45678901234567890123456789012']],
  ])('reads %s', (_name, text, expected) => {
    expect(parseSecrets(text, 'test')).toEqual(expected);
  });

  it.each([
    ['a secret one character too short', 'x'.repeat(MIN_SECRET_LENGTH - 1)],
    ['one short secret among long ones', `${A},short,${B}`],
    ['nothing but separators', ',\n,'],
    ['a JSON object with a number', JSON.stringify({ current: A, previous: 1 })],
    ['a JSON array with a number', JSON.stringify([A, 12345678901234567890])],
    ['a JSON array with a short secret', JSON.stringify([A, 'short'])],
  ])('refuses %s with a ConfigError', (_name, text) => {
    expect(() => parseSecrets(text, 'SIGNING_SECRETS')).toThrow(ConfigError);
  });

  it('accepts exactly the minimum length', () => {
    expect(parseSecrets('x'.repeat(MIN_SECRET_LENGTH), 'test')).toEqual(['x'.repeat(MIN_SECRET_LENGTH)]);
  });
});

describe('loadConfig: where the secrets come from', () => {
  const base = testEnv('http://127.0.0.1:1');

  it.each([
    ['none', {}, { kind: 'none' }],
    ['inline', { SIGNING_SECRETS: `${A},${B}` }, { kind: 'inline', secrets: [A, B] }],
    ['SSM', { SIGNING_SECRETS_SSM_PARAMETER: '/p' }, { kind: 'ssm', name: '/p' }],
    ['Secrets Manager', { SIGNING_SECRETS_SECRET_ID: 'id' }, { kind: 'secrets-manager', id: 'id' }],
    ['blank values as unset', { SIGNING_SECRETS: ' ', SIGNING_SECRETS_SSM_PARAMETER: '' }, { kind: 'none' }],
  ])('%s', (_name, env, expected) => {
    expect(loadConfig({ ...base, ...env }).signingSecrets).toEqual(expected);
  });

  it.each([
    ['inline and SSM', { SIGNING_SECRETS: A, SIGNING_SECRETS_SSM_PARAMETER: '/p' }],
    ['inline and Secrets Manager', { SIGNING_SECRETS: A, SIGNING_SECRETS_SECRET_ID: 'id' }],
    ['SSM and Secrets Manager', { SIGNING_SECRETS_SSM_PARAMETER: '/p', SIGNING_SECRETS_SECRET_ID: 'id' }],
    ['all three', { SIGNING_SECRETS: A, SIGNING_SECRETS_SSM_PARAMETER: '/p', SIGNING_SECRETS_SECRET_ID: 'id' }],
  ])('refuses two sources at once: %s', (_name, env) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(/set only one of SIGNING_SECRETS/);
  });

  it.each([
    ['too short', 'short'],
    ['one of two too short', `${A},0123456789`],
  ])('refuses inline secrets that are %s, at cold start', (_name, value) => {
    expect(() => loadConfig({ ...base, SIGNING_SECRETS: value })).toThrow(/at least 16 characters/);
  });

  it('never fetches anything while loading the configuration', () => {
    loadConfig({ ...base, SIGNING_SECRETS_SSM_PARAMETER: '/p' });
    loadConfig({ ...base, SIGNING_SECRETS_SECRET_ID: 'id' });
    expect(ssm.getParameter).not.toHaveBeenCalled();
    expect(secretsManager.getSecret).not.toHaveBeenCalled();
  });
});

describe('createSecretsProvider', () => {
  it('fetches an SSM parameter once, decrypted, for any number of calls', async () => {
    const fetch = answer(SSM, `${A},${B}`);
    const provider = createSecretsProvider(SSM);

    const concurrent = await Promise.all(Array.from({ length: 10 }, () => provider()));
    const later = [];
    for (let i = 0; i < 10; i++) later.push(await provider());

    for (const secrets of [...concurrent, ...later]) expect(secrets).toEqual([A, B]);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledWith('/image-resizer/signing-secrets', expect.objectContaining({ decrypt: true }));
  });

  it('fetches a Secrets Manager secret once for any number of calls', async () => {
    const fetch = answer(SECRETS_MANAGER, JSON.stringify([A, B]));
    const provider = createSecretsProvider(SECRETS_MANAGER);
    for (let i = 0; i < 5; i++) expect(await provider()).toEqual([A, B]);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledWith('image-resizer/signing', expect.anything());
  });

  it.each([
    ['SSM, comma-separated', SSM, `${A},${B}`],
    ['SSM, one per line', SSM, `${A}\n${B}`],
    ['SSM, a JSON array', SSM, `["${A}", "${B}"]`],
    ['Secrets Manager, one per line', SECRETS_MANAGER, `${A}\n${B}\n`],
    ['Secrets Manager, a binary secret', SECRETS_MANAGER, new TextEncoder().encode(`${A},${B}`)],
  ])('splits the value: %s', async (_name, source, value) => {
    answer(source, value);
    expect(await createSecretsProvider(source)()).toEqual([A, B]);
  });

  it.each([
    ['a secret too short', SSM, `${A},short`],
    ['nothing', SSM, undefined],
    ['an empty value', SECRETS_MANAGER, ''],
    ['a JSON object with a short secret', SECRETS_MANAGER, JSON.stringify({ key: A, old: 'short' })],
    ['a throttling error', SSM, Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })],
    ['access denied', SECRETS_MANAGER, Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' })],
  ])('answers %s with 503 secrets_unavailable and tries again on the next call', async (_name, source, bad) => {
    const fetch = answer(source, bad, `${A},${B}`);
    const provider = createSecretsProvider(source);

    await expect(provider()).rejects.toMatchObject({ statusCode: 503, code: 'secrets_unavailable', headers: { 'Retry-After': '1' } });
    await expect(provider()).resolves.toEqual([A, B]);
    await expect(provider()).resolves.toEqual([A, B]);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('keeps the cause of a failure for the logs, not for the client', async () => {
    answer(SSM, new Error('User: arn:aws:sts::123:assumed-role/x is not authorized'));
    const failure = createSecretsProvider(SSM)();
    await expect(failure).rejects.toMatchObject({ expose: false, message: expect.not.stringContaining('arn:aws') });
    await expect(failure).rejects.toHaveProperty('cause.message', expect.stringContaining('not authorized'));
  });

  it.each([
    ['none', { kind: 'none' } as const, undefined],
    ['inline', { kind: 'inline', secrets: [A] } as const, [A]],
  ])('never calls AWS for %s', async (_name, source, expected) => {
    expect(await createSecretsProvider(source)()).toEqual(expected);
    expect(ssm.getParameter).not.toHaveBeenCalled();
    expect(secretsManager.getSecret).not.toHaveBeenCalled();
  });
});

describe('the handler with secrets from SSM', () => {
  let stack: Stack;
  let key: string;
  beforeAll(async () => {
    stack = await startStack();
    key = uniqueKey('photos/ssm.jpg');
    await stack.seed(key, await photoLikeJpeg(120, 80));
  });
  afterAll(async () => {
    await stack?.close();
  });

  function signed(secret: string) {
    const [path, query] = signPath(`/${key}?w=40`, secret).split('?') as [string, string];
    return event(decodeURIComponent(path), query);
  }

  it('answers 503 while SSM fails, then checks signatures with the secrets it fetched once', async () => {
    answer(SSM, Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }), `${A}\n${B}`);
    const app = stack.app({ env: { SIGNING_SECRETS_SSM_PARAMETER: '/image-resizer/signing-secrets' } });

    const down = await app.handler(signed(A));
    expect(down.statusCode).toBe(503);
    expect(down.headers).toMatchObject({ 'Retry-After': '1', 'Cache-Control': 'no-store' });
    expect(JSON.parse(down.body!)).toEqual({ error: { code: 'secrets_unavailable', message: expect.any(String) } });
    expect(down.body).not.toContain('Rate exceeded');
    expect(app.log.entries).toContainEqual(expect.objectContaining({ level: 'error', message: 'request failed' }));

    const statuses = [];
    for (const e of [signed(A), signed(B), signed('charlie-secret-0123456789'), event(key, 'w=40')]) {
      statuses.push((await app.handler(e)).statusCode);
    }
    expect(statuses).toEqual([200, 200, 403, 403]);
    expect(ssm.getParameter).toHaveBeenCalledTimes(2);
  });
});
