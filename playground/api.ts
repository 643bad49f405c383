/** Requests from the page: the playground's own endpoints, and the image API's answers. */

/** The API's error body, `{"error": {"code", "message"}}`, with the status it came with. */
export interface ApiError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export class ApiFailure extends Error {
  constructor(readonly error: ApiError) {
    super(`${error.status} ${error.code}: ${error.message}`);
  }
}

/** The error a non-2xx response carries: the API's JSON when it is that, else the status line. */
export async function apiError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string' && typeof body.error.message === 'string') {
      return { status: response.status, code: body.error.code, message: body.error.message };
    }
  } catch {
    // Not JSON: described by its status below.
  }
  return { status: response.status, code: 'http_error', message: response.statusText || text.slice(0, 200) || 'no message' };
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, { cache: 'no-store', signal, headers: { Accept: 'application/json' } });
  if (!response.ok) throw new ApiFailure(await apiError(response));
  return (await response.json()) as T;
}

export interface PlaygroundConfig {
  readonly signing: boolean;
  readonly presets: readonly string[];
}

/** The URLs as the browser may request them: signed by the server when signing is on. */
export async function signed(config: PlaygroundConfig, paths: readonly string[], signal?: AbortSignal): Promise<string[]> {
  if (!config.signing) return [...paths];
  const query = new URLSearchParams(paths.map((p) => ['path', p]));
  const { urls } = await getJson<{ urls: string[] }>(`/_playground/api/sign?${query}`, signal);
  return urls;
}

// What browsers send for <img>: fm=auto answers as it would for an image element.
const IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

export interface Fetched {
  readonly status: number;
  readonly headers: Headers;
  readonly blob: Blob;
  /** Request start to the first byte of the response, in ms. */
  readonly ttfb: number;
}

/**
 * One image request, past the browser's cache (`no-store`: X-Cache is the service's answer, not a
 * copy). Time to first byte from Resource Timing, same-origin so it is complete; otherwise from
 * when fetch() resolved (the headers' arrival).
 */
export async function fetchImage(url: string, signal: AbortSignal): Promise<Fetched> {
  const absolute = new URL(url, location.href).href;
  const started = performance.now();
  const response = await fetch(url, { cache: 'no-store', signal, headers: { Accept: IMAGE_ACCEPT } });
  const measured = performance.now() - started;
  if (!response.ok) throw new ApiFailure(await apiError(response));
  const blob = await response.blob();
  const entries = performance.getEntriesByName(absolute, 'resource') as PerformanceResourceTiming[];
  const entry = entries[entries.length - 1];
  const ttfb = entry && entry.responseStart > 0 ? entry.responseStart - entry.startTime : measured;
  if (entries.length > 50) performance.clearResourceTimings();
  return { status: response.status, headers: response.headers, blob, ttfb };
}
