import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { interpretTarget, readTarget, type RawHttpRequest, type RequestRules } from '../../src/request/parse-request.js';
import { DEFAULT_PRESETS, parsePresets } from '../../src/request/presets.js';
import { computeSignature, signPath, verifySignature, type QueryEntry } from '../../src/security/url-signature.js';
import { negotiateFormat } from '../../src/transform/format.js';
import { OPERATIONS, parseOperations } from '../../src/transform/operations.js';
import { thrownBy } from '../support/thrown.js';

/**
 * The CloudFront Function is tested as the bytes that are deployed: the file's text, evaluated as
 * a script in a fresh context that, like CloudFront's runtime, has no require, process or module.
 */
const SOURCE = readFileSync(new URL('../../edge/viewer-request.js', import.meta.url), 'utf8');
const RUNTIME = vm.createContext({}, { codeGeneration: { strings: false, wasm: false } });
const handler = new vm.Script(`${SOURCE}\nhandler;`, { filename: 'viewer-request.js' }).runInContext(RUNTIME) as (
  event: ViewerRequestEvent,
) => CfRequest;
/** A binding of the function's top level (const bindings are shared by scripts of one context). */
const topLevel = (name: string): unknown => new vm.Script(name).runInContext(RUNTIME);
/** Values made in the function's realm, as plain data of this one. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

interface CfField {
  value: string;
  multiValue?: { value: string }[];
}
type CfFields = Record<string, CfField>;
interface CfRequest {
  method: string;
  uri: string;
  querystring: CfFields;
  headers: CfFields;
  cookies: CfFields;
}
interface ViewerRequestEvent {
  version: '1.0';
  context: { eventType: 'viewer-request'; distributionId?: string; requestId?: string };
  viewer: { ip: string };
  request: CfRequest;
}

/**
 * A viewer-request event as CloudFront builds it: `uri` and query names and values exactly as the
 * viewer sent them (still percent-encoded), a repeated name collapsed into `multiValue`, header
 * names in lower case, repeated headers in `multiValue` too.
 */
function viewerRequest(url: string, accept?: string | string[]): ViewerRequestEvent {
  const mark = url.indexOf('?');
  const querystring: CfFields = {};
  for (const pair of mark < 0 ? [] : url.slice(mark + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const [name, value] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    const field = Object.hasOwn(querystring, name) ? querystring[name] : undefined;
    if (!field) querystring[name] = { value };
    else (field.multiValue ??= [{ value: field.value }]).push({ value });
  }
  const headers: CfFields = { host: { value: 'd111111abcdef8.cloudfront.net' } };
  if (typeof accept === 'string') headers.accept = { value: accept };
  if (Array.isArray(accept)) headers.accept = { value: accept[0]!, multiValue: accept.map((value) => ({ value })) };
  return {
    version: '1.0',
    context: { eventType: 'viewer-request', distributionId: 'EDFDVBD6EXAMPLE', requestId: 'req-1' },
    viewer: { ip: '198.51.100.11' },
    request: { method: 'GET', uri: mark < 0 ? url : url.slice(0, mark), querystring, headers, cookies: {} },
  };
}

const values = (field: CfField) => (field.multiValue?.length ? field.multiValue : [field]).map((v) => v.value);

/** The query string CloudFront forwards: the fields in their order, names and values as they are. */
function queryOf(querystring: CfFields): string {
  return Object.entries(querystring)
    .flatMap(([name, field]) => values(field).map((value) => `${name}=${value}`))
    .join('&');
}

/** What the origin (API Gateway's HTTP API) is given for a request CloudFront forwards. */
function atOrigin(request: CfRequest): RawHttpRequest {
  const accept = request.headers.accept;
  return {
    rawPath: request.uri,
    rawQueryString: queryOf(request.querystring),
    // API Gateway joins repeated headers with commas.
    headers: accept ? { accept: values(accept).join(',') } : {},
  };
}

/** `uri?query` of a request, as a short string to read expectations against. */
const target = (request: CfRequest) => {
  const query = queryOf(request.querystring);
  return query ? `${request.uri}?${query}` : request.uri;
};

/** The viewer's request as the origin would see it untouched, and the same after the function. */
function run(url: string, accept?: string | string[]) {
  const event = viewerRequest(url, accept);
  const before = atOrigin(structuredClone(event.request));
  const returned = handler(event);
  return { event, returned, before, after: atOrigin(returned) };
}

const RULES: RequestRules = { presets: parsePresets(DEFAULT_PRESETS) };

/** What the service makes of a request: the image, params and format, or the error code. */
function served(raw: RawHttpRequest) {
  try {
    const request = interpretTarget(readTarget(raw), RULES);
    return { key: request.key, params: request.params, preset: request.presetName, auto: negotiateFormat(request.accept) };
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) };
  }
}

