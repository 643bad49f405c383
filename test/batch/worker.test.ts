import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImage, photoLikeJpeg, alphaPng, seededBytes } from '../../scripts/samples.js';
import { startFaultyS3Proxy, type FaultyS3Proxy } from '../support/faulty-s3-proxy.js';
import { runBatchCli, spawnBatch } from '../support/batch-cli.js';
import { bodyBytes, event, ORIGINALS, startStack, testEnv, VARIANTS, type Stack } from '../support/stack.js';
import { RENDER_VERSION } from '../../src/transform/variant-key.js';

/**
 * The batch worker end to end, as a separate process against the real local S3 and real sharp:
 * what it stores is what the HTTP API stores, failures land in the report, and a crash, a kill
 * or a stop leaves whole variants that the next run skips.
 */

const SPECS = ['w=40&fm=webp', 'w=32&h=32&fm=jpeg'];
const UNICODE_KEY = 'b200/été à la plage+1.jpg';
const CORRUPT = 8;

let stack: Stack;
let env: Record<string, string>;

const put = (key: string, body: string | Buffer) =>
  stack.client.send(new PutObjectCommand({ Bucket: 'manifests', Key: key, Body: body }));

const variantKeys = async (bucket = VARIANTS) =>
  (await stack.listing(bucket)).filter((o) => o.key.startsWith(`${RENDER_VERSION}/`));

beforeAll(async () => {
  stack = await startStack();
  env = testEnv(stack.s3.endpoint, { BATCH_PROGRESS_SECONDS: '1' });
  delete env.IS_LOCAL;
  await stack.client.send(new CreateBucketCommand({ Bucket: 'variants-http' }));
  await stack.client.send(new CreateBucketCommand({ Bucket: 'manifests' }));
}, 120_000);
afterAll(() => stack?.close());

