import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMetricsPrinter, formatEmf, parseEmf } from '../../scripts/local-metrics.js';
import { s3Notification } from '../../scripts/s3-notifications.js';
import { photoLikeJpeg, seededBytes } from '../../scripts/samples.js';
import { makeResizeHandler } from '../../src/http/resize-handler.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, SERVICES } from '../../src/observability/metrics.js';
import { signPath } from '../../src/security/url-signature.js';
import { syncVariants } from '../../src/sync/sync-variants.js';
import { runBatchCli } from '../support/batch-cli.js';
import { bodyBytes, event, ORIGINALS, startStack, testEnv, uniqueKey, type App, type Stack } from '../support/stack.js';

/**
 * The metrics the functions print (CloudWatch EMF, one JSON line per invocation), read back from
 * stdout as CloudWatch would: the real handler, service, syncVariants and batch worker against the
 * real local S3; nothing of ours replaced. docs/observability.md lists what is asserted here.
 */

interface Emf {
  readonly _aws: { readonly Timestamp: number; readonly CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  readonly [field: string]: unknown;
}

/** Everything written to stdout and stderr from now until `stop()`. */
function captureOutput() {
  const chunks: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown) => {
      chunks.push(String(chunk));
      return true;
    }) as typeof stream.write);
  }
  return {
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(Boolean),
    emf: () => emfLines(chunks.join('')),
  };
}
afterEach(() => vi.restoreAllMocks());

const emfLines = (text: string): Emf[] => text.split('\n').filter((l) => l.startsWith('{"_aws"')).map((l) => JSON.parse(l) as Emf);
/** Metric name → unit, as declared in the EMF metadata. */
const units = (emf: Emf) => Object.fromEntries(emf._aws.CloudWatchMetrics[0]!.Metrics.map((m) => [m.Name, m.Unit]));
const directive = (emf: Emf) => emf._aws.CloudWatchMetrics[0]!;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
}, 60_000);
afterAll(() => stack?.close());

