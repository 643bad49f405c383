import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Config } from '../config.js';
import { MethodNotAllowedError, toServiceError } from '../errors.js';
import type { ServiceLogger } from '../observability/logger.js';
import { noMetrics, type RequestOutcome, type ServiceMetrics } from '../observability/metrics.js';
import { MAX_KEY_BYTES } from '../request/original-key.js';
import { header, interpretTarget, readTarget, type RequestRules } from '../request/parse-request.js';
import { createOriginCheck } from '../security/origin-verify.js';
import { createSecretsProvider, type SecretsProvider } from '../security/signing-secrets.js';
import { checkExpiry, verifySignature } from '../security/url-signature.js';
import type { VariantService } from '../service.js';
import { buildSpec } from '../transform/spec.js';
import { imageCacheControl } from './cache-control.js';
import { corsHeaders } from './cors.js';
import { errorToHttpResponse, toHttpResponse, type HttpResponse } from './response.js';

export interface ResizeHandlerDeps {
  readonly config: Config;
  readonly service: VariantService;
  readonly log: ServiceLogger;
  /** Request metrics (EMF), flushed once per invocation; none by default. */
  readonly metrics?: ServiceMetrics;
  /** The URL-signing secrets; by default loaded from the configured source on first use. */
  readonly signingSecrets?: SecretsProvider;
  /** The secrets CloudFront sends in `X-Origin-Verify`; by default loaded from `config.edge.originVerify` on first use. */
  readonly originSecrets?: SecretsProvider;
  /** The clock, in milliseconds (tests move it to check expiry). */
  readonly now?: () => number;
  /**
   * Answer images as raw bytes, of any size (the engine, which writes them to its socket itself).
   * Lambda's answers are base64 and at most `maxInlineBytes`; larger ones are a 302 to the stored copy.
   */
  readonly rawBodies?: boolean;
}

export type ResizeHandler = (event: APIGatewayProxyEventV2) => Promise<HttpResponse>;

const roundTimings = (t: { s3Read: number; transform: number; s3Write: number }) => ({
  s3Read: Math.round(t.s3Read),
  transform: Math.round(t.transform),
  s3Write: Math.round(t.s3Write),
});

/** Keys, relative to the originals prefix, that would name stored variants (same-bucket setups). */
export function reservedKeyPrefix(config: Config): string | undefined {
  if (config.originalsBucket !== config.variantsBucket) return undefined;
  return config.variantsPrefix.startsWith(config.originalsPrefix)
    ? config.variantsPrefix.slice(config.originalsPrefix.length)
    : undefined;
}

export function requestRules(config: Config): RequestRules {
  return {
    reservedPrefix: reservedKeyPrefix(config),
    maxKeyBytes: MAX_KEY_BYTES - Buffer.byteLength(config.originalsPrefix, 'utf8'),
    presets: config.presets,
    allowlist: config.allowlist,
    compat: { ...config.urlCompat, bucket: config.originalsBucket, prefix: config.originalsPrefix },
  };
}

/**
 * Event in, response out: access checks (origin, method, signature, expiry), parsing, the service
 * and the error mapping, nothing else. The origin-verify header is checked first, then the
 * signature, each before anything about the request is interpreted: traffic that bypassed the
 * CDN learns nothing at all, unsigned traffic nothing about keys or parameters.
 */
export function makeResizeHandler({
  config,
  service,
  log,
  metrics = noMetrics,
  signingSecrets = createSecretsProvider(config.signingSecrets),
  originSecrets = createSecretsProvider(config.edge.originVerify, {
    noun: 'origin-verify secret',
    unavailableMessage: 'Access cannot be checked right now; retry shortly.',
  }),
  now = Date.now,
  rawBodies = false,
}: ResizeHandlerDeps): ResizeHandler {
  const rules = requestRules(config);
  const checkOrigin = createOriginCheck(originSecrets);
  let invocations = 0;
  return async (event) => {
    const started = performance.now();
    // The first invocation of this instance; Lambda's request id is on its own START/END lines.
    const context = { requestId: event.requestContext?.requestId, coldStart: invocations++ === 0 };
    const elapsed = () => Math.round(performance.now() - started);
    let outcome: RequestOutcome | undefined;
    const cors = corsHeaders(config.cors, header(event, 'origin'));
    // Seconds until a signed URL expires, once known. A signed URL stops working at `expires`: no
    // cache may keep serving it past that, not even the stored copy a 302 sends the client to.
    let lifetime: number | undefined;
    const capped = (seconds: number) => (lifetime === undefined ? seconds : Math.min(seconds, lifetime));
    try {
      await checkOrigin(event.headers);
      const method = event.requestContext?.http?.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError(method);
      const target = readTarget({
        decodedPath: event.pathParameters?.proxy,
        rawPath: event.rawPath,
        rawQueryString: event.rawQueryString,
        headers: event.headers,
      });
      const nowSeconds = Math.floor(now() / 1000);
      const secrets = await signingSecrets();
      if (secrets) verifySignature(secrets, target.path, target.entries);
      const expires = checkExpiry(target.entries, nowSeconds);
      if (expires !== undefined) lifetime = expires - nowSeconds;

      const request = interpretTarget(target, rules);
      const { spec, varyAccept } = buildSpec(request.params, {
        accept: request.accept,
        defaultQuality: config.defaultQuality,
        maxOutputPixels: config.maxOutputPixels,
      });
      const result = await service.getVariant({ key: request.key, spec, ifNoneMatch: request.ifNoneMatch });
      const cacheMaxAge = capped(config.cacheMaxAge);
      const cdnMaxAge = config.edge.cdnMaxAge === undefined ? undefined : capped(config.edge.cdnMaxAge);
      const response = await toHttpResponse(result, {
        cacheMaxAge,
        cdnMaxAge,
        headers: cors,
        headOnly: method === 'HEAD',
        maxInlineBytes: rawBodies ? Number.POSITIVE_INFINITY : config.maxInlineBytes,
        rawBodies,
        varyAccept,
        variantUrl: () =>
          service.variantUrl(result.id, lifetime === undefined ? undefined : imageCacheControl(cacheMaxAge, cdnMaxAge)),
      });
      const served = result.kind === 'not-modified' ? undefined : result;
      outcome = {
        cache: result.kind,
        redirect: response.statusCode === 302,
        timings: served?.timings,
        originalBytes: served?.originalBytes,
        outputBytes: served?.body.length,
      };
      // The one line per request: never the query (it may hold a signature), only what it means.
      log.info('request served', {
        ...context,
        key: request.key,
        spec: result.id.spec,
        preset: request.presetName,
        status: response.statusCode,
        cache: result.kind,
        bytes: served?.body.length,
        originalBytes: served?.originalBytes,
        timings: served && roundTimings(served.timings),
        ms: elapsed(),
      });
      return response;
    } catch (caught) {
      const error = toServiceError(caught);
      outcome = { errorCode: error.code };
      const details = { ...context, status: error.statusCode, code: error.code, path: event.rawPath, ms: elapsed() };
      if (error.expose) log.info('request refused', details);
      else log.error('request failed', { ...details, error: caught as Error });
      return errorToHttpResponse(error, { headers: cors, errorMaxAge: capped(config.edge.errorMaxAge) });
    } finally {
      if (outcome) metrics.request(outcome);
      metrics.flush();
    }
  };
}
