import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { OPERATIONS, parseOperations, type ParamEntry } from '../../src/transform/operations.js';
import { thrownBy } from '../support/thrown.js';


/** `?a=1&b` style text into entries, the way the query string arrives (values already decoded). */
const entries = (query: string): ParamEntry[] => [...new URLSearchParams(query)];

describe('parseOperations: valid values', () => {
  it.each([
    ['w=800', { w: 800 }],
    ['width=800', { w: 800 }],
    ['W=800', { w: 800 }],
    ['w=1', { w: 1 }],
    ['w=8192', { w: 8192 }],
    ['w=0800', { w: 800 }],
    ['h=600', { h: 600 }],
    ['height=600', { h: 600 }],
    ['fit=cover', { fit: 'cover' }],
    ['fit=contain', { fit: 'contain' }],
    ['fit=fill', { fit: 'fill' }],
    ['fit=inside', { fit: 'inside' }],
    ['fit=OUTSIDE', { fit: 'outside' }],
    ['pos=center', { pos: 'center' }],
    ['pos=centre', { pos: 'center' }],
    ['pos=middle', { pos: 'center' }],
    ['pos=top', { pos: 'top' }],
    ['pos=north', { pos: 'top' }],
    ['pos=south', { pos: 'bottom' }],
    ['pos=east', { pos: 'right' }],
    ['pos=west', { pos: 'left' }],
    ['pos=right top', { pos: 'right top' }],
    ['pos=top right', { pos: 'right top' }],
    ['pos=top-right', { pos: 'right top' }],
    ['pos=top_right', { pos: 'right top' }],
    ['pos=top,right', { pos: 'right top' }],
    ['pos=right+bottom', { pos: 'right bottom' }],
    ['pos=northeast', { pos: 'right top' }],
    ['pos=southeast', { pos: 'right bottom' }],
    ['pos=southwest', { pos: 'left bottom' }],
    ['pos=NorthWest', { pos: 'left top' }],
    ['pos=attention', { pos: 'attention' }],
    ['pos=Entropy', { pos: 'entropy' }],
    ['position=left', { pos: 'left' }],
    ['crop=left', { pos: 'left' }],
    ['gravity=left', { pos: 'left' }],
    ['fm=jpeg', { fm: 'jpeg' }],
    ['fm=jpg', { fm: 'jpeg' }],
    ['fm=JPG', { fm: 'jpeg' }],
    ['fm=png', { fm: 'png' }],
    ['fm=webp', { fm: 'webp' }],
    ['fm=avif', { fm: 'avif' }],
    ['fm=gif', { fm: 'gif' }],
    ['fm=auto', { fm: 'auto' }],
    ['format=webp', { fm: 'webp' }],
    ['f=webp', { fm: 'webp' }],
    ['q=1', { q: 1 }],
    ['quality=100', { q: 100 }],
    ['dpr=1', { dpr: 1 }],
    ['dpr=1.5', { dpr: 1.5 }],
    ['dpr=4', { dpr: 4 }],
    ['bg=fff', { bg: 'ffffff' }],
    ['bg=FFF8', { bg: 'ffffff88' }],
    ['bg=%23a0b1c2', { bg: 'a0b1c2' }],
    ['background=a0b1c2ff', { bg: 'a0b1c2ff' }],
    ['blur=0.3', { blur: 0.3 }],
    ['blur=100', { blur: 100 }],
    ['sharpen', { sharpen: 1 }],
    ['sharpen=true', { sharpen: 1 }],
    ['sharpen=2.5', { sharpen: 2.5 }],
    ['sharpen=0', { sharpen: 0 }],
    ['sharpen=false', { sharpen: 0 }],
    ['gray', { gray: true }],
    ['gray=1', { gray: true }],
    ['gray=TRUE', { gray: true }],
    ['gray=0', { gray: false }],
    ['gray=false', { gray: false }],
    ['grey', { gray: true }],
    ['grayscale', { gray: true }],
    ['greyscale', { gray: true }],
    ['rot=0', { rot: 0 }],
    ['rot=90', { rot: 90 }],
    ['rotate=180', { rot: 180 }],
    ['or=270', { rot: 270 }],
    ['flip', { flip: true }],
    ['flop=1', { flop: true }],
    ['enlarge', { enlarge: true }],
    ['upscale=false', { enlarge: false }],
    ['', {}],
  ])('%s → %j', (query, expected) => {
    expect(parseOperations(entries(query))).toEqual(expected);
  });

  it('reads several parameters at once, in any order', () => {
    expect(parseOperations(entries('fm=webp&w=800&gray&q=70'))).toEqual({ w: 800, fm: 'webp', gray: true, q: 70 });
  });

  it('skips names that other layers understand (signatures, presets)', () => {
    expect(parseOperations(entries('w=10&sig=abc&PRESET=x'), ['sig', 'preset'])).toEqual({ w: 10 });
  });
});