/** Classic paths and what they become. */
const CLASSIC_REWRITES: [url: string, expected: string][] = [
  ['/800x600/photos/a.jpg', '/photos/a.jpg?h=600&w=800'],
  ['/800x/photos/a.jpg', '/photos/a.jpg?w=800'],
  ['/x600/photos/a.jpg', '/photos/a.jpg?h=600'],
  ['/0x600/photos/a.jpg', '/photos/a.jpg?h=600'],
  ['/800x0/a.jpg', '/a.jpg?w=800'],
  ['/0x0/a.jpg', '/a.jpg'],
  ['/800X600/a.jpg', '/a.jpg?h=600&w=800'],
  ['/0800x/a.jpg', '/a.jpg?w=800'],
  ['/99999x/a.jpg', '/a.jpg?w=99999'],
  ['/800x600/graphics/logo%20alpha.png', '/graphics/logo%20alpha.png?h=600&w=800'],
  ['/800x/caf%C3%A9/%E6%97%A5%E6%9C%AC.jpg', '/caf%C3%A9/%E6%97%A5%E6%9C%AC.jpg?w=800'],
  ['/800x/a+b.jpg', '/a+b.jpg?w=800'],
  ['/800x/a.jpg?fm=webp&Height=300', '/a.jpg?fm=webp&h=300&w=800'],
  ['/0x600/a.jpg?w=100', '/a.jpg?h=600&w=100'],
  ['/800x/photos/800x600/a.jpg', '/photos/800x600/a.jpg?w=800'],
  ['/800x/a.jpg?preset=thumb', '/a.jpg?preset=thumb&w=800'],
  ['/800x600//a.jpg', '//a.jpg?h=600&w=800'],
  ['/800x/600x', '/600x?w=800'],
  ['/800x/600x.jpg', '/600x.jpg?w=800'],
];

/** URLs whose path and query stay exactly as sent (already sorted). */
const CLASSIC_KEPT: [name: string, url: string][] = [
  ['a folder named x', '/x/folder.jpg'],
  ['a folder named x, with a query', '/x/folder.jpg?w=10'],
  ['a size with no key after it', '/800x600'],
  ['a size with an empty key', '/800x600/'],
  ['a size that is not the first segment', '/photos/800x600/a.jpg'],
  ['a file name that looks like a size', '/800x600.jpg'],
  ['more than five digits', '/123456x/a.jpg'],
  ['the width also in the query', '/800x600/a.jpg?w=100'],
  ['the width also in the query, as an alias', '/800x/a.jpg?width=100'],
  ['the width also in the query, upper case', '/800x/a.jpg?WIDTH=100&h=5'],
  ['the height also in the query', '/x600/a.jpg?height=100'],
  ['an escaped size segment (the origin decodes it)', '/%38%30%30x/a.jpg'],
  ['a parameter given twice', '/800x/a.jpg?fm=png&fm=webp'],
  ['a name with an escape', '/800x/a.jpg?%77=5'],
  ['a signed URL', '/800x/a.jpg?fm=webp&s=c2lnbmF0dXJl'],
  ['a service route', '/_playground'],
  ['a key that starts with a size', '/800x/600x400/a.jpg'],
  ['a key that starts with a size once decoded', '/800x/%36%30%30x/a.jpg'],
  ['a key that starts with a size after a decoded slash', '/800x/600x%2Fa.jpg'],
  ['a key that is not valid percent-encoding (not even renamed)', '/800x/%E9.jpg?width=1'],
];

