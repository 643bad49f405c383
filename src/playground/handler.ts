import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Config } from '../config.js';
import { ImageServiceError, InvalidRequestError, MethodNotAllowedError, toServiceError } from '../errors.js';
import { errorToHttpResponse, type HttpResponse } from '../http/response.js';
import type { ServiceLogger } from '../observability/logger.js';
import { PLAYGROUND_SEGMENT } from '../request/original-key.js';
import { createOriginCheck } from '../security/origin-verify.js';
import { createSecretsProvider, type SecretsProvider } from '../security/signing-secrets.js';
import { signPath } from '../security/url-signature.js';
import type { ObjectStore } from '../storage/image-store.js';
import { listOriginals, readOriginalsQuery } from './originals.js';

/**
 * The playground (README "Playground"): a page to try the URL API on the originals bucket, served
 * by its own function under `/_playground`, a path no image key can take (PLAYGROUND_SEGMENT).
 * The page, its script and style are strings bundled into the function (scripts/playground-assets.cjs).
 * Its endpoints: the originals listing, and signing, done here so the secrets never reach the
 * browser. Whoever can open the page can list originals and have any URL signed: the stage
 * setting (param playground) keeps it off unless turned on.
 */

export interface PlaygroundAssets {
  readonly page: string;
  readonly script: string;
  readonly style: string;
}

export interface PlaygroundHandlerDeps {
  readonly config: Config;
  /** The originals bucket's listing (ListObjectsV2). */
  readonly objects: ObjectStore;
  readonly assets: PlaygroundAssets;
  readonly log: ServiceLogger;
  /** The URL-signing secrets; by default loaded from the configured source on first use. */
  readonly signingSecrets?: SecretsProvider;
  /** The secrets CloudFront sends in `X-Origin-Verify`, as for the images. */
  readonly originSecrets?: SecretsProvider;
}

export type PlaygroundHandler = (event: APIGatewayProxyEventV2) => Promise<HttpResponse>;

const ROOT = `/${PLAYGROUND_SEGMENT}`;
const MAX_SIGNED_PATHS = 10;
const MAX_PATH_LENGTH = 8192;

// A developer tool that lists the bucket: nothing of it is kept by any cache.
const COMMON_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
} as const;

// Script and style only from the function itself; images as blobs of what the page fetched from
// this origin. No inline code, no framing, no form submission.
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const text = (body: string, contentType: string, extra: Record<string, string> = {}): HttpResponse => ({
  statusCode: 200,
  headers: { ...COMMON_HEADERS, 'Content-Type': contentType, ...extra },
  body,
});

const json = (value: unknown): HttpResponse => text(JSON.stringify(value), 'application/json; charset=utf-8');

class PlaygroundNotFoundError extends ImageServiceError {
  constructor() {
    super(404, 'not_found', `The playground has no page or endpoint here: open ${ROOT}.`);
  }
}

/** Paths the image API serves, to be signed with the configured secret (the first one: the newest). */
function signablePaths(query: URLSearchParams): string[] {
  const paths = query.getAll('path');
  if (paths.length === 0) throw new InvalidRequestError('invalid_param', 'Parameter "path" is missing: the image URL\'s path and query, e.g. /photos/a.jpg?w=400.');
  if (paths.length > MAX_SIGNED_PATHS) throw new InvalidRequestError('invalid_param', `At most ${MAX_SIGNED_PATHS} "path" parameters per request.`);
  for (const path of paths) {
    const playground = path === ROOT || path.startsWith(`${ROOT}/`) || path.startsWith(`${ROOT}?`);
    const valid = path.startsWith('/') && !path.startsWith('//') && path.length <= MAX_PATH_LENGTH && !playground;
    if (!valid) throw new InvalidRequestError('invalid_param', 'Parameter "path" must be an image URL\'s path and query, such as /photos/a.jpg?w=400.');
  }
  return paths;
}

export function makePlaygroundHandler({
  config,
  objects,
  assets,
  log,
  signingSecrets = createSecretsProvider(config.signingSecrets),
  originSecrets = createSecretsProvider(config.edge.originVerify, {
    noun: 'origin-verify secret',
    unavailableMessage: 'Access cannot be checked right now; retry shortly.',
  }),
}: PlaygroundHandlerDeps): PlaygroundHandler {
  const checkOrigin = createOriginCheck(originSecrets);
  const page = () => text(assets.page, 'text/html; charset=utf-8', { 'Content-Security-Policy': PAGE_CSP, 'X-Frame-Options': 'DENY' });
  // Below /_playground.
  const routes = new Map<string, (query: URLSearchParams) => Promise<HttpResponse> | HttpResponse>([
    ['', page],
    ['/', page],
    ['/app.js', () => text(assets.script, 'text/javascript; charset=utf-8')],
    ['/app.css', () => text(assets.style, 'text/css; charset=utf-8')],
    ['/api/config', async () => json({ signing: (await signingSecrets()) !== undefined, presets: [...config.presets.keys()] })],
    ['/api/originals', async (query) => json(await listOriginals(config, objects, readOriginalsQuery(query)))],
    [
      '/api/sign',
      async (query) => {
        const paths = signablePaths(query);
        const secret = (await signingSecrets())?.[0];
        return json({ signed: secret !== undefined, urls: secret === undefined ? paths : paths.map((p) => signPath(p, secret)) });
      },
    ],
  ]);

  return async (event) => {
    try {
      await checkOrigin(event.headers);
      const method = event.requestContext?.http?.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError(method);
      const path = event.rawPath ?? '';
      const route = path === ROOT || path.startsWith(`${ROOT}/`) ? routes.get(path.slice(ROOT.length)) : undefined;
      if (!route) throw new PlaygroundNotFoundError();
      const response = await route(new URLSearchParams(event.rawQueryString ?? ''));
      return method === 'HEAD' ? { ...response, body: '' } : response;
    } catch (caught) {
      const error = toServiceError(caught);
      if (!error.expose) log.error('playground request failed', { status: error.statusCode, code: error.code, path: event.rawPath, error: caught as Error });
      return errorToHttpResponse(error, { headers: { 'Referrer-Policy': 'no-referrer' }, errorMaxAge: 0 });
    }
  };
}
