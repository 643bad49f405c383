import { InvalidRequestError } from '../errors.js';
import type { ParamEntry } from '../transform/operations.js';
import { invalid } from '../transform/validators.js';
import {
  EntryList,
  TRANSPARENT,
  bucketForbidden,
  colourToHex,
  malformed,
  querySets,
  quoted,
  rightAngle,
  type CompatRules,
  type MappedTarget,
} from './compat.js';

/**
 * Thumbor's URL form, as Thumbor (libthumbor's Url regex) and SIH's thumbor-mapper read it:
 *
 *   /unsafe/trim/AxB:CxD/fit-in/-Wx-H/HALIGN/VALIGN/smart/filters:a(…):b(…)/key
 *
 * every part optional, in that order. Each part becomes the query parameter it stands for; what
 * has no equivalent is refused by name. Thumbor's HMAC signatures are not checked here: the
 * service's own `s` signature covers these paths like any other.
 */

const HASH = /^[A-Za-z0-9_-]{27}=$/; // base64url of an HMAC-SHA1: Thumbor's signed URLs
const TRIM = /^trim(?::(top-left|bottom-right))?(?::(\d+))?$/;
const CROP = /^(\d+)x(\d+):(\d+)x(\d+)$/;
const FIT_IN = /^(adaptive-)?(full-)?fit-in$/;
const SIZE = /^(-)?(\d+|orig)?x(-)?(\d+|orig)?$/;
const HALIGN = /^(left|right|center)$/;
const VALIGN = /^(top|bottom|middle)$/;
const FILTERS = 'filters:';
const FILTER_NAME = /^([A-Za-z_][A-Za-z0-9_]*)\(/;

/**
 * The detection rule (docs/migrating.md): a path is Thumbor syntax when its first segment is
 * `unsafe`, a Thumbor signature, `trim`/`trim:…`, a manual crop `AxB:CxD`, `fit-in` (or its
 * adaptive/full forms), a size with a minus or `orig` (`-300x200`, `300xorig`), `smart` or
 * `filters:…`, and a key follows. Plain sizes are the classic form's (`/300x200/…`), read before
 * this; what follows them is checked again, so `/300x200/smart/a.jpg` is Thumbor's smart crop,
 * exactly as the CDN's rewrite `/smart/a.jpg?w=300&h=200` is. Nothing is looked up in S3.
 */
export function isThumborPath(path: string): boolean {
  if (path.startsWith(FILTERS)) return true;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) return false;
  const first = path.slice(0, slash);
  return (
    first === 'unsafe' ||
    first === 'smart' ||
    HASH.test(first) ||
    TRIM.test(first) ||
    CROP.test(first) ||
    FIT_IN.test(first) ||
    (SIZE.test(first) && /-|orig/.test(first))
  );
}

interface Parts {
  trim?: RegExpExecArray;
  crop?: RegExpExecArray;
  fitIn?: RegExpExecArray;
  size?: RegExpExecArray;
  halign?: string;
  valign?: string;
  smart: boolean;
  filters: { name: string; args: string[]; source: string }[];
  image: string;
}

/** Splits a Thumbor path into its parts, in Thumbor's order; anything out of order is part of the key, as in Thumbor. */
function split(path: string): Parts {
  let rest = path;
  const take = (pattern: RegExp): RegExpExecArray | undefined => {
    const slash = rest.indexOf('/');
    if (slash <= 0) return undefined;
    const match = pattern.exec(rest.slice(0, slash));
    if (match) rest = rest.slice(slash + 1);
    return match ?? undefined;
  };
  if (!take(/^unsafe$/) && take(HASH)) {
    throw malformed('Thumbor\'s signed URLs (/<hash>/…) are not supported: use /unsafe/… and sign with this service\'s "s" parameter (npm run sign).');
  }
  const endpoint = take(/^(debug|meta)$/);
  if (endpoint) throw unsupported([endpoint[1]!], 'Thumbor options');
  const parts: Parts = {
    trim: take(TRIM),
    crop: take(CROP),
    fitIn: take(FIT_IN),
    size: take(SIZE),
    halign: take(HALIGN)?.[1],
    valign: take(VALIGN)?.[1],
    smart: take(/^smart$/) !== undefined,
    filters: [],
    image: '',
  };
  if (rest.startsWith(FILTERS)) {
    const { filters, end } = splitFilters(rest);
    parts.filters = filters;
    rest = rest.slice(end);
  }
  parts.image = rest;
  return parts;
}

