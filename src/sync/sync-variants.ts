import { checkOriginal, renderMissing, type VariantOutcome } from '../batch/pregenerate.js';
import type { JobVariant } from '../batch/job.js';
import type { Config } from '../config.js';
import { ImageServiceError } from '../errors.js';
import { requestRules } from '../http/resize-handler.js';
import type { ServiceLogger } from '../observability/logger.js';
import type { ServiceMetrics } from '../observability/metrics.js';
import { validateKey } from '../request/original-key.js';
import type { ImageStore, OriginalHead } from '../storage/image-store.js';
import { FORMER_RENDER_VERSIONS, madeFrom, originalVariantsPrefix, RENDER_VERSION, supersedesOther } from '../transform/variant-key.js';
import { parseS3Event, type ObjectChange } from './s3-events.js';

/**
 * `syncVariants`: variants follow their originals. For each original an event names, its
 * current state is read from the bucket (a HEAD), never taken from the event, so duplicate,
 * late and out-of-order events all end in the same place: variants made from any other version
 * of the original (or of a removed one: all of them) are deleted, found by one listing of that
 * original's folder, once the CDN has forgotten its URLs; optionally the eager presets are rendered.
 * Nothing here ever writes or deletes an original.
 */

export interface SyncDeps {
  readonly config: Config;
  readonly store: ImageStore;
  readonly log: ServiceLogger;
  /** Variants rendered at once for an original that exists (EAGER_PRESETS, expanded). */
  readonly eagerVariants: readonly JobVariant[];
  /** Makes the CDN forget these originals' URLs (keys as URLs name them); absent without a CDN. */
  readonly invalidate?: (urlKeys: readonly string[]) => Promise<void>;
  /** Counts of what was done (the handler flushes them); none when absent. */
  readonly metrics?: ServiceMetrics;
}

export interface OriginalSync {
  /** The key as URLs name it (below ORIGINALS_PREFIX). */
  readonly key: string;
  readonly state: 'current' | 'removed';
  readonly deleted: number;
  readonly rendered: number;
  readonly failed: number;
}

export interface SyncResult {
  readonly originals: readonly OriginalSync[];
  readonly ignored: readonly string[];
  readonly deleted: number;
  readonly invalidated: readonly string[];
}

/** An original whose eager variants could not be stored for a reason a retry may fix. */
export class EagerRenderError extends Error {
  constructor(key: string, cause: ImageServiceError) {
    super(`eager variants of "${key.slice(0, 200)}" could not be stored: ${cause.message}`, { cause });
    this.name = 'EagerRenderError';
  }
}

interface Target {
  readonly key: string;
  readonly urlKey: string;
}

/** The changes this service acts on, one per original; everything else with the reason it is not. */
function targetsOf(changes: readonly ObjectChange[], config: Config, ignored: string[]): Target[] {
  const rules = requestRules(config);
  const sameBucket = config.originalsBucket === config.variantsBucket;
  const targets = new Map<string, Target>();
  for (const change of changes) {
    const { bucket, key } = change;
    if (bucket !== config.originalsBucket) ignored.push(`${key.slice(0, 200)}: bucket ${bucket} is not the originals bucket`);
    else if (sameBucket && (key.startsWith(config.variantsPrefix) || key.startsWith(config.batch.reportsPrefix))) {
      // The service's own writes, in a same-bucket setup: S3 cannot filter them out of the subscription.
      ignored.push(`${key.slice(0, 200)}: a variant or report, not an original`);
    } else if (!key.startsWith(config.originalsPrefix)) ignored.push(`${key.slice(0, 200)}: outside ORIGINALS_PREFIX`);
    else {
      try {
        const urlKey = validateKey(key.slice(config.originalsPrefix.length), rules);
        targets.set(key, { key, urlKey });
      } catch (error) {
        // No URL can name it, so no variant of it was ever made.
        ignored.push(`${key.slice(0, 200)}: ${(error as Error).message}`);
      }
    }
  }
  return [...targets.values()];
}

/**
 * Stored variants not made from `head` (all of them when the original is gone), after one listing
 * of the original's folder. A variant stored in an earlier second than the current version (S3
 * times are whole seconds) was made from an older one: deleted without reading it. Only those
 * stored later are asked what they were made from (a HEAD each): current renders, one that read
 * the older version just before the upload, or any of them when a multipart upload (whose time is
 * its start) took a while.
 */
