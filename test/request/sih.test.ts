import { describe, expect, it } from 'vitest';
import type { CompatRules } from '../../src/request/compat.js';
import { interpretTarget, readTarget, type RequestRules } from '../../src/request/parse-request.js';
import { isSihPath } from '../../src/request/sih.js';
import { thrownBy } from '../support/thrown.js';

const COMPAT: CompatRules = { sih: true, thumbor: true, bucket: 'originals', prefix: '' };
const RULES: RequestRules = { compat: COMPAT };

/** An SIH request path as SIH's own docs build it: JSON, base64 (standard by default). */
function sih(request: unknown, { urlSafe = false, padding = true } = {}): string {
  let encoded = Buffer.from(JSON.stringify(request)).toString(urlSafe ? 'base64url' : 'base64');
  if (urlSafe && padding) encoded += '='.repeat((4 - (encoded.length % 4)) % 4);
  if (!padding) encoded = encoded.replace(/=+$/, '');
  return encoded;
}

const read = (path: string, query = '', rules: RequestRules = RULES) =>
  interpretTarget(readTarget({ decodedPath: path, rawQueryString: query }), rules);

/** The key and params a query-form URL stands for: what an SIH request must equal. */
const queryForm = (key: string, query = '') => {
  const { key: k, params } = read(key, query, {});
  return { key: k, params };
};

const mapped = (request: unknown, query = '', rules: RequestRules = RULES) => {
  const { key, params } = read(sih(request), query, rules);
  return { key, params };
};

