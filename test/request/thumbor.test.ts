import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { CompatRules } from '../../src/request/compat.js';
import { interpretTarget, readTarget, type RawHttpRequest, type RequestRules } from '../../src/request/parse-request.js';
import { isThumborPath } from '../../src/request/thumbor.js';
import { thrownBy } from '../support/thrown.js';

const COMPAT: CompatRules = { sih: true, thumbor: true, bucket: 'originals', prefix: '' };
const RULES: RequestRules = { compat: COMPAT };

const read = (path: string, query = '', rules: RequestRules = RULES) =>
  interpretTarget(readTarget({ decodedPath: path, rawQueryString: query }), rules);

/** Key and params only: what a Thumbor URL and its query-form equivalent must share. */
const served = (path: string, query = '', rules: RequestRules = RULES) => {
  const { key, params } = read(path, query, rules);
  return { key, params };
};

describe('isThumborPath: the detection rule', () => {
  it.each([
    'unsafe/a.jpg',
    'unsafe/300x200/a.jpg',
    'fit-in/300x200/a.jpg',
    'full-fit-in/300x200/a.jpg',
    'adaptive-fit-in/300x200/a.jpg',
    'trim/a.jpg',
    'trim:top-left:20/a.jpg',
    '10x20:110x220/a.jpg',
    '-300x200/a.jpg',
    '300x-200/a.jpg',
    '-x/a.jpg',
    'origx200/a.jpg',
    'smart/a.jpg',
    'filters:grayscale()/a.jpg',
    'filters:format(webp)',
    'ABCDEFGHIJKLMNOPQRSTUVWXYZa=/300x200/a.jpg',
  ])('%s is Thumbor syntax', (path) => {
    expect(isThumborPath(path)).toBe(true);
  });

  it.each([
    ['a plain key', 'photos/a.jpg'],
    ['a plain size (the classic form reads it first)', '300x200/a.jpg'],
    ['alignment as the first segment', 'left/a.jpg'],
    ['a folder named x', 'x/a.jpg'],
    ['unsafe as the whole key', 'unsafe'],
    ['unsafe with nothing after it', 'unsafe/'],
    ['a file named smart', 'smart'],
    ['a folder that only starts like an option', 'smartphones/a.jpg'],
    ['a case that Thumbor does not read', 'Unsafe/a.jpg'],
    ['a crop without its second point', '10x20/a.jpg'],
  ])('%s is a key', (_name, path) => {
    expect(isThumborPath(path)).toBe(false);
  });
});

