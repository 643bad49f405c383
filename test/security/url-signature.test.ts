import { timingSafeEqual } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ForbiddenError } from '../../src/errors.js';
import { readTarget } from '../../src/request/parse-request.js';
import {
  canonicalTarget,
  checkExpiry,
  computeSignature,
  signPath,
  verifySignature,
  type QueryEntry,
} from '../../src/security/url-signature.js';

// A pass-through spy, not a fake: it lets the tests count the constant-time comparisons.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const SECRET = 'first-secret-0123456789';
const OTHER = 'second-secret-0123456789';
const UNKNOWN = 'not-configured-0123456789';

/** What the handler verifies for a URL: the decoded path (no leading slash) and the query entries. */
function targetOf(pathAndQuery: string): { path: string; entries: QueryEntry[] } {
  const [rawPath, rawQueryString = ''] = pathAndQuery.split('?', 2) as [string, string?];
  const target = readTarget({ rawPath, rawQueryString });
  return { path: target.path, entries: [...target.entries] };
}

function verify(pathAndQuery: string, secrets: readonly string[] = [SECRET]): void {
  const { path, entries } = targetOf(pathAndQuery);
  verifySignature(secrets, path, entries);
}

const signatureOf = (url: string) => new URLSearchParams(url.split('?')[1]).get('s')!;

/** Replaces the query of a signed URL, keeping its signature. */
const withQuery = (signed: string, query: string) => `${signed.split('?')[0]}?${query}&s=${signatureOf(signed)}`;