describe('resize: one EMF line per request, from the real handler', () => {
  let app: App;
  let key: string;
  let original: Buffer;
  const captured: string[] = [];

  beforeAll(async () => {
    app = stack.app({ env: { STAGE: 'test' }, metrics: true });
    key = uniqueKey('photos/metrics.jpg');
    original = await photoLikeJpeg(300, 200);
    await stack.seed(key, original);
  });

  /** One request, and the EMF lines it printed. */
  async function request(...args: Parameters<typeof event>) {
    const output = captureOutput();
    const response = await app.handler(event(...args));
    vi.restoreAllMocks();
    captured.push(...output.lines());
    return { response, emf: output.emf() };
  }

  it('a miss: Miss, S3 read, transform and write times, original and output bytes', async () => {
    const { response, emf } = await request(key, 'w=120&fm=webp');
    expect(response.headers['X-Cache']).toBe('miss');
    expect(emf).toHaveLength(1);
    const [line] = emf as [Emf];
    expect(directive(line).Namespace).toBe('ImageResizer');
    expect(directive(line).Dimensions).toEqual([['service', 'stage']]);
    expect(units(line)).toEqual({
      Miss: 'Count',
      S3ReadTime: 'Milliseconds',
      TransformTime: 'Milliseconds',
      S3WriteTime: 'Milliseconds',
      OriginalBytes: 'Bytes',
      OutputBytes: 'Bytes',
    });
    expect(line).toMatchObject({ service: 'image-resizer', stage: 'test', Miss: 1, OriginalBytes: original.length, OutputBytes: bodyBytes(response).length });
    expect(line.TransformTime).toBeGreaterThan(0);
    expect(line.S3ReadTime).toBeGreaterThan(0);
    expect(line.S3WriteTime).toBeGreaterThan(0);
    expect(Math.abs(line._aws.Timestamp - Date.now())).toBeLessThan(60_000);
  });

  it('a hit: Hit, the S3 read time and the bytes served; nothing rendered or written', async () => {
    const { response, emf } = await request(key, 'w=120&fm=webp');
    expect(response.headers['X-Cache']).toBe('hit');
    expect(emf).toHaveLength(1);
    expect(units(emf[0]!)).toEqual({ Hit: 'Count', S3ReadTime: 'Milliseconds', OutputBytes: 'Bytes' });
    expect(emf[0]).toMatchObject({ service: 'image-resizer', stage: 'test', Hit: 1, OutputBytes: bodyBytes(response).length });
  });

  it('a 304: NotModified only', async () => {
    captureOutput();
    const etag = (await app.handler(event(key, 'w=120&fm=webp'))).headers.ETag!;
    vi.restoreAllMocks();
    const { response, emf } = await request(key, 'w=120&fm=webp', { 'If-None-Match': etag });
    expect(response.statusCode).toBe(304);
    expect(emf).toHaveLength(1);
    expect(units(emf[0]!)).toEqual({ NotModified: 'Count' });
    expect(directive(emf[0]!).Dimensions).toEqual([['service', 'stage']]);
    expect(emf[0]).toMatchObject({ NotModified: 1 });
  });

  it.each([
    ['a 404', () => uniqueKey('missing.jpg'), 'w=120', 404, 'original_not_found'],
    ['a 400', () => key, 'w=abc', 400, 'invalid_param'],
  ])('%s: Errors, with the error code as its one extra dimension', async (_, path, query, status, code) => {
    const { response, emf } = await request(path(), query);
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body!).error.code).toBe(code);
    expect(emf).toHaveLength(1);
    expect(units(emf[0]!)).toEqual({ Errors: 'Count' });
    expect(directive(emf[0]!).Dimensions).toEqual([['service', 'stage', 'code']]);
    expect(emf[0]).toMatchObject({ service: 'image-resizer', stage: 'test', code, Errors: 1 });
  });

  it('a body over MAX_INLINE_BYTES: Redirect on top of Miss, then of Hit', async () => {
    const small = stack.app({ env: { STAGE: 'test', MAX_INLINE_BYTES: '500' }, metrics: true });
    const bigKey = uniqueKey('photos/redirect.jpg');
    await stack.seed(bigKey, original);
    const counts = [];
    for (let i = 0; i < 2; i++) {
      const output = captureOutput();
      const response = await small.handler(event(bigKey, 'w=200&fm=jpeg'));
      vi.restoreAllMocks();
      expect(response.statusCode).toBe(302);
      const [line, more] = output.emf();
      expect(more).toBeUndefined();
      counts.push(Object.entries(units(line!)).filter(([, unit]) => unit === 'Count').map(([name]) => `${name} ${line![name]}`));
    }
    expect(counts).toEqual([
      ['Miss 1', 'Redirect 1'],
      ['Hit 1', 'Redirect 1'],
    ]);
  });

  it('Hit and Miss are separate Count metrics with the same dimensions: Hit / (Hit + Miss) is the hit ratio', () => {
    const all = emfLines(captured.join('\n'));
    const total = (name: string) => all.reduce((n, e) => n + (typeof e[name] === 'number' ? (e[name] as number) : 0), 0);
    expect([total('Hit'), total('Miss'), total('NotModified'), total('Errors')]).toEqual([1, 1, 1, 2]);
    const dimensionsOf = (name: string) => all.filter((e) => name in e).map((e) => directive(e).Dimensions);
    expect(dimensionsOf('Hit')).toEqual(dimensionsOf('Miss'));
  });

  it('prints as npm start shows it: one short line per request, a running hit ratio, no raw JSON', () => {
    const printer = createMetricsPrinter({ ratioEvery: 5 });
    const shown = captured.flatMap((line) => printer(`[offline] ${line}`) ?? []);
    expect(shown).toHaveLength(6);
    expect(shown[0]).toMatch(/^metrics: miss 1 · transform [\d.]+ ms · s3 read [\d.]+ ms · s3 write [\d.]+ ms · in \d+ KB · out \d+ (B|KB)$/);
    expect(shown[1]).toMatch(/^metrics: hit 1 · s3 read [\d.]+ ms · out \d+ (B|KB)$/);
    expect(shown.slice(2)).toEqual([
      'metrics: not-modified 1',
      'metrics: error original_not_found 1',
      'metrics: error invalid_param 1',
      'metrics: hit ratio 50 % (1 hits / 2 hits+misses) over 5 requests',
    ]);
    // Any other line is left to the caller, printed as it is; the JSON itself only when asked for.
    expect(printer('[offline] {"level":"INFO","message":"request served"}')).toBeUndefined();
    const raw = captured.find((l) => l.startsWith('{"_aws"'))!;
    expect(createMetricsPrinter({ raw: true })(raw)).toEqual([raw, `metrics: ${formatEmf(parseEmf(raw)!)}`]);
  });
});

describe('secrets never reach the logs or the metrics', () => {
  const SIGNING = 'metrics-signing-secret-0123456789';
  const ORIGIN = 'metrics-origin-verify-5f1c0e7b2a9d4c36';

  it('neither a signed URL’s s= value nor the X-Origin-Verify value, whatever the answer', async () => {
    const app = stack.app({ env: { SIGNING_SECRETS: SIGNING, ORIGIN_VERIFY_SECRET: ORIGIN, POWERTOOLS_LOG_LEVEL: 'DEBUG' } });
    const handler = makeResizeHandler({
      config: app.config,
      service: app.service,
      log: createLogger('metrics-secrets-test'),
      metrics: createMetrics(SERVICES.resize, app.config.metrics),
    });
    const key = uniqueKey('photos/signed.jpg');
    await stack.seed(key, await photoLikeJpeg(80, 60));
    const signed = [signPath(`/${key}?w=40`, SIGNING), signPath(`/${key}?w=abc`, SIGNING), signPath(`/${uniqueKey('missing.jpg')}?w=40`, SIGNING)];
    const signatures = signed.map((url) => new URL(url, 'http://x').searchParams.get('s')!);
    expect(signatures.every((s) => s.length >= 16)).toBe(true);
    const forged = `/${key}?w=40&s=${'A'.repeat(43)}`;

    const output = captureOutput();
    const statuses = [];
    for (const url of [...signed, forged]) {
      const [path, query] = url.slice(1).split('?') as [string, string];
      for (const origin of [ORIGIN, 'wrong-origin-value-0000000000', undefined]) {
        const headers: Record<string, string> = origin === undefined ? {} : { 'X-Origin-Verify': origin };
        statuses.push((await handler(event(decodeURIComponent(path), query, headers))).statusCode);
      }
    }
    vi.restoreAllMocks();
    expect(statuses).toEqual([200, 403, 403, 400, 403, 403, 404, 403, 403, 403, 403, 403]);
    const text = output.text();
    expect(text).toContain('request served');
    expect(text).toContain('request refused');
    expect(output.emf()).toHaveLength(12);
    for (const secret of [...signatures, 'A'.repeat(43), ORIGIN, SIGNING]) expect(text).not.toContain(secret);
  });
});

