import { posix } from 'node:path';
import type { Config } from './config.js';
import { InvalidRequestError, StorageUnavailableError, WatermarkError, WatermarkNotFoundError } from './errors.js';
import type { ImageStore } from './storage/image-store.js';
import { withOriginalCache } from './storage/original-cache.js';
import { objectName } from './transform/validators.js';
import type { WatermarkImage } from './transform/watermark.js';

/**
 * `mark=<name>`: the object `<WATERMARKS_PREFIX><name>` of the originals bucket, a full key
 * (not below ORIGINALS_PREFIX). Every variant that uses it records its ETag, and every request
 * for one compares that with the watermark's current ETag, so a replaced watermark's variants
 * are rendered again, never served (nothing to sync).
 * The HTTP service, the batch worker and syncVariants' eager presets all resolve watermarks
 * here, so they agree on keys and bytes.
 */

export interface WatermarkHead {
  readonly name: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

export interface WatermarkSource {
  /** The watermark's current ETag and size (a HEAD); a missing one is a 404 that names it. */
  head(name: string): Promise<WatermarkHead>;
  /** Its bytes at exactly that ETag; from this instance's memory when they are there. */
  read(head: WatermarkHead): Promise<WatermarkImage>;
}

export interface WatermarkSourceOptions {
  /**
   * How long a HEAD's answer is reused, in milliseconds: 0 (the HTTP service) asks S3 every time.
   * The batch worker reuses it briefly, so a job over many originals does not HEAD the watermark
   * once per original; a replacement is picked up within that time.
   */
  readonly headTtlMs?: number;
}

/** Watermarks are few and small: this much of their bytes is kept (within ORIGINAL_CACHE_BYTES). */
const WATERMARK_CACHE_BYTES = 16 * 1024 * 1024;
const MAX_REMEMBERED = 1_000;

/**
 * The key `mark=<name>` reads. The parameter's validator already refuses `..`, `.` and empty
 * segments, backslashes and control characters; checked again here (and after normalising), as
 * this is the one place a name becomes a key.
 */
export function watermarkKey(prefix: string, name: string): string {
  const key = prefix + objectName(name, 'mark');
  if (posix.normalize(key) !== key || !posix.normalize(key).startsWith(prefix)) {
    throw new InvalidRequestError('invalid_param', `Invalid value for "mark": "${name.slice(0, 64)}" is not a name inside the watermarks folder.`);
  }
  return key;
}

export function createWatermarkSource(config: Config, store: ImageStore, options: WatermarkSourceOptions = {}): WatermarkSource {
  const cached = withOriginalCache(store, Math.min(config.originalCacheBytes, WATERMARK_CACHE_BYTES));
  const ttl = options.headTtlMs ?? 0;
  const seen = new Map<string, { head: WatermarkHead; at: number }>();
  const remember = (head: WatermarkHead) => {
    seen.delete(head.name);
    seen.set(head.name, { head, at: Date.now() });
    if (seen.size > MAX_REMEMBERED) seen.delete(seen.keys().next().value!);
  };
  const tooLarge = (name: string, key: string, size: number) =>
    new WatermarkError(413, 'watermark_too_large', `The watermark "${name}" (${key}) is ${size} bytes, over the limit of ${config.maxOriginalBytes} bytes.`);

  return {
    async head(name) {
      const key = watermarkKey(config.watermarksPrefix, name);
      const recent = seen.get(name);
      if (recent && ttl > 0 && Date.now() - recent.at < ttl) return recent.head;
      const found = await store.headOriginal(key);
      if (!found) {
        seen.delete(name);
        throw new WatermarkNotFoundError(name, key);
      }
      if (found.size > config.maxOriginalBytes) throw tooLarge(name, key, found.size);
      const head = { name, key, etag: found.etag, size: found.size };
      remember(head);
      return head;
    },
    async read(head) {
      const bytes = await cached.getOriginal(head.key, head.etag);
      if (!bytes) {
        // Replaced or deleted between the HEAD and the GET: the next request sees the new state.
        seen.delete(head.name);
        throw new StorageUnavailableError(new Error(`watermark ${head.key} changed while being read`));
      }
      if (bytes.length > config.maxOriginalBytes) throw tooLarge(head.name, head.key, bytes.length);
      return { name: head.name, key: head.key, bytes };
    },
  };
}