describe('Thumbor paths as the query form', () => {
  it.each<[string, string, string?]>([
    ['unsafe/300x200/a.jpg', 'a.jpg?w=300&h=200'],
    ['unsafe/a.jpg', 'a.jpg'],
    ['unsafe/300x0/a.jpg', 'a.jpg?w=300'],
    ['unsafe/300x/a.jpg', 'a.jpg?w=300'],
    ['unsafe/x200/a.jpg', 'a.jpg?h=200'],
    ['unsafe/0x200/a.jpg', 'a.jpg?h=200'],
    ['unsafe/0x0/a.jpg', 'a.jpg'],
    ['unsafe/fit-in/300x200/a.jpg', 'a.jpg?w=300&h=200&fit=inside'],
    ['fit-in/300x200/a.jpg', 'a.jpg?w=300&h=200&fit=inside'],
    ['unsafe/full-fit-in/300x200/a.jpg', 'a.jpg?w=300&h=200&fit=outside'],
    ['unsafe/-300x200/a.jpg', 'a.jpg?w=300&h=200&flop'],
    ['unsafe/300x-200/a.jpg', 'a.jpg?w=300&h=200&flip'],
    ['-300x-200/a.jpg', 'a.jpg?w=300&h=200&flip&flop'],
    ['-0x0/a.jpg', 'a.jpg?flop'],
    ['unsafe/-x-/a.jpg', 'a.jpg?flip&flop'],
    ['unsafe/300x200/smart/a.jpg', 'a.jpg?w=300&h=200&pos=attention'],
    ['300x200/smart/a.jpg', 'a.jpg?w=300&h=200&pos=attention'],
    ['smart/a.jpg', 'a.jpg?w=300&h=200&pos=attention', 'w=300&h=200'],
    ['unsafe/300x0/smart/a.jpg', 'a.jpg?w=300'],
    ['unsafe/fit-in/300x200/smart/a.jpg', 'a.jpg?w=300&h=200&fit=inside'],
    ['unsafe/300x200/left/top/a.jpg', 'a.jpg?w=300&h=200&pos=left%20top'],
    ['unsafe/300x200/right/a.jpg', 'a.jpg?w=300&h=200&pos=right'],
    ['unsafe/300x200/bottom/a.jpg', 'a.jpg?w=300&h=200&pos=bottom'],
    ['unsafe/300x200/center/middle/a.jpg', 'a.jpg?w=300&h=200'],
    ['unsafe/300x200/left/smart/a.jpg', 'a.jpg?w=300&h=200&pos=attention'],
    ['unsafe/fit-in/300x200/left/a.jpg', 'a.jpg?w=300&h=200&fit=inside'],
    ['unsafe/10x20:110x220/a.jpg', 'a.jpg?rect=10,20,100,200'],
    ['10x20:110x220/300x200/a.jpg', 'a.jpg?rect=10,20,100,200&w=300&h=200'],
    ['unsafe/0x0:0x0/a.jpg', 'a.jpg'],
    ['trim/a.jpg', 'a.jpg?trim'],
    ['unsafe/trim:top-left/a.jpg', 'a.jpg?trim'],
    ['unsafe/trim:40/300x200/a.jpg', 'a.jpg?trim=40&w=300&h=200'],
    ['unsafe/trim:top-left:0/a.jpg', 'a.jpg?trim'],
    ['unsafe/filters:format(webp):quality(70):grayscale()/a.jpg', 'a.jpg?fm=webp&q=70&gray'],
    ['filters:format(webp)/a.jpg', 'a.jpg?fm=webp'],
    ['unsafe/filters:format(jpg)/a.png', 'a.png?fm=jpeg'],
    ['unsafe/filters:autojpg()/a.png', 'a.png?fm=jpeg'],
    ['unsafe/filters:blur(5)/a.jpg', 'a.jpg?blur=5'],
    ['unsafe/filters:blur(5,2)/a.jpg', 'a.jpg?blur=2'],
    ['unsafe/filters:blur(0)/a.jpg', 'a.jpg'],
    ['unsafe/filters:sharpen(2,1.0,true)/a.jpg', 'a.jpg?sharpen=1.5'],
    ['unsafe/filters:sharpen(2)/a.jpg', 'a.jpg?sharpen=1'],
    ['unsafe/fit-in/300x200/filters:fill(red)/a.jpg', 'a.jpg?w=300&h=200&fit=contain&bg=ff0000'],
    ['unsafe/fit-in/300x200/filters:fill(add8e6)/a.jpg', 'a.jpg?w=300&h=200&fit=contain&bg=add8e6'],
    ['unsafe/fit-in/300x200/filters:fill(transparent)/a.png', 'a.png?w=300&h=200&fit=contain'],
    ['unsafe/300x200/filters:fill(00ff00)/a.png', 'a.png?w=300&h=200&bg=00ff00'],
    ['unsafe/fit-in/300x200/filters:background_color(fff)/a.png', 'a.png?w=300&h=200&fit=inside&bg=ffffff'],
    ['unsafe/fit-in/600x500/filters:upscale()/a.jpg', 'a.jpg?w=600&h=500&fit=inside&enlarge'],
    ['unsafe/filters:no_upscale()/a.jpg', 'a.jpg'],
    ['unsafe/filters:rotate(90)/a.jpg', 'a.jpg?rot=90'],
    ['unsafe/filters:rotate(450)/a.jpg', 'a.jpg?rot=90'],
    ['unsafe/filters:strip_exif():strip_icc()/a.jpg', 'a.jpg'],
    ['unsafe/200x100/filters:stretch()/a.jpg', 'a.jpg?w=200&h=100&fit=fill'],
    ['unsafe/fit-in/200x100/filters:stretch()/a.jpg', 'a.jpg?w=200&h=100&fit=inside'],
    ['unsafe/filters:max_bytes(50000)/a.jpg', 'a.jpg?maxbytes=50000'],
    ['unsafe/filters:quality(70):quality(70)/a.jpg', 'a.jpg?q=70'],
    ['unsafe/300x200/photos/2024/a.jpg', 'photos/2024/a.jpg?w=300&h=200'],
    ['unsafe/300x200/s3:originals/photos/a.jpg', 'photos/a.jpg?w=300&h=200'],
    ['unsafe/300x200/a.jpg', 'a.jpg?w=300&h=200&fm=webp', 'fm=webp'],
    ['fit-in/300x200/a.jpg', 'a.jpg?w=300&h=200&fit=inside&fp=0.3,0.4', 'fp=0.3,0.4'],
  ])('%s', (path, equivalent, query = '') => {
    const [key, q] = equivalent.split('?') as [string, string | undefined];
    expect(served(path, query)).toEqual(served(key, q, {}));
  });

  it.each([
    ['alignment after a plain size stays part of the key (the classic form)', '300x200/left/a.jpg', 'left/a.jpg', { w: 300, h: 200 }],
    ['a key beginning with a size after a classic size', '800x/600x/a.jpg', '600x/a.jpg', { w: 800 }],
    ['a folder named like an alignment', 'top/a.jpg', 'top/a.jpg', {}],
    ['a file named unsafe', 'unsafe', 'unsafe', {}],
    ['an option out of Thumbor\'s order is part of the key, as in Thumbor', 'unsafe/smart/300x200/a.jpg', '300x200/a.jpg', {}],
  ])('%s', (_name, path, key, params) => {
    expect(served(path)).toEqual({ key, params });
  });

  it('expands a preset given in the query, like any URL\'s', () => {
    const presets = new Map([['thumb', { w: 160, h: 160 }]]);
    const request = read('unsafe/filters:grayscale()/a.jpg', 'preset=thumb', { ...RULES, presets });
    expect(request.params).toEqual({ w: 160, h: 160, gray: true });
  });

  it('obeys the allowlist like the query form', () => {
    const allowlist = { presets: false, widths: true, allowedWidths: [300], allowedHeights: [200], snapWidths: false };
    const rules = { ...RULES, allowlist };
    expect(read('unsafe/300x200/a.jpg', '', rules).params).toEqual({ w: 300, h: 200 });
    expect(thrownBy(() => read('unsafe/400x200/a.jpg', '', rules))).toMatchObject({ statusCode: 400, code: 'not_allowed' });
    expect(thrownBy(() => read('unsafe/300x200/filters:quality(50)/a.jpg', '', rules))).toMatchObject({ code: 'not_allowed' });
  });

  it('leaves Thumbor paths keys when Thumbor is off', () => {
    expect(served('unsafe/300x200/a.jpg', '', { compat: { ...COMPAT, thumbor: false } })).toEqual({ key: 'unsafe/300x200/a.jpg', params: {} });
    expect(served('smart/a.jpg', '', {})).toEqual({ key: 'smart/a.jpg', params: {} });
    // The classic size is the classic form's, whatever the setting.
    expect(served('300x200/smart/a.jpg', '', {})).toEqual({ key: 'smart/a.jpg', params: { w: 300, h: 200 } });
  });
});

