import type { ImageStore, OriginalRead } from './image-store.js';

/** How many keys read once are remembered, so that their second read is kept. */
const MAX_SEEN_ONCE = 10_000;

/**
 * Keeps recently read originals in memory, by key and ETag, up to a byte budget. A page asks for
 * several sizes and formats of one image, and a warm instance renders them one after another:
 * only the first requests pay for the download. An original is kept from its second read on: most
 * are read once (a miss on an image nobody asked for before), and holding those would only make
 * the garbage collector work (they outlive its young generation) without saving a download.
 * Entries are exact (key + ETag), so a replaced original is never rendered from memory:
 * `openOriginal` asks S3 whether the ETag held is still current (a conditional GET: one round
 * trip, no body when it is).
 */
export function withOriginalCache(store: ImageStore, maxBytes: number): ImageStore {
  if (maxBytes <= 0) return store;
  // By `${etag}\n${key}`; Map order is use order: the first entries are the least recently used.
  const entries = new Map<string, { key: string; etag: string; body: Buffer }>();
  // The ETag held last for each key: what a conditional read offers S3.
  const held = new Map<string, string>();
  const seenOnce = new Set<string>();
  let bytes = 0;
  const idOf = (key: string, etag: string) => `${etag}\n${key}`;

  function remember(key: string, etag: string, body: Buffer) {
    if (body.length > maxBytes) return;
    if (!seenOnce.delete(key)) {
      seenOnce.add(key);
      if (seenOnce.size > MAX_SEEN_ONCE) seenOnce.delete(seenOnce.values().next().value!);
      return;
    }
    const id = idOf(key, etag);
    if (entries.has(id)) return;
    entries.set(id, { key, etag, body });
    held.set(key, etag);
    bytes += body.length;
    for (const [oldest, entry] of entries) {
      if (bytes <= maxBytes) break;
      entries.delete(oldest);
      bytes -= entry.body.length;
      if (held.get(entry.key) === entry.etag) held.delete(entry.key);
    }
  }

  function recall(key: string, etag: string): Buffer | undefined {
    const id = idOf(key, etag);
    const cached = entries.get(id);
    if (cached) {
      entries.delete(id);
      entries.set(id, cached);
    }
    return cached?.body;
  }

  const fromMemory = (etag: string, body: Buffer): OriginalRead => ({
    etag,
    size: body.length,
    bytes: () => Promise.resolve(body),
    abandon: () => undefined,
  });

  return {
    ...store,
    async getOriginal(key, etag) {
      const cached = recall(key, etag);
      if (cached) return cached;
      const body = await store.getOriginal(key, etag);
      if (body) remember(key, etag, body);
      return body;
    },
    async openOriginal(key, ifNoneMatch) {
      const offered = ifNoneMatch ?? held.get(key);
      const opened = await store.openOriginal(key, offered);
      if (!opened) {
        held.delete(key);
        return undefined;
      }
      if ('unchanged' in opened) {
        const cached = recall(key, opened.etag);
        if (cached) return fromMemory(opened.etag, cached);
        // Offered by the caller: the caller has the bytes. Dropped from here in the meantime: read it whole.
        return ifNoneMatch === undefined ? store.openOriginal(key) : opened;
      }
      return {
        ...opened,
        bytes: async () => {
          const body = await opened.bytes();
          remember(key, opened.etag, body);
          return body;
        },
      };
    },
  };
}
