import { createServer, type IncomingHttpHeaders } from 'node:http';
import { listenOnLoopback } from './loopback-server.js';

/**
 * A stand-in for ECS on 127.0.0.1 that speaks its wire protocol (AWS JSON 1.1: POST /, the
 * operation in X-Amz-Target, JSON in and out), so the real SDK client and our launcher run
 * unchanged. It records each request and answers with what the test gives it.
 */

export interface EcsRequest {
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

export interface EcsAnswer {
  readonly status?: number;
  readonly body: unknown;
}

export interface EcsStub {
  readonly endpoint: string;
  readonly requests: EcsRequest[];
  /** What the next requests get (default: one started task, no failures). */
  answer(fn: (request: EcsRequest) => EcsAnswer): void;
  close(): Promise<void>;
}

export const TASK_ARN = 'arn:aws:ecs:us-east-1:123456789012:task/image-resizer-test-batch/0123456789abcdef0123456789abcdef';

const started = (): EcsAnswer => ({ body: { tasks: [{ taskArn: TASK_ARN, lastStatus: 'PROVISIONING' }], failures: [] } });

export async function startEcsStub(): Promise<EcsStub> {
  const requests: EcsRequest[] = [];
  let respond: (request: EcsRequest) => EcsAnswer = started;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // RunTask's input is a few kilobytes at most; anything bigger is a bug, not a job.
      if (size > 1024 * 1024) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const request = { target: String(req.headers['x-amz-target'] ?? ''), headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') };
      requests.push(request);
      const { status = 200, body } = respond(request);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `stub-${requests.length}` });
      res.end(JSON.stringify(body));
    });
  });
  const { endpoint, close } = await listenOnLoopback(server);
  return {
    endpoint,
    requests,
    answer(fn) {
      respond = fn;
    },
    close,
  };
}