describe('Thumbor paths that are refused', () => {
  it.each<[string, number, string, RegExp]>([
    ['unsafe/filters:round_corner(20,255,255,255):watermark(wm.png,-10,-10,50)/a.jpg', 400, 'unsupported_edit', /^Unsupported Thumbor filters: "filters:round_corner\(20,255,255,255\)", "filters:watermark\(wm\.png,-10,-10,50\)"\. Supported: format, /],
    ['unsafe/filters:watermark(http://x.example/w.png,10,10,0)/a.jpg', 400, 'unsupported_edit', /"filters:watermark\(http:\/\/x\.example\/w\.png,10,10,0\)"/],
    ['unsafe/400x100/filters:focal(146x206:279x360)/a.jpg', 400, 'unsupported_edit', /"filters:focal\(146x206:279x360\)"\. For a focal point, add \?fp=x,y/],
    ['unsafe/filters:proportion(0.5)/a.jpg', 400, 'unsupported_edit', /"filters:proportion\(0\.5\)"/],
    ['unsafe/filters:equalize()/a.jpg', 400, 'unsupported_edit', /"filters:equalize\(\)"/],
    ['unsafe/fit-in/300x200/filters:fill(blur)/a.jpg', 400, 'unsupported_edit', /fill\(blur\)/],
    ['unsafe/fit-in/300x200/filters:fill(auto)/a.jpg', 400, 'unsupported_edit', /fill\(auto\)/],
    ['unsafe/filters:background_color(auto)/a.png', 400, 'unsupported_edit', /background_color\(auto\)/],
    ['unsafe/meta/300x200/a.jpg', 400, 'unsupported_edit', /"meta"/],
    ['unsafe/debug/a.jpg', 400, 'unsupported_edit', /"debug"/],
    ['unsafe/adaptive-fit-in/300x200/a.jpg', 400, 'unsupported_edit', /"adaptive-fit-in"/],
    ['unsafe/origx200/a.jpg', 400, 'unsupported_edit', /"origx200"/],
    ['unsafe/trim:bottom-right/a.jpg', 400, 'unsupported_edit', /"trim:bottom-right"/],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZa=/300x200/a.jpg', 400, 'invalid_request', /signed URLs .* are not supported: use \/unsafe\//],
    ['unsafe/110x220:10x20/a.jpg', 400, 'invalid_request', /manual crop 110x220:10x20/],
    ['unsafe/filters:format(webp)', 400, 'invalid_request', /followed by "\/" and the image key/],
    ['unsafe/filters:format(webp/a.jpg', 400, 'invalid_request', /not of the form filters:name\(arguments\)/],
    ['unsafe/filters:(webp)/a.jpg', 400, 'invalid_request', /not of the form/],
    ['unsafe/filters:format(tiff)/a.jpg', 400, 'invalid_param', /"filters:format\(tiff\)": expected one of webp, jpeg, jpg, png, gif, avif/],
    ['unsafe/filters:quality(0)/a.jpg', 400, 'invalid_param', /^filters:quality\(0\): Invalid value for "q"/],
    ['unsafe/filters:blur(500)/a.jpg', 400, 'invalid_param', /^filters:blur\(500\): /],
    ['unsafe/filters:blur(x)/a.jpg', 400, 'invalid_param', /filters:blur\(x\)/],
    ['unsafe/filters:rotate(45)/a.jpg', 400, 'invalid_param', /^filters:rotate\(45\): Invalid value for "rot"/],
    ['unsafe/filters:fill(hotpink)/a.jpg', 400, 'invalid_param', /"filters:fill\(hotpink\)"/],
    ['unsafe/filters:max_bytes(10)/a.jpg', 400, 'invalid_param', /^filters:max_bytes\(10\): /],
    ['unsafe/trim:500/a.jpg', 400, 'invalid_param', /^trim:500: /],
    ['unsafe/9000x100/a.jpg', 400, 'invalid_param', /^9000x100: Invalid value for "w"/],
    ['unsafe/filters:format(webp):format(png)/a.jpg', 400, 'duplicate_param', /filters:format\(webp\) and filters:format\(png\) both set "fm"/],
    ['unsafe/-300x200/a.jpg?flop', 400, 'duplicate_param', /"flop"/],
    ['unsafe/300x200/a.jpg?w=100', 400, 'duplicate_param', /"w"/],
    ['unsafe/300x200/https://example.com/a.jpg', 400, 'invalid_key', /not fetched/],
    ['unsafe/300x200/s3:other-bucket/a.jpg', 403, 'bucket_forbidden', /"other-bucket" is not served here/],
    ['unsafe/300x200/', 400, 'invalid_key', /names no image/],
    ['unsafe/300x200/../secret.jpg', 400, 'invalid_key', /"\." or "\.\."/],
  ])('%s', (url, statusCode, code, message) => {
    const [path, query] = url.split('?') as [string, string | undefined];
    const error = thrownBy(() => read(path, query));
    expect(error).toMatchObject({ statusCode, code });
    expect((error as Error).message).toMatch(message);
  });
});

