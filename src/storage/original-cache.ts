import type { ImageStore } from './image-store.js';

/**
 * Keeps the most recently read originals in memory, by key and ETag, up to a byte budget. A page
 * asks for several sizes and formats of one image, and a warm instance (or the batch worker)
 * renders them one after another: only the first pays for the download. Entries are exact
 * (key + ETag), so a replaced original is never rendered from memory.
 */
export function withOriginalCache(store: ImageStore, maxBytes: number): ImageStore {
  if (maxBytes <= 0) return store;
  const entries = new Map<string, Buffer>();
  let bytes = 0;

  function remember(id: string, body: Buffer) {
    if (body.length > maxBytes) return;
    entries.set(id, body);
    bytes += body.length;
    // Map iteration order is insertion order: the first entries are the least recently used.
    for (const [oldest, buffer] of entries) {
      if (bytes <= maxBytes) break;
      entries.delete(oldest);
      bytes -= buffer.length;
    }
  }

  return {
    ...store,
    async getOriginal(key, etag) {
      const id = `${etag}\n${key}`;
      const cached = entries.get(id);
      if (cached) {
        entries.delete(id);
        entries.set(id, cached);
        return cached;
      }
      const body = await store.getOriginal(key, etag);
      if (body) remember(id, body);
      return body;
    },
  };
}
