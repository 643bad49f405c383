import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { OriginForbiddenError } from '../errors.js';
import { header, type RawHttpRequest } from '../request/parse-request.js';
import type { SecretsProvider } from './signing-secrets.js';

/**
 * Origin verify: with a CDN in front, CloudFront adds `X-Origin-Verify: <secret>` to every request
 * it forwards, and the API Gateway URL refuses anything without it (403 `origin_forbidden`), so
 * the CDN's caching, WAF and logs cannot be bypassed. Several secrets may be valid at once while
 * one is rotated (CloudFront is switched to the new one between adding it and removing the old).
 */

/** Lower case: API Gateway (payload 2.0) lower-cases header names; the lookup ignores case anyway. */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';

export type OriginCheck = (headers: RawHttpRequest['headers']) => Promise<void>;

/**
 * Checks the header against every secret the provider holds; no check at all when it holds none.
 * Values are compared as HMACs under a key drawn once per instance: equal-length digests for
 * `timingSafeEqual`, so neither the secret's content nor its length shows in the timing, and every
 * secret is compared whatever matched first. The secret never leaves this function: not in the
 * error, not in a log.
 */
export function createOriginCheck(secrets: SecretsProvider): OriginCheck {
  const key = randomBytes(32);
  const digest = (value: string) => createHmac('sha256', key).update(value, 'utf8').digest();
  // The provider returns the same array for the life of the instance: digest it once.
  const digests = new WeakMap<readonly string[], readonly Buffer[]>();
  return async (headers) => {
    const expected = await secrets();
    if (expected === undefined) return;
    let known = digests.get(expected);
    if (!known) {
      known = expected.map(digest);
      digests.set(expected, known);
    }
    // A missing header compares as "": no configured secret is that short (parseSecrets).
    const provided = digest(header({ headers }, ORIGIN_VERIFY_HEADER) ?? '');
    let valid = false;
    for (const candidate of known) valid = timingSafeEqual(provided, candidate) || valid;
    if (!valid) throw new OriginForbiddenError();
  };
}
