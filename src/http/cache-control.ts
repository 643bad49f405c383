import type { ImageServiceError } from '../errors.js';

/**
 * Every Cache-Control the service sends is decided here. The contract: never cache a 5xx; a 4xx
 * at most `errorMaxAge` seconds (and not at all when it depends on credentials); images as
 * configured, browsers and the CDN each with their own lifetime.
 */

export const NO_STORE = 'no-store';

/**
 * Image responses (hits, misses, 304s) and the Cache-Control stored with each variant, which a
 * presigned redirect's response carries. `cdnMaxAge` (CDN_MAX_AGE) gives shared caches their own
 * lifetime (`s-maxage`): e.g. long at CloudFront, whose copies can be invalidated when an original
 * changes, and shorter in browsers, whose copies cannot.
 */
export function imageCacheControl(maxAge: number, cdnMaxAge?: number): string {
  return cdnMaxAge === undefined
    ? `public, max-age=${maxAge}, immutable`
    : `public, max-age=${maxAge}, s-maxage=${cdnMaxAge}, immutable`;
}

/**
 * Errors. A 4xx follows from the URL and the original (a bad parameter, a missing or damaged
 * original), so the CDN may keep it briefly and spare the function a storm of identical bad
 * requests; briefly, because uploading the missing original must soon be seen. Kept out of every
 * cache: 5xx (passing by nature: an outage must not outlive itself in a cache) and errors that
 * are not `shareable`, i.e. depend on the request's credentials rather than on the resource (403:
 * a missing or wrong origin-verify header, a bad or expired signature, judged against the secrets
 * this instance holds, which change during a rotation). `errorMaxAge` 0 also means no caching.
 */
export function errorCacheControl(error: ImageServiceError, errorMaxAge: number): string {
  if (error.statusCode >= 500 || !error.shareable || errorMaxAge <= 0) return NO_STORE;
  return `public, max-age=${errorMaxAge}`;
}