describe('syncVariants', () => {
  it('counts the variants it deleted and the URLs it had the CDN forget', async () => {
    const app = stack.app({ env: { STAGE: 'test' } });
    const key = uniqueKey('photos/synced.jpg');
    await stack.seed(key, await photoLikeJpeg(90, 60, { seed: 1 }));
    for (const query of ['w=40', 'w=30&fm=webp']) expect((await app.handler(event(key, query))).statusCode).toBe(200);
    await stack.seed(key, await photoLikeJpeg(90, 60, { seed: 2 }));

    const metrics = createMetrics(SERVICES.sync, app.config.metrics);
    const invalidated: string[] = [];
    const output = captureOutput();
    const result = await syncVariants(s3Notification([{ bucket: ORIGINALS, key, eventName: 'ObjectCreated:Put' }]), {
      config: app.config,
      store: app.store,
      log: app.log,
      eagerVariants: [],
      invalidate: async (keys) => void invalidated.push(...keys),
      metrics,
    });
    metrics.flush();
    vi.restoreAllMocks();
    expect(result.deleted).toBe(2);
    expect(invalidated).toEqual([key]);
    const emf = output.emf();
    expect(emf).toHaveLength(1);
    expect(directive(emf[0]!).Dimensions).toEqual([['service', 'stage']]);
    expect(units(emf[0]!)).toEqual({ VariantsDeleted: 'Count', Invalidations: 'Count', EagerRendered: 'Count', EagerFailed: 'Count' });
    expect(emf[0]).toMatchObject({ service: 'image-resizer-sync', stage: 'test', VariantsDeleted: 2, Invalidations: 1, EagerRendered: 0, EagerFailed: 0 });
  });
});

describe('the batch worker', () => {
  it('prints done, skipped and failed before its summary, which stays the last line', async () => {
    const prefix = `metrics-batch-${process.pid}/`;
    for (let i = 0; i < 3; i++) await stack.seed(`${prefix}ok-${i}.jpg`, await photoLikeJpeg(48, 32, { seed: i + 1 }));
    await stack.seed(`${prefix}corrupt.jpg`, seededBytes(800, 9));
    const env = testEnv(stack.s3.endpoint, { STAGE: 'test' });
    delete env.IS_LOCAL;
    const counts = [];
    for (const jobId of ['metrics-first', 'metrics-again']) {
      const run = await runBatchCli(['--prefix', prefix, '--spec', 'w=24&fm=webp', '--job-id', jobId], env);
      expect(run.code).toBe(1);
      const lines = run.stdout.trim().split('\n');
      const emf = emfLines(run.stdout);
      expect(emf).toHaveLength(1);
      expect(lines.at(-1)).toBe(JSON.stringify(run.summary));
      expect(lines.findIndex((l) => l.startsWith('{"_aws"'))).toBeLessThan(lines.length - 1);
      expect(directive(emf[0]!).Dimensions).toEqual([['service', 'stage']]);
      expect(units(emf[0]!)).toEqual({ BatchDone: 'Count', BatchSkipped: 'Count', BatchFailed: 'Count' });
      expect(emf[0]).toMatchObject({ service: 'image-resizer-batch', stage: 'test' });
      expect([emf[0]!.BatchDone, emf[0]!.BatchSkipped, emf[0]!.BatchFailed]).toEqual([run.summary.done, run.summary.skipped, run.summary.failed]);
      counts.push([run.summary.done, run.summary.skipped, run.summary.failed]);
    }
    expect(counts).toEqual([
      [3, 0, 1],
      [0, 3, 1],
    ]);
  }, 120_000);

  it('prints no metrics for a dry run', async () => {
    const env = testEnv(stack.s3.endpoint, { STAGE: 'test' });
    delete env.IS_LOCAL;
    const run = await runBatchCli(['--prefix', `metrics-batch-${process.pid}/`, '--spec', 'w=25', '--dry-run'], env);
    expect(run.summary).toMatchObject({ status: 'complete', dryRun: true });
    expect(emfLines(run.stdout)).toEqual([]);
  }, 120_000);
});
