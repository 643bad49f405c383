import { expandVariants } from '../batch/job.js';
import type { Config } from '../config.js';
import { createCdnInvalidator, invalidationPaths } from '../edge/cdn-invalidator.js';
import type { ServiceLogger } from '../observability/logger.js';
import type { ImageStore } from '../storage/image-store.js';
import type { SyncDeps } from './sync-variants.js';

/** What `syncVariants` runs with, from configuration: the handler's wiring, also used by tests. */
export function syncDependencies(config: Config, store: ImageStore, log: ServiceLogger): SyncDeps {
  const cdn = createCdnInvalidator(config.edge);
  return {
    config,
    store,
    log,
    eagerVariants: config.edge.eagerPresets.flatMap((name) => expandVariants(`preset=${name}`, config)),
    invalidate: cdn && (async (urlKeys) => void (await cdn.invalidate(invalidationPaths(urlKeys)))),
  };
}
