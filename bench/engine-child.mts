import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { rawTransform, type Format, type Recipe } from './cases.js';
import { onShutdown, report, serveOnLoopback } from './children.js';

/**
 * The engine (`npm run serve`) in a process of its own, started as scripts/serve.mts starts it —
 * configuration and engine settings from the environment (concurrency from the CPU count unless
 * ENGINE_CONCURRENCY says otherwise), its logger and metrics — against the bench's local S3, on a
 * free loopback port. Loaded from the snapshot of the service's files (argv[2]), as the stack is.
 *
 *   tsx bench/engine-child.mts <tree> engine  →  BENCH {"baseUrl", "pid", "concurrency", "queue", "freshness", "freshnessRecognised"}
 *
 * Its baseline, the same HTTP shape with nothing of the service in it: per request a plain
 * GetObject of the original, raw sharp (the same operations and output as the service's), a plain
 * PutObject of the result, the bytes as the response. Same S3 client settings, sharp's cache off
 * as the pipeline sets it, node:http with the engine's keep-alive.
 *
 *   tsx bench/engine-child.mts <tree> raw '<json: {id: recipe & {icc}}>'  →  BENCH {"baseUrl", "pid"}
 *   URLs: /<recipe id>/<original key>
 */
const [tree, mode = 'engine', recipesJson = '{}'] = process.argv.slice(2);
if (!tree || (mode !== 'engine' && mode !== 'raw')) throw new Error('usage: engine-child.mts <tree> engine|raw [recipes json]');
const fromTree = <T,>(path: string): Promise<T> => import(pathToFileURL(join(tree, path)).href) as Promise<T>;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// As `npm run serve` sets it: the default local S3 unless S3_ENDPOINT (set by the bench) says otherwise.
process.env.IS_LOCAL ??= 'true';
const KEEP_ALIVE_MS = 65_000;

const { loadConfig, loadEngineSettings } = await fromTree<typeof import('../src/config.js')>('src/config.ts');
const config = loadConfig(process.env);

if (mode === 'engine') {
  const { createLogger } = await fromTree<typeof import('../src/observability/logger.js')>('src/observability/logger.ts');
  const { createMetrics, SERVICES } = await fromTree<typeof import('../src/observability/metrics.js')>('src/observability/metrics.ts');
  const { startEngine } = await fromTree<typeof import('../src/engine/server.js')>('src/engine/server.ts');
  const settings = loadEngineSettings({ ...process.env, PORT: '0', HOST: '127.0.0.1' });
  const log = createLogger(SERVICES.resize);
  const engine = await startEngine({ config, ...settings, log, metrics: createMetrics(SERVICES.resize, config.metrics, log) });
  onShutdown(() => engine.close());
  report({
    baseUrl: engine.url,
    pid: process.pid,
    concurrency: settings.concurrency,
    queue: settings.queue,
    freshness: process.env.FRESHNESS ?? 'strict',
    freshnessRecognised: config.freshness === (process.env.FRESHNESS || 'strict'),
  });
} else {
  const { createS3Client } = await fromTree<typeof import('../src/storage/s3-store.js')>('src/storage/s3-store.ts');
  // The CommonJS sharp, as the service loads it; cache off as pipeline.ts sets it.
  const sharp = createRequire(import.meta.url)('sharp') as typeof import('sharp').default;
  sharp.cache(false);
  const client = createS3Client(config.s3);
  const recipes = JSON.parse(recipesJson) as Record<string, Recipe & { icc: boolean }>;
  const contentType: Record<Format, string> = { jpeg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', png: 'image/png' };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [id = '', ...rest] = new URL(req.url ?? '/', 'http://raw').pathname.slice(1).split('/');
    const recipe = recipes[id];
    const key = rest.map(decodeURIComponent).join('/');
    if (!recipe || !key) {
      res.writeHead(404).end();
      return;
    }
    const object = await client.send(new GetObjectCommand({ Bucket: config.originalsBucket, Key: key }));
    const bytes = await object.Body!.transformToByteArray();
    const original = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const output = await rawTransform(sharp, original, recipe, recipe.icc).toBuffer();
    const type = contentType[recipe.format];
    await client.send(new PutObjectCommand({ Bucket: config.variantsBucket, Key: `raw/${id}/${key}`, Body: output, ContentType: type }));
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': output.length, 'X-Cache': 'miss' }).end(output);
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    serve(req, res).catch((error: unknown) => {
      console.error(`raw: ${(error as Error).message}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  await serveOnLoopback(server, () => client.destroy());
}
