import { describe, expect, it } from 'vitest';
import { queryEntries } from '../../src/request/parse-request.js';
import { parseOperations } from '../../src/transform/operations.js';
import { buildSpec, canonicalString } from '../../src/transform/spec.js';

/**
 * The parameters of crops, focal points, trims, padding, byte budgets, metadata and watermarks:
 * validation (a 400 naming the parameter and its range) and canonical form (aliases, order and
 * no-op values never change the variant). Rendering is tested with real sharp elsewhere.
 */

const spec = (query: string, accept?: string) =>
  canonicalString(buildSpec(parseOperations(queryEntries(query)), { defaultQuality: 80, maxOutputPixels: 8192 * 8192, accept }).spec);
const fails = (query: string) => () => spec(query);

describe('validation: a 400 that names the parameter and what it takes', () => {
  it.each([
    ['rect=1,2,3', /"rect".*4 comma-separated integers from 0 to 65535/],
    ['rect=0,0,0,10', /"rect".*width and height of at least 1/],
    ['rect=a,b,c,d', /"rect"/],
    ['rect=-1,0,5,5', /"rect"/],
    ['fp=0.5', /"fp".*fractions from 0 to 1/],
    ['fp=1.2,0.5', /"fp"/],
    ['fp=0.5,-0.1', /"fp"/],
    ['ar=16', /"ar".*W:H/],
    ['ar=0:9', /"ar"/],
    ['ar=1000:1', /"ar".*1:100 to 100:1/],
    ['trim=101', /"trim".*threshold from 1 to 100/],
    ['trim=soft', /"trim"/],
    ['pad=1,2', /"pad".*four \(top,right,bottom,left\)/],
    ['pad=5000', /"pad".*0 to 2048/],
    ['maxbytes=10', /"maxbytes".*1024 to 52428800/],
    ['maxbytes=5k', /"maxbytes"/],
    ['meta=all', /"meta".*copyright, none/],
    ['mark=../secret.png', /"mark".*no "\.\."/],
    ['mark=', /"mark"/],
    ['mark=a//b.png', /"mark"/],
    ['mark=logo.png&markpos=attention', /"markpos".*one of center, top/],
    ['mark=logo.png&markscale=2', /"markscale".*0\.01 to 1/],
    ['mark=logo.png&markalpha=101', /"markalpha".*0 to 100/],
    ['mark=logo.png&markpad=-1', /"markpad"/],
  ])('%s', (query, message) => {
    expect(fails(query)).toThrow(message);
    try {
      spec(query);
    } catch (error) {
      expect(error).toMatchObject({ statusCode: 400, code: 'invalid_param' });
    }
  });

  it.each([
    ['w=100&h=100&ar=16:9', /"ar".*not both/],
    ['w=8000&ar=1:2', /"ar" makes "h" 16000/],
    ['w=100&h=100&fp=0.2,0.2&pos=left', /"fp" and "pos=left"/],
    ['markpos=left', /"markpos".*needs "mark"/],
    ['markalpha=50', /"markalpha".*needs "mark"/],
    ['w=100&fm=png&maxbytes=5000', /"maxbytes".*fm=png/],
    ['w=100&fm=gif&maxbytes=5000', /"maxbytes"/],
    ['fm=json&maxbytes=5000', /"maxbytes"/],
  ])('refuses combinations that cannot apply: %s', (query, message) => {
    expect(fails(query)).toThrow(message);
  });
});

describe('canonical form', () => {
  it.each([
    ['aliases', 'crop-rect=10,20,30,40&focalpoint=0.2,0.8&w=100&h=50', 'rect=10,20,30,40&fp=0.2,0.8&h=50&w=100'],
    ['parameter order', 'pad=4&trim&rect=1,1,9,9', 'rect=1,1,9,9&trim=10&pad=4,4,4,4'],
    ['trim as a flag is the default threshold', 'trim', 'trim=10'],
    ['uniform padding in one or four numbers', 'pad=7', 'pad=7,7,7,7'],
    ['ar folded into the missing side', 'w=1600&ar=16:9', 'w=1600&h=900'],
    ['ar with h', 'h=900&ar=16:9', 'w=1600&h=900'],
    ['ar with dpr', 'w=800&ar=16:9&dpr=2', 'w=1600&h=900'],
    ['equal ratios', 'ar=32:18', 'ar=16:9'],
    ['meta=strip is the default', 'w=10&meta=strip', 'w=10'],
    ['metadata alias', 'w=10&metadata=copyright', 'w=10&meta=copyright'],
    ['watermark defaults', 'w=10&watermark=logo.png&markpos=bottom-right&markalpha=100&markpad=0', 'w=10&mark=logo.png'],
    ['watermark aliases', 'w=10&mark=logo.png&mark-pos=top_left&mark-alpha=40', 'w=10&mark=logo.png&markpos=left%20top&markalpha=40'],
  ])('%s', (_name, a, b) => {
    expect(spec(a)).toBe(spec(b));
  });

  it.each([
    ['trim=0', 'trim=0'],
    ['trim=false', 'trim=false'],
    ['pad=0', 'pad=0,0,0,0'],
    ['fp at the centre of a cover crop', 'w=100&h=100&fp=0.5,0.5'],
    ['fp without a crop (one side)', 'w=100&fp=0.2,0.2'],
    ['fp with fit=inside', 'w=100&h=100&fit=inside&fp=0.2,0.2'],
    ['q with fm=json', 'fm=json&q=50'],
  ])('drops no-op values: %s', (_name, query) => {
    const base = query.includes('w=100&h=100') ? 'w=100&h=100' + (query.includes('fit=inside') ? '&fit=inside' : '') : query.includes('w=100') ? 'w=100' : query.includes('fm=json') ? 'fm=json' : '';
    expect(spec(query)).toBe(spec(base));
  });

  it('keeps what changes the image', () => {
    expect(spec('w=100&h=100&fp=0.2,0.8')).toBe('w=100&h=100&fp=0.2%2C0.8');
    expect(spec('ar=16:9')).toBe('ar=1.7778');
    expect(spec('w=200&maxbytes=20000&fm=webp')).toBe('w=200&fm=webp&maxbytes=20000');
    expect(spec('fm=json&w=300')).toBe('w=300&fm=json');
    expect(spec('w=100&maxbytes=20000&fm=auto', 'image/avif')).toBe('w=100&fm=avif&maxbytes=20000');
  });
});
