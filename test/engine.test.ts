import { connect } from 'node:net';
import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photoLikeJpeg } from '../scripts/samples.js';
import { startEngine, type Engine } from '../src/engine/server.js';
import { bodyBytes, event, startStack, uniqueKey, VARIANTS, type Stack } from './support/stack.js';

const RELEVANT = ['Content-Type', 'Cache-Control', 'ETag', 'Vary', 'X-Cache', 'Retry-After', 'Location'] as const;
const WAIT_MS = 20_000;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  readonly body: Buffer;
}

async function fetchAnswer(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(WAIT_MS) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: Object.fromEntries(RELEVANT.map((h) => [h, res.headers.get(h) ?? undefined])), body };
}

/** Resolves when `ready()` holds, rejects after a bound. */
async function until(ready: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether a new TCP connection to the engine is refused. */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 5_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code === 'ECONNREFUSED');
    });
  });
}

let stack: Stack;
let engine: Engine;
let big: Buffer;

beforeAll(async () => {
  stack = await startStack();
  engine = await startEngine({ config: stack.config, store: stack.store, log: stack.log, port: 0, concurrency: 4, queue: 16 });
  // Slow enough to render (12 MP) that concurrent requests overlap.
  big = await photoLikeJpeg(4000, 3000, { quality: 90 });
});

afterAll(async () => {
  await engine?.close();
  await stack?.close();
});

async function wipeVariants(): Promise<void> {
  const keys = (await stack.listing()).map((v) => ({ Key: v.key }));
  for (let i = 0; i < keys.length; i += 1000) {
    await stack.client.send(new DeleteObjectsCommand({ Bucket: VARIANTS, Delete: { Objects: keys.slice(i, i + 1000) } }));
  }
}

