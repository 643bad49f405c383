import { resolve } from 'node:path';
import { createMetricsPrinter } from './local-metrics.js';
import { startStack } from './stack.mjs';

/** `npm start` (and `npm run s3` with --s3-only): the local stack on 127.0.0.1 until Ctrl-C. */
const env = process.env;
env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const s3Only = process.argv.includes('--s3-only');
// The functions' metrics (EMF JSON) as one short line each; DEBUG_METRICS=1 also prints the JSON.
const metricsLines = createMetricsPrinter({
  ratioEvery: Number(env.METRICS_RATIO_EVERY ?? 10),
  raw: env.DEBUG_METRICS === '1' || env.DEBUG_METRICS === 'true',
});
const options = {
  s3Port: Number(env.S3_PORT ?? 4569),
  httpPort: Number(env.PORT ?? 3000),
  lambdaPort: Number(env.LAMBDA_PORT ?? 3002),
  dataDirectory: env.LOCAL_S3_DIR ?? resolve(import.meta.dirname, '..', '.local-s3'),
  originalsBucket: env.ORIGINALS_BUCKET ?? 'originals',
  variantsBucket: env.VARIANTS_BUCKET ?? 'variants',
  s3Only,
  log: (line: string) => {
    const metrics = metricsLines(line);
    if (metrics) for (const l of metrics) console.log(l);
    // serverless-offline prints a line per request; keep them, but drop its banner noise.
    else if (!/offline: (Function names exposed|Starting Offline|Offline \[http for lambda\]|Server ready|Enter "rp")/i.test(line)) {
      console.log(line);
    }
  },
};

console.log(`Starting local S3 on http://127.0.0.1:${options.s3Port} (data in ${options.dataDirectory}) …`);
const stack = await startStack(options);
let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping …`);
  await stack.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

const keys = stack.seeded.map((s) => s.key);
console.log(`\nLocal S3: ${stack.s3.endpoint} (buckets "${options.originalsBucket}", "${options.variantsBucket}"; credentials S3RVER/S3RVER)`);
for (const s of stack.seeded) console.log(`  original: ${s.key} — ${s.description}`);
if (stack.baseUrl) {
  const url = (path: string) => `${stack.baseUrl}/${path.split('/').map(encodeURIComponent).join('/')}`;
  console.log(`\nHTTP API: ${stack.baseUrl}`);
  console.log(`Playground: ${stack.baseUrl}/_playground   (pick an original, set parameters, compare)\nTry:`);
  console.log(`  ${url(keys[0]!)}?w=800&fm=webp`);
  console.log(`  ${stack.baseUrl}/800x600/${keys[0]}`);
  console.log(`  ${url(keys[0]!)}?w=400&h=400&pos=attention&fm=auto`);
  console.log(`  ${url(keys[1]!)}?w=400          (EXIF-rotated original, comes out upright)`);
  console.log(`  ${url(keys[2]!)}?w=256&fm=jpeg&bg=ffe8a0   (alpha flattened onto a colour)`);
  console.log(`  ${url('photos/does-not-exist.jpg')}?w=800   (404 as JSON)`);
  console.log('\nReplacing or deleting an original in the local S3 deletes its stored variants (syncVariants, as on AWS).');
} else {
  console.log('\nOnly the local S3 is running. In another shell: npx sls invoke local -f resize -p events/resize-query.json');
}
console.log('\nCtrl-C stops everything.');
