import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * A node:http request as the API Gateway HTTP API (payload 2.0) event the resize handler reads,
 * so the engine and the Lambda share every rule: parsing, signing, limits, errors, headers.
 * The request body is never read (GET and HEAD only; anything else is a 405 from the handler).
 */
export function toEvent(req: IncomingMessage, now = new Date()): APIGatewayProxyEventV2 {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  // An absolute-form target (a proxy's "GET http://host/path") still names only a path here.
  const rawPath = normalisePath(q < 0 ? target : target.slice(0, q));
  const rawQueryString = q < 0 ? '' : target.slice(q + 1);
  const { headers, cookies } = lowerCaseHeaders(req.rawHeaders);
  const method = (req.method ?? 'GET').toUpperCase();
  const queryStringParameters = joinedQuery(rawQueryString);
  const proxy = decodeProxy(rawPath);
  const routeKey = `${method === 'GET' ? 'GET' : 'ANY'} /{proxy+}`;
  const domainName = headers.host?.replace(/:\d+$/, '') ?? 'localhost';
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    headers,
    ...(cookies.length > 0 ? { cookies } : {}),
    ...(rawQueryString ? { queryStringParameters } : {}),
    // API Gateway hands the decoded path to {proxy+}; one it cannot decode stays unset, so the
    // handler decodes rawPath itself and answers the same 400 the Lambda would.
    ...(proxy === undefined ? {} : { pathParameters: { proxy } }),
    requestContext: {
      accountId: 'local',
      apiId: 'engine',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: `engine-${now.getTime().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
      routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
}

function normalisePath(path: string): string {
  if (path.startsWith('/')) return path;
  try {
    return new URL(path).pathname;
  } catch {
    return `/${path}`;
  }
}

function decodeProxy(rawPath: string): string | undefined {
  try {
    return decodeURIComponent(rawPath.replace(/^\/+/, ''));
  } catch {
    return undefined;
  }
}

/** API Gateway joins repeated headers with commas and moves Cookie headers to `cookies`. */
function lowerCaseHeaders(raw: readonly string[]): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === 'cookie') {
      cookies.push(...value.split(/;\s*/).filter(Boolean));
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return { headers, cookies };
}

/** Repeated query parameters are joined with commas, as API Gateway does. */
function joinedQuery(rawQueryString: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    params[name] = name in params ? `${params[name]},${value}` : value;
  }
  return params;
}
