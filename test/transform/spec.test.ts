import { describe, expect, it } from 'vitest';
import { InvalidRequestError, TooLargeError } from '../../src/errors.js';
import { queryEntries } from '../../src/request/parse-request.js';
import { parseOperations } from '../../src/transform/operations.js';
import { buildSpec, canonicalString, defaultFit, type SpecContext } from '../../src/transform/spec.js';
import { variantId } from '../../src/transform/variant-key.js';
import { thrownBy } from '../support/thrown.js';

const context: SpecContext = { defaultQuality: 80, maxOutputPixels: 8192 * 8192 };

/** A query string through the same steps as a request: parse, validate, canonicalise. */
const built = (query: string, extra: Partial<SpecContext> = {}) =>
  buildSpec(parseOperations(queryEntries(query)), { ...context, ...extra });
const specOf = (query: string, extra: Partial<SpecContext> = {}) => built(query, extra).spec;


describe('defaultFit', () => {
  it.each([
    [800, 600, 'cover'],
    [800, undefined, 'inside'],
    [undefined, 600, 'inside'],
    [undefined, undefined, 'inside'],
  ] as const)('w=%s h=%s → %s', (w, h, fit) => {
    expect(defaultFit(w, h)).toBe(fit);
  });
});

describe('buildSpec: the canonical spec', () => {
  it.each([
    ['', {}],
    ['w=800', { w: 800 }],
    ['h=600', { h: 600 }],
    ['w=800&h=600', { w: 800, h: 600 }],
    // fit: the default for the sides given is dropped, as is a fit without any side.
    ['w=800&h=600&fit=cover', { w: 800, h: 600 }],
    ['w=800&h=600&fit=inside', { w: 800, h: 600, fit: 'inside' }],
    ['w=800&h=600&fit=fill', { w: 800, h: 600, fit: 'fill' }],
    ['w=800&fit=inside', { w: 800 }],
    // With one side sharp keeps the aspect ratio: cover and outside scale exactly like inside.
    ['w=800&fit=cover', { w: 800 }],
    ['h=600&fit=outside', { h: 600 }],
    ['w=800&fit=contain', { w: 800, fit: 'contain' }],
    ['w=800&fit=fill', { w: 800, fit: 'fill' }],
    ['fit=contain', {}],
    // pos only matters when the box crops (cover) or pads (contain); center is the default.
    ['w=8&h=6&pos=top', { w: 8, h: 6, pos: 'top' }],
    ['w=8&h=6&pos=center', { w: 8, h: 6 }],
    ['w=8&h=6&pos=centre', { w: 8, h: 6 }],
    ['w=8&h=6&fit=contain&pos=left', { w: 8, h: 6, fit: 'contain', pos: 'left' }],
    ['w=8&h=6&fit=fill&pos=left', { w: 8, h: 6, fit: 'fill' }],
    ['w=8&h=6&fit=inside&pos=left', { w: 8, h: 6, fit: 'inside' }],
    ['w=8&pos=top', { w: 8 }],
    ['pos=top', {}],
    ['w=8&h=6&pos=attention', { w: 8, h: 6, pos: 'attention' }],
    ['w=8&h=6&fit=cover&pos=entropy', { w: 8, h: 6, pos: 'entropy' }],
    ['w=8&fit=cover&pos=entropy', { w: 8 }],
    // q: the default quality is no setting at all.
    ['q=80', {}],
    ['q=79', { q: 79 }],
    ['quality=100', { q: 100 }],
    ['q=50&fm=webp', { fm: 'webp', q: 50 }],
    ['q=50&fm=avif', { fm: 'avif', q: 50 }],
    ['q=50&fm=jpeg', { fm: 'jpeg', q: 50 }],
    ['q=50&fm=auto', { fm: 'auto', q: 50 }],
    // PNG and GIF have no quality to set.
    ['q=50&fm=png', { fm: 'png' }],
    ['q=50&fm=gif', { fm: 'gif' }],
    // dpr multiplies the sides and disappears.
    ['w=100&dpr=2', { w: 200 }],
    ['w=100&h=50&dpr=1.5', { w: 150, h: 75 }],
    ['w=101&dpr=1.5', { w: 152 }],
    ['h=2048&dpr=4', { h: 8192 }],
    ['dpr=3', {}],
    ['w=800&dpr=1', { w: 800 }],
    // fm
    ['fm=jpg', { fm: 'jpeg' }],
    ['format=WEBP', { fm: 'webp' }],
    ['fm=png', { fm: 'png' }],
    // colours and filters
    ['bg=FFF', { bg: 'ffffff' }],
    ['blur=2', { blur: 2 }],
    ['sharpen', { sharpen: 1 }],
    ['sharpen=0', {}],
    ['gray', { gray: true }],
    ['gray=0', {}],
    ['rot=90', { rot: 90 }],
    ['rot=0', {}],
    ['flip&flop', { flip: true, flop: true }],
    ['flip=false&flop=0', {}],
    // enlarge only means something when resizing
    ['w=10&enlarge', { w: 10, enlarge: true }],
    ['enlarge', {}],
    ['w=10&enlarge=0', { w: 10 }],
  ])('%s → %j', (query, expected) => {
    expect(specOf(query)).toEqual(expected);
  });

  it('follows the configured default quality', () => {
    expect(specOf('q=75', { defaultQuality: 75 })).toEqual({});
    expect(specOf('q=80', { defaultQuality: 75 })).toEqual({ q: 80 });
  });

  it('is frozen, so a spec cannot change under its cache key', () => {
    expect(Object.isFrozen(specOf('w=10&gray'))).toBe(true);
  });

  it('has no keys with undefined values', () => {
    const spec = specOf('w=10&gray=0&fit=inside&pos=center&q=80');
    expect(Object.keys(spec)).toEqual(['w']);
  });
});

