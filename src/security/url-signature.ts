import { createHmac, timingSafeEqual } from 'node:crypto';
import { ForbiddenError } from '../errors.js';

/**
 * Signed URLs. The signature `s` is HMAC-SHA256, base64url, over a canonical form of the request:
 * the decoded path re-encoded segment by segment, then `?`, then every query parameter but `s`,
 * sorted by name and value and encoded the same way. Signer and verifier both go through
 * `canonicalTarget`, so `%20` vs `+`, parameter order or optional encodings never break a URL,
 * while any change to a value does. `expires` (unix seconds) is just another signed parameter.
 */

export const SIGNATURE_PARAM = 's';
export const EXPIRES_PARAM = 'expires';

export type QueryEntry = readonly [string, string];

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/** `decodedPath` is the path after the leading `/` (the key, with a classic size folder if any). */
export function canonicalTarget(decodedPath: string, entries: readonly QueryEntry[]): string {
  // Always one slash in front: `a.jpg` and `/a.jpg` are different requests and sign differently.
  const path = `/${decodedPath}`;
  const query = entries
    .filter(([name]) => name !== SIGNATURE_PARAM)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .sort()
    .join('&');
  return `${encodePath(path)}?${query}`;
}

export function computeSignature(secret: string, decodedPath: string, entries: readonly QueryEntry[]): string {
  return createHmac('sha256', secret).update(canonicalTarget(decodedPath, entries)).digest('base64url');
}

/**
 * Checks `s` against every configured secret (several are valid while one is being rotated out).
 * Every secret is tried, whatever matched first, and each comparison is constant-time.
 */
export function verifySignature(
  secrets: readonly string[],
  decodedPath: string,
  entries: readonly QueryEntry[],
): void {
  const given = entries.filter(([name]) => name === SIGNATURE_PARAM).map(([, value]) => value);
  if (given.length === 0) {
    throw new ForbiddenError('signature_required', 'This service only serves signed URLs: the "s" parameter is missing.');
  }
  const provided = Buffer.from(given.length === 1 ? given[0]! : '', 'utf8');
  let valid = false;
  for (const secret of secrets) {
    const expected = Buffer.from(computeSignature(secret, decodedPath, entries), 'utf8');
    const comparable = provided.length === expected.length ? provided : Buffer.alloc(expected.length);
    const match = timingSafeEqual(comparable, expected) && provided.length === expected.length;
    valid = valid || match;
  }
  if (!valid) throw new ForbiddenError('invalid_signature', 'The URL signature is not valid for this path and query.');
}

/** The `expires` parameter as unix seconds, or undefined when absent. Throws once it has passed. */
export function checkExpiry(entries: readonly QueryEntry[], nowSeconds: number): number | undefined {
  // Any case: the request parser ignores `Expires` as an access parameter, so it must be enforced too.
  const values = entries.filter(([name]) => name.toLowerCase() === EXPIRES_PARAM).map(([, value]) => value);
  if (values.length === 0) return undefined;
  const value = values.length === 1 && /^\d{1,12}$/.test(values[0]!) ? Number(values[0]) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new ForbiddenError('invalid_expires', '"expires" must be given once, as unix time in seconds.');
  }
  if (value <= nowSeconds) throw new ForbiddenError('url_expired', 'This URL has expired.');
  return value;
}

/**
 * Signs a path with query, e.g. `/photos/a.jpg?w=800`, returning it with `s` (and `expires`,
 * when asked) appended. The path may be given percent-encoded or not; a full URL's host is dropped.
 */
export function signPath(pathAndQuery: string, secret: string, options: { expiresAt?: number } = {}): string {
  // A path is appended to the origin, not resolved against it: `//photos/a.jpg` is a path whose
  // key starts with "/", not a host. Only a full URL (scheme and host) is parsed as one.
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(pathAndQuery)
    ? new URL(pathAndQuery)
    : new URL(`http://signing.invalid${pathAndQuery.startsWith('/') ? '' : '/'}${pathAndQuery}`);
  const decodedPath = decodeURIComponent(url.pathname).slice(1);
  url.searchParams.delete(SIGNATURE_PARAM);
  if (options.expiresAt !== undefined) url.searchParams.set(EXPIRES_PARAM, String(Math.floor(options.expiresAt)));
  const entries = [...url.searchParams];
  url.searchParams.append(SIGNATURE_PARAM, computeSignature(secret, decodedPath, entries));
  return `/${encodePath(decodedPath)}?${url.searchParams.toString()}`;
}
