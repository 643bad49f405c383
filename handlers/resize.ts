import { loadConfig } from '../src/config.js';
import { makeResizeHandler } from '../src/http/resize-handler.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics, SERVICES } from '../src/observability/metrics.js';
import { createVariantService } from '../src/service.js';
import { createS3Store } from '../src/storage/s3-store.js';

// Built once per cold start and reused by every invocation of this instance.
const config = loadConfig();
const log = createLogger(SERVICES.resize);
const metrics = createMetrics(SERVICES.resize, config.metrics, log);
const store = createS3Store(config);

export const handler = makeResizeHandler({ config, service: createVariantService(config, store, log), log, metrics });
