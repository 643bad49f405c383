import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Config } from '../config.js';
import { MethodNotAllowedError, toServiceError } from '../errors.js';
import type { ServiceLogger } from '../observability/logger.js';
import { parseRequest } from '../request/parse-request.js';
import type { VariantService } from '../service.js';
import { buildSpec } from '../transform/spec.js';
import { errorToHttpResponse, toHttpResponse, type HttpResponse } from './response.js';

export interface ResizeHandlerDeps {
  readonly config: Config;
  readonly service: VariantService;
  readonly log: ServiceLogger;
}

export type ResizeHandler = (event: APIGatewayProxyEventV2) => Promise<HttpResponse>;

/** Keys, relative to the originals prefix, that would name stored variants (same-bucket setups). */
export function reservedKeyPrefix(config: Config): string | undefined {
  if (config.originalsBucket !== config.variantsBucket) return undefined;
  return config.variantsPrefix.startsWith(config.originalsPrefix)
    ? config.variantsPrefix.slice(config.originalsPrefix.length)
    : undefined;
}

/** Event in, response out: parsing, the service and the error mapping, nothing else. */
export function makeResizeHandler({ config, service, log }: ResizeHandlerDeps): ResizeHandler {
  const keyRules = { reservedPrefix: reservedKeyPrefix(config) };
  return async (event) => {
    const started = performance.now();
    try {
      const method = event.requestContext?.http?.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') {
        throw new MethodNotAllowedError(method);
      }
      const request = parseRequest(
        {
          decodedPath: event.pathParameters?.proxy,
          rawPath: event.rawPath,
          rawQueryString: event.rawQueryString,
          headers: event.headers,
        },
        keyRules,
      );
      const { spec, varyAccept } = buildSpec(request.params, {
        accept: request.accept,
        defaultQuality: config.defaultQuality,
        maxOutputPixels: config.maxOutputPixels,
      });
      const result = await service.getVariant({ key: request.key, spec, ifNoneMatch: request.ifNoneMatch });
      const response = await toHttpResponse(result, {
        cacheMaxAge: config.cacheMaxAge,
        maxInlineBytes: config.maxInlineBytes,
        varyAccept,
        variantUrl: () => service.variantUrl(result.id),
      });
      log.info('request served', {
        key: request.key,
        spec: result.id.spec,
        status: response.statusCode,
        cache: result.kind,
        ms: Math.round(performance.now() - started),
      });
      return response;
    } catch (caught) {
      const error = toServiceError(caught);
      const details = { status: error.statusCode, code: error.code, path: event.rawPath };
      if (error.expose) log.info('request refused', details);
      else log.error('request failed', { ...details, error: caught as Error });
      return errorToHttpResponse(error);
    }
  };
}
