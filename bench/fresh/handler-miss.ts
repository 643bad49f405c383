import { peakRssKb } from './peak-rss.js';
import { join } from 'node:path';
import { apiEvent } from '../cases.js';

/**
 * A cold Lambda in miniature, bundled by esbuild into the unpacked deployment package and run
 * with plain node: load the packaged handlers/resize.js (its module scope builds config, S3 client
 * and service, as Lambda's init does), then answer one miss.
 * Usage: node handler-miss.js <key> <query>  →  BENCH {…}
 */
const [key, query] = process.argv.slice(2) as [string, string];
const { handler } = require(join(__dirname, 'handlers/resize.js')) as {
  handler: (event: unknown) => Promise<{ statusCode: number; headers: Record<string, string>; body?: string }>;
};
const initMs = performance.now();
const rssAfterInit = process.memoryUsage.rss();
handler(apiEvent(key, query)).then((response) => {
  const responseMs = performance.now();
  process.stdout.write(
    `BENCH ${JSON.stringify({
      status: response.statusCode,
      xCache: response.headers['X-Cache'],
      bytes: Buffer.byteLength(response.body ?? '', 'base64'),
      initMs,
      responseMs,
      rssAfterInitKb: Math.round(rssAfterInit / 1024),
      maxRssKb: peakRssKb(),
    })}\n`,
  );
  // The S3 client's keep-alive sockets would hold the process open.
  process.exit(0);
});