describe('buildSpec: fm=auto', () => {
  it.each([
    ['image/avif,image/webp,image/apng,*/*;q=0.8', 'avif'],
    ['image/webp,*/*', 'webp'],
    ['image/avif;q=0,image/webp', 'webp'],
    ['image/png,image/jpeg', 'auto'],
    ['*/*', 'auto'],
    ['image/*', 'auto'],
    [undefined, 'auto'],
  ])('Accept %s → fm %s, Vary: Accept', (accept, fm) => {
    expect(built('fm=auto', { accept })).toEqual({ spec: { fm }, varyAccept: true });
  });

  it('does not vary on Accept without fm=auto', () => {
    expect(built('fm=webp&w=10', { accept: 'image/avif' })).toEqual({ spec: { w: 10, fm: 'webp' }, varyAccept: false });
    expect(built('w=10', { accept: 'image/avif' }).varyAccept).toBe(false);
  });
});

describe('buildSpec: refusals', () => {
  it.each([
    ['w=4097&dpr=2', '"w" × "dpr" is 8194'],
    ['h=3000&dpr=3', '"h" × "dpr" is 9000'],
    ['w=8192&dpr=1.01', '"w" × "dpr"'],
    ['w=10&h=10&fit=contain&pos=attention', 'needs fit=cover'],
    ['w=10&h=10&fit=inside&pos=entropy', 'needs fit=cover'],
    ['w=10&pos=attention', 'needs fit=cover'],
    ['pos=entropy', 'needs fit=cover'],
  ])('%s → 400 invalid_param (%s)', (query, message) => {
    const error = thrownBy(() => built(query));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'invalid_param' });
    expect((error as Error).message).toContain(message);
  });

  it('names the 8192 limit when dpr pushes a side over it', () => {
    expect(() => built('w=5000&dpr=2')).toThrow(/over the maximum of 8192 pixels/);
  });

  it('refuses a box larger than the output pixel limit with 413 output_too_large', () => {
    const error = thrownBy(() => built('w=101&h=100', { maxOutputPixels: 10_000 }));
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error).toMatchObject({ statusCode: 413, code: 'output_too_large' });
    expect(specOf('w=100&h=100', { maxOutputPixels: 10_000 })).toEqual({ w: 100, h: 100 });
  });
});

describe('equivalent URLs share one spec, one canonical string and one variant key', () => {
  const original = { key: 'photos/a.jpg', etag: '"abc"' };
  it.each([
    ['w=800&fm=webp', 'fm=webp&w=800&q=80'],
    ['w=800&fm=webp', 'format=webp&width=800&fit=inside&enlarge=0'],
    ['w=800&h=600', 'h=600&w=800&fit=cover&pos=center'],
    ['w=800&h=600', 'HEIGHT=600&Width=800&crop=centre'],
    ['w=400&dpr=2', 'w=800'],
    ['w=400&h=300&dpr=2', 'h=600&w=800&dpr=1'],
    ['gray&flip', 'flip=1&grey=true&flop=0&rot=0&sharpen=0'],
    ['w=8&h=8&pos=top%20right', 'h=8&gravity=northeast&w=8'],
    ['w=8&h=8&pos=right+top', 'w=8&h=8&position=top-right'],
    ['fm=jpg&bg=fff', 'bg=FFFFFF&fm=jpeg'],
    ['w=300&fit=cover', 'w=300&fit=outside'],
    ['fit=fill&enlarge&pos=top', ''],
    ['fm=png&q=30', 'fm=png'],
  ])('%s ≡ %s', (a, b) => {
    const [sa, sb] = [specOf(a), specOf(b)];
    expect(sa).toEqual(sb);
    expect(canonicalString(sa)).toBe(canonicalString(sb));
    expect(variantId('v/', original, sa).key).toBe(variantId('v/', original, sb).key);
  });

  it('fm=auto resolved to AVIF is the same variant as fm=avif', () => {
    expect(specOf('fm=auto&w=10', { accept: 'image/avif' })).toEqual(specOf('w=10&fm=avif'));
  });

  it.each([
    ['w=800', 'w=801'],
    ['w=800', 'h=800'],
    ['q=79', ''],
    ['w=8&h=8', 'w=8&h=8&fit=contain'],
    ['w=8', 'w=8&fit=contain'],
    ['w=8', 'w=8&enlarge'],
    ['fm=auto', 'fm=jpeg'],
    ['rot=90', 'rot=270'],
    ['flip', 'flop'],
    ['bg=fff', 'bg=ffffff80'],
  ])('%s differs from %s', (a, b) => {
    expect(canonicalString(specOf(a))).not.toBe(canonicalString(specOf(b)));
  });
});

describe('canonicalString', () => {
  it.each([
    ['', ''],
    ['w=800', 'w=800'],
    ['gray&fm=webp&h=6&w=8&q=50&fit=fill', 'w=8&h=6&fit=fill&fm=webp&q=50&gray=true'],
    ['enlarge&flop&flip&rot=180&sharpen=2&blur=1.5&bg=000&w=9', 'w=9&bg=000000&blur=1.5&sharpen=2&rot=180&flip=true&flop=true&enlarge=true'],
    ['w=8&h=8&pos=left+bottom', 'w=8&h=8&pos=left%20bottom'],
  ])('%s → %s', (query, text) => {
    expect(canonicalString(specOf(query))).toBe(text);
  });
});
