import type { Config } from '../config.js';
import { ImageServiceError, InvalidRequestError, OriginalNotFoundError, toServiceError } from '../errors.js';
import { requestRules } from '../http/resize-handler.js';
import { validateKey } from '../request/original-key.js';
import { originalTooLarge, renderLimits, variantWrite } from '../service.js';
import type { ImageStore } from '../storage/image-store.js';
import { renderVariant } from '../transform/pipeline.js';
import { madeFrom, normalizeEtag, variantId, type VariantId } from '../transform/variant-key.js';
import { createWatermarkSource, type WatermarkHead, type WatermarkSource } from '../watermarks.js';
import type { JobVariant } from './job.js';

/**
 * One original, all of the job's variants, in two steps so that the cheap one never waits for
 * the expensive one: `checkOriginal` asks which variants exist (a HEAD each; the original is
 * not read), and `renderMissing` reads the original once and renders and stores each missing
 * variant exactly as the HTTP API's miss path does: same key, bytes and metadata. Each variant
 * is one PUT, so a crash leaves whole variants or none, and a re-run skips exactly those.
 */

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
  readonly variants: readonly JobVariant[];
  readonly dryRun: boolean;
  /** Aborted when the SIGTERM grace period is over: nothing more is written. */
  readonly abandon: AbortSignal;
}

/** An original with variants still to make: what the render step needs, and nothing heavy. */
export interface PendingOriginal {
  readonly key: string;
  readonly relativeKey: string;
  readonly etag: string;
  /** Undefined where the variant failed already (its watermark is missing). */
  readonly ids: readonly (VariantId | undefined)[];
  /** The watermark each variant's `mark` names, as checked: its ETag is in the key. */
  readonly marks: readonly (WatermarkHead | undefined)[];
  /** Outcomes so far, by variant: skipped ones filled in, missing ones undefined. */
  readonly outcomes: readonly (VariantOutcome | undefined)[];
  /** 0 the first time; 1 after the original changed under us once. */
  readonly attempt: number;
}

export type CheckResult = { readonly outcomes: VariantOutcome[] } | { readonly pending: PendingOriginal };

const failAll = (variants: readonly JobVariant[], error: unknown, ids?: readonly VariantId[]): VariantOutcome[] =>
  variants.map((variant, i) => ({ variant, status: 'failed', variantKey: ids?.[i]?.key, error: toServiceError(error) }));

/**
 * One watermark source per store, shared by every original of a job (and every event a warm
 * syncVariants instance handles): a HEAD of each watermark at most every few seconds, not one per
 * original, and its bytes read once. Same lookup, same keys and bytes as the HTTP service.
 */
const watermarkSources = new WeakMap<ImageStore, WatermarkSource>();
const WATERMARK_HEAD_TTL_MS = 10_000;

function watermarksOf(config: Config, store: ImageStore): WatermarkSource {
  let source = watermarkSources.get(store);
  if (!source) {
    source = createWatermarkSource(config, store, { headTtlMs: WATERMARK_HEAD_TTL_MS });
    watermarkSources.set(store, source);
  }
  return source;
}

/**
 * Each variant's watermark (undefined without `mark`), one HEAD per name. A missing or unusable
 * watermark fails only the variants that use it; storage trouble fails the original (thrown).
 */
async function checkWatermarks(variants: readonly JobVariant[], watermarks: WatermarkSource): Promise<(WatermarkHead | ImageServiceError | undefined)[]> {
  const names = [...new Set(variants.flatMap((v) => (v.spec.mark === undefined ? [] : [v.spec.mark])))];
  const heads = new Map<string, WatermarkHead | ImageServiceError>(
    await Promise.all(
      names.map(async (name): Promise<[string, WatermarkHead | ImageServiceError]> => {
        try {
          return [name, await watermarks.head(name)];
        } catch (error) {
          const failure = toServiceError(error);
          if (failure.statusCode >= 500) throw failure;
          return [name, failure];
        }
      }),
    ),
  );
  return variants.map((v) => (v.spec.mark === undefined ? undefined : heads.get(v.spec.mark)));
}

/** Which of the original's variants exist; for a dry run, also the verdict on the others. */
export async function checkOriginal(task: OriginalTask, deps: PregenerateDeps, attempt = 0): Promise<CheckResult> {
  const { config, store, variants } = deps;
  try {
    if (task.problem) throw task.problem;
    const relative = relativeKey(task.key, config);
    let { etag, size } = task;
    if (etag === undefined || size === undefined) {
      const head = await store.headOriginal(task.key);
      if (!head) throw new OriginalNotFoundError(relative);
      ({ etag, size } = head);
    }
    if (size > config.maxOriginalBytes) throw originalTooLarge(size, config);
    const checked = await checkWatermarks(variants, watermarksOf(config, store));
    const marks = checked.map((m) => (m instanceof ImageServiceError ? undefined : m));
    const ids = variants.map((v, i) =>
      checked[i] instanceof ImageServiceError
        ? undefined
        : variantId(config.variantsPrefix, { key: task.key, etag: etag!, watermarkEtag: marks[i]?.etag }, v.spec),
    );
    // Stored and made from this very version of the original (and of its watermark).
    const stored = await Promise.all(
      ids.map(async (id, i) => {
        const head = id && (await store.headVariant(id.key));
        return head !== undefined && madeFrom(head.metadata, { etag: etag!, watermarkEtag: marks[i]?.etag });
      }),
    );
    const outcomes = variants.map((variant, i): VariantOutcome | undefined => {
      const mark = checked[i];
      if (mark instanceof ImageServiceError) return { variant, status: 'failed', error: mark };
      return stored[i] ? { variant, status: 'skipped', variantKey: ids[i]!.key } : undefined;
    });
    if (outcomes.every(Boolean)) return { outcomes: outcomes as VariantOutcome[] };
    if (deps.dryRun) {
      return { outcomes: outcomes.map((o, i) => o ?? { variant: variants[i]!, status: 'would-render', variantKey: ids[i]!.key }) };
    }
    return { pending: { key: task.key, relativeKey: relative, etag, ids, marks, outcomes, attempt } };
  } catch (error) {
    return { outcomes: failAll(variants, error) };
  }
}

