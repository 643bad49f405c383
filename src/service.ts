import type { Config } from './config.js';
import { OriginalNotFoundError, ProcessingTimeoutError, StorageUnavailableError, TooLargeError } from './errors.js';
import { imageCacheControl } from './http/cache-control.js';
import type { ImageStore, StoredVariant, VariantWrite } from './storage/image-store.js';
import { withOriginalCache } from './storage/original-cache.js';
import { budgetFromMetadata, budgetMetadata, type BudgetOutcome } from './transform/byte-budget.js';
import { renderVariant, type RenderLimits } from './transform/pipeline.js';
import type { TransformSpec } from './transform/spec.js';
import { variantId, type VariantId } from './transform/variant-key.js';
import { createWatermarkSource, type WatermarkHead } from './watermarks.js';

/** Durations in milliseconds, reported to clients as Server-Timing. */
export interface Timings {
  s3Read: number;
  transform: number;
  s3Write: number;
}

export type VariantResult =
  | { readonly kind: 'not-modified'; readonly id: VariantId }
  | {
      readonly kind: 'hit' | 'miss';
      readonly id: VariantId;
      readonly body: Buffer;
      readonly contentType: string;
      /** Whether the variant is in the cache now (false when a write after a miss failed). */
      readonly stored: boolean;
      readonly timings: Timings;
      /** `maxbytes`: the quality found and whether it fits (kept in the stored object's metadata). */
      readonly budget?: BudgetOutcome;
      /** A miss: the size of the original it was rendered from. */
      readonly originalBytes?: number;
    };

export interface VariantRequest {
  /** The original's key as the client named it, relative to the originals prefix. */
  readonly key: string;
  readonly spec: TransformSpec;
  /** The client's If-None-Match header, if any. */
  readonly ifNoneMatch?: string;
}

export interface ServiceLog {
  warn(message: string, details: Record<string, unknown>): void;
}

export interface VariantService {
  getVariant(request: VariantRequest): Promise<VariantResult>;
  /** The stored variant's presigned URL; its response says `Cache-Control: <cacheControl>` when given. */
  variantUrl(id: VariantId, cacheControl?: string): Promise<string>;
}

type Rendered = { body: Buffer; contentType: string; stored: boolean; timings: Timings; budget?: BudgetOutcome; originalBytes: number };

const since = (start: number) => performance.now() - start;

/** How many originals' last-seen ETags an instance keeps for its speculative variant lookup. */
const MAX_REMEMBERED_ETAGS = 10_000;

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  // `*` would mean "any stored variant", which is only known after reading it: treated as absent.
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

export function renderLimits(config: Config): RenderLimits {
  return {
    defaultQuality: config.defaultQuality,
    maxInputPixels: config.maxInputPixels,
    maxOutputPixels: config.maxOutputPixels,
    maxFrames: config.maxFrames,
    allowSvg: config.allowSvg,
    timeoutSeconds: config.processingTimeoutMs / 1000,
  };
}

/**
 * How a variant is stored: the same for a miss served over HTTP and for the batch worker, so a
 * pre-generated variant is exactly the object a request would have stored.
 */
export function variantWrite(
  config: Config,
  originalKey: string,
  etag: string,
  id: VariantId,
  contentType: string,
  budget?: BudgetOutcome,
): VariantWrite {
  return {
    contentType,
    cacheControl: imageCacheControl(config.cacheMaxAge, config.edge.cdnMaxAge),
    metadata: { 'source-key': encodeURIComponent(originalKey), 'source-etag': etag, spec: id.spec, ...budgetMetadata(budget) },
  };
}

export function originalTooLarge(size: number, config: Config): TooLargeError {
  return new TooLargeError(
    'original_too_large',
    `The original is ${size} bytes, over the limit of ${config.maxOriginalBytes} bytes.`,
  );
}

/**
 * getVariant: hit → the stored bytes, untouched; miss → read the original, render, store, answer.
 * The original is only ever read. Every variant key includes the original's current ETag, read
 * fresh on each request, so a replaced original is never answered with an old variant.
 */