describe('signPath and verifySignature', () => {
  it('signs with HMAC-SHA256 over the canonical path and query, base64url', async () => {
    const { createHmac } = await import('node:crypto');
    const signed = signPath('/photos/a.jpg?w=800&fm=webp', SECRET);
    const expected = createHmac('sha256', SECRET).update('/photos/a.jpg?fm=webp&w=800').digest('base64url');
    expect(signed).toBe(`/photos/a.jpg?w=800&fm=webp&s=${expected}`);
    expect(signatureOf(signed)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it.each([
    ['a query URL', '/photos/a.jpg?w=800&h=600'],
    ['a classic /800x600/ path', '/800x600/photos/a.jpg'],
    ['a classic path with a query', '/800x/photos/a.jpg?fm=webp'],
    ['a path without query', '/photos/a.jpg'],
    ['a path without leading slash', 'photos/a.jpg?w=10'],
    ['UTF-8 and spaces, unencoded', '/café/crème brûlée.jpg?pos=left top'],
    ['UTF-8 and spaces, encoded', '/caf%C3%A9/cr%C3%A8me%20br%C3%BBl%C3%A9e.jpg?pos=left%20top'],
    ['a plus in the key', '/a+b.jpg?w=10'],
  ])('signs %s so that the service accepts it', (_name, pathAndQuery) => {
    expect(() => verify(signPath(pathAndQuery, SECRET))).not.toThrow();
  });

  describe('survives re-encoding', () => {
    const signed = signPath('/photos/crème brûlée.jpg?w=300&pos=left top&fm=webp', SECRET);
    const s = signatureOf(signed);

    it.each([
      ['as signed', signed],
      ['%20 for the spaces in the query', `/photos/cr%C3%A8me%20br%C3%BBl%C3%A9e.jpg?w=300&pos=left%20top&fm=webp&s=${s}`],
      ['+ for the spaces in the query', `/photos/cr%C3%A8me%20br%C3%BBl%C3%A9e.jpg?w=300&pos=left+top&fm=webp&s=${s}`],
      ['another parameter order', `/photos/cr%C3%A8me%20br%C3%BBl%C3%A9e.jpg?s=${s}&fm=webp&pos=left%20top&w=300`],
      ['unencoded UTF-8 in the path', `/photos/crème%20brûlée.jpg?w=300&pos=left%20top&fm=webp&s=${s}`],
      ['lower-case percent-encoding', `/photos/cr%c3%a8me%20br%c3%bbl%c3%a9e.jpg?w=300&pos=left%20top&fm=webp&s=${s}`],
      ['optional encoding of letters', `/photos/cr%C3%A8me%20br%C3%BBl%C3%A9e.jp%67?%77=300&pos=left%20top&fm=webp&s=${s}`],
      ['an empty "&&" in the query', `/photos/cr%C3%A8me%20br%C3%BBl%C3%A9e.jpg?w=300&&pos=left%20top&fm=webp&s=${s}`],
    ])('%s', (_name, url) => {
      expect(() => verify(url)).not.toThrow();
    });

    it('reads the same from the decoded path API Gateway passes as from rawPath', () => {
      const entries: QueryEntry[] = [['fm', 'webp'], ['pos', 'left top'], ['w', '300'], ['s', s]];
      expect(() => verifySignature([SECRET], 'photos/crème brûlée.jpg', entries)).not.toThrow();
    });
  });

  describe('breaks on any change', () => {
    const signed = signPath('/800x600/photos/a.jpg?fm=webp&q=70', SECRET);
    const s = signatureOf(signed);

    it.each([
      ['another value', `/800x600/photos/a.jpg?fm=avif&q=70&s=${s}`],
      ['another path', `/800x600/photos/b.jpg?fm=webp&q=70&s=${s}`],
      ['another classic size', `/800x601/photos/a.jpg?fm=webp&q=70&s=${s}`],
      ['the classic size moved to the query', `/photos/a.jpg?w=800&h=600&fm=webp&q=70&s=${s}`],
      ['another case in the path', `/800x600/photos/A.jpg?fm=webp&q=70&s=${s}`],
      ['an extra parameter', `/800x600/photos/a.jpg?fm=webp&q=70&blur=5&s=${s}`],
      ['an extra empty parameter', `/800x600/photos/a.jpg?fm=webp&q=70&x=&s=${s}`],
      ['an extra expires', `/800x600/photos/a.jpg?fm=webp&q=70&expires=99999999999&s=${s}`],
      ['a parameter removed', `/800x600/photos/a.jpg?fm=webp&s=${s}`],
      ['a parameter repeated', `/800x600/photos/a.jpg?fm=webp&q=70&q=70&s=${s}`],
      ['a value moved to another name', `/800x600/photos/a.jpg?format=webp&q=70&s=${s}`],
      ['"=" moved between name and value', `/800x600/photos/a.jpg?fm=webp%26q%3D70&s=${s}`],
      ['a leading slash added', `//800x600/photos/a.jpg?fm=webp&q=70&s=${s}`.replace('//', '/%2F')],
      ['the signature given twice', `${signed}&s=${s}`],
      ['a truncated signature', `/800x600/photos/a.jpg?fm=webp&q=70&s=${s.slice(0, -1)}`],
      ['a padded signature', `/800x600/photos/a.jpg?fm=webp&q=70&s=${s}=`],
      ['an empty signature', '/800x600/photos/a.jpg?fm=webp&q=70&s='],
    ])('%s → invalid_signature', (_name, url) => {
      expect(() => verify(url)).toThrow(expect.objectContaining({ statusCode: 403, code: 'invalid_signature' }));
    });

    it('refuses a URL signed with a secret that is not configured', () => {
      expect(() => verify(signPath('/photos/a.jpg?w=10', UNKNOWN), [SECRET, OTHER])).toThrow(
        expect.objectContaining({ statusCode: 403, code: 'invalid_signature' }),
      );
    });
  });

  it.each([
    ['no query', '/photos/a.jpg'],
    ['a query without s', '/photos/a.jpg?w=10'],
    ['S in upper case only', `/photos/a.jpg?w=10&S=${signatureOf(signPath('/photos/a.jpg?w=10', SECRET))}`],
  ])('answers %s with signature_required', (_name, url) => {
    expect(() => verify(url)).toThrow(expect.objectContaining({ statusCode: 403, code: 'signature_required' }));
  });

  it('does not let a second slash in front alias the key (the signer never reads "//x" as a host)', () => {
    const signed = signPath('//photos/a.jpg?w=10', SECRET);
    expect(signed.startsWith('//photos/a.jpg?')).toBe(true);
    expect(computeSignature(SECRET, '/photos/a.jpg', [])).not.toBe(computeSignature(SECRET, 'photos/a.jpg', []));
    expect(canonicalTarget('/a.jpg', [])).not.toBe(canonicalTarget('a.jpg', []));
  });

  it('signs the path of a full URL', () => {
    expect(signPath('https://img.example.com/photos/a.jpg?w=10', SECRET)).toBe(signPath('/photos/a.jpg?w=10', SECRET));
  });

  it('replaces a signature already in the URL', () => {
    const once = signPath('/a.jpg?w=10', SECRET);
    expect(signPath(once, SECRET)).toBe(once);
  });
});

describe('secret rotation and constant-time comparison', () => {
  const compare = vi.mocked(timingSafeEqual);
  beforeEach(() => {
    compare.mockClear();
  });

  it.each([
    ['the first', SECRET],
    ['the second', OTHER],
  ])('accepts URLs signed with %s of two configured secrets', (_which, secret) => {
    expect(() => verify(signPath('/photos/a.jpg?w=10', secret), [SECRET, OTHER])).not.toThrow();
  });

  /** Whether the URL verifies, as a value, so the comparisons can be counted either way. */
  function accepted(url: string, secrets: readonly string[]): boolean {
    try {
      verify(url, secrets);
      return true;
    } catch (error) {
      if (error instanceof ForbiddenError && error.code === 'invalid_signature') return false;
      throw error;
    }
  }

  it.each([
    ['matches the first secret', SECRET, true],
    ['matches the last secret', OTHER, true],
    ['matches none', UNKNOWN, false],
  ])('compares against every secret with timingSafeEqual when the signature %s', (_name, secret, valid) => {
    const secrets = [SECRET, 'middle-secret-0123456789', OTHER];
    const url = signPath('/photos/a.jpg?w=10', secret);
    compare.mockClear();
    expect(accepted(url, secrets)).toBe(valid);
    expect(compare).toHaveBeenCalledTimes(secrets.length);
  });

  it.each([
    ['one character', 'x'],
    ['a thousand characters', 'x'.repeat(1000)],
    ['the right length in characters, more in bytes', 'é'.repeat(43)],
    ['an invalid UTF-16 surrogate', '\ud800'.repeat(43)],
  ])('answers a signature of %s with invalid_signature, not a RangeError from timingSafeEqual', (_name, s) => {
    const { path, entries } = targetOf('/photos/a.jpg?w=10');
    const call = () => verifySignature([SECRET, OTHER], path, [...entries, ['s', s]]);
    expect(call).toThrow(ForbiddenError);
    expect(call).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
  });
});

describe('checkExpiry', () => {
  const NOW = 1_800_000_000;

  it.each([
    ['no expires', [], undefined],
    ['one second ahead', [['expires', String(NOW + 1)]], NOW + 1],
    ['a year ahead', [['expires', String(NOW + 31_536_000)]], NOW + 31_536_000],
  ] as [string, QueryEntry[], number | undefined][])('%s → %s', (_name, entries, expected) => {
    expect(checkExpiry([['w', '10'], ...entries], NOW)).toBe(expected);
  });

  it.each([
    ['now', [['expires', String(NOW)]], 'url_expired'],
    ['a second ago', [['expires', String(NOW - 1)]], 'url_expired'],
    ['zero', [['expires', '0']], 'url_expired'],
    ['in any letter case', [['Expires', String(NOW - 1)]], 'url_expired'],
    ['in milliseconds', [['expires', String(NOW * 1000 + 60_000)]], 'invalid_expires'],
    ['negative', [['expires', '-5']], 'invalid_expires'],
    ['a date', [['expires', '2030-01-01']], 'invalid_expires'],
    ['empty', [['expires', '']], 'invalid_expires'],
    ['given twice', [['expires', String(NOW + 60)], ['expires', String(NOW + 60)]], 'invalid_expires'],
    ['given twice in two cases', [['expires', String(NOW + 60)], ['EXPIRES', String(NOW - 60)]], 'invalid_expires'],
  ] as [string, QueryEntry[], string][])('%s → 403 %s', (_name, entries, code) => {
    expect(() => checkExpiry(entries, NOW)).toThrow(expect.objectContaining({ statusCode: 403, code }));
  });

  it('signs the expiry: changing it breaks the signature', () => {
    const signed = signPath('/photos/a.jpg?w=10', SECRET, { expiresAt: NOW + 60 });
    expect(new URLSearchParams(signed.split('?')[1]).get('expires')).toBe(String(NOW + 60));
    expect(() => verify(signed)).not.toThrow();
    const later = withQuery(signed, `w=10&expires=${NOW + 86_400}`);
    expect(() => verify(later)).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
    const dropped = withQuery(signed, 'w=10');
    expect(() => verify(dropped)).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
  });
});
