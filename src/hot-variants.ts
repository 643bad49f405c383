import type { StoredVariant } from './storage/image-store.js';
import type { VariantId } from './transform/variant-key.js';

/**
 * Variants served or stored in the last few seconds, kept in memory (FRESHNESS=events with
 * HOT_VARIANT_SECONDS): a burst of requests for one image, which a CDN's many edges and regional
 * caches still send to the origin, is answered without an S3 request each. The window bounds how
 * long an entry is trusted: syncVariants cannot reach this memory, so after an original is
 * replaced its old variant may be answered for at most that long after syncVariants has run.
 */
export interface HotVariant {
  readonly id: VariantId;
  readonly stored: StoredVariant;
}

export interface HotVariants {
  get(key: string): HotVariant | undefined;
  put(key: string, variant: HotVariant): void;
  drop(key: string): void;
}

const OFF: HotVariants = { get: () => undefined, put: () => undefined, drop: () => undefined };

export function createHotVariants(settings: { seconds: number; bytes: number }, now: () => number = Date.now): HotVariants {
  if (settings.seconds <= 0 || settings.bytes <= 0) return OFF;
  const ttl = settings.seconds * 1000;
  const entries = new Map<string, HotVariant & { at: number }>();
  let bytes = 0;
  const drop = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    bytes -= entry.stored.body.length;
  };
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry && now() - entry.at < ttl) return entry;
      drop(key);
      return undefined;
    },
    put(key, variant) {
      // A large variant would push out many small ones: those are what bursts are made of.
      if (variant.stored.body.length > settings.bytes / 8) return;
      drop(key);
      entries.set(key, { ...variant, at: now() });
      bytes += variant.stored.body.length;
      // Insertion order is age order: the first entries are the oldest.
      for (const oldest of entries.keys()) {
        if (bytes <= settings.bytes) break;
        drop(oldest);
      }
    },
    drop,
  };
}