async function staleVariants(config: Config, store: ImageStore, key: string, head: OriginalHead | undefined): Promise<{ stale: string[]; superseded: boolean }> {
  const stale: string[] = [];
  const toCheck: string[] = [];
  for (const version of [RENDER_VERSION, ...FORMER_RENDER_VERSIONS]) {
    for await (const variant of store.listVariants(originalVariantsPrefix(config.variantsPrefix, key, version))) {
      const older = head?.lastModified && variant.lastModified && variant.lastModified.getTime() < head.lastModified.getTime();
      if (!head || version !== RENDER_VERSION || older) stale.push(variant.key);
      else toCheck.push(variant.key);
    }
  }
  let superseded = false;
  const checked = await Promise.all(
    toCheck.map(async (variantKey) => {
      const variant = await store.headVariant(variantKey);
      if (!variant) return undefined;
      if (!madeFrom(variant.metadata, { etag: head!.etag })) return variantKey;
      superseded ||= supersedesOther(variant.metadata);
      return undefined;
    }),
  );
  return { stale: [...stale, ...checked.filter((k): k is string => k !== undefined)], superseded };
}

async function renderEager(target: Target, head: OriginalHead, deps: SyncDeps): Promise<VariantOutcome[]> {
  const pregenerate = { config: deps.config, store: deps.store, variants: deps.eagerVariants, dryRun: false, abandon: new AbortController().signal };
  const checked = await checkOriginal({ key: target.key, etag: head.etag, size: head.size }, pregenerate);
  return 'pending' in checked ? renderMissing(checked.pending, pregenerate) : checked.outcomes;
}

export async function syncVariants(event: unknown, deps: SyncDeps): Promise<SyncResult> {
  const { config, store, log } = deps;
  const parsed = parseS3Event(event);
  const ignored = [...parsed.ignored];
  const targets = targetsOf(parsed.changes, config, ignored);

  const states = await Promise.all(
    targets.map(async (target) => {
      const head = await store.headOriginal(target.key);
      return { target, head, ...(await staleVariants(config, store, target.key, head)) };
    }),
  );
  const stale = states.flatMap((s) => s.stale);

  const originals: OriginalSync[] = [];
  for (const { target, head, stale: gone } of states) {
    let rendered = 0;
    let failed = 0;
    if (head && deps.eagerVariants.length > 0) {
      for (const outcome of await renderEager(target, head, deps)) {
        if (outcome.status === 'done') rendered++;
        if (outcome.status !== 'failed') continue;
        // Storage trouble fails the invocation (Lambda retries it, then the dead-letter queue has
        // it); an original that cannot be rendered is the uploader's problem, and only logged.
        if (outcome.error?.code === 'storage_unavailable') throw new EagerRenderError(target.urlKey, outcome.error);
        failed++;
        log.warn('eager variant not rendered', { key: target.urlKey, request: outcome.variant.request, code: outcome.error?.code, error: outcome.error?.message });
      }
    }
    originals.push({ key: target.urlKey, state: head ? 'current' : 'removed', deleted: gone.length, rendered, failed });
  }

  // Only URLs that can have been served from a stale variant are worth an invalidation: a
  // brand-new original has none (CloudFront counts wildcard invalidations in progress). The edge
  // first, the deletes after: if the invalidation fails, the stale variants are still there when
  // Lambda retries the event, so the retry invalidates again instead of finding nothing to do.
  // Meanwhile the origin already answers from the current version.
  // A request may already have overwritten a stale variant with a current one (it says so): the
  // edge can still hold the old one.
  const invalidated = states.filter((s) => s.stale.length > 0 || s.superseded).map((s) => s.target.urlKey);
  if (invalidated.length > 0 && deps.invalidate) await deps.invalidate(invalidated);
  if (stale.length > 0) await store.deleteVariants(stale);

  const result = { originals, ignored, deleted: stale.length, invalidated: deps.invalidate ? invalidated : [] };
  deps.metrics?.sync({
    deleted: result.deleted,
    invalidated: result.invalidated.length,
    rendered: originals.reduce((n, o) => n + o.rendered, 0),
    failed: originals.reduce((n, o) => n + o.failed, 0),
  });
  log.info('variants synced', { ...result, ignored: ignored.slice(0, 20), ignoredCount: ignored.length });
  return result;
}
