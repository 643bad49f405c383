import type { Config } from './config.js';
import { OriginalNotFoundError, ProcessingTimeoutError, StorageUnavailableError, TooLargeError } from './errors.js';
import { createHotVariants } from './hot-variants.js';
import { imageCacheControl } from './http/cache-control.js';
import type { ImageStore, OriginalHead, OriginalRead, StoredVariant, VariantWrite } from './storage/image-store.js';
import { withOriginalCache } from './storage/original-cache.js';
import { budgetFromMetadata, budgetMetadata, type BudgetOutcome } from './transform/byte-budget.js';
import { renderVariant, type RenderLimits } from './transform/pipeline.js';
import type { TransformSpec } from './transform/spec.js';
import {
  madeFrom,
  normalizeEtag,
  sourceMetadata,
  storedSource,
  variantId,
  variantKey,
  type VariantId,
  type VariantSource,
} from './transform/variant-key.js';
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
  source: VariantSource,
  id: VariantId,
  contentType: string,
  budget?: BudgetOutcome,
  supersedes = false,
): VariantWrite {
  return {
    contentType,
    cacheControl: imageCacheControl(config.cacheMaxAge, config.edge.cdnMaxAge),
    metadata: { 'source-key': encodeURIComponent(source.key), ...sourceMetadata(source, supersedes), spec: id.spec, ...budgetMetadata(budget) },
  };
}

export function originalTooLarge(size: number, config: Config): TooLargeError {
  return new TooLargeError(
    'original_too_large',
    `The original is ${size} bytes, over the limit of ${config.maxOriginalBytes} bytes.`,
  );
}

export interface ServiceOptions {
  /**
   * Takes work that need not hold up the response (the check after a write that the original was
   * not replaced meanwhile). The engine passes one and waits for it when draining; without it (in
   * Lambda, which freezes the process once it has answered) that work is awaited before answering.
   */
  readonly afterResponse?: (work: Promise<void>) => void;
}

/** How many variant keys an instance remembers as stored (hits and its own writes). */
const MAX_KNOWN_STORED = 10_000;

/**
 * getVariant: hit → the stored bytes, untouched; miss → read the original, render, store, answer.
 * The original is only ever read. The variant's key does not depend on the original's version, so
 * the lookup and the original's read start together: a miss waits on one round trip (both), the
 * render and the write; a hit is the lookup, plus (FRESHNESS=strict) the original's ETag checked
 * against the one the variant was made from, in the same round trip.
 */