describe('200 originals × 2 specs', () => {
  const keys: string[] = [];
  const corrupt: string[] = [];
  let run: Awaited<ReturnType<typeof runBatchCli>>;

  beforeAll(async () => {
    const jpeg = await photoLikeJpeg(64, 48, { seed: 3 });
    for (let i = 0; i < 200; i++) {
      const key = i === 7 ? UNICODE_KEY : `b200/img-${String(i).padStart(3, '0')}.${i % 10 === 3 ? 'png' : 'jpg'}`;
      let body: Buffer;
      if (i % 25 === 11) {
        // Corrupt in different ways: noise, a JPEG header over noise, nothing at all, text.
        const kind = corrupt.length % 4;
        body = [seededBytes(2000, i), Buffer.concat([jpeg.subarray(0, 20), seededBytes(500, i)]), Buffer.alloc(0), Buffer.from('<html>not an image</html>')][kind]!;
        corrupt.push(key);
      } else {
        body = i % 10 === 3 ? await alphaPng(40 + (i % 7), 30) : await photoLikeJpeg(64 + (i % 5), 48, { seed: i + 1 });
      }
      await stack.seed(key, body);
      keys.push(key);
    }
    expect(corrupt).toHaveLength(CORRUPT);
    run = await runBatchCli(['--prefix', 'b200/', ...SPECS.flatMap((s) => ['--spec', s]), '--job-id', 'b200'], env);
  }, 240_000);

  it('exits 1 with a summary that counts variants', () => {
    expect(run.code).toBe(1);
    expect(run.summary).toMatchObject({
      jobId: 'b200',
      status: 'complete',
      done: (200 - CORRUPT) * 2,
      skipped: 0,
      failed: CORRUPT * 2,
      report: 's3://variants/batch-reports/b200/report.jsonl',
    });
    expect(run.summary.bytesIn).toBeGreaterThan(0);
    expect(run.summary.bytesOut).toBeGreaterThan(0);
    expect(run.summary.imagesPerSecond).toBeGreaterThan(0);
  });

  it('stores every variant byte for byte as the HTTP API does, under the same key', async () => {
    const batch = new Map((await variantKeys()).map((o) => [o.key, o]));
    const http = stack.app({ env: { VARIANTS_BUCKET: 'variants-http' } });
    for (const key of keys.filter((k) => !corrupt.includes(k))) {
      for (const spec of SPECS) {
        const response = await http.handler(event(key, spec));
        expect(response.statusCode, `${key}?${spec}`).toBe(200);
        expect(response.headers['X-Cache']).toBe('miss');
      }
    }
    const viaHttp = await variantKeys('variants-http');
    expect(viaHttp).toHaveLength((200 - CORRUPT) * 2);
    for (const object of viaHttp) {
      expect(batch.has(object.key), object.key).toBe(true);
      const [mine, theirs] = await Promise.all([stack.getObject(VARIANTS, object.key), stack.getObject('variants-http', object.key)]);
      expect(mine.body.equals(theirs.body), object.key).toBe(true);
      expect(mine.contentType).toBe(theirs.contentType);
      expect(mine.cacheControl).toBe(theirs.cacheControl);
      expect(mine.metadata).toEqual(theirs.metadata);
    }
  }, 120_000);

  it('answers the same URLs as cache hits afterwards, the non-ASCII key included', async () => {
    for (const key of [UNICODE_KEY, keys[0]!, keys[3]!]) {
      for (const spec of SPECS) {
        const response = await stack.handler(event(key, spec));
        expect(response.statusCode).toBe(200);
        expect(response.headers['X-Cache'], `${key}?${spec}`).toBe('hit');
        expect(await describeImage(bodyBytes(response))).toMatchObject({ width: spec.startsWith('w=40') ? 40 : 32 });
      }
    }
  });

  it('reports exactly the corrupt originals, with spec, code and message', async () => {
    const report = (await stack.getObject(VARIANTS, 'batch-reports/b200/report.jsonl')).body.toString('utf8');
    const lines = report.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(CORRUPT * 2);
    expect([...new Set(lines.map((l) => l.key))].sort()).toEqual([...corrupt].sort());
    for (const line of lines) {
      expect(SPECS).toContain(line.request);
      expect(line.code).toMatch(/^(unsupported_image|undecodable_image)$/);
      expect(line.message).toEqual(expect.any(String));
    }
    const summary = JSON.parse((await stack.getObject(VARIANTS, 'batch-reports/b200/summary.json')).body.toString('utf8'));
    expect(summary).toMatchObject({ done: (200 - CORRUPT) * 2, failed: CORRUPT * 2, skipped: 0 });
  });

  it('skips everything on a second run without reading a single original', async () => {
    const proxy = await startFaultyS3Proxy(stack.s3.endpoint);
    try {
      const again = await runBatchCli(['--prefix', 'b200/', ...SPECS.flatMap((s) => ['--spec', s])], { ...env, S3_ENDPOINT: proxy.endpoint });
      expect(again.summary).toMatchObject({ done: 0, skipped: (200 - CORRUPT) * 2, failed: CORRUPT * 2 });
      const originalReads = proxy.requests.filter((r) => r.method === 'GET' && r.bucket === ORIGINALS && r.key !== '');
      // Only the corrupt ones, whose variants never existed, are read again.
      expect(new Set(originalReads.map((r) => r.key))).toEqual(new Set(corrupt.map((k) => k)));
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

/**
 * Originals large enough that a run takes a few seconds (AVIF is the slow encoder), so it can be
 * interrupted halfway; each test has its own variants bucket to count in.
 */
async function seedSlowBatch(prefix: string, count: number, bucket: string): Promise<void> {
  await stack.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const body = await photoLikeJpeg(1600, 1200, { seed: 9 });
  for (let i = 0; i < count; i++) await stack.seed(`${prefix}${String(i).padStart(3, '0')}.jpg`, body);
}

async function waitForVariants(bucket: string, atLeast: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await variantKeys(bucket)).length >= atLeast) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${atLeast} variants after ${timeoutMs} ms`);
}

const SLOW_SPECS = ['--spec', 'w=400&fm=avif', '--spec', 'w=300&fm=jpeg'];
const SLOW_ORIGINALS = 24;
const SLOW_VARIANTS = SLOW_ORIGINALS * 2;

describe('interrupted runs', () => {
  it('resumes after kill -9: nothing rendered twice, every variant whole', async () => {
    const bucket = 'variants-killed';
    await seedSlowBatch('killed/', SLOW_ORIGINALS, bucket);
    const runEnv = { ...env, VARIANTS_BUCKET: bucket };
    const first = spawnBatch(['--prefix', 'killed/', '--concurrency', '1', ...SLOW_SPECS], runEnv);
    await waitForVariants(bucket, 6);
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const afterKill = new Set((await variantKeys(bucket)).map((o) => o.key));
    expect(afterKill.size).toBeGreaterThanOrEqual(6);
    expect(afterKill.size).toBeLessThan(SLOW_VARIANTS);

    const proxy: FaultyS3Proxy = await startFaultyS3Proxy(stack.s3.endpoint);
    try {
      const second = await runBatchCli(['--prefix', 'killed/', '--concurrency', '2', ...SLOW_SPECS], { ...runEnv, S3_ENDPOINT: proxy.endpoint });
      expect(second.code, second.stderr).toBe(0);
      expect(second.summary).toMatchObject({ status: 'complete', done: SLOW_VARIANTS - afterKill.size, skipped: afterKill.size, failed: 0 });
      const puts = proxy.requests.filter((r) => r.method === 'PUT' && r.bucket === bucket && r.key.startsWith(`${RENDER_VERSION}/`)).map((r) => r.key);
      expect(puts).toHaveLength(SLOW_VARIANTS - afterKill.size);
      expect(puts.filter((k) => afterKill.has(k))).toEqual([]);
    } finally {
      await proxy.close();
    }
    const final = await variantKeys(bucket);
    expect(final).toHaveLength(SLOW_VARIANTS);
    for (const { key } of final) {
      const info = await describeImage((await stack.getObject(bucket, key)).body);
      expect([400, 300]).toContain(info.width);
    }
  }, 180_000);

  it('on SIGTERM finishes in-flight items, writes the report and says it stopped early', async () => {
    const bucket = 'variants-stopped';
    await seedSlowBatch('stopped/', SLOW_ORIGINALS, bucket);
    const run = spawnBatch(['--prefix', 'stopped/', '--concurrency', '2', '--job-id', 'stopped', ...SLOW_SPECS], { ...env, VARIANTS_BUCKET: bucket });
    await waitForVariants(bucket, 4);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(2);
    expect(result.summary).toMatchObject({
      status: 'stopped',
      stopped: 'SIGTERM',
      abandoned: 0,
      failed: 0,
      report: `s3://${bucket}/batch-reports/stopped/report.jsonl`,
    });
    const stored = await variantKeys(bucket);
    expect(result.summary.done).toBe(stored.length);
    expect(stored.length).toBeLessThan(SLOW_VARIANTS);
    // In-flight originals were finished: both of their variants exist, none half-done.
    expect(stored.length % 2).toBe(0);
    const summary = JSON.parse((await stack.getObject(bucket, 'batch-reports/stopped/summary.json')).body.toString('utf8'));
    expect(summary).toMatchObject({ status: 'stopped', done: stored.length });
    expect((await stack.getObject(bucket, 'batch-reports/stopped/report.jsonl')).body.length).toBe(0);
    for (const { key } of stored) expect((await describeImage((await stack.getObject(bucket, key)).body)).format).toMatch(/heif|jpeg/);
  }, 180_000);
});

