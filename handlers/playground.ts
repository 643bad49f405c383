import { page, script, style } from 'playground:assets';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { makePlaygroundHandler } from '../src/playground/handler.js';
import { createS3Client, createS3ObjectStore } from '../src/storage/s3-store.js';

// Only in stages with param playground 'true' (serverless.yml). The page, its script (playground/,
// bundled by esbuild) and its style are strings in this bundle: scripts/playground-assets.cjs.
const config = loadConfig();

export const handler = makePlaygroundHandler({
  config,
  objects: createS3ObjectStore(createS3Client(config.s3)),
  assets: { page, script, style },
  log: createLogger(),
});