describe('parseOperations: invalid values are a 400 naming the parameter and its range', () => {
  it.each([
    ['w=0', 'w', 'an integer from 1 to 8192'],
    ['w=8193', 'w', 'an integer from 1 to 8192'],
    ['w=-1', 'w', 'an integer from 1 to 8192'],
    ['w=1.5', 'w', 'an integer from 1 to 8192'],
    ['w=', 'w', 'an integer from 1 to 8192'],
    ['w= 800', 'w', 'an integer from 1 to 8192'],
    ['w=1e3', 'w', 'an integer from 1 to 8192'],
    ['w=0x10', 'w', 'an integer from 1 to 8192'],
    ['width=abc', 'width', 'an integer from 1 to 8192'],
    ['h=9000', 'h', 'an integer from 1 to 8192'],
    ['height=99999999999', 'height', 'an integer from 1 to 8192'],
    ['fit=crop', 'fit', 'one of cover, contain, fill, inside, outside'],
    ['fit=', 'fit', 'one of cover, contain, fill, inside, outside'],
    ['pos=up', 'pos', 'one of center, top, right top'],
    ['pos=', 'pos', 'one of center'],
    ['pos=top bottom', 'pos', 'one of center'],
    ['pos=left right', 'pos', 'one of center'],
    ['pos=center top', 'pos', 'one of center'],
    ['pos=top left right', 'pos', 'one of center'],
    ['pos=constructor', 'pos', 'one of center'],
    ['pos=__proto__', 'pos', 'one of center'],
    ['pos=top constructor', 'pos', 'one of center'],
    ['gravity=smart', 'gravity', 'attention, entropy'],
    ['fm=bmp', 'fm', 'one of jpeg, png, webp, avif, gif, auto'],
    ['fm=constructor', 'fm', 'one of jpeg, png, webp, avif, gif, auto'],
    ['fm=__proto__', 'fm', 'one of jpeg, png, webp, avif, gif, auto'],
    ['fm=tostring', 'fm', 'one of jpeg, png, webp, avif, gif, auto'],
    ['fit=constructor', 'fit', 'one of cover'],
    ['format=', 'format', 'one of jpeg'],
    ['q=0', 'q', 'an integer from 1 to 100'],
    ['quality=101', 'quality', 'an integer from 1 to 100'],
    ['dpr=0.5', 'dpr', 'a number from 1 to 4'],
    ['dpr=4.01', 'dpr', 'a number from 1 to 4'],
    ['dpr=2x', 'dpr', 'a number from 1 to 4'],
    ['dpr=.5', 'dpr', 'a number from 1 to 4'],
    ['bg=red', 'bg', 'a hex colour'],
    ['bg=12345', 'bg', 'a hex colour'],
    ['bg=ggg', 'bg', 'a hex colour'],
    ['background=', 'background', 'a hex colour'],
    ['blur=0', 'blur', 'a number from 0.3 to 100'],
    ['blur=0.2', 'blur', 'a number from 0.3 to 100'],
    ['blur=101', 'blur', 'a number from 0.3 to 100'],
    ['sharpen=11', 'sharpen', 'a number from 0.01 to 10'],
    ['sharpen=0.001', 'sharpen', 'a number from 0.01 to 10'],
    ['sharpen=yes', 'sharpen', 'a number from 0.01 to 10'],
    ['gray=yes', 'gray', 'a flag'],
    ['grey=2', 'grey', 'a flag'],
    ['rot=45', 'rot', 'one of 0, 90, 180, 270'],
    ['rot=360', 'rot', 'one of 0, 90, 180, 270'],
    ['rot=-90', 'rot', 'one of 0, 90, 180, 270'],
    ['rotate=', 'rotate', 'one of 0, 90, 180, 270'],
    ['flip=2', 'flip', 'a flag'],
    ['flop=no', 'flop', 'a flag'],
    ['enlarge=maybe', 'enlarge', 'a flag'],
  ])('%s → invalid_param for "%s" (%s)', (query, name, expected) => {
    const error = thrownBy(() => parseOperations(entries(query)));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'invalid_param', expose: true });
    expect((error as Error).message).toContain(`"${name}"`);
    expect((error as Error).message).toContain(expected);
  });

  it('quotes what it received, cut short when long', () => {
    const error = thrownBy(() => parseOperations([['w', '9'.repeat(500)]]));
    expect(error).toMatchObject({ code: 'invalid_param' });
    const message = (error as Error).message;
    expect(message).toContain(`received "${'9'.repeat(64)}…"`);
    expect(message.length).toBeLessThan(200);
  });
});