describe('stops that are not clean', () => {
  it('abandons in-flight items when the grace period is over, writing nothing half-done', async () => {
    const bucket = 'variants-abandoned';
    await seedSlowBatch('abandoned/', SLOW_ORIGINALS, bucket);
    const run = spawnBatch(['--prefix', 'abandoned/', '--concurrency', '2', '--grace-seconds', '0', '--job-id', 'abandoned', ...SLOW_SPECS], { ...env, VARIANTS_BUCKET: bucket });
    await waitForVariants(bucket, 2);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(2);
    expect(result.summary).toMatchObject({ status: 'stopped', stopped: 'SIGTERM', failed: 0 });
    expect(result.summary.abandoned).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    const stored = await variantKeys(bucket);
    // Abandoned renders were not written; a write already under way may have landed, whole.
    expect(stored.length).toBeGreaterThanOrEqual(result.summary.done);
    expect(stored.length).toBeLessThanOrEqual(result.summary.done + result.summary.abandoned);
    for (const { key } of stored) expect((await describeImage((await stack.getObject(bucket, key)).body)).format).toMatch(/heif|jpeg/);
    expect((await stack.getObject(bucket, 'batch-reports/abandoned/summary.json')).body.length).toBeGreaterThan(0);
  }, 120_000);

  it('exits 2 when storage stops answering halfway, having recorded what it did', async () => {
    const bucket = 'variants-lost';
    await seedSlowBatch('lost/', SLOW_ORIGINALS + 16, bucket);
    const proxy = await startFaultyS3Proxy(stack.s3.endpoint);
    try {
      const run = spawnBatch(['--prefix', 'lost/', '--concurrency', '2', ...SLOW_SPECS], {
        ...env,
        VARIANTS_BUCKET: bucket,
        S3_ENDPOINT: proxy.endpoint,
        S3_MAX_ATTEMPTS: '1',
        S3_REQUEST_TIMEOUT_MS: '300',
      });
      await waitForVariants(bucket, 2);
      proxy.setMode('down');
      const result = await run.done;
      expect(result.code).toBe(2);
      expect(result.summary).toMatchObject({ status: 'stopped', stopped: 'storage-unreachable', report: null });
      expect(result.summary.done).toBeGreaterThanOrEqual(2);
      expect(result.summary.failed).toBeGreaterThan(0);
      expect(result.stderr).toMatch(/storage is unreachable/);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

describe('manifests, fm=auto, dry runs', () => {
  const spaced = 'man/with space+plus é.jpg';
  const plain = ['man/a.jpg', 'man/b.png', spaced];
  beforeAll(async () => {
    await stack.seed('man/a.jpg', await photoLikeJpeg(60, 40, { seed: 1 }));
    await stack.seed('man/b.png', await alphaPng(50, 40), 'image/png');
    await stack.seed(spaced, await photoLikeJpeg(60, 40, { seed: 2 }));
  });

  // The form encoding S3 Batch Operations and S3 Inventory use for keys.
  const formEncode = (key: string) => new URLSearchParams({ k: key }).toString().slice(2);

  it.each([
    ['csv (S3 Batch Operations)', 'jobs/keys.csv', plain.map((k) => `originals,${formEncode(k)}`).join('\n') + '\n'],
    ['quoted csv with version ids', 'jobs/quoted.csv', plain.map((k) => `"originals","${formEncode(k)}","v${k.length}"`).join('\r\n')],
    ['plain text', 'jobs/keys.txt', `${plain.join('\n')}\n\n`],
  ])('reads a %s manifest', async (name, key, body) => {
    await put(key, body);
    const quality = 30 + name.length;
    const run = await runBatchCli(['--manifest', `s3://manifests/${key}`, '--spec', `w=20&fm=webp&q=${quality}`], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary).toMatchObject({ done: 3, skipped: 0, failed: 0, totalVariants: 3 });
    const hit = await stack.handler(event(spaced, `w=20&fm=webp&q=${quality}`));
    expect(hit.headers['X-Cache']).toBe('hit');
  }, 60_000);

  it('reads an S3 Inventory manifest.json with gzipped CSV data files, current versions only', async () => {
    const { gzipSync } = await import('node:zlib');
    const rows = [
      ...plain.map((k) => `"originals","${formEncode(k)}","true","false"`),
      `"originals","${formEncode('man/a.jpg')}","false","false"`,
      `"originals","${formEncode('man/deleted.jpg')}","true","true"`,
    ];
    await put('inventory/data/part-1.csv.gz', gzipSync(rows.slice(0, 2).join('\n') + '\n'));
    await put('inventory/data/part-2.csv.gz', gzipSync(rows.slice(2).join('\n') + '\n'));
    await put(
      'inventory/2026-12-01T00-00Z/manifest.json',
      JSON.stringify({
        sourceBucket: 'originals',
        destinationBucket: 'arn:aws:s3:::manifests',
        version: '2016-11-30',
        fileFormat: 'CSV',
        fileSchema: 'Bucket, Key, IsLatest, IsDeleteMarker',
        files: [{ key: 'inventory/data/part-1.csv.gz', size: 1, MD5checksum: 'x' }, { key: 'inventory/data/part-2.csv.gz', size: 1, MD5checksum: 'x' }],
      }),
    );
    const run = await runBatchCli(['--manifest', 's3://manifests/inventory/2026-12-01T00-00Z/manifest.json', '--spec', 'w=21&fm=png'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary).toMatchObject({ done: 3, failed: 0, totalVariants: 3 });
  }, 60_000);

  it('records rows for another bucket and missing originals as failures, and goes on', async () => {
    await put('jobs/mixed.csv', `originals,man%2Fa.jpg\nsomeone-else,man%2Fa.jpg\noriginals,man%2Fgone.jpg\n`);
    const run = await runBatchCli(['--manifest', 's3://manifests/jobs/mixed.csv', '--spec', 'w=22', '--job-id', 'mixed'], env);
    expect(run.code).toBe(1);
    expect(run.summary).toMatchObject({ done: 1, failed: 2 });
    const lines = (await stack.getObject(VARIANTS, 'batch-reports/mixed/report.jsonl')).body.toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.code).sort()).toEqual(['invalid_manifest_row', 'original_not_found']);
  }, 60_000);

  it('renders AVIF, WebP and the fallback for fm=auto, so every browser’s first request is a hit', async () => {
    const run = await runBatchCli(['--prefix', 'man/', '--spec', 'w=24&fm=auto'], env);
    expect(run.summary).toMatchObject({ done: 9, failed: 0 });
    expect(run.summary.variants).toEqual(['w=24&fm=avif', 'w=24&fm=webp', 'w=24&fm=auto']);
    const cases = [
      ['image/avif,image/webp,image/apng,*/*;q=0.8', 'man/a.jpg', 'image/avif'],
      ['image/webp,*/*', 'man/a.jpg', 'image/webp'],
      ['*/*', 'man/a.jpg', 'image/jpeg'],
      ['*/*', 'man/b.png', 'image/png'],
    ] as const;
    for (const [accept, key, type] of cases) {
      const response = await stack.handler(event(key, 'w=24&fm=auto', { accept }));
      expect(response.headers['X-Cache'], `${key} ${accept}`).toBe('hit');
      expect(response.headers['Content-Type']).toBe(type);
    }
  }, 60_000);

  it('--dry-run counts what would be rendered and writes nothing', async () => {
    const before = await stack.listing();
    const run = await runBatchCli(['--prefix', 'man/', '--spec', 'w=25&fm=auto', '--spec', 'w=24&fm=auto', '--dry-run'], env);
    expect(run.code).toBe(0);
    expect(run.summary).toMatchObject({ dryRun: true, done: 0, wouldRender: 9, skipped: 9, report: null });
    expect(await stack.listing()).toEqual(before);
  }, 60_000);
});

describe('options that cannot run exit 2 before any work', () => {
  let proxy: FaultyS3Proxy;
  beforeAll(async () => {
    proxy = await startFaultyS3Proxy(stack.s3.endpoint);
  });
  afterAll(() => proxy?.close());

  it.each([
    [['--prefix', 'x/', '--preset', 'nope'], /unknown preset "nope".*thumb/],
    [['--prefix', 'x/', '--spec', 'w=abc'], /"w=abc".*"w"/],
    [['--prefix', 'x/', '--spec', 'witdh=3'], /Unknown parameter "witdh"/],
    [['--prefix', 'x/'], /at least one --preset or --spec/],
    [['--spec', 'w=10'], /exactly one of --prefix and --manifest/],
    [['--prefix', 'x/', '--manifest', 's3://manifests/a.csv', '--spec', 'w=10'], /exactly one of --prefix and --manifest/],
    [['--manifest', 'http://example/a.csv', '--spec', 'w=10'], /not an S3 URI/],
    [['--prefix', 'x/', '--spec', 'w=10', '--concurrency', '0'], /--concurrency/],
    [['--prefix', 'x/', '--spec', 'w=10', '--bogus'], /bogus/],
    [['--prefix', '../etc/', '--spec', 'w=10'], /--prefix/],
  ])('%j', async (args, message) => {
    const seen = proxy.requests.length;
    const run = await runBatchCli(args, { ...env, S3_ENDPOINT: proxy.endpoint });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.summary).toMatchObject({ status: 'invalid', done: 0, skipped: 0, failed: 0, report: null });
    expect(proxy.requests.length).toBe(seen);
  }, 30_000);

  it('exits 2 for a missing bucket, manifest or unparseable manifest, having written nothing', async () => {
    const before = await stack.listing();
    const missingBucket = await runBatchCli(['--prefix', '', '--spec', 'w=10'], { ...env, ORIGINALS_BUCKET: 'no-such-bucket' });
    expect(missingBucket.code).toBe(2);
    expect(missingBucket.stderr).toMatch(/bucket "no-such-bucket"/);
    const missingManifest = await runBatchCli(['--manifest', 's3://manifests/none.csv', '--spec', 'w=10'], env);
    expect(missingManifest.code).toBe(2);
    expect(missingManifest.stderr).toMatch(/s3:\/\/manifests\/none\.csv does not exist/);
    await put('jobs/broken.csv', 'originals,"unterminated\n');
    const broken = await runBatchCli(['--manifest', 's3://manifests/jobs/broken.csv', '--spec', 'w=10'], env);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/cannot be read as csv/);
    await put('jobs/parquet.json', JSON.stringify({ fileFormat: 'Parquet', fileSchema: 'x', files: [] }));
    const parquet = await runBatchCli(['--manifest', 's3://manifests/jobs/parquet.json', '--spec', 'w=10'], env);
    expect(parquet.code).toBe(2);
    expect(parquet.stderr).toMatch(/Parquet.*CSV/);
    expect(await stack.listing()).toEqual(before);
  }, 60_000);

  it('exits 2 when storage is unreachable', async () => {
    const run = await runBatchCli(['--prefix', '', '--spec', 'w=10'], { ...env, S3_ENDPOINT: 'http://127.0.0.1:9', S3_MAX_ATTEMPTS: '1', S3_REQUEST_TIMEOUT_MS: '500' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/storage is unreachable/);
  }, 30_000);
});
