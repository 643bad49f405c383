/**
 * CORS for image responses (off unless origins are configured). A wildcard is never combined
 * with credentials: the configuration refuses that pairing at cold start.
 */
export interface CorsPolicy {
  /** Allowed origins, `['*']` for any; empty means CORS is off. */
  readonly origins: readonly string[];
  readonly credentials: boolean;
}

/** Response headers browsers may read cross-origin besides the CORS-safelisted ones. */
const EXPOSED = 'ETag, X-Cache, Server-Timing, X-Max-Bytes, X-Quality';

export function corsHeaders(policy: CorsPolicy, origin: string | undefined): Record<string, string> {
  if (policy.origins.length === 0) return {};
  if (policy.origins.includes('*')) {
    return { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSED, 'Timing-Allow-Origin': '*' };
  }
  // The answer depends on the Origin header: shared caches must keep one copy per origin.
  if (origin === undefined || !policy.origins.includes(origin)) return { Vary: 'Origin' };
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Expose-Headers': EXPOSED,
    'Timing-Allow-Origin': origin,
    Vary: 'Origin',
    ...(policy.credentials ? { 'Access-Control-Allow-Credentials': 'true' } : {}),
  };
}
