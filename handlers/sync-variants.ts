import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics, SERVICES } from '../src/observability/metrics.js';
import { createS3Store } from '../src/storage/s3-store.js';
import { syncDependencies } from '../src/sync/dependencies.js';
import { syncVariants } from '../src/sync/sync-variants.js';

// Built once per cold start and reused by every invocation of this instance.
const config = loadConfig();
const log = createLogger(SERVICES.sync);
const metrics = createMetrics(SERVICES.sync, config.metrics, log);
const deps = { ...syncDependencies(config, createS3Store(config), log), metrics };

/**
 * S3 ObjectCreated / ObjectRemoved notifications of the originals bucket in; variants made from
 * anything but the original's current version deleted, its CDN URLs invalidated. A thrown error
 * fails the invocation: Lambda retries it, then sends the event to the dead-letter queue.
 */
export const handler = async (event: unknown) => {
  try {
    return await syncVariants(event, deps);
  } finally {
    metrics.flush();
  }
};