/** `filters:a(1):b(x,y)/key`: arguments may hold `/` and `:` (`focal(1x2:3x4)`), never `)`. */
function splitFilters(path: string): { filters: Parts['filters']; end: number } {
  const filters: Parts['filters'] = [];
  let at = FILTERS.length;
  for (;;) {
    const name = FILTER_NAME.exec(path.slice(at));
    const close = name ? path.indexOf(')', at + name[0].length) : -1;
    if (!name || close < 0) {
      const slash = path.indexOf('/', at);
      const shown = path.slice(0, slash < 0 ? undefined : slash);
      throw malformed(`The Thumbor filters ${quoted([shown])} are not of the form filters:name(arguments):name(arguments)/.`);
    }
    const args = path.slice(at + name[0].length, close);
    filters.push({ name: name[1]!, args: args === '' ? [] : args.split(',').map((a) => a.trim()), source: `filters:${name[1]}(${args})` });
    at = close + 1;
    if (path[at] === ':') at++;
    else if (path[at] === '/') return { filters, end: at + 1 };
    else throw malformed('The Thumbor filters must be followed by "/" and the image key.');
  }
}

const unsupported = (names: readonly string[], what: string, hint = '') =>
  new InvalidRequestError('unsupported_edit', `Unsupported ${what}: ${quoted(names)}.${hint}`);

/** Everything the parts add up to, before fit, position and fill are settled together. */
interface State {
  readonly list: EntryList;
  fill?: { colour: string; source: string };
  stretch: boolean;
}

type FilterMapper = (args: readonly string[], state: State, source: string) => void;

const number = (raw: string | undefined, source: string, expected: string): number => {
  const value = raw !== undefined && /^-?\d{1,6}(\.\d{1,6})?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(value)) throw invalid(source, expected, raw ?? '');
  return value;
};

const FORMATS = ['webp', 'jpeg', 'jpg', 'png', 'gif', 'avif'];

function colour(raw: string | undefined, source: string): string {
  const hex = colourToHex(raw ?? '');
  if (hex === undefined) throw invalid(source, 'a hex colour without "#" (ff0000), a basic CSS name (red) or transparent', raw ?? '');
  return hex;
}

/** Thumbor filters with an equivalent. Looked up as own keys only. */
const FILTER_MAP: Readonly<Record<string, FilterMapper>> = {
  format: ([format], s, source) => {
    const lower = (format ?? '').toLowerCase();
    if (!FORMATS.includes(lower)) throw invalid(source, `one of ${FORMATS.join(', ')}`, format ?? '');
    s.list.add('fm', lower === 'jpg' ? 'jpeg' : lower, source);
  },
  // SIH's mapping: the format Thumbor would pick for a PNG without alpha, always.
  autojpg: (_args, s, source) => s.list.add('fm', 'jpeg', source),
  quality: ([q], s, source) => s.list.add('q', q ?? '', source),
  grayscale: (_args, s, source) => s.list.add('gray', '', source),
  // Thumbor: sigma defaults to the radius; 0 blurs nothing.
  blur: ([radius, sigma], s, source) => {
    const r = number(radius, source, 'blur(radius[,sigma])');
    const value = sigma !== undefined && number(sigma, source, 'blur(radius[,sigma])') > 0 ? Number(sigma) : r;
    if (value > 0) s.list.add('blur', String(value), source);
  },
  // SIH's mapping of (amount, radius, luminance_only): sigma 1 + radius / 2.
  sharpen: ([, radius], s, source) => {
    const r = radius === undefined ? 0 : number(radius, source, 'sharpen(amount,radius,luminance_only)');
    s.list.add('sharpen', String(Math.round((1 + r / 2) * 1000) / 1000), source);
  },
  fill: ([fill], s, source) => {
    if (fill === 'auto' || fill === 'blur') throw unsupported([source], 'Thumbor filters', ' Fill with a colour, or transparent.');
    s.fill = { colour: colour(fill, source), source };
  },
  background_color: ([bg], s, source) => {
    if (bg === 'auto') throw unsupported([source], 'Thumbor filters', ' Give a colour.');
    const hex = colour(bg, source);
    if (hex !== TRANSPARENT) s.list.add('bg', hex, source);
  },
  no_upscale: () => {}, // never upscaling is the default here
  upscale: (_args, s, source) => s.list.add('enlarge', '', source),
  rotate: ([angle], s, source) => s.list.add('rot', rightAngle(number(angle, source, 'rotate(90|180|270)')), source),
  // Metadata is always stripped; the colour profile is converted to sRGB and kept.
  strip_exif: () => {},
  strip_icc: () => {},
  stretch: (_args, s) => {
    s.stretch = true;
  },
  max_bytes: ([bytes], s, source) => s.list.add('maxbytes', bytes ?? '', source),
};

/** Which filters can be mapped, for error messages. */
export const SUPPORTED_FILTERS = Object.keys(FILTER_MAP);

/**
 * The Thumbor request a path stands for, as key + query entries; undefined when the path is not
 * Thumbor syntax (see isThumborPath). `query` is the URL's own query (with a classic size folded
 * in): it may add parameters, and tells whether both sides are set for a smart crop.
 */
