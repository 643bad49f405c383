import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config.js';
import { makeResizeHandler } from '../src/http/resize-handler.js';
import { createVariantService } from '../src/service.js';
import { createS3Store } from '../src/storage/s3-store.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3 } from './local-s3.js';
import { s3Notification, type NotificationRecord } from './s3-notifications.js';
import { sampleOriginals } from './samples.js';

/**
 * The local stack behind `npm start`: the project's S3 (s3rver) seeded with generated originals,
 * then the HTTP API through serverless-offline, exactly as `sls offline` runs the function.
 * Also used by the HTTP tests and the benchmarks, on ports of their choosing.
 */
export interface StackOptions {
  readonly s3Port: number;
  readonly httpPort: number;
  readonly lambdaPort: number;
  /** Where the local S3 keeps objects; a temporary folder when omitted. */
  readonly dataDirectory?: string;
  readonly originalsBucket: string;
  readonly variantsBucket: string;
  /** Start only the local S3 (for `sls invoke local`). */
  readonly s3Only?: boolean;
  /** Extra environment for the function (e.g. limits in tests). */
  readonly env?: Record<string, string>;
  readonly log?: (line: string) => void;
  /** How long to wait for serverless-offline to answer, in ms. */
  readonly startTimeoutMs?: number;
}

export interface Stack {
  readonly s3: LocalS3;
  readonly baseUrl?: string;
  readonly seeded: readonly { key: string; description: string }[];
  close(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, '..');
// serverless-esbuild's work folders are <service>-<pid of sls>-<time>-<random>.
const esbuildTempOf = (pid: number) => `image-resizer-${pid}-`;

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => res(port));
    });
  });
}

async function seed(s3: LocalS3, bucket: string, log: (line: string) => void) {
  const client = new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: LOCAL_S3_CREDENTIALS,
  });
  const exists = async (key: string) =>
    client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
      () => true,
      () => false,
    );
  const samples = await sampleOriginals();
  for (const sample of samples) {
    if (await exists(sample.key)) continue;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: sample.key, Body: sample.body, ContentType: sample.contentType }));
    log(`seeded s3://${bucket}/${sample.key} — ${sample.description}`);
  }
  client.destroy();
  return samples.map(({ key, description }) => ({ key, description }));
}

/** Renders the variant `events/cache-hit.json` asks for, so invoking that event is a hit. */
async function warmCacheHitEvent(env: Record<string, string>, log: (line: string) => void) {
  const config = loadConfig(env);
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  const handler = makeResizeHandler({ config, service: createVariantService(config, createS3Store(config), quiet), log: quiet });
  const response = await handler(JSON.parse(readFileSync(join(ROOT, 'events/cache-hit.json'), 'utf8')));
  if (response.statusCode !== 200) log(`warning: could not pre-render events/cache-hit.json: ${response.body}`);
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`serverless-offline exited with code ${child.exitCode}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`serverless-offline did not answer on ${url} within ${timeoutMs} ms`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      res();
    });
    child.kill('SIGTERM');
  });
}

/** serverless-offline's name for a function of this service at the default (local) stage. */
const offlineFunction = (name: string) => `image-resizer-local-${name}`;

/**
 * As S3 notifies the deployed `syncVariants`, the local S3 notifies the same function under
 * serverless-offline: asynchronously (InvocationType Event), one record per event, only for the
 * originals bucket (the function itself ignores the service's own writes in a same-bucket setup).
 */
function syncVariantsNotifier(originalsBucket: string, log: (line: string) => void) {
  let lambdaUrl: string | undefined;
  const notify = (record: NotificationRecord) => {
    if (!lambdaUrl || record.bucket !== originalsBucket) return;
    fetch(`${lambdaUrl}/2015-03-31/functions/${offlineFunction('syncVariants')}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'Event' },
      body: JSON.stringify(s3Notification([record])),
      signal: AbortSignal.timeout(10_000),
    }).then(
      (response) => {
        if (response.status >= 300) log(`warning: syncVariants did not take ${record.eventName} ${record.key}: HTTP ${response.status}`);
        return response.body?.cancel();
      },
      (error: unknown) => log(`warning: could not notify syncVariants of ${record.eventName} ${record.key}: ${(error as Error).message}`),
    );
  };
  return { notify, start: (url: string) => void (lambdaUrl = url) };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const notifier = syncVariantsNotifier(options.originalsBucket, log);
  const s3 = await startLocalS3({
    port: options.s3Port,
    directory: options.dataDirectory,
    buckets: [options.originalsBucket, options.variantsBucket],
    onObjectEvent: notifier.notify,
  });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ORIGINALS_BUCKET: options.originalsBucket,
    VARIANTS_BUCKET: options.variantsBucket,
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    // No instance metadata service here: without this the SDK and the framework probe for it.
    AWS_EC2_METADATA_DISABLED: 'true',
    // Lambda runs Node 22; the SDK's notice about older local Node versions is only noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...options.env,
  };
  let child: ChildProcess | undefined;
  // serverless-esbuild builds into, and serverless-offline runs from, this folder: one per stack,
  // since `sls package` (or another stack) in the same checkout empties the default .esbuild/.
  const workFolder = join('.esbuild-offline', String(options.httpPort));
  const close = async () => {
    if (child) await stopChild(child);
    await s3.close();
    if (child) rmSync(join(ROOT, workFolder), { recursive: true, force: true });
    // serverless-esbuild leaves its work folders behind in the system temp folder: only this
    // stack's own go, whatever else runs beside it.
    const own = child?.pid === undefined ? undefined : esbuildTempOf(child.pid);
    for (const name of own ? readdirSync(tmpdir()) : []) {
      if (name.startsWith(own!)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  };
  try {
    const seeded = await seed(s3, options.originalsBucket, log);
    await warmCacheHitEvent(env, log);
    if (options.s3Only) return { s3, seeded, close };

    // Started directly, not through npx: signals sent to npx do not reach serverless-offline.
    child = spawn(join(ROOT, 'node_modules/.bin/sls'), ['offline', 'start'], {
      cwd: ROOT,
      env: { ...env, PORT: String(options.httpPort), LAMBDA_PORT: String(options.lambdaPort), ESBUILD_WORK_FOLDER: workFolder },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Whole lines only: a long one (a metrics line) may arrive in two chunks.
    const forward = (stream: NodeJS.ReadableStream | null) => {
      let partial = '';
      const emit = (line: string) => void (line.trim() && log(`[offline] ${line}`));
      stream?.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop()!;
        lines.forEach(emit);
      });
      stream?.on('end', () => emit(partial));
    };
    forward(child.stdout);
    forward(child.stderr);
    const baseUrl = `http://127.0.0.1:${options.httpPort}`;
    await waitForHttp(`${baseUrl}/`, child, options.startTimeoutMs ?? 180_000);
    notifier.start(`http://127.0.0.1:${options.lambdaPort}`);
    return { s3, baseUrl, seeded, close };
  } catch (error) {
    await close();
    throw error;
  }
}
