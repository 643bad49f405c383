import { peakRssKb } from './peak-rss.js';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { rawTransform, type Recipe } from '../cases.js';

/**
 * The cold-start baseline ("bare imports"): a fresh process that imports only sharp and the S3
 * client, gets the original with one GetObject and does the same transform, nothing else.
 * Usage: node raw-s3-sharp.js <bucket> <key> <recipe json, with icc: whether the original has a profile>  →  BENCH {…}  (S3 settings from env)
 */
const [bucket, key, recipeJson] = process.argv.slice(2) as [string, string, string];
sharp.cache(false);
const client = new S3Client({
  endpoint: process.env.S3_ENDPOINT,
  region: process.env.AWS_REGION ?? 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! },
});
const initMs = performance.now();
const rssAfterInit = process.memoryUsage.rss();
(async () => {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await object.Body!.transformToByteArray();
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const recipe = JSON.parse(recipeJson) as Recipe & { icc: boolean };
  const out = await rawTransform(sharp, input, recipe, recipe.icc).toBuffer();
  const responseMs = performance.now();
  process.stdout.write(
    `BENCH ${JSON.stringify({ status: 200, bytes: out.length, initMs, responseMs, rssAfterInitKb: Math.round(rssAfterInit / 1024), maxRssKb: peakRssKb() })}\n`,
  );
  process.exit(0);
})();
