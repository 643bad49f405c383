import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { MAX_KEY_BYTES, validateKey } from '../../src/request/original-key.js';
import { thrownBy } from '../support/thrown.js';


describe('validateKey: keys S3 can hold are returned unchanged', () => {
  it.each([
    ['a.jpg'],
    ['photos/2024/08/beach.jpg'],
    ['graphics/logo alpha.png'],
    ['café/crème brûlée.jpeg'],
    ['日本語/ファイル名.png'],
    ['emoji/😀🎉.webp'],
    ['no-extension'],
    ['a+b=c&d;e,f@g$h!(i)~j.jpg'],
    ['100% real.jpg'],
    ['literal%41.jpg'],
    ['a..b.jpg'],
    ['.hidden/.file'],
    ['.../x.jpg'],
    ['trailing/'],
    ['double//slash.jpg'],
    ['x'.repeat(MAX_KEY_BYTES)],
    ['日'.repeat(341)],
  ])('%s', (key) => {
    expect(validateKey(key)).toBe(key);
  });

  it('allows keys that merely start like the reserved prefix', () => {
    expect(validateKey('_variantsfoo/a.jpg', { reservedPrefix: '_variants/' })).toBe('_variantsfoo/a.jpg');
  });
});

describe('validateKey: refused keys are a 400 invalid_key', () => {
  it.each([
    ['empty', '', 'names no image'],
    ['over 1024 bytes', 'x'.repeat(MAX_KEY_BYTES + 1), 'longer than 1024 bytes'],
    ['over 1024 bytes in UTF-8 (342 × 3 bytes)', '日'.repeat(342), 'longer than 1024 bytes'],
    ['NUL', 'a\u0000b.jpg', 'control characters'],
    ['newline', 'a\nb.jpg', 'control characters'],
    ['tab', 'a\tb.jpg', 'control characters'],
    ['DEL', 'a\u007fb.jpg', 'control characters'],
    ['a leading slash', '/a.jpg', 'start with "/"'],
    ['a backslash', 'a\\b.jpg', 'backslashes'],
    ['a ".." segment', 'a/../b.jpg', '"." or ".." segments'],
    ['a leading ".."', '../secret.jpg', '"." or ".." segments'],
    ['a trailing ".."', 'a/..', '"." or ".." segments'],
    ['only ".."', '..', '"." or ".." segments'],
    ['a "." segment', 'a/./b.jpg', '"." or ".." segments'],
    ['only "."', '.', '"." or ".." segments'],
    ['an encoded dot left after decoding', 'a/%2e%2e/b.jpg', 'encode the URL once'],
    ['an encoded slash left after decoding', 'a%2Fb.jpg', 'encode the URL once'],
    ['an encoded backslash left after decoding', 'a%5cb.jpg', 'encode the URL once'],
    ['an encoded percent left after decoding', 'a%25b.jpg', 'encode the URL once'],
    ['an encoded NUL left after decoding', 'a%00.jpg', 'encode the URL once'],
    ['a replacement character (bad UTF-8)', 'caf\uFFFD.jpg', 'not valid UTF-8'],
    ['the variants cache', '_variants/v1/abc/def', 'variants cache'],
  ])('%s', (_name, key, message) => {
    const error = thrownBy(() => validateKey(key, { reservedPrefix: '_variants/' }));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'invalid_key' });
    expect((error as Error).message).toContain(message);
  });

  it('does not reserve anything without a reserved prefix', () => {
    expect(validateKey('_variants/v1/abc/def')).toBe('_variants/v1/abc/def');
  });
});
