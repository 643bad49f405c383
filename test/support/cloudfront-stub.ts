import { createServer, type IncomingHttpHeaders } from 'node:http';
import { listenOnLoopback } from './loopback-server.js';
import { XMLParser } from 'fast-xml-parser';

/**
 * A stand-in for CloudFront's CreateInvalidation on 127.0.0.1 that speaks its wire protocol
 * (REST-XML: POST /2020-05-31/distribution/{Id}/invalidation with an InvalidationBatch, 201 with
 * an Invalidation; errors as an ErrorResponse), so the real SDK client and our invalidator run
 * unchanged. It records each request and answers with what the test gives it.
 */

export interface InvalidationRequest {
  readonly method: string;
  readonly url: string;
  /** From the URL; undefined when the URL is not CreateInvalidation's. */
  readonly distributionId?: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The parsed InvalidationBatch; Quantity as sent, not recomputed. */
  readonly batch: { readonly callerReference: string; readonly quantity: number; readonly paths: readonly string[] };
}

export type CloudFrontAnswer =
  | { readonly kind: 'created' }
  | { readonly kind: 'error'; readonly status: number; readonly code: string; readonly message: string; readonly type?: 'Sender' | 'Receiver' };

export const created: CloudFrontAnswer = { kind: 'created' };
export const tooManyInProgress: CloudFrontAnswer = {
  kind: 'error', status: 400, code: 'TooManyInvalidationsInProgress',
  message: 'Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.',
};
export const accessDenied: CloudFrontAnswer = {
  kind: 'error', status: 403, code: 'AccessDenied',
  message: 'User: arn:aws:sts::123456789012:assumed-role/resizer/sync is not authorized to perform: cloudfront:CreateInvalidation',
};
export const noSuchDistribution: CloudFrontAnswer = { kind: 'error', status: 404, code: 'NoSuchDistribution', message: 'The specified distribution does not exist.' };
export const serviceUnavailable: CloudFrontAnswer = { kind: 'error', status: 503, code: 'ServiceUnavailable', message: 'Service Unavailable', type: 'Receiver' };

/** `answer` for: `times` requests get `first`, every later one is created. */
export const failFirst = (times: number, first: CloudFrontAnswer) => (_request: InvalidationRequest, index: number) => (index < times ? first : created);

export interface CloudFrontStub {
  readonly endpoint: string;
  readonly requests: InvalidationRequest[];
  /** What the next requests get; `index` counts from 0 since this call (default: every one created). */
  answer(fn: (request: InvalidationRequest, index: number) => CloudFrontAnswer): void;
  close(): Promise<void>;
}

const NS = 'http://cloudfront.amazonaws.com/doc/2020-05-31/';
const ROUTE = /^\/2020-05-31\/distribution\/([^/?]+)\/invalidation$/;
const parser = new XMLParser({ parseTagValue: false, isArray: (name) => name === 'Path' });
const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function parseBatch(body: string): InvalidationRequest['batch'] {
  try {
    const batch = parser.parse(body)?.InvalidationBatch ?? {};
    return {
      callerReference: String(batch.CallerReference ?? ''),
      quantity: Number(batch.Paths?.Quantity),
      paths: (batch.Paths?.Items?.Path ?? []).map(String),
    };
  } catch {
    return { callerReference: '', quantity: Number.NaN, paths: [] };
  }
}

export async function startCloudFrontStub(): Promise<CloudFrontStub> {
  const requests: InvalidationRequest[] = [];
  let respond: (request: InvalidationRequest, index: number) => CloudFrontAnswer = () => created;
  let answered = 0;
  let createdCount = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // 3000 paths of a few hundred bytes at most: anything bigger is a bug.
      if (size > 8 * 1024 * 1024) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = req.url ?? '';
      const distributionId = req.method === 'POST' ? ROUTE.exec(url)?.[1] : undefined;
      const request: InvalidationRequest = { method: req.method ?? '', url, distributionId, headers: req.headers, body, batch: parseBatch(body) };
      requests.push(request);
      const answer: CloudFrontAnswer = distributionId
        ? respond(request, answered++)
        : { kind: 'error', status: 400, code: 'StubUnexpectedRequest', message: `the stub answers CreateInvalidation only, not ${req.method} ${url}` };
      const requestId = `stub-${requests.length}`;
      if (answer.kind === 'error') {
        res.writeHead(answer.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
        res.end(
          `<?xml version="1.0"?>\n<ErrorResponse xmlns="${NS}"><Error><Type>${answer.type ?? 'Sender'}</Type><Code>${answer.code}</Code>` +
            `<Message>${xml(answer.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
        return;
      }
      const id = `I${String(++createdCount).padStart(4, '0')}STUBEXAMPLE`;
      const { batch } = request;
      res.writeHead(201, {
        'content-type': 'text/xml',
        'x-amzn-requestid': requestId,
        location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${distributionId}/invalidation/${id}`,
      });
      res.end(
        `<?xml version="1.0"?>\n<Invalidation xmlns="${NS}"><Id>${id}</Id><Status>InProgress</Status>` +
          `<CreateTime>${new Date().toISOString()}</CreateTime><InvalidationBatch><Paths><Quantity>${batch.paths.length}</Quantity>` +
          `<Items>${batch.paths.map((p) => `<Path>${xml(p)}</Path>`).join('')}</Items></Paths>` +
          `<CallerReference>${xml(batch.callerReference)}</CallerReference></InvalidationBatch></Invalidation>`,
      );
    });
  });
  const { endpoint, close } = await listenOnLoopback(server);
  return {
    endpoint,
    requests,
    answer(fn) {
      respond = fn;
      answered = 0;
    },
    close,
  };
}
