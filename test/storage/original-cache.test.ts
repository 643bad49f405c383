import { describe, expect, it } from 'vitest';
import type { ImageStore } from '../../src/storage/image-store.js';
import { withOriginalCache } from '../../src/storage/original-cache.js';

/** A store that only knows originals, and counts how often they are downloaded. */
function originals(objects: Record<string, { etag: string; size: number }>) {
  const downloads: string[] = [];
  const store = {
    async getOriginal(key: string, etag: string) {
      downloads.push(key);
      const object = objects[key];
      return object && object.etag === etag ? Buffer.alloc(object.size, key) : undefined;
    },
  } as unknown as ImageStore;
  return { store, downloads };
}

describe('withOriginalCache', () => {
  it('keeps an original from its second read on: the third and later come from memory', async () => {
    const { store, downloads } = originals({ a: { etag: '"1"', size: 10 }, once: { etag: '"1"', size: 10 } });
    const cached = withOriginalCache(store, 100);
    await cached.getOriginal('once', '"1"');
    await cached.getOriginal('a', '"1"');
    const second = await cached.getOriginal('a', '"1"');
    const third = await cached.getOriginal('a', '"1"');
    expect(third).toBe(second);
    expect(await cached.getOriginal('a', '"1"')).toBe(second);
    expect(downloads).toEqual(['once', 'a', 'a']);
  });

  it('never answers from memory for another ETag: a replaced original is read again', async () => {
    const objects = { a: { etag: '"1"', size: 10 } };
    const { store, downloads } = originals(objects);
    const cached = withOriginalCache(store, 100);
    await cached.getOriginal('a', '"1"');
    await cached.getOriginal('a', '"1"');
    objects.a = { etag: '"2"', size: 12 };
    expect((await cached.getOriginal('a', '"2"'))?.length).toBe(12);
    expect(await cached.getOriginal('a', '"1"')).toBeDefined(); // the old entry is exact, not reused for "2"
    expect(downloads).toEqual(['a', 'a', 'a']);
  });

  it('keeps within its byte budget, dropping the least recently used first', async () => {
    const { store, downloads } = originals({ a: { etag: 'e', size: 40 }, b: { etag: 'e', size: 40 }, c: { etag: 'e', size: 40 } });
    const cached = withOriginalCache(store, 100);
    const twice = async (key: string) => {
      await cached.getOriginal(key, 'e');
      await cached.getOriginal(key, 'e');
    };
    await twice('a');
    await twice('b');
    await cached.getOriginal('a', 'e'); // a is now the most recent
    await twice('c'); // 120 bytes: b goes
    downloads.length = 0;
    await cached.getOriginal('a', 'e');
    await cached.getOriginal('c', 'e');
    await cached.getOriginal('b', 'e');
    expect(downloads).toEqual(['b']);
  });

  it('does not keep what is missing or larger than the budget, and can be switched off', async () => {
    const { store, downloads } = originals({ big: { etag: 'e', size: 500 } });
    const cached = withOriginalCache(store, 100);
    await cached.getOriginal('big', 'e');
    await cached.getOriginal('big', 'e');
    expect(await cached.getOriginal('gone', 'e')).toBeUndefined();
    await cached.getOriginal('gone', 'e');
    expect(downloads).toEqual(['big', 'big', 'gone', 'gone']);
    expect(withOriginalCache(store, 0)).toBe(store);
  });

  it('opens an original it holds with a conditional read: the bytes from memory while S3 says unchanged', async () => {
    const objects: Record<string, { etag: string; body: Buffer }> = { a: { etag: '"1"', body: Buffer.from('first') } };
    const offered: (string | undefined)[] = [];
    const store = {
      async openOriginal(key: string, ifNoneMatch?: string) {
        offered.push(ifNoneMatch);
        const object = objects[key];
        if (!object) return undefined;
        if (ifNoneMatch === object.etag) return { unchanged: true, etag: object.etag };
        return { etag: object.etag, size: object.body.length, bytes: async () => object.body, abandon: () => undefined };
      },
    } as unknown as ImageStore;
    const cached = withOriginalCache(store, 100);
    const read = async () => {
      const opened = await cached.openOriginal('a');
      if (!opened || 'unchanged' in opened) throw new Error('expected a read');
      return { etag: opened.etag, body: (await opened.bytes()).toString() };
    };
    expect(await read()).toEqual({ etag: '"1"', body: 'first' });
    expect(await read()).toEqual({ etag: '"1"', body: 'first' });
    expect(await read()).toEqual({ etag: '"1"', body: 'first' });
    objects.a = { etag: '"2"', body: Buffer.from('second') };
    expect(await read()).toEqual({ etag: '"2"', body: 'second' });
    expect(offered).toEqual([undefined, undefined, '"1"', '"1"']);
  });
});
