import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { parseRequest, queryEntries, type RawHttpRequest } from '../../src/request/parse-request.js';
import { thrownBy } from '../support/thrown.js';


/** A request as API Gateway's HTTP API would describe it: rawPath encoded, query raw. */
const get = (rawPath: string, rawQueryString = '', extra: Partial<RawHttpRequest> = {}): RawHttpRequest => ({
  rawPath,
  rawQueryString,
  ...extra,
});

describe('parseRequest: the key', () => {
  it.each([
    ['/a.jpg', 'a.jpg'],
    ['/photos/2024/beach.jpg', 'photos/2024/beach.jpg'],
    ['/graphics/logo%20alpha.png', 'graphics/logo alpha.png'],
    ['/caf%C3%A9/cr%C3%A8me%20br%C3%BBl%C3%A9e.jpg', 'café/crème brûlée.jpg'],
    ['/%E6%97%A5%E6%9C%AC/%F0%9F%98%80.png', '日本/😀.png'],
    // `+` is a plus in a path, not a space; an encoded plus is a plus too.
    ['/a+b.jpg', 'a+b.jpg'],
    // Dots are only refused as whole segments.
    ['/a%2e%2e/b.jpg', 'a../b.jpg'],
    ['/a%2Bb.jpg', 'a+b.jpg'],
    ['/100%25%20real.jpg', '100% real.jpg'],
    // Unencoded UTF-8 (some clients send it as is) reads the same.
    ['/café.jpg', 'café.jpg'],
    ['/a/b/c/d/e/f.jpg', 'a/b/c/d/e/f.jpg'],
  ])('rawPath %s → key %j', (rawPath, key) => {
    expect(parseRequest(get(rawPath)).key).toBe(key);
  });

  it.each([
    ['photos/café crème.jpg'],
    ['graphics/logo alpha.png'],
    ['a%20b.jpg'],
    ['a+b.jpg'],
  ])('uses the already decoded path %j as is, never decoding it again', (decodedPath) => {
    expect(parseRequest(get('/ignored.jpg', '', { decodedPath })).key).toBe(decodedPath);
  });

  it('prefers the decoded path over the raw one', () => {
    expect(parseRequest({ decodedPath: 'b.jpg', rawPath: '/a.jpg' }).key).toBe('b.jpg');
  });

  it.each([
    ['/%2e%2e/b.jpg', 'invalid_key'],
    ['/a/%2E%2E/b.jpg', 'invalid_key'],
    ['/a%252e%252e/b.jpg', 'invalid_key'],
    ['/a%252Fb.jpg', 'invalid_key'],
    ['/a%2F..%2Fb.jpg', 'invalid_key'],
    ['/%2Fetc/passwd', 'invalid_key'],
    ['/a%5Cb.jpg', 'invalid_key'],
    ['/a%00.jpg', 'invalid_key'],
    ['/a%0A.jpg', 'invalid_key'],
    ['/caf%E9.jpg', 'invalid_key'],
    ['/a%C3.jpg', 'invalid_key'],
    ['/a%ZZ.jpg', 'invalid_key'],
    ['/a%.jpg', 'invalid_key'],
    ['/', 'invalid_key'],
    ['', 'invalid_key'],
    [`/${'k'.repeat(1025)}`, 'invalid_key'],
  ])('rawPath %s → 400 %s', (rawPath, code) => {
    const error = thrownBy(() => parseRequest(get(rawPath)));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, code });
  });

  it.each([['a/../b.jpg'], ['a%2e%2e/b.jpg'], ['caf\uFFFD.jpg'], ['']])(
    'refuses the decoded path %j with invalid_key',
    (decodedPath) => {
      expect(() => parseRequest({ decodedPath })).toThrow(expect.objectContaining({ statusCode: 400, code: 'invalid_key' }));
    },
  );

  it('refuses keys inside the reserved variants prefix', () => {
    expect(() => parseRequest(get('/_variants/v1/x/y'), { reservedPrefix: '_variants/' })).toThrow(
      expect.objectContaining({ code: 'invalid_key' }),
    );
    expect(parseRequest(get('/photos/_variants/y.jpg'), { reservedPrefix: '_variants/' }).key).toBe('photos/_variants/y.jpg');
  });
});