/** Queries with names mapped to the table's and sorted. */
const QUERY_CANONICAL: [url: string, expected: string][] = [
  ['/a.jpg?width=800&format=webp', '/a.jpg?fm=webp&w=800'],
  ['/a.jpg?W=800&Format=WEBP', '/a.jpg?fm=WEBP&w=800'],
  [
    '/a.jpg?quality=70&background=fff&position=top&grayscale&rotate=90&upscale=1',
    '/a.jpg?bg=fff&enlarge=1&gray=&pos=top&q=70&rot=90',
  ],
  ['/a.jpg?or=90&grey&f=png&crop=attention', '/a.jpg?fm=png&gray=&pos=attention&rot=90'],
  ['/a.jpg?gravity=left%20top&height=10', '/a.jpg?h=10&pos=left%20top'],
  ['/a.jpg?pos=left+top&w=1', '/a.jpg?pos=left+top&w=1'],
  ['/a.jpg?w=1&fit=cover&dpr=2&blur=1&sharpen&flip&flop', '/a.jpg?blur=1&dpr=2&fit=cover&flip=&flop=&sharpen=&w=1'],
  ['/a.jpg?preset=thumb&fm=webp', '/a.jpg?fm=webp&preset=thumb'],
  ['/a.jpg?Preset=thumb', '/a.jpg?Preset=thumb'],
  ['/a.jpg?witdh=800', '/a.jpg?witdh=800'],
  ['/a.jpg?w=1&expires=4102444800', '/a.jpg?expires=4102444800&w=1'],
  ['/a.jpg?constructor=1&toString=2', '/a.jpg?constructor=1&toString=2'],
  ['/a.jpg', '/a.jpg'],
];

/** Queries where renaming is not safe: only sorted. */
const QUERY_SORT_ONLY: [name: string, url: string, expected: string][] = [
  ['two aliases of one parameter', '/a.jpg?gravity=left&crop=top', '/a.jpg?crop=top&gravity=left'],
  ['one parameter in two cases', '/a.jpg?w=1&W=2', '/a.jpg?W=2&w=1'],
  ['a name and its alias', '/a.jpg?width=2&w=1', '/a.jpg?w=1&width=2'],
  ['a parameter given twice', '/a.jpg?width=2&width=1&format=webp', '/a.jpg?format=webp&width=1&width=2'],
  ['a name with an escape', '/a.jpg?format=webp&w%69dth=1', '/a.jpg?format=webp&w%69dth=1'],
  ['a name with a plus', '/a.jpg?format=webp&a+b=1', '/a.jpg?a+b=1&format=webp'],
];

/** Groups of URLs the service answers with one variant. */
const EQUIVALENT: string[][] = [
  [
    '/photos/a.jpg?width=800&format=webp',
    '/photos/a.jpg?fm=webp&w=800',
    '/800x/photos/a.jpg?fm=webp',
    '/800x0/photos/a.jpg?format=webp',
    '/0800x/photos/a.jpg?f=webp',
    '/photos/a.jpg?F=webp&WIDTH=800',
  ],
  [
    '/800x600/photos/a.jpg',
    '/photos/a.jpg?h=600&w=800',
    '/photos/a.jpg?height=600&width=800',
    '/x600/photos/a.jpg?w=800',
    '/800x/photos/a.jpg?height=600',
  ],
  ['/photos/a.jpg?grayscale&quality=70', '/photos/a.jpg?q=70&gray', '/photos/a.jpg?Grey=&q=70'],
  ['/0x0/photos/a.jpg', '/photos/a.jpg'],
];