/** Reads the original once and renders and stores every variant the check found missing. */
export async function renderMissing(pending: PendingOriginal, deps: PregenerateDeps): Promise<VariantOutcome[]> {
  const { config, store, variants } = deps;
  const outcomes = [...pending.outcomes];
  const abandonRest = () => outcomes.map((o, i) => o ?? { variant: variants[i]!, status: 'abandoned' as const, variantKey: pending.ids[i]!.key });
  if (deps.abandon.aborted) return abandonRest();
  let bytes: Buffer | undefined;
  try {
    bytes = await store.getOriginal(pending.key, pending.etag);
    if (!bytes) {
      // Replaced or deleted since it was listed: check again and render what is there now, once.
      if (pending.attempt > 0) throw new OriginalNotFoundError(pending.relativeKey);
      const again = await checkOriginal({ key: pending.key }, deps, pending.attempt + 1);
      return 'pending' in again ? renderMissing(again.pending, deps) : again.outcomes;
    }
    if (bytes.length > config.maxOriginalBytes) throw originalTooLarge(bytes.length, config);
  } catch (error) {
    return outcomes.map((o, i) => o ?? { variant: variants[i]!, status: 'failed' as const, variantKey: pending.ids[i]!.key, error: toServiceError(error) });
  }

  const limits = renderLimits(config);
  let bytesIn = bytes.length;
  // An original that cannot be decoded fails every variant the same way: found out once.
  let unreadable: ImageServiceError | undefined;
  const writes: Promise<void>[] = [];
  for (const [i, variant] of variants.entries()) {
    if (outcomes[i]) continue;
    const id = pending.ids[i]!;
    if (unreadable) {
      outcomes[i] = { variant, status: 'failed', variantKey: id.key, error: unreadable };
      continue;
    }
    try {
      const mark = pending.marks[i];
      const watermark = mark && !deps.abandon.aborted ? await watermarksOf(config, store).read(mark) : undefined;
      const rendered = deps.abandon.aborted ? undefined : await renderVariant(bytes, variant.spec, limits, watermark);
      if (!rendered || deps.abandon.aborted) {
        outcomes[i] = { variant, status: 'abandoned', variantKey: id.key };
        continue;
      }
      // The original's bytes are counted once, with the first variant made from them.
      const counted = bytesIn;
      bytesIn = 0;
      // The write goes on while the next variant renders: S3 time hidden behind CPU time.
      writes.push(
        store.putVariant(id.key, rendered.data, variantWrite(config, { key: pending.key, etag: pending.etag, watermarkEtag: pending.marks[i]?.etag }, id, rendered.contentType, rendered.budget)).then(
          () => {
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
  if (config.freshness === 'events') {
    const undone = await undoIfReplaced(pending, outcomes, deps);
    if (undone) return undone;
  }
  return outcomes as VariantOutcome[];
}

/**
 * FRESHNESS=events serves hits without checking the original, trusting syncVariants to delete a
 * replaced original's variants: variants made from a version replaced while they rendered (after
 * syncVariants had looked) must not stay. Asked once per original, after its writes; what was
 * written from the old version is deleted, and the new version is rendered instead (once).
 */
async function undoIfReplaced(pending: PendingOriginal, outcomes: (VariantOutcome | undefined)[], deps: PregenerateDeps): Promise<VariantOutcome[] | undefined> {
  const written = outcomes.flatMap((o) => (o?.status === 'done' && o.variantKey ? [o.variantKey] : []));
  if (written.length === 0) return undefined;
  try {
    const current = await deps.store.headOriginal(pending.key);
    if (current && normalizeEtag(current.etag) === normalizeEtag(pending.etag)) return undefined;
    await deps.store.deleteVariants(written);
    if (pending.attempt > 0 || !current) throw new OriginalNotFoundError(pending.relativeKey);
    const again = await checkOriginal({ key: pending.key }, deps, pending.attempt + 1);
    return 'pending' in again ? renderMissing(again.pending, deps) : again.outcomes;
  } catch (error) {
    const failure = toServiceError(error);
    return outcomes.map((o, i) => (o?.status === 'done' ? { ...o, status: 'failed' as const, error: failure, bytesIn: undefined, bytesOut: undefined } : (o ?? { variant: deps.variants[i]!, status: 'failed' as const, error: failure })));
  }
}

class OriginalOutsidePrefixError extends InvalidRequestError {
  constructor(key: string, prefix: string) {
    super('outside_originals_prefix', `The key "${key.slice(0, 200)}" is not under the originals prefix "${prefix}".`);
  }
}

/** The key as a URL names it; a key no URL could request would make variants nobody can read. */
function relativeKey(key: string, config: Config): string {
  if (!key.startsWith(config.originalsPrefix)) throw new OriginalOutsidePrefixError(key, config.originalsPrefix);
  return validateKey(key.slice(config.originalsPrefix.length), requestRules(config));
}
