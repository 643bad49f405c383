import { describe, expect, it } from 'vitest';
import { createHotVariants } from '../src/hot-variants.js';

const variant = (key: string, size: number) => ({
  id: { key, etag: `"${key}"`, spec: 'w=1' },
  stored: { body: Buffer.alloc(size), contentType: 'image/jpeg' },
});

describe('hot variants', () => {
  it('answers within the window, counted from when the variant was read or stored, never extended by use', () => {
    let now = 0;
    const hot = createHotVariants({ seconds: 5, bytes: 1000 }, () => now);
    hot.put('a', variant('a', 10));
    now = 4999;
    expect(hot.get('a')?.id.key).toBe('a');
    now = 5000;
    expect(hot.get('a')).toBeUndefined();
  });

  it('keeps within its byte budget, oldest out first, and refuses a variant over an eighth of it', () => {
    const hot = createHotVariants({ seconds: 60, bytes: 800 }, () => 0);
    hot.put('big', variant('big', 101));
    expect(hot.get('big')).toBeUndefined();
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']) hot.put(key, variant(key, 100));
    expect(hot.get('a')).toBeUndefined();
    expect(hot.get('i')).toBeDefined();
    hot.drop('i');
    expect(hot.get('i')).toBeUndefined();
  });

  it('is off with no window or no bytes', () => {
    for (const settings of [{ seconds: 0, bytes: 1000 }, { seconds: 5, bytes: 0 }]) {
      const hot = createHotVariants(settings);
      hot.put('a', variant('a', 1));
      expect(hot.get('a')).toBeUndefined();
    }
  });
});