describe('parseOperations: unknown and repeated names', () => {
  it.each([['witdh=800', 'witdh'], ['size=800', 'size'], ['w=1&foo', 'foo'], ['__proto__=1', '__proto__'], ['constructor=1', 'constructor']])(
    '%s → unknown_param naming "%s"',
    (query, name) => {
      const error = thrownBy(() => parseOperations(entries(query)));
      expect(error).toMatchObject({ statusCode: 400, code: 'unknown_param' });
      expect((error as Error).message).toContain(`"${name}"`);
      expect((error as Error).message).toContain('Supported: w, h, fit');
    },
  );

  it.each([
    ['w=1&w=2', 'w'],
    ['w=1&width=1', 'w'],
    ['width=1&WIDTH=2', 'w'],
    ['gray&grey', 'gray'],
    ['fm=webp&format=webp', 'fm'],
    ['pos=top&crop=top', 'pos'],
    ['rot=90&or=90', 'rot'],
  ])('%s → duplicate_param for "%s"', (query, name) => {
    const error = thrownBy(() => parseOperations(entries(query)));
    expect(error).toMatchObject({ statusCode: 400, code: 'duplicate_param' });
    expect((error as Error).message).toContain(`"${name}"`);
  });

  it('reports a repeated name even when both values are the same', () => {
    expect(() => parseOperations(entries('q=80&q=80'))).toThrow(/more than once/);
  });
});

describe('the operations table', () => {
  it('gives every name and alias to exactly one operation', () => {
    const names = OPERATIONS.flatMap((o) => [o.name, ...o.aliases]);
    expect(new Set(names).size).toBe(names.length);
    expect(names.every((n) => n === n.toLowerCase())).toBe(true);
  });

  it('lists the canonical order of the spec', () => {
    expect(OPERATIONS.map((o) => o.name)).toEqual([
      'w', 'h', 'fit', 'pos', 'fm', 'q', 'dpr', 'bg', 'blur', 'sharpen', 'gray', 'rot', 'flip', 'flop', 'enlarge',
      'rect', 'fp', 'ar', 'trim', 'pad', 'maxbytes', 'meta', 'mark', 'markpos', 'markscale', 'markalpha', 'markpad',
    ]);
  });
});