describe('isSihPath: which paths are SIH requests', () => {
  it.each([
    ['standard base64 with padding', sih({ key: 'a.jpg', edits: { resize: { width: 300 } } })],
    ['URL-safe base64', sih({ key: 'a.jpg', edits: { resize: { width: 300 } } }, { urlSafe: true })],
    ['without padding', sih({ key: 'a.jpg' }, { padding: false })],
    ['an empty object', sih({})],
    ['whitespace after the brace', Buffer.from('{ "key": "a.jpg" }').toString('base64')],
  ])('%s', (_name, path) => {
    expect(isSihPath(path)).toBe(true);
  });

  it('reads a standard-alphabet path with "/" and "+" in it (they are base64 there, not folders)', () => {
    // ">>>" and "???" encode to "+" and "/" runs in the standard alphabet.
    const path = sih({ key: 'a>>>b???.jpg' });
    expect(path).toMatch(/\+/);
    expect(path).toMatch(/\//);
    expect(isSihPath(path)).toBe(true);
    expect(read(path).key).toBe('a>>>b???.jpg');
  });

  it.each([
    ['a key with an extension', 'photos/a.jpg'],
    ['a key without extension that decodes to other bytes', 'eyes'],
    ['a folder without extension', 'eyewear/frames'],
    ['a base64 JSON with an extension', `${sih({ key: 'a.jpg' })}.jpg`],
    ['padding in the middle', 'eyJr=ZXki/OiJh'],
    ['a JSON array', Buffer.from('["a.jpg"]').toString('base64')],
  ])('not %s', (_name, path) => {
    expect(isSihPath(path)).toBe(false);
  });
});

describe('SIH requests as the query form', () => {
  it.each<[string, unknown, string, string?]>([
    ['resize with fit', { bucket: 'originals', key: 'photos/a.jpg', edits: { resize: { width: 200, height: 250, fit: 'cover' } } }, 'photos/a.jpg?w=200&h=250&fit=cover'],
    ['resize, one side, string number rounded', { key: 'a.jpg', edits: { resize: { width: '199.6' } } }, 'a.jpg?w=200'],
    ['resize with null and 0 sides', { key: 'a.jpg', edits: { resize: { width: 300, height: null } } }, 'a.jpg?w=300'],
    ['resize, fit inside', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, fit: 'inside' } } }, 'a.jpg?w=300&h=300&fit=inside'],
    ['resize, contain with a hex background', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, fit: 'contain', background: '#ff0000' } } }, 'a.jpg?w=300&h=300&fit=contain&bg=ff0000'],
    ['resize, background as sharp\'s object', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, fit: 'contain', background: { r: 255, g: 255, b: 255, alpha: 1 } } } }, 'a.jpg?w=300&h=300&fit=contain&bg=ffffff'],
    ['resize, transparent background: none', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } } } }, 'a.jpg?w=300&h=300&fit=contain'],
    ['resize, rgba() background', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, fit: 'contain', background: 'rgba(0, 0, 255, 0.5)' } } }, 'a.jpg?w=300&h=300&fit=contain&bg=0000ff80'],
    ['resize, a named background', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, fit: 'contain', background: 'white' } } }, 'a.jpg?w=300&h=300&fit=contain&bg=ffffff'],
    ['resize, position attention', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, position: 'attention' } } }, 'a.jpg?w=300&h=300&pos=attention'],
    ['resize, position "right top"', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, position: 'right top' } } }, 'a.jpg?w=300&h=300&pos=right%20top'],
    ['resize, position as sharp\'s gravity name', { key: 'a.jpg', edits: { resize: { width: 300, height: 300, position: 'northeast' } } }, 'a.jpg?w=300&h=300&pos=right%20top'],
    ['resize, withoutEnlargement false: enlarge', { key: 'a.jpg', edits: { resize: { width: 3000, withoutEnlargement: false } } }, 'a.jpg?w=3000&enlarge'],
    ['resize, withoutEnlargement true: the default', { key: 'a.jpg', edits: { resize: { width: 3000, withoutEnlargement: true } } }, 'a.jpg?w=3000'],
    ['resize, sharp\'s defaults spelled out', { key: 'a.jpg', edits: { resize: { width: 300, kernel: 'lanczos3', withoutReduction: false, fastShrinkOnLoad: true } } }, 'a.jpg?w=300'],
    ['grayscale', { key: 'a.jpg', edits: { grayscale: true } }, 'a.jpg?gray'],
    ['greyscale', { key: 'a.jpg', edits: { greyscale: true } }, 'a.jpg?gray'],
    ['flip and flop', { key: 'a.jpg', edits: { flip: true, flop: true } }, 'a.jpg?flip&flop'],
    ['rotate 90', { key: 'a.jpg', edits: { rotate: 90 } }, 'a.jpg?rot=90'],
    ['rotate -90 is 270', { key: 'a.jpg', edits: { rotate: -90 } }, 'a.jpg?rot=270'],
    ['rotate null: auto-orient only, as always', { key: 'a.jpg', edits: { rotate: null } }, 'a.jpg'],
    ['blur', { key: 'a.jpg', edits: { blur: 5 } }, 'a.jpg?blur=5'],
    ['sharpen true', { key: 'a.jpg', edits: { sharpen: true } }, 'a.jpg?sharpen'],
    ['sharpen sigma', { key: 'a.jpg', edits: { sharpen: 2 } }, 'a.jpg?sharpen=2'],
    ['sharpen options', { key: 'a.jpg', edits: { sharpen: { sigma: 1.5 } } }, 'a.jpg?sharpen=1.5'],
    ['toFormat', { key: 'a.jpg', edits: { toFormat: 'webp' } }, 'a.jpg?fm=webp'],
    ['toFormat jpg', { key: 'a.png', edits: { toFormat: 'jpg' } }, 'a.png?fm=jpeg'],
    ['outputFormat', { key: 'a.jpg', outputFormat: 'avif' }, 'a.jpg?fm=avif'],
    ['toFormat wins over outputFormat, as in SIH', { key: 'a.jpg', outputFormat: 'png', edits: { toFormat: 'webp' } }, 'a.jpg?fm=webp'],
    ['toFormat with that format\'s quality', { key: 'a.jpg', edits: { toFormat: 'webp', webp: { quality: 70 } } }, 'a.jpg?fm=webp&q=70'],
    ['a format\'s options alone set the format', { key: 'a.png', edits: { jpeg: { quality: 50 } } }, 'a.png?fm=jpeg&q=50'],
    ['another format\'s quality changes nothing', { key: 'a.jpg', edits: { toFormat: 'webp', jpeg: { quality: 50 } } }, 'a.jpg?fm=webp'],
    ['avif quality with outputFormat', { key: 'a.jpg', outputFormat: 'avif', edits: { avif: { quality: 45 } } }, 'a.jpg?fm=avif&q=45'],
    ['extract', { key: 'a.jpg', edits: { extract: { left: 10, top: 20, width: 300, height: 200 } } }, 'a.jpg?rect=10,20,300,200'],
    ['crop (SIH\'s own name for it)', { key: 'a.jpg', edits: { crop: { left: 0, top: 0, width: 50, height: 40 } } }, 'a.jpg?rect=0,0,50,40'],
    ['extract before resize', { key: 'a.jpg', edits: { extract: { left: 10, top: 20, width: 300, height: 200 }, resize: { width: 100 } } }, 'a.jpg?rect=10,20,300,200&w=100'],
    ['trim', { key: 'a.jpg', edits: { trim: true } }, 'a.jpg?trim'],
    ['trim with a threshold', { key: 'a.jpg', edits: { trim: 30 } }, 'a.jpg?trim=30'],
    ['trim with options', { key: 'a.jpg', edits: { trim: { threshold: 25 } } }, 'a.jpg?trim=25'],
    ['extend', { key: 'a.jpg', edits: { extend: { top: 10, bottom: 10, left: 5, right: 5, background: '#ffffff' } } }, 'a.jpg?pad=10,5,10,5&bg=ffffff'],
    ['extend by a number', { key: 'a.jpg', edits: { extend: 8 } }, 'a.jpg?pad=8'],
    ['extend and resize agreeing on the background', { key: 'a.jpg', edits: { resize: { width: 90, height: 90, fit: 'contain', background: '#000' }, extend: { top: 4, background: '#000000' } } }, 'a.jpg?w=90&h=90&fit=contain&pad=4,0,0,0&bg=000000'],
    ['flatten onto a colour', { key: 'a.png', edits: { flatten: { background: '#00ff00' } } }, 'a.png?bg=00ff00'],
    ['flatten: sharp\'s black', { key: 'a.png', edits: { flatten: true } }, 'a.png?bg=000000'],
    ['edits switched off with false or null', { key: 'a.jpg', edits: { smartCrop: false, roundCrop: null, grayscale: false, contentModeration: false } }, 'a.jpg'],
    ['no edits: the original', { key: 'a.jpg' }, 'a.jpg'],
    ['empty edits', { key: 'a.jpg', edits: {} }, 'a.jpg'],
    ['the query adds parameters', { key: 'a.jpg', edits: { resize: { width: 300 } } }, 'a.jpg?w=300&fm=webp', 'fm=webp'],
    ['a key with folders and UTF-8', { key: 'photos/café/日本.jpg' }, 'photos/café/日本.jpg'],
  ])('%s', (_name, request, equivalent, query = '') => {
    const [key, q] = equivalent.split('?') as [string, string | undefined];
    expect(mapped(request, query)).toEqual(queryForm(key, q));
  });

  it('decodes URL-safe base64 with or without padding', () => {
    const request = { key: 'a.jpg', edits: { resize: { width: 321, height: 123 }, toFormat: 'png' } };
    const expected = queryForm('a.jpg', 'w=321&h=123&fm=png');
    expect(read(sih(request, { urlSafe: true })).params).toEqual(expected.params);
    expect(read(sih(request, { urlSafe: true, padding: false })).params).toEqual(expected.params);
    expect(read(sih(request, { padding: false })).params).toEqual(expected.params);
  });

  it('takes an SIH key as it is, even when it looks like a classic size or Thumbor syntax', () => {
    expect(read(sih({ key: '300x200/smart/a.jpg' }))).toMatchObject({ key: '300x200/smart/a.jpg', params: {} });
    expect(read(sih({ key: 'unsafe/fit-in/a.jpg', edits: { flip: true } }))).toMatchObject({ key: 'unsafe/fit-in/a.jpg', params: { flip: true } });
  });

  it('strips ORIGINALS_PREFIX from SIH keys, which are full S3 keys', () => {
    const rules: RequestRules = { compat: { ...COMPAT, prefix: 'media/' } };
    expect(mapped({ key: 'media/photos/a.jpg', edits: { grayscale: true } }, '', rules)).toEqual(queryForm('photos/a.jpg', 'gray'));
  });

  it('expands a preset given in the query, like any URL\'s', () => {
    const presets = new Map([['thumb', { w: 160, h: 160 }]]);
    const request = read(sih({ key: 'a.jpg', edits: { grayscale: true } }), 'preset=thumb', { ...RULES, presets });
    expect(request.params).toEqual({ w: 160, h: 160, gray: true });
    expect(request.presetName).toBe('thumb');
  });

  it('obeys the allowlist like the query form', () => {
    const allowlist = { presets: false, widths: true, allowedWidths: [300], allowedHeights: [], snapWidths: false };
    expect(read(sih({ key: 'a.jpg', edits: { resize: { width: 300 } } }), '', { ...RULES, allowlist }).params).toEqual({ w: 300 });
    expect(thrownBy(() => read(sih({ key: 'a.jpg', edits: { resize: { width: 400 } } }), '', { ...RULES, allowlist }))).toMatchObject({
      statusCode: 400,
      code: 'not_allowed',
    });
  });

  it('leaves the path a key when SIH requests are off', () => {
    const path = sih({ key: 'a.jpg' });
    expect(read(path, '', { compat: { ...COMPAT, sih: false } }).key).toBe(path);
    expect(read(path, '', {}).key).toBe(path);
  });
});