export function createVariantService(config: Config, backingStore: ImageStore, log: ServiceLog): VariantService {
  const store = withOriginalCache(backingStore, config.originalCacheBytes);
  const limits = renderLimits(config);
  // Watermarks have a cache of their own: big originals must not push them out of it.
  const watermarks = createWatermarkSource(config, backingStore);
  // The last ETag seen per original lets the variant lookup start alongside the HEAD of the
  // original; the HEAD still decides, so a stale guess only costs a wasted GET.
  // Bounded: a warm instance can see millions of distinct originals over its life.
  const lastEtag = new Map<string, { etag: string; confirmedAt: number }>();
  const rememberEtag = (key: string, etag: string) => {
    lastEtag.delete(key);
    lastEtag.set(key, { etag, confirmedAt: Date.now() });
    if (lastEtag.size > MAX_REMEMBERED_ETAGS) lastEtag.delete(lastEtag.keys().next().value!);
  };
  // Identical misses in flight in this instance share one render and one write.
  const inFlight = new Map<string, Promise<Rendered>>();

  /**
   * `deadline` is aborted when the request that started the render has been answered with a
   * timeout. The render itself cannot be cancelled (sharp has no abort), but work not yet begun
   * is skipped and nothing is written afterwards: in Lambda the leftover work would otherwise run
   * into the next invocation, and a write would land at some unknown later time.
   */
  async function render(
    originalKey: string,
    etag: string,
    id: VariantId,
    spec: TransformSpec,
    s3Read: number,
    deadline: AbortSignal,
    mark?: WatermarkHead,
  ): Promise<Rendered> {
    let start = performance.now();
    const [bytes, watermark] = await Promise.all([store.getOriginal(originalKey, etag), mark && watermarks.read(mark)]);
    if (!bytes) {
      // Deleted or replaced between the HEAD and the GET: the next request sees the new state.
      lastEtag.delete(originalKey);
      throw new StorageUnavailableError(new Error('original changed while being read'));
    }
    if (bytes.length > config.maxOriginalBytes) throw originalTooLarge(bytes.length, config);
    deadline.throwIfAborted();
    const timings: Timings = { s3Read: s3Read + since(start), transform: 0, s3Write: 0 };
    start = performance.now();
    const rendered = await renderVariant(bytes, spec, limits, watermark);
    timings.transform = since(start);
    const result = { body: rendered.data, contentType: rendered.contentType, timings, budget: rendered.budget, originalBytes: bytes.length };
    if (deadline.aborted) {
      log.warn('variant not stored: rendered after the processing deadline', { variantKey: id.key, ms: Math.round(timings.transform) });
      return { ...result, stored: false };
    }
    start = performance.now();
    let stored = true;
    try {
      await store.putVariant(id.key, rendered.data, variantWrite(config, originalKey, etag, id, rendered.contentType, rendered.budget));
    } catch (error) {
      // The cache is best effort: the client still gets its image.
      stored = false;
      log.warn('variant write failed', { variantKey: id.key, error });
    }
    timings.s3Write = since(start);
    return { ...result, stored };
  }

  const hit = (id: VariantId, stored: StoredVariant, s3Read: number): VariantResult => ({
    kind: 'hit',
    id,
    body: stored.body,
    contentType: stored.contentType,
    stored: true,
    timings: { s3Read, transform: 0, s3Write: 0 },
    budget: budgetFromMetadata(stored.metadata),
  });

  async function getVariant(request: VariantRequest, deadline: AbortSignal): Promise<VariantResult> {
    const originalKey = config.originalsPrefix + request.key;
    const start = performance.now();
    // A watermark's ETag is part of the key: asked for on every request that has one, alongside
    // the original's HEAD (the guessed lookup uses the one seen last).
    const name = request.spec.mark;
    const markHead = name === undefined ? undefined : watermarks.head(name);
    markHead?.catch(() => undefined);
    const markGuess = name === undefined ? undefined : watermarks.lastEtag(name);
    const remembered = lastEtag.get(originalKey);
    const guess = remembered?.etag;
    const guessedId =
      guess !== undefined && (name === undefined || markGuess !== undefined)
        ? variantId(config.variantsPrefix, { key: originalKey, etag: guess, watermarkEtag: markGuess }, request.spec)
        : undefined;
    // Opt-in (ORIGINAL_REVALIDATE_SECONDS): an ETag confirmed that recently is trusted for hits,
    // which then cost one S3 request instead of two. Misses always confirm it first; so do
    // watermarked requests, which HEAD the watermark anyway.
    const trusted =
      name === undefined && remembered !== undefined && Date.now() - remembered.confirmedAt < config.originalRevalidateSeconds * 1000;
    if (trusted && guessedId && matchesEtag(request.ifNoneMatch, guessedId.etag)) return { kind: 'not-modified', id: guessedId };
    const speculative = guessedId ? store.getVariant(guessedId.key) : undefined;
    speculative?.catch(() => undefined);
    if (trusted && guessedId) {
      const stored = await speculative!;
      if (stored) return hit(guessedId, stored, since(start));
    }

    const head = await store.headOriginal(originalKey);
    if (!head) {
      lastEtag.delete(originalKey);
      throw new OriginalNotFoundError(request.key);
    }
    if (head.size > config.maxOriginalBytes) throw originalTooLarge(head.size, config);
    const mark = await markHead;
    rememberEtag(originalKey, head.etag);
    const id = variantId(config.variantsPrefix, { key: originalKey, etag: head.etag, watermarkEtag: mark?.etag }, request.spec);
    if (matchesEtag(request.ifNoneMatch, id.etag)) return { kind: 'not-modified', id };

    const stored = await (guessedId?.key === id.key ? speculative! : store.getVariant(id.key));
    const s3Read = since(start);
    if (stored) return hit(id, stored, s3Read);
    let rendering = inFlight.get(id.key);
    if (!rendering) {
      rendering = render(originalKey, head.etag, id, request.spec, s3Read, deadline, mark).finally(() => inFlight.delete(id.key));
      inFlight.set(id.key, rendering);
    }
    return { kind: 'miss', id, ...(await rendering) };
  }

  return {
    async getVariant(request) {
      let timer: NodeJS.Timeout | undefined;
      const expired = new AbortController();
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new ProcessingTimeoutError(config.processingTimeoutMs);
          expired.abort(error);
          reject(error);
        }, config.processingTimeoutMs);
      });
      try {
        return await Promise.race([getVariant(request, expired.signal), deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
    variantUrl: (id, cacheControl) => store.variantUrl(id.key, config.presignedUrlTtl, cacheControl),
  };
}