describe('parseRequest: the query', () => {
  it('validates the parameters with the operations table', () => {
    expect(parseRequest(get('/a.jpg', 'w=800&fm=webp&q=70&gray')).params).toEqual({ w: 800, fm: 'webp', q: 70, gray: true });
  });

  it.each([
    ['pos=right+top', { pos: 'right top' }],
    ['pos=right%20top', { pos: 'right top' }],
    ['bg=%23ff0000', { bg: 'ff0000' }],
    ['', {}],
    ['&&', {}],
  ])('decodes the query %j like a form', (query, params) => {
    expect(parseRequest(get('/a.jpg', query)).params).toEqual(params);
  });

  it.each([
    ['w=0', 'invalid_param'],
    ['w=9000', 'invalid_param'],
    ['fit=crop', 'invalid_param'],
    ['witdh=800', 'unknown_param'],
    ['w=1&width=2', 'duplicate_param'],
  ])('%s → 400 %s', (query, code) => {
    expect(() => parseRequest(get('/a.jpg', query))).toThrow(expect.objectContaining({ statusCode: 400, code }));
  });

  it('leaves names understood elsewhere to their owners', () => {
    expect(parseRequest(get('/a.jpg', 'w=5&sig=abc'), { extraParams: ['sig'] }).params).toEqual({ w: 5 });
    expect(() => parseRequest(get('/a.jpg', 'w=5&sig=abc'))).toThrow(expect.objectContaining({ code: 'unknown_param' }));
  });

  it('lists the query entries in order, repeated names included', () => {
    expect(queryEntries('w=1&h=2&w=3&gray')).toEqual([['w', '1'], ['h', '2'], ['w', '3'], ['gray', '']]);
    expect(queryEntries(undefined)).toEqual([]);
  });
});

describe('parseRequest: the classic /{W}x{H}/{key} form', () => {
  it.each([
    ['/800x600/a.jpg', '', { w: 800, h: 600 }, 'a.jpg'],
    ['/800x/a.jpg', '', { w: 800 }, 'a.jpg'],
    ['/x600/a.jpg', '', { h: 600 }, 'a.jpg'],
    ['/800x0/a.jpg', '', { w: 800 }, 'a.jpg'],
    ['/0x600/a.jpg', '', { h: 600 }, 'a.jpg'],
    ['/0x0/a.jpg', '', {}, 'a.jpg'],
    ['/800X600/a.jpg', '', { w: 800, h: 600 }, 'a.jpg'],
    ['/0800x0600/a.jpg', '', { w: 800, h: 600 }, 'a.jpg'],
    ['/800x600/photos/2024/caf%C3%A9.jpg', '', { w: 800, h: 600 }, 'photos/2024/café.jpg'],
    ['/800x600/a.jpg', 'fm=webp&fit=contain', { w: 800, h: 600, fm: 'webp', fit: 'contain' }, 'a.jpg'],
    ['/800x/a.jpg', 'h=300', { w: 800, h: 300 }, 'a.jpg'],
    ['/0x600/a.jpg', 'w=100', { w: 100, h: 600 }, 'a.jpg'],
    // Only the first segment, and only when it is a size.
    ['/photos/800x600/a.jpg', '', {}, 'photos/800x600/a.jpg'],
    ['/800x600', '', {}, '800x600'],
    ['/800x600.jpg/a.jpg', '', {}, '800x600.jpg/a.jpg'],
    ['/800by600/a.jpg', '', {}, '800by600/a.jpg'],
    // A folder called `x` has no size in it.
    ['/x/logo.png', '', {}, 'x/logo.png'],
    ['/X/logo.png', '', {}, 'X/logo.png'],
  ])('%s?%s → %j, key %j', (rawPath, query, params, key) => {
    expect(parseRequest(get(rawPath, query))).toMatchObject({ key, params });
  });

  it('works on the decoded path as well', () => {
    expect(parseRequest({ decodedPath: '800x/graphics/logo alpha.png' })).toMatchObject({
      key: 'graphics/logo alpha.png',
      params: { w: 800 },
    });
  });

  it('means exactly w and h', () => {
    expect(parseRequest(get('/640x480/a.jpg', 'fm=webp'))).toEqual(parseRequest(get('/a.jpg', 'w=640&h=480&fm=webp')));
  });

  it.each([
    ['/800x600/a.jpg', 'w=100', 'duplicate_param'],
    ['/800x600/a.jpg', 'WIDTH=100', 'duplicate_param'],
    ['/800x600/a.jpg', 'height=100', 'duplicate_param'],
    ['/x600/a.jpg', 'h=100', 'duplicate_param'],
    ['/99999x/a.jpg', '', 'invalid_param'],
    ['/x8193/a.jpg', '', 'invalid_param'],
    ['/800x600/', '', 'invalid_key'],
    ['/800x600//a.jpg', '', 'invalid_key'],
  ])('%s?%s → 400 %s', (rawPath, query, code) => {
    expect(() => parseRequest(get(rawPath, query))).toThrow(expect.objectContaining({ statusCode: 400, code }));
  });

  it('names the side and its range when the path size is out of range', () => {
    expect(() => parseRequest(get('/9000x/a.jpg'))).toThrow(/"w".*an integer from 1 to 8192.*"9000"/);
  });
});

describe('parseRequest: headers', () => {
  it('reads Accept and If-None-Match whatever their case', () => {
    const request = parseRequest(get('/a.jpg', '', { headers: { ACCEPT: 'image/webp', 'If-None-Match': '"abc"' } }));
    expect(request.accept).toBe('image/webp');
    expect(request.ifNoneMatch).toBe('"abc"');
  });

  it('leaves them undefined when absent', () => {
    const request = parseRequest(get('/a.jpg', '', { headers: { 'user-agent': 'test' } }));
    expect(request.accept).toBeUndefined();
    expect(request.ifNoneMatch).toBeUndefined();
    expect(parseRequest(get('/a.jpg')).accept).toBeUndefined();
  });
});
