import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkExpiry, verifySignature } from '../src/security/url-signature.js';

/** `npm run sign -- "<path?query>"`: the operator's signing helper, run as a user runs it. */
const ROOT = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const SECRETS = 'first-secret-0123456789,second-secret-0123456789';

async function sign(args: string[], env: Record<string, string> = { SIGNING_SECRETS: SECRETS }) {
  const { stdout } = await run(join(ROOT, 'node_modules/.bin/tsx'), ['scripts/sign.mts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    timeout: 60_000,
  });
  return stdout.trim();
}

function verify(signed: string, secrets: string[]) {
  const url = new URL(signed, 'http://x.invalid');
  const entries = [...url.searchParams];
  verifySignature(secrets, decodeURIComponent(url.pathname).slice(1), entries);
  return entries;
}

describe('npm run sign', () => {
  it('prints a URL the service accepts, signed with the first secret', async () => {
    const signed = await sign(['/photos/crème brûlée.jpg?w=800&fm=webp']);
    expect(signed).toMatch(/^\/photos\/cr%C3%A8me%20br%C3%BBl%C3%A9e\.jpg\?w=800&fm=webp&s=[\w-]{43}$/);
    expect(() => verify(signed, ['first-secret-0123456789'])).not.toThrow();
    expect(() => verify(signed, ['second-secret-0123456789'])).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
  });

  it('adds a signed expiry and a base URL when asked', async () => {
    const before = Math.floor(Date.now() / 1000);
    const signed = await sign(['photos/a.jpg?w=10', '--expires-in', '3600', '--base-url', 'https://img.example.com/']);
    expect(signed.startsWith('https://img.example.com/photos/a.jpg?w=10&expires=')).toBe(true);
    const entries = verify(signed, SECRETS.split(','));
    const expires = checkExpiry(entries, before)!;
    expect(expires - before).toBeGreaterThanOrEqual(3600);
    expect(expires - before).toBeLessThan(3600 + 60);
  });

  it('refuses to run without a secret, or with a bad expiry', async () => {
    await expect(sign(['/a.jpg'], {})).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('SIGNING_SECRETS') });
    await expect(sign(['/a.jpg', '--expires-in', 'soon'])).rejects.toMatchObject({ code: 2 });
  });
});