describe('the engine', () => {
  it('answers /_health itself', async () => {
    const res = await fetchAnswer(`${engine.url}/_health`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ status: 'ok' });
  });

  it('builds the event API Gateway would', async () => {
    const seen: APIGatewayProxyEventV2[] = [];
    const probe = await startEngine({
      config: stack.config,
      concurrency: 1,
      queue: 1,
      handler: async (e) => {
        seen.push(e);
        return { statusCode: 204, headers: {} };
      },
    });
    try {
      const path = 'photos/a b/ünï%.jpg';
      const expected = event(path, 'w=100&fm=webp&w=200', { Accept: 'image/webp', 'X-Thing': 'one' });
      const target = `${probe.url}${expected.rawPath}?${expected.rawQueryString}`;
      const res = await fetch(target, {
        headers: { Accept: 'image/webp', 'X-Thing': 'one', Cookie: 'a=1; b=2' },
        signal: AbortSignal.timeout(WAIT_MS),
      });
      expect(res.status).toBe(204);
      const [got] = seen;
      expect(got).toMatchObject({
        version: '2.0',
        rawPath: expected.rawPath,
        rawQueryString: expected.rawQueryString,
        queryStringParameters: expected.queryStringParameters,
        pathParameters: { proxy: path },
        cookies: ['a=1', 'b=2'],
        isBase64Encoded: false,
        requestContext: { http: { method: 'GET', path: expected.rawPath, sourceIp: '127.0.0.1' } },
      });
      expect(got!.headers).toMatchObject({ accept: 'image/webp', 'x-thing': 'one' });
      expect(Object.keys(got!.headers).every((h) => h === h.toLowerCase())).toBe(true);
      expect(got!.headers.cookie).toBeUndefined();
    } finally {
      await probe.close();
    }
  });

  it('answers exactly as the Lambda handler does', async () => {
    const key = uniqueKey('engine/photo.jpg');
    await stack.seed(key, await photoLikeJpeg(640, 480));
    const missing = uniqueKey('engine/missing.jpg');
    const accept = { Accept: 'image/jpeg,*/*' };
    type Step = { name: string; path: string; query: string; headers: (previous: Answer[]) => Record<string, string> };
    const steps: Step[] = [
      { name: 'miss', path: key, query: 'w=120&fm=png', headers: () => accept },
      { name: 'hit', path: key, query: 'w=120&fm=png', headers: () => accept },
      { name: '404', path: missing, query: 'w=100', headers: () => accept },
      { name: '400', path: key, query: 'w=abc', headers: () => accept },
      { name: 'classic', path: `300x200/${key}`, query: '', headers: () => accept },
      { name: 'fm=auto', path: key, query: 'w=90&fm=auto', headers: () => ({ Accept: 'image/webp,*/*' }) },
      { name: '304', path: key, query: 'w=120&fm=png', headers: (prev) => ({ ...accept, 'If-None-Match': prev[1]!.headers.ETag! }) },
    ];

    async function run(ask: (step: Step, headers: Record<string, string>) => Promise<Answer>): Promise<Answer[]> {
      await wipeVariants();
      const answers: Answer[] = [];
      for (const step of steps) answers.push(await ask(step, step.headers(answers)));
      return answers;
    }

    const lambda = await run(async (step, headers) => {
      const res = await stack.handler(event(step.path, step.query, headers));
      return {
        status: res.statusCode,
        headers: Object.fromEntries(RELEVANT.map((h) => [h, res.headers[h]])),
        body: bodyBytes(res),
      };
    });
    const served = await run(async (step, headers) => {
      const e = event(step.path, step.query);
      return fetchAnswer(`${engine.url}${e.rawPath}${e.rawQueryString ? `?${e.rawQueryString}` : ''}`, headers);
    });

    expect(lambda.map((a) => a.status)).toEqual([200, 200, 404, 400, 200, 200, 304]);
    expect(lambda.map((a) => a.headers['X-Cache'])).toEqual(['miss', 'hit', undefined, undefined, 'miss', 'miss', undefined]);
    expect(lambda[5]!.headers.Vary).toMatch(/Accept/);
    expect(JSON.parse(lambda[3]!.body.toString())).toMatchObject({ error: { code: expect.any(String) } });
    steps.forEach((step, i) => {
      expect({ step: step.name, status: served[i]!.status, headers: served[i]!.headers }).toEqual({
        step: step.name,
        status: lambda[i]!.status,
        headers: lambda[i]!.headers,
      });
      expect(served[i]!.body.equals(lambda[i]!.body), `${step.name}: identical body`).toBe(true);
    });
  });

  it('answers an output over Lambda\'s inline limit with its bytes, where the Lambda redirects', async () => {
    const key = uniqueKey('engine/large.jpg');
    await stack.seed(key, big);
    // A low limit stands for Lambda's 6 MB: the same rule, a smaller render.
    const app = stack.app({ env: { MAX_INLINE_BYTES: '50000' } });
    const large = await startEngine({ config: app.config, store: app.store, log: app.log, concurrency: 2, queue: 2 });
    try {
      const lambda = await app.handler(event(key, 'w=1200&fm=png'));
      expect(lambda.statusCode).toBe(302);
      const answer = await fetchAnswer(`${large.url}/${key}?w=1200&fm=png`);
      expect(answer.status).toBe(200);
      expect(answer.headers['Content-Type']).toBe('image/png');
      expect(answer.headers['X-Cache']).toBe('hit');
      expect(answer.body.length).toBeGreaterThan(50000);
      const stored = await fetch(lambda.headers.Location!, { signal: AbortSignal.timeout(WAIT_MS) });
      expect(answer.body.equals(Buffer.from(await stored.arrayBuffer()))).toBe(true);
      const miss = await fetchAnswer(`${large.url}/${key}?w=1100&fm=png`);
      expect({ status: miss.status, cache: miss.headers['X-Cache'] }).toEqual({ status: 200, cache: 'miss' });
      expect(miss.body.length).toBeGreaterThan(50000);
    } finally {
      await large.close();
      app.close();
    }
  });

  it('refuses past its queue with 503 overloaded, at once', async () => {
    const key = uniqueKey('engine/big.jpg');
    await stack.seed(key, big);
    const small = await startEngine({ config: stack.config, store: stack.store, log: stack.log, concurrency: 1, queue: 1 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => fetchAnswer(`${small.url}/${key}?w=${1400 + i}&fm=webp`)),
      );
      const statuses = answers.map((a) => a.status).sort();
      const ok = answers.filter((a) => a.status === 200);
      const refusedAnswers = answers.filter((a) => a.status === 503);
      expect(ok.length + refusedAnswers.length, statuses.join()).toBe(6);
      expect(ok.length).toBeGreaterThanOrEqual(2);
      expect(refusedAnswers.length).toBeGreaterThanOrEqual(1);
      for (const r of refusedAnswers) {
        expect(r.headers['Retry-After']).toBe('1');
        expect(r.headers['Content-Type']).toBe('application/json; charset=utf-8');
        expect(JSON.parse(r.body.toString())).toEqual({ error: { code: 'overloaded', message: expect.any(String) } });
      }
      expect(small.load()).toEqual({ active: 0, waiting: 0 });
    } finally {
      await small.close();
    }
  });

  it('drains: in-flight requests finish, new connections are refused', async () => {
    const key = uniqueKey('engine/drain.jpg');
    await stack.seed(key, big);
    const draining = await startEngine({ config: stack.config, store: stack.store, log: stack.log, concurrency: 2, queue: 2 });
    const inFlight = fetchAnswer(`${draining.url}/${key}?w=1500&fm=webp`);
    try {
      await until(() => draining.load().active === 1);
      const drained = draining.drain(10);
      expect(await refused(draining.url)).toBe(true);
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(answer.headers['Content-Type']).toBe('image/webp');
      expect(await drained).toBe(true);
    } finally {
      await draining.close();
    }
  });
});