export function readThumborPath(path: string, query: readonly ParamEntry[], compat: CompatRules): MappedTarget | undefined {
  if (!isThumborPath(path)) return undefined;
  const parts = split(path);
  const unknown = parts.filters.filter((f) => !Object.hasOwn(FILTER_MAP, f.name));
  if (unknown.length > 0) {
    const focal = unknown.some((f) => f.name === 'focal') ? ' For a focal point, add ?fp=x,y (fractions of the image) to the URL.' : '';
    throw unsupported(unknown.map((f) => f.source), 'Thumbor filters', `${focal} Supported: ${SUPPORTED_FILTERS.join(', ')}.`);
  }
  const state: State = { list: new EntryList(), stretch: false };
  mapTrim(parts.trim, state.list);
  mapCrop(parts.crop, state.list);
  const sides = mapSize(parts.size, state.list);
  for (const filter of parts.filters) FILTER_MAP[filter.name]!(filter.args, state, filter.source);
  settleFit(parts, state, sides.w || querySets(query, 'w'), sides.h || querySets(query, 'h'));
  return { key: imageKey(parts.image, compat), entries: state.list.entries };
}

function mapTrim(trim: RegExpExecArray | undefined, list: EntryList) {
  if (!trim) return;
  // The threshold is sharp's; Thumbor's tolerance 0 (exact colour) has no equivalent: sharp's default then.
  if (trim[1] === 'bottom-right') throw unsupported([trim[0]], 'Thumbor options', ' Trimming starts from the top-left pixel here.');
  list.add('trim', trim[2] === undefined || Number(trim[2]) === 0 ? '' : trim[2], trim[0]);
}

function mapCrop(crop: RegExpExecArray | undefined, list: EntryList) {
  if (!crop) return;
  const [left, top, right, bottom] = crop.slice(1, 5).map(Number) as [number, number, number, number];
  if (left === 0 && top === 0 && right === 0 && bottom === 0) return; // libthumbor's "no crop"
  if (right <= left || bottom <= top) {
    throw malformed(`The manual crop ${crop[0]} must go from its left-top point to a right-bottom point right of and below it.`);
  }
  list.add('rect', `${left},${top},${right - left},${bottom - top}`, crop[0]);
}

/** `-300x200`: a minus mirrors that axis; 0 or nothing leaves the side to the aspect ratio. */
function mapSize(size: RegExpExecArray | undefined, list: EntryList): { w: boolean; h: boolean } {
  if (!size) return { w: false, h: false };
  const [text, flop, width, flip, height] = size;
  if (width === 'orig' || height === 'orig') {
    throw unsupported([text!], 'Thumbor sizes', ' Give both sides in pixels, or one of them (0 keeps the aspect ratio).');
  }
  const side = (name: 'w' | 'h', value: string | undefined) => {
    if (value === undefined || Number(value) === 0) return false;
    list.add(name, String(Number(value)), text!);
    return true;
  };
  if (flop) list.add('flop', '', text!);
  if (flip) list.add('flip', '', text!);
  return { w: side('w', width), h: side('h', height) };
}

/**
 * fit-in, stretch(), fill() and the crop's alignment decide together. fit-in scales within the
 * box (`inside`; full-fit-in: `outside`) and never crops, so alignment and smart do not apply;
 * with fill() it pads to the box instead (`contain` with the colour as `bg`); without fit-in,
 * fill() only fills transparent areas (`bg`), since a crop leaves nothing to pad. stretch()
 * without fit-in is `fill`. smart is `pos=attention`, when both sides crop.
 */
function settleFit(parts: Parts, state: State, hasW: boolean, hasH: boolean) {
  const { list } = state;
  if (parts.fitIn?.[1]) throw unsupported([parts.fitIn[0]], 'Thumbor options', ' Use fit-in or full-fit-in.');
  const fitIn = parts.fitIn?.[0];
  if (state.fill && state.fill.colour !== TRANSPARENT) list.add('bg', state.fill.colour, state.fill.source);
  if (fitIn) {
    const fit = parts.fitIn![2] ? 'outside' : state.fill ? 'contain' : 'inside';
    list.add('fit', fit, state.fill && fit === 'contain' ? `${fitIn} with ${state.fill.source}` : fitIn);
    return;
  }
  if (state.stretch) {
    list.add('fit', 'fill', 'filters:stretch()');
    return;
  }
  if (parts.smart) {
    if (hasW && hasH) list.add('pos', 'attention', 'smart');
    return;
  }
  const h = parts.halign && parts.halign !== 'center' ? parts.halign : undefined;
  const v = parts.valign && parts.valign !== 'middle' ? parts.valign : undefined;
  if (h || v) list.add('pos', [h, v].filter(Boolean).join(' '), [parts.halign, parts.valign].filter(Boolean).join('/'));
}

/** The image part is a key below ORIGINALS_PREFIX, like any URL's; SIH's `s3:<bucket>/` may name the originals bucket. */
function imageKey(image: string, compat: CompatRules): string {
  if (/^https?:\//i.test(image)) {
    throw new InvalidRequestError('invalid_key', 'Thumbor image URLs are not fetched: the image must be a key in the originals bucket.');
  }
  const bucket = /^s3:([^/]*)\//.exec(image);
  if (!bucket) return image;
  if (bucket[1] !== compat.bucket) throw bucketForbidden(bucket[1]!);
  return image.slice(bucket[0].length);
}