/**
 * The CDN's viewer-request function rewrites a leading classic size into the query before the
 * origin sees the path (`/300x200/smart/a.jpg` → `/smart/a.jpg?h=200&w=300`). It never changes
 * what the origin answers, Thumbor paths included: run the deployed file and compare.
 */
describe('Thumbor paths behind the CDN\'s rewrite', () => {
  const source = readFileSync(new URL('../../edge/viewer-request.js', import.meta.url), 'utf8');
  const runtime = vm.createContext({});
  const edge = new vm.Script(`${source}\nhandler;`).runInContext(runtime) as (event: unknown) => {
    uri: string;
    querystring: Record<string, { value: string; multiValue?: { value: string }[] }>;
  };

  function viaEdge(url: string): RawHttpRequest {
    const [uri, query = ''] = url.split('?') as [string, string?];
    const querystring: Record<string, { value: string }> = {};
    for (const pair of query.split('&').filter(Boolean)) {
      const [name, value = ''] = pair.split('=') as [string, string?];
      querystring[name] = { value };
    }
    const request = edge({ version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '198.51.100.1' }, request: { method: 'GET', uri, querystring, headers: {}, cookies: {} } });
    const rawQueryString = Object.entries(request.querystring).map(([n, f]) => `${n}=${f.value}`).join('&');
    return { rawPath: request.uri, rawQueryString };
  }

  const outcome = (raw: RawHttpRequest) => {
    try {
      const { key, params } = interpretTarget(readTarget(raw), RULES);
      return { key, params };
    } catch (error) {
      return { code: (error as { code?: string }).code };
    }
  };

  it.each([
    '/300x200/smart/a.jpg',
    '/300x200/filters:format(webp)/a.jpg',
    '/300x200/fit-in/a.jpg',
    '/300x200/left/a.jpg',
    '/300x200/trim/a.jpg',
    '/300x200/unsafe/a.jpg',
    '/300x200/-300x200/a.jpg',
    '/300x0/smart/a.jpg',
    '/unsafe/300x200/smart/a.jpg',
    '/fit-in/300x200/a.jpg',
    '/-300x200/a.jpg',
    '/300x200/smart/a.jpg?fm=webp',
  ])('%s is answered alike with and without the rewrite', (url) => {
    const [path, query = ''] = url.split('?') as [string, string?];
    const direct = outcome({ rawPath: path, rawQueryString: query });
    expect(outcome(viaEdge(url))).toEqual(direct);
    expect(direct).not.toHaveProperty('code', 'internal_error');
  });
});
