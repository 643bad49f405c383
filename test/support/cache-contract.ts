/**
 * The caching contract for errors, as clients and the CDN see it: a 5xx is never cached; a 403
 * (origin verify, signatures: it depends on credentials) is never cached; any other 4xx at most
 * ERROR_MAX_AGE seconds (60 unless configured).
 */
export const DEFAULT_ERROR_MAX_AGE = 60;

export function errorCacheControl(status: number, errorMaxAge = DEFAULT_ERROR_MAX_AGE): string {
  return status >= 500 || status === 403 || errorMaxAge === 0 ? 'no-store' : `public, max-age=${errorMaxAge}`;
}
