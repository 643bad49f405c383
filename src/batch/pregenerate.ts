import type { Config } from '../config.js';
import { InvalidRequestError, OriginalNotFoundError, toServiceError, type ImageServiceError } from '../errors.js';
import { requestRules } from '../http/resize-handler.js';
import { validateKey } from '../request/original-key.js';
import { originalTooLarge, renderLimits, variantWrite } from '../service.js';
import type { ImageStore } from '../storage/image-store.js';
import { renderVariant } from '../transform/pipeline.js';
import { variantId, type VariantId } from '../transform/variant-key.js';
import type { JobVariant } from './job.js';

/** One original the job names, as a listing or a manifest row gives it. */
export interface OriginalTask {
  /** The full object key in the originals bucket. */
  readonly key: string;
  /** From a listing: no HEAD needed. Manifests may be stale, so their originals are asked. */
  readonly etag?: string;
  readonly size?: number;
  /** Why the row cannot be rendered at all (a malformed manifest line, another bucket). */
  readonly problem?: ImageServiceError;
}

export type OutcomeStatus = 'done' | 'skipped' | 'failed' | 'would-render' | 'abandoned';

export interface VariantOutcome {
  readonly variant: JobVariant;
  readonly status: OutcomeStatus;
  readonly variantKey?: string;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  readonly error?: ImageServiceError;
}

export interface PregenerateDeps {
  readonly config: Config;
  readonly store: ImageStore;
  readonly dryRun: boolean;
  /** Aborted when the SIGTERM grace period is over: nothing more is written. */
  readonly abandon: AbortSignal;
}

/**
 * One original, all of the job's variants: which exist is asked first (a HEAD each, the
 * original untouched), then the original is read once and every missing variant rendered
 * and stored exactly as the HTTP API's miss path stores it: same key, bytes, metadata.
 * Each variant is one PUT, so a crash leaves whole variants or none, and a re-run skips
 * exactly the ones that were stored.
 */
export async function pregenerateOriginal(task: OriginalTask, variants: readonly JobVariant[], deps: PregenerateDeps): Promise<VariantOutcome[]> {
  const failAll = (error: unknown, ids?: readonly VariantId[]) =>
    variants.map((variant, i) => ({ variant, status: 'failed' as const, variantKey: ids?.[i]?.key, error: toServiceError(error) }));
  const { config, store } = deps;
  try {
    if (task.problem) throw task.problem;
    const relative = relativeKey(task.key, config);
    return await pregenerate(task, relative, variants, deps, 0);
  } catch (error) {
    return failAll(error);
  }

  async function pregenerate(task: OriginalTask, relative: string, variants: readonly JobVariant[], deps: PregenerateDeps, attempt: number): Promise<VariantOutcome[]> {
    let { etag, size } = task;
    if (etag === undefined || size === undefined) {
      const head = await store.headOriginal(task.key);
      if (!head) throw new OriginalNotFoundError(relative);
      ({ etag, size } = head);
    }
    if (size > config.maxOriginalBytes) throw originalTooLarge(size, config);
    const ids = variants.map((v) => variantId(config.variantsPrefix, { key: task.key, etag: etag! }, v.spec));
    const stored = await Promise.all(ids.map((id) => store.hasVariant(id.key)));
    const outcomes: (VariantOutcome | undefined)[] = variants.map((variant, i) =>
      stored[i] ? { variant, status: 'skipped', variantKey: ids[i]!.key } : undefined,
    );
    if (outcomes.every(Boolean)) return outcomes as VariantOutcome[];
    if (deps.dryRun) return outcomes.map((o, i) => o ?? { variant: variants[i]!, status: 'would-render', variantKey: ids[i]!.key });
    if (deps.abandon.aborted) return outcomes.map((o, i) => o ?? { variant: variants[i]!, status: 'abandoned', variantKey: ids[i]!.key });

    const bytes = await store.getOriginal(task.key, etag);
    if (!bytes) {
      // Replaced or deleted since it was listed: render what is there now, once.
      if (attempt > 0) throw new OriginalNotFoundError(relative);
      return pregenerate({ key: task.key }, relative, variants, deps, attempt + 1);
    }
    if (bytes.length > config.maxOriginalBytes) throw originalTooLarge(bytes.length, config);
    const limits = renderLimits(config);
    let bytesIn = bytes.length;
    // An original that cannot be decoded fails every variant the same way: found out once.
    let unreadable: ImageServiceError | undefined;
    const writes: Promise<void>[] = [];
    for (const [i, variant] of variants.entries()) {
      if (outcomes[i]) continue;
      const id = ids[i]!;
      if (unreadable) {
        outcomes[i] = { variant, status: 'failed', variantKey: id.key, error: unreadable };
        continue;
      }
      if (deps.abandon.aborted) {
        outcomes[i] = { variant, status: 'abandoned', variantKey: id.key };
        continue;
      }
      try {
        const rendered = await renderVariant(bytes, variant.spec, limits);
        if (deps.abandon.aborted) {
          outcomes[i] = { variant, status: 'abandoned', variantKey: id.key };
          continue;
        }
        // The write goes on while the next variant renders: S3 time hidden behind CPU time.
        const counted = bytesIn;
        bytesIn = 0;
        writes.push(
          store.putVariant(id.key, rendered.data, variantWrite(config, task.key, etag, id, rendered.contentType)).then(
            () => {
              // The original's bytes are counted once, with the first variant made from them.
              outcomes[i] = { variant, status: 'done', variantKey: id.key, bytesIn: counted, bytesOut: rendered.data.length };
            },
            (error: unknown) => {
              outcomes[i] = { variant, status: 'failed', variantKey: id.key, error: toServiceError(error) };
            },
          ),
        );
      } catch (error) {
        const failure = toServiceError(error);
        if (failure.code === 'unsupported_image' || failure.code === 'undecodable_image') unreadable = failure;
        outcomes[i] = { variant, status: 'failed', variantKey: id.key, error: failure };
      }
    }
    await Promise.all(writes);
    return outcomes as VariantOutcome[];
  }
}

/** The key as a URL names it; a key no URL could request would make variants nobody can read. */
function relativeKey(key: string, config: Config): string {
  if (!key.startsWith(config.originalsPrefix)) {
    throw new OriginalOutsidePrefixError(key, config.originalsPrefix);
  }
  return validateKey(key.slice(config.originalsPrefix.length), requestRules(config));
}

class OriginalOutsidePrefixError extends InvalidRequestError {
  constructor(key: string, prefix: string) {
    super('outside_originals_prefix', `The key "${key.slice(0, 200)}" is not under the originals prefix "${prefix}".`);
  }
}