export function createVariantService(config: Config, backingStore: ImageStore, log: ServiceLog, options: ServiceOptions = {}): VariantService {
  const store = withOriginalCache(backingStore, config.originalCacheBytes);
  const limits = renderLimits(config);
  const events = config.freshness === 'events';
  // Watermarks have a cache of their own: big originals must not push them out of it.
  const watermarks = createWatermarkSource(config, backingStore);
  // Variant keys this instance has seen stored. For those, FRESHNESS=events reads the variant
  // alone (one request); otherwise the original's read starts alongside the lookup, so that a
  // miss does not wait for the lookup first, and is abandoned when the lookup is a hit. Strict
  // mode only asks for the original's ETag (a HEAD) for them. Bounded: a warm instance can see
  // millions of distinct variants over its life.
  const known = new Set<string>();
  const remember = (key: string) => {
    known.delete(key);
    known.add(key);
    if (known.size > MAX_KNOWN_STORED) known.delete(known.values().next().value!);
  };
  // Strict freshness checks the original on every hit; config.ts refuses the window without events.
  const hot = createHotVariants(events ? config.hotVariants : { seconds: 0, bytes: 0 });
  // Identical misses in flight in this instance share one render and one write.
  const inFlight = new Map<string, Promise<Rendered>>();

  /** The original's headers, and its body on demand; `probe`: the variant is probably stored, so only its ETag is likely needed. */
  async function openOriginal(key: string, probe: boolean): Promise<OriginalRead | undefined> {
    if (probe) {
      const head = await store.headOriginal(key);
      if (!head) return undefined;
      return {
        ...head,
        async bytes() {
          const bytes = await store.getOriginal(key, head.etag);
          if (!bytes) throw new StorageUnavailableError(new Error('original changed while being read'));
          return bytes;
        },
        abandon: () => undefined,
      };
    }
    const opened = await store.openOriginal(key);
    // Only a caller that offers an ETag can be told "unchanged"; none is offered here.
    if (opened && 'unchanged' in opened) throw new StorageUnavailableError(new Error('unexpected Not Modified'));
    return opened;
  }

  /**
   * With FRESHNESS=events a hit does not check the original, so a variant rendered from a version
   * that was replaced (and its variants deleted by syncVariants) while the render ran must not
   * stay: the original is asked again and the write undone if it changed. `current` is that
   * question's answer, asked after the write where the engine can (off the response's path), and
   * alongside it in Lambda, which must answer before it can do anything else: a miss then still
   * waits on two round trips; what that leaves open is a replacement and syncVariants' whole run
   * (S3's event delivery included) both fitting inside the one PUT's duration.
   */
  async function undoIfReplaced(current: Promise<OriginalHead | undefined>, etag: string, variantKey: string): Promise<void> {
    try {
      const head = await current;
      if (head && normalizeEtag(head.etag) === normalizeEtag(etag)) return;
      known.delete(variantKey);
      hot.drop(variantKey);
      await store.deleteVariants([variantKey]);
      log.warn('variant deleted: its original changed while it was rendered', { variantKey });
    } catch (error) {
      log.warn('could not check the original after a write', { variantKey, error });
    }
  }

  /**
   * `deadline` is aborted when the request that started the render has been answered with a
   * timeout. The render itself cannot be cancelled (sharp has no abort), but work not yet begun
   * is skipped and nothing is written afterwards: in Lambda the leftover work would otherwise run
   * into the next invocation, and a write would land at some unknown later time.
   */
  async function render(
    original: OriginalRead,
    source: VariantSource,
    id: VariantId,
    spec: TransformSpec,
    s3Read: number,
    deadline: AbortSignal,
    mark: WatermarkHead | undefined,
    supersedes: boolean,
  ): Promise<Rendered> {
    let start = performance.now();
    const [bytes, watermark] = await Promise.all([original.bytes(), mark && watermarks.read(mark)]);
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
    const alongside = events && !options.afterResponse ? store.headOriginal(source.key) : undefined;
    alongside?.catch(() => undefined);
    try {
      const write = variantWrite(config, source, id, rendered.contentType, rendered.budget, supersedes);
      await store.putVariant(id.key, rendered.data, write);
      remember(id.key);
      if (spec.mark === undefined) hot.put(id.key, { id, stored: { body: rendered.data, contentType: rendered.contentType, metadata: write.metadata } });
    } catch (error) {
      // The cache is best effort: the client still gets its image.
      stored = false;
      log.warn('variant write failed', { variantKey: id.key, error });
    }
    if (stored && alongside) await undoIfReplaced(alongside, source.etag, id.key);
    timings.s3Write = since(start);
    if (stored && events && options.afterResponse) options.afterResponse(undoIfReplaced(store.headOriginal(source.key), source.etag, id.key));
    return { ...result, stored };
  }

  /** `keep`: just read from the bucket, and kept hot (a memory hit must not extend its own window). */
  const hit = (id: VariantId, stored: StoredVariant, s3Read: number, keep: boolean): VariantResult => {
    remember(id.key);
    if (keep) hot.put(id.key, { id, stored });
    return {
      kind: 'hit',
      id,
      body: stored.body,
      contentType: stored.contentType,
      stored: true,
      timings: { s3Read, transform: 0, s3Write: 0 },
      budget: budgetFromMetadata(stored.metadata),
    };
  };

  async function getVariant(request: VariantRequest, deadline: AbortSignal): Promise<VariantResult> {
    const originalKey = config.originalsPrefix + request.key;
    const start = performance.now();
    const key = variantKey(config.variantsPrefix, originalKey, request.spec);
    // Watermarked variants are not kept hot: each request asks for the watermark's ETag anyway.
    const recent = request.spec.mark === undefined ? hot.get(key) : undefined;
    if (recent) {
      if (matchesEtag(request.ifNoneMatch, recent.id.etag)) return { kind: 'not-modified', id: recent.id };
      return hit(recent.id, recent.stored, 0, false);
    }
    // A watermark's ETag is part of what a variant is made from: asked for on every request that
    // has one, alongside the lookup.
    const name = request.spec.mark;
    const markHead = name === undefined ? undefined : watermarks.head(name);
    markHead?.catch(() => undefined);
    const likelyStored = known.has(key);
    const lookup = store.getVariant(key);
    lookup.catch(() => undefined);
    let opening = events && likelyStored ? undefined : openOriginal(originalKey, likelyStored);
    opening?.catch(() => undefined);
    try {
      const stored = await lookup;
      if (!stored) known.delete(key);
      let mark: WatermarkHead | undefined;
      try {
        mark = await markHead;
      } catch (error) {
        // A missing original is the original's 404, whatever the watermark's state.
        if (opening && !(await opening)) throw new OriginalNotFoundError(request.key);
        throw error;
      }
      const made = storedSource(stored?.metadata);
      if (stored && events && made.etag !== undefined && madeFrom(stored.metadata, { watermarkEtag: mark?.etag })) {
        // Events keep variants fresh: the original's read, if one was started, is not waited for.
        const id = variantId(config.variantsPrefix, { key: originalKey, etag: made.etag, watermarkEtag: mark?.etag }, request.spec);
        if (matchesEtag(request.ifNoneMatch, id.etag)) return { kind: 'not-modified', id };
        return hit(id, stored, since(start), name === undefined);
      }

      opening ??= openOriginal(originalKey, false);
      const original = await opening;
      if (!original) throw new OriginalNotFoundError(request.key);
      if (original.size > config.maxOriginalBytes) throw originalTooLarge(original.size, config);
      const source: VariantSource = { key: originalKey, etag: original.etag, watermarkEtag: mark?.etag };
      const id = variantId(config.variantsPrefix, source, request.spec);
      if (matchesEtag(request.ifNoneMatch, id.etag)) return { kind: 'not-modified', id };
      const s3Read = since(start);
      if (stored && madeFrom(stored.metadata, source)) return hit(id, stored, s3Read, name === undefined);

      // Keyed by the version too: two versions of one original share a variant key.
      const flight = `${id.key}\n${id.etag}`;
      let rendering = inFlight.get(flight);
      if (!rendering) {
        // Overwriting a variant of another version: edge caches may hold that one (syncVariants invalidates them).
        const supersedes = stored !== undefined && !madeFrom(stored.metadata, { etag: original.etag });
        rendering = render(original, source, id, request.spec, s3Read, deadline, mark, supersedes).finally(() => inFlight.delete(flight));
        inFlight.set(flight, rendering);
      }
      return { kind: 'miss', id, ...(await rendering) };
    } finally {
      // Whatever was not read is not needed (a no-op for a read the render took over).
      void opening?.then((read) => read?.abandon(), () => undefined);
    }
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