const SECRET = 'edge-signing-secret-0123456789';

/** A URL signed as the service's signer does: computeSignature over the decoded path and the query. */
function sign(rawPath: string, rawQuery: string): string {
  const { path, entries } = readTarget({ rawPath, rawQueryString: rawQuery });
  const s = computeSignature(SECRET, path, entries as QueryEntry[]);
  return `${rawPath}?${rawQuery ? `${rawQuery}&` : ''}s=${s}`;
}

/** Signed URLs: the signature covers the path as sent (a classic size folder too) and the names. */
const SIGNED: [name: string, url: string][] = [
  ['a classic path', sign('/800x600/photos/a.jpg', 'fm=webp')],
  ['a classic path, UTF-8 key, aliases', sign('/800x/caf%C3%A9/cr%C3%A8me%20br%C3%BBl%C3%A9e.jpg', 'format=webp&quality=70')],
  ['the query form with aliases', sign('/photos/a.jpg', 'width=800&format=webp&q=70')],
  ['the query form, table names, unsorted', sign('/photos/a.jpg', 'w=800&fm=webp')],
  ['signPath, with an expiry', signPath('/400x/photos/a.jpg?format=avif', SECRET, { expiresAt: 4102444800 })],
];

describe('edge/viewer-request.js: the deployed file', () => {
  it('stays well within the 10 KB limit of CloudFront Functions', () => {
    expect(Buffer.byteLength(SOURCE, 'utf8')).toBeLessThan(10_240);
  });

  it('is a plain script: no modules, require, process or exports', () => {
    expect(() => new vm.Script(SOURCE)).not.toThrow();
    expect(SOURCE).not.toMatch(/\brequire\s*\(/);
    expect(SOURCE).not.toMatch(/\bimport[\s{*(]/);
    expect(SOURCE).not.toMatch(/^\s*export\b/m);
    expect(SOURCE).not.toMatch(/\bprocess\./);
    expect(SOURCE).not.toMatch(/\bmodule\.exports\b|\bexports\./);
    expect(new vm.Script('typeof require + typeof process + typeof module').runInContext(RUNTIME)).toBe(
      'undefinedundefinedundefined',
    );
  });

  it('runs in strict mode, as CloudFront runs every function', () => {
    const strict = new vm.Script(`${SOURCE}\n(function () { return this === undefined; })();`);
    expect(strict.runInContext(vm.createContext({}))).toBe(true);
  });

  it('defines handler(event) at the top level', () => {
    expect(typeof handler).toBe('function');
    expect(handler.length).toBe(1);
  });

  it('returns the request object itself, never a response', () => {
    const { event, returned } = run('/photos/a.jpg?w=800', 'image/webp');
    expect(returned).toBe(event.request);
    expect(returned).not.toHaveProperty('statusCode');
    expect(returned.method).toBe('GET');
    expect(returned.cookies).toEqual({});
  });
});

describe('Accept: reduced to the three classes fm=auto tells apart', () => {
  const BROWSERS: [string, string | string[] | undefined][] = [
    ['Chrome, image', 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8'],
    [
      'Chrome, navigation',
      'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
    ],
    ['Firefox 93+, image', 'image/avif,image/webp,*/*'],
    ['Firefox 128+, image', 'image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5'],
    ['Firefox 65-92, image', 'image/webp,*/*'],
    [
      'Safari 17, image',
      'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
    ],
    ['Safari 14, image', 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5'],
    ['Safari 13, image', 'image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5'],
    ['Samsung Internet', 'image/webp,image/apng,image/*,*/*;q=0.8'],
    ['Edge legacy', 'image/png, image/svg+xml, image/*; q=0.8, */*; q=0.5'],
    ['IE 11', 'image/png, image/svg+xml, image/jxr, image/*; q=0.8, */*; q=0.5'],
    ['curl', '*/*'],
    ['no Accept', undefined],
    ['empty', ''],
    ['AVIF refused', 'image/avif;q=0,image/webp'],
    ['both refused', 'image/avif;q=0.0,image/webp;q=0'],
    ['q=0 after a space', 'image/avif; q=0'],
    ['upper-case Q', 'image/avif;Q=0,image/webp;q=0.5'],
    ['empty q (Number reads 0)', 'image/avif;q='],
    ['spaces around =, not a q', 'image/avif;q = 0'],
    ['q that is not a number', 'image/avif;q=abc'],
    ['q after another parameter', 'image/avif;level=1;q=0'],
    ['upper case', 'IMAGE/AVIF'],
    ['spaces', '  image/webp ; q=0.9  '],
    ['look-alikes', 'image/avifx,image/webpx'],
    ['refused once, accepted once', 'image/avif;q=0,image/avif'],
    ['only commas', ',,,'],
    ['repeated header lines', ['image/png', 'image/webp']],
    ['repeated header lines, AVIF in the second', ['image/avif;q=0', 'image/avif']],
  ];

  it.each(BROWSERS)('%s: the service negotiates the same format before and after', (_name, accept) => {
    const { before, after, returned } = run('/photos/a.jpg?fm=auto', accept);
    expect(['image/avif', 'image/webp', '*/*']).toContain(returned.headers.accept!.value);
    expect(negotiateFormat(after.headers!.accept)).toBe(negotiateFormat(before.headers!.accept));
    expect(served(after)).toEqual(served(before));
  });

  it.each([
    ['image/avif,image/webp,*/*', 'image/avif'],
    ['image/webp,*/*', 'image/webp'],
    ['image/png,*/*;q=0.5', '*/*'],
    ['*/*', '*/*'],
  ])('%s → %s', (accept, normalized) => {
    expect(plain(run('/a.jpg', accept).returned.headers.accept)).toEqual({ value: normalized });
  });

  it('gives a request without Accept the same key as */*', () => {
    expect(plain(run('/a.jpg').returned.headers.accept)).toEqual({ value: '*/*' });
  });

  it('collapses repeated Accept lines into one', () => {
    const { accept } = run('/a.jpg', ['image/png', 'image/webp']).returned.headers;
    expect(values(plain(accept!))).toEqual(['image/webp']);
  });

  it('agrees with negotiateFormat on generated headers', () => {
    // A small seeded generator (mulberry32): the same 3000 headers on every run.
    let seed = 0x5eed;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const TYPES = ['image/avif', 'image/webp', 'IMAGE/AVIF', 'Image/WebP', 'image/*', '*/*', 'image/png', 'image/avifx', 'text/html', ''];
    const PARAMS = ['', '', ';q=0', ';q=0.0', ';q=0.5', ';q=1', ' ; q=0', ';q=', ';Q=0', ';level=1', ';q = 0', ';q=0;v=1'];
    const SEPARATORS = [',', ', ', ' , '];
    for (let i = 0; i < 3000; i++) {
      const count = 1 + Math.floor(random() * 5);
      const parts = Array.from({ length: count }, () => pick(TYPES) + pick(PARAMS));
      const accept = parts.join(pick(SEPARATORS));
      const { before, after } = run('/a.jpg?fm=auto', accept);
      expect.soft(negotiateFormat(after.headers!.accept), accept).toBe(negotiateFormat(before.headers!.accept));
    }
  });

  it('also applies to paths it does not rewrite and to signed URLs', () => {
    expect(plain(run('/_playground', 'image/avif').returned.headers.accept)).toEqual({ value: 'image/avif' });
    expect(plain(run('/a.jpg?w=1&s=abc', 'image/webp').returned.headers.accept)).toEqual({ value: 'image/webp' });
  });
});

describe('classic path: /{W}x{H}/{key} becomes /{key}?w=W&h=H', () => {
  it.each(CLASSIC_REWRITES)('%s → %s', (url, expected) => {
    expect(target(run(url).returned)).toBe(expected);
  });

  it.each(CLASSIC_KEPT)('leaves %s as sent: %s', (_name, url) => {
    expect(target(run(url).returned)).toBe(url);
  });
});

describe('query: aliases to the table names, sorted by name then value', () => {
  it('maps exactly the names of the operations table, lower case, to their table names', () => {
    const expected = Object.fromEntries(
      OPERATIONS.flatMap((op) => [op.name, ...op.aliases].map((name) => [name.toLowerCase(), op.name])),
    );
    expect(plain(topLevel('PARAM_NAMES'))).toEqual(expected);
  });

  it('relies on the service reading parameter names in any case', () => {
    expect(parseOperations([['WIDTH', '5'], ['Fm', 'webp']])).toEqual({ w: 5, fm: 'webp' });
  });

  it('reads the classic size with the service’s own pattern', () => {
    const service = readFileSync(new URL('../../src/request/parse-request.ts', import.meta.url), 'utf8');
    const pattern = /const CLASSIC_SIZE = \/(.+)\/([a-z]*);/.exec(service);
    const edge = topLevel('CLASSIC_SIZE') as RegExp;
    expect(pattern).not.toBeNull();
    expect([edge.source, edge.flags]).toEqual([pattern![1], pattern![2]]);
  });

  it.each(QUERY_CANONICAL)('%s → %s', (url, expected) => {
    expect(target(run(url).returned)).toBe(expected);
  });

  it.each(QUERY_SORT_ONLY)('only sorts when renaming is not safe: %s', (_name, url, expected) => {
    expect(target(run(url).returned)).toBe(expected);
  });

  it('keeps every value of a repeated parameter, as multiValue', () => {
    const { returned } = run('/a.jpg?fm=webp&fm=png');
    expect(plain(returned.querystring)).toEqual({
      fm: { value: 'png', multiValue: [{ value: 'png' }, { value: 'webp' }] },
    });
  });

  it('builds the query in sorted order, so CloudFront forwards it sorted', () => {
    const { returned } = run('/a.jpg?q=70&width=800&format=webp');
    expect(Object.keys(returned.querystring)).toEqual(['fm', 'q', 'w']);
  });
});

describe('equivalent URLs share one (uri, querystring)', () => {
  const keyOf = (url: string) => {
    const { uri, querystring } = run(url).returned;
    // Order-sensitive: CloudFront forwards the fields in the object's order.
    return JSON.stringify(plain({ uri, querystring }));
  };

  it.each(EQUIVALENT.map((group) => [group[0]!, group] as const))('%s and its equivalents', (_first, group) => {
    // The service itself treats them as one variant…
    for (const url of group) expect(served(run(url).before), url).toEqual(served(run(group[0]!).before));
    // …and after the function they are one request.
    expect(new Set(group.map(keyOf)).size).toBe(1);
  });

  it('keeps different variants apart', () => {
    expect(new Set(EQUIVALENT.map((group) => keyOf(group[0]!))).size).toBe(EQUIVALENT.length);
  });
});

describe('signed URLs still verify at the origin', () => {
  const verifyAtOrigin = (raw: RawHttpRequest) => {
    const { path, entries } = readTarget(raw);
    verifySignature([SECRET], path, entries);
  };

  it.each(SIGNED)('%s', (_name, url) => {
    const { before, after, returned } = run(url, 'image/avif,image/webp,*/*');
    expect(() => verifyAtOrigin(before)).not.toThrow();
    expect(() => verifyAtOrigin(after)).not.toThrow();
    // Neither the path nor a name changes: at most the order of the parameters.
    expect(returned.uri).toBe(before.rawPath);
    const entries = (raw: RawHttpRequest) => [...new URLSearchParams(raw.rawQueryString)].sort();
    expect(entries(after)).toEqual(entries(before));
  });

  it('would not verify had the classic path been rewritten (why signed URLs are left alone)', () => {
    const s = new URLSearchParams(sign('/800x600/photos/a.jpg', 'fm=webp').split('?')[1]).get('s')!;
    const error = thrownBy(() => verifyAtOrigin({ rawPath: '/photos/a.jpg', rawQueryString: `fm=webp&h=600&w=800&s=${s}` }));
    expect(error).toMatchObject({ statusCode: 403, code: 'invalid_signature' });
  });
});

describe('never throws, never changes what the origin answers', () => {
  it.each([
    ['no querystring', { method: 'GET', uri: '/800x/a.jpg', headers: {}, cookies: {} }],
    ['a querystring string', { method: 'GET', uri: '/800x/a.jpg', querystring: 'width=1', headers: {}, cookies: {} }],
    ['a field without value', { method: 'GET', uri: '/800x/a.jpg', querystring: { width: {} }, headers: {} }],
    ['a null field', { method: 'GET', uri: '/800x/a.jpg', querystring: { width: null }, headers: {} }],
    ['a bad multiValue', { method: 'GET', uri: '/a.jpg', querystring: { width: { value: '1', multiValue: [null] } }, headers: {} }],
    [
      'a __proto__ parameter',
      { method: 'GET', uri: '/a.jpg', querystring: JSON.parse('{"width":{"value":"1"},"__proto__":{"value":"2"}}'), headers: {} },
    ],
    ['no uri', { method: 'GET', querystring: { width: { value: '1' } }, headers: {} }],
    ['a relative uri', { method: 'GET', uri: '800x/a.jpg', querystring: { width: { value: '1' } }, headers: {} }],
  ])('%s: returns the request, path and query as they were', (_name, request) => {
    const original = request as unknown as CfRequest;
    const { uri, querystring } = original;
    const returned = handler({ ...viewerRequest('/'), request: original });
    expect(returned).toBe(original);
    expect(returned.uri).toBe(uri);
    expect(returned.querystring).toBe(querystring);
    expect(plain(returned.headers.accept)).toEqual({ value: '*/*' });
  });

  it.each([
    ['no headers', { method: 'GET', uri: '/800x/a.jpg', querystring: {} }],
    ['a headers string', { method: 'GET', uri: '/800x/a.jpg', querystring: {}, headers: 'accept: */*' }],
    ['an Accept without value', { method: 'GET', uri: '/800x/a.jpg', querystring: {}, headers: { accept: {} } }],
    ['an Accept with a number', { method: 'GET', uri: '/800x/a.jpg', querystring: {}, headers: { accept: { value: 5 } } }],
  ])('%s: still rewrites the path', (_name, request) => {
    const original = request as unknown as CfRequest;
    const returned = handler({ ...viewerRequest('/'), request: original });
    expect(returned).toBe(original);
    expect(target(returned)).toBe('/a.jpg?w=800');
  });

  it('gives the service the same request for every URL in these tables', () => {
    const urls = [
      ...CLASSIC_REWRITES.map(([url]) => url),
      ...CLASSIC_KEPT.map(([, url]) => url),
      ...QUERY_CANONICAL.map(([url]) => url),
      ...QUERY_SORT_ONLY.map(([, url]) => url),
      ...EQUIVALENT.flat(),
      ...SIGNED.map(([, url]) => url),
    ];
    for (const url of urls) {
      for (const accept of [undefined, 'image/avif,image/webp,*/*', 'image/webp,*/*', 'image/png']) {
        const { before, after } = run(url, accept);
        expect.soft(served(after), `${url} (Accept: ${accept})`).toEqual(served(before));
      }
    }
  });
});