describe('SIH requests that are refused', () => {
  const refused = (request: unknown, query = '', rules: RequestRules = RULES) => thrownBy(() => read(sih(request), query, rules));

  it.each<[string, unknown, number, string, RegExp]>([
    ['edits without an equivalent, all named', { key: 'a.jpg', edits: { resize: { width: 10 }, roundCrop: true, overlayWith: { key: 'w.png' } } }, 400, 'unsupported_edit', /^Unsupported edits: "roundCrop", "overlayWith"\. Supported: resize, /],
    ['smartCrop (Rekognition)', { key: 'a.jpg', edits: { smartCrop: { faceIndex: 0 } } }, 400, 'unsupported_edit', /"smartCrop"/],
    ['contentModeration', { key: 'a.jpg', edits: { contentModeration: true } }, 400, 'unsupported_edit', /"contentModeration"/],
    ['normalise', { key: 'a.jpg', edits: { normalise: true } }, 400, 'unsupported_edit', /"normalise"/],
    ['tint', { key: 'a.jpg', edits: { tint: { r: 255, g: 0, b: 0 } } }, 400, 'unsupported_edit', /"tint"/],
    ['a prototype name', { key: 'a.jpg', edits: JSON.parse('{"__proto__": {"x": 1}, "constructor": true}') }, 400, 'unsupported_edit', /"__proto__", "constructor"/],
    ['a resize option without an equivalent', { key: 'a.jpg', edits: { resize: { width: 10, kernel: 'nearest' } } }, 400, 'unsupported_edit', /"resize\.kernel"/],
    ['withoutReduction', { key: 'a.jpg', edits: { resize: { width: 10, withoutReduction: true } } }, 400, 'unsupported_edit', /"resize\.withoutReduction"/],
    ['a format option without an equivalent', { key: 'a.jpg', edits: { webp: { quality: 80, lossless: true } } }, 400, 'unsupported_edit', /"webp\.lossless"/],
    ['trim with a background', { key: 'a.jpg', edits: { trim: { background: '#fff' } } }, 400, 'unsupported_edit', /"trim\.background"/],
    ['tiff output', { key: 'a.jpg', edits: { tiff: { quality: 80 } } }, 400, 'unsupported_edit', /"tiff"/],
    ['SIH\'s response headers', { key: 'a.jpg', headers: { 'Cache-Control': 'no-cache' } }, 400, 'unsupported_edit', /Unsupported fields in the SIH request: "headers"/],
    ['webp effort', { key: 'a.jpg', effort: 6 }, 400, 'unsupported_edit', /"effort"/],
    ['extract after resize', { key: 'a.jpg', edits: { resize: { width: 100 }, extract: { left: 0, top: 0, width: 10, height: 10 } } }, 400, 'unsupported_edit', /"extract" after "resize" crops the resized image/],
    ['crop after rotate', { key: 'a.jpg', edits: { rotate: 90, crop: { left: 0, top: 0, width: 10, height: 10 } } }, 400, 'unsupported_edit', /"crop" after "rotate"/],
    ['another bucket', { bucket: 'someone-elses', key: 'a.jpg' }, 403, 'bucket_forbidden', /"someone-elses" is not served here/],
    ['no key', { bucket: 'originals', edits: {} }, 400, 'invalid_request', /needs "key"/],
    ['an empty key', { key: '' }, 400, 'invalid_request', /needs "key"/],
    ['a key that is not a string', { key: 42 }, 400, 'invalid_request', /needs "key"/],
    ['a traversing key', { key: 'photos/../secret.jpg' }, 400, 'invalid_key', /"\." or "\.\." segments/],
    ['a key starting with a slash', { key: '/etc/passwd' }, 400, 'invalid_key', /must not start with "\/"/],
    ['edits that are not an object', { key: 'a.jpg', edits: [1, 2] }, 400, 'invalid_request', /"edits" must be a JSON object/],
    ['resize that is not an object', { key: 'a.jpg', edits: { resize: 300 } }, 400, 'invalid_request', /"resize" must be an object/],
    ['a format outside the table', { key: 'a.jpg', edits: { toFormat: 'tiff' } }, 400, 'invalid_param', /"edits\.toFormat": expected one of jpeg, jpg, png, webp, avif, gif, received "tiff"/],
    ['outputFormat heif', { key: 'a.jpg', outputFormat: 'heif' }, 400, 'invalid_param', /"outputFormat"/],
    ['a negative width', { key: 'a.jpg', edits: { resize: { width: -5 } } }, 400, 'invalid_param', /edits\.resize\.width/],
    ['a width over the maximum', { key: 'a.jpg', edits: { resize: { width: 9000 } } }, 400, 'invalid_param', /^edits\.resize\.width: Invalid value for "w"/],
    ['an unknown fit', { key: 'a.jpg', edits: { resize: { width: 10, fit: 'stretch' } } }, 400, 'invalid_param', /^edits\.resize\.fit: /],
    ['a quality out of range', { key: 'a.jpg', edits: { webp: { quality: 0 } } }, 400, 'invalid_param', /edits\.webp\.quality: Invalid value for "q"/],
    ['rotate 45', { key: 'a.jpg', edits: { rotate: 45 } }, 400, 'invalid_param', /^edits\.rotate: /],
    ['sharp\'s sigma-less blur', { key: 'a.jpg', edits: { blur: true } }, 400, 'invalid_param', /"edits\.blur"/],
    ['an extract out of shape', { key: 'a.jpg', edits: { extract: { left: 0, top: 0, width: 10 } } }, 400, 'invalid_param', /"edits\.extract"/],
    ['an unreadable colour', { key: 'a.jpg', edits: { resize: { width: 9, height: 9, fit: 'contain', background: 'hsl(0,0,0)' } } }, 400, 'invalid_param', /"edits\.resize\.background"/],
    ['two different backgrounds', { key: 'a.jpg', edits: { resize: { width: 9, height: 9, fit: 'contain', background: '#fff' }, extend: { top: 1, background: '#000' } } }, 400, 'invalid_param', /different backgrounds/],
  ])('%s', (_name, request, statusCode, code, message) => {
    const error = refused(request);
    expect(error).toMatchObject({ statusCode, code });
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a parameter given both in the request and in the query', () => {
    expect(refused({ key: 'a.jpg', edits: { resize: { width: 300 } } }, 'width=100')).toMatchObject({ statusCode: 400, code: 'duplicate_param' });
  });

  it('refuses a key outside ORIGINALS_PREFIX, naming the prefix', () => {
    const error = refused({ key: 'private/a.jpg' }, '', { compat: { ...COMPAT, prefix: 'public/' } });
    expect(error).toMatchObject({ statusCode: 400, code: 'invalid_key', message: expect.stringContaining('not below "public/"') });
  });

  it('refuses the variants prefix like any key', () => {
    const error = refused({ key: '_variants/v2/x' }, '', { ...RULES, reservedPrefix: '_variants/' });
    expect(error).toMatchObject({ code: 'invalid_key' });
  });

  it.each([
    ['invalid JSON', Buffer.from('{"key": "a.jpg",').toString('base64'), /not valid JSON/],
    ['bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('base64'), /not UTF-8/],
    // 12 bytes are 16 characters: one more can only be a truncation.
    ['an impossible base64 length', `${Buffer.from('{"key":"ab"}').toString('base64')}A`, /not valid base64/],
  ])('a path that starts like SIH but is %s: 400 invalid_request', (_name, path, message) => {
    const error = thrownBy(() => read(path));
    expect(error).toMatchObject({ statusCode: 400, code: 'invalid_request' });
    expect((error as Error).message).toMatch(message);
  });

  it('points SIH\'s own signatures to the "s" parameter', () => {
    const error = thrownBy(() => read(sih({ key: 'a.jpg' }), 'signature=abc123'));
    expect(error).toMatchObject({ statusCode: 400, code: 'invalid_request', message: expect.stringContaining('"s" parameter') });
  });

  it('ignores the signing parameters themselves, like any URL', () => {
    expect(read(sih({ key: 'a.jpg', edits: { grayscale: true } }), 's=abc&expires=99999999999').params).toEqual({ gray: true });
  });
});
