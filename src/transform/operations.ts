import { InvalidRequestError } from '../errors.js';
import {
  aspectRatio,
  decimal,
  flag,
  fractionPair,
  hexColour,
  integer,
  integerList,
  invalid,
  objectName,
  oneOf,
  type Validator,
} from './validators.js';

/**
 * The table of URL parameters: one entry each, with its aliases and validator. The order of the
 * table is the canonical order of the spec, so the order of parameters in a URL never matters.
 * Adding a parameter touches this table, the spec type and the pipeline step that applies it.
 */

export const MAX_DIMENSION = 8192;
/** Padding per side, in pixels. */
export const MAX_PAD = 2048;
/** `maxbytes` bounds: below a kilobyte no photo fits; above 50 MiB no budget is needed. */
export const MIN_MAX_BYTES = 1024;
export const MAX_MAX_BYTES = 50 * 1024 * 1024;

export const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
export type Fit = (typeof FITS)[number];

export const GRAVITIES = [
  'center',
  'top',
  'right top',
  'right',
  'right bottom',
  'bottom',
  'left bottom',
  'left',
  'left top',
] as const;
export const STRATEGIES = ['attention', 'entropy'] as const;
export type Gravity = (typeof GRAVITIES)[number];
export type Position = Gravity | (typeof STRATEGIES)[number];

export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/** What `fm` may ask for: an image format, `auto` (negotiated from Accept), or `json` (a description, not an image). */
export type ImageFormatRequest = OutputFormat | 'auto';
export type RequestedFormat = ImageFormatRequest | 'json';
/** `trim` with no threshold: sharp's own default. */
export const DEFAULT_TRIM_THRESHOLD = 10;
export const META_MODES = ['copyright', 'none'] as const;
export type MetaMode = (typeof META_MODES)[number];
/** Where a watermark goes when `markpos` is not given. */
export const DEFAULT_MARK_POSITION: Gravity = 'right bottom';

const SIDES: Record<string, 'top' | 'bottom' | 'left' | 'right' | 'center'> = {
  top: 'top',
  north: 'top',
  bottom: 'bottom',
  south: 'bottom',
  left: 'left',
  west: 'left',
  right: 'right',
  east: 'right',
  center: 'center',
  centre: 'center',
  middle: 'center',
};
const COMPASS: Record<string, Position> = {
  northeast: 'right top',
  southeast: 'right bottom',
  southwest: 'left bottom',
  northwest: 'left top',
};

/** Accepts `top right`, `right-top`, `top_right`, `northeast`, … and returns sharp's spelling. */
const position: Validator<Position> = (raw, name) => {
  const lower = raw.toLowerCase().trim();
  if ((STRATEGIES as readonly string[]).includes(lower)) return lower as Position;
  // Own keys only: `pos=constructor` must not find Object.prototype's members.
  if (Object.hasOwn(COMPASS, lower)) return COMPASS[lower]!;
  const parts = lower
    .split(/[\s_,-]+/)
    .filter(Boolean)
    .map((p) => (Object.hasOwn(SIDES, p) ? SIDES[p] : undefined));
  const vertical = parts.filter((p) => p === 'top' || p === 'bottom');
  const horizontal = parts.filter((p) => p === 'left' || p === 'right');
  const centred = parts.filter((p) => p === 'center');
  const valid =
    parts.length >= 1 &&
    parts.length <= 2 &&
    !parts.includes(undefined) &&
    vertical.length <= 1 &&
    horizontal.length <= 1 &&
    (centred.length === 0 || parts.length === 1);
  if (!valid) {
    throw invalid(name, `one of ${[...GRAVITIES, ...STRATEGIES].join(', ')}`, raw);
  }
  if (centred.length) return 'center';
  return [horizontal[0], vertical[0]].filter(Boolean).join(' ') as Position;
};

/** `pos`'s gravities only: a watermark has no smart placement. */
const gravity: Validator<Gravity> = (raw, name) => {
  const value = position(raw, name);
  if ((STRATEGIES as readonly string[]).includes(value)) throw invalid(name, `one of ${GRAVITIES.join(', ')}`, raw);
  return value as Gravity;
};

/** `trim` (flag: sharp's default threshold), `trim=0`/`false` (off), or a threshold 1–100. */
const trimThreshold: Validator<number> = (raw, name) => {
  const lower = raw.toLowerCase();
  if (lower === '' || lower === 'true') return DEFAULT_TRIM_THRESHOLD;
  if (lower === '0' || lower === 'false') return 0;
  const value = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= 100)) throw invalid(name, 'a flag (trim, trim=true, trim=0) or a threshold from 1 to 100', raw);
  return value;
};

/** `rect=x,y,w,h` in pixels of the (EXIF-oriented) original: a region at least 1×1. */
const rectangle: Validator<readonly [number, number, number, number]> = (raw, name) => {
  const [x, y, w, h] = integerList(4, 4, 0, 65_535)(raw, name);
  if (w! < 1 || h! < 1) throw invalid(name, 'x,y,width,height with a width and height of at least 1', raw);
  return [x!, y!, w!, h!];
};

/** `pad=N` (all sides) or `pad=top,right,bottom,left`, in pixels. */
const padding: Validator<readonly [number, number, number, number]> = (raw, name) => {
  const sides = integerList(1, 4, 0, MAX_PAD)(raw, name);
  if (sides.length === 1) return [sides[0]!, sides[0]!, sides[0]!, sides[0]!];
  if (sides.length !== 4) throw invalid(name, `one number, or four (top,right,bottom,left) from 0 to ${MAX_PAD}`, raw);
  return [sides[0]!, sides[1]!, sides[2]!, sides[3]!];
};

const sharpenSigma: Validator<number> = (raw, name) => {
  if (raw === '' || raw.toLowerCase() === 'true') return 1;
  if (raw === '0' || raw.toLowerCase() === 'false') return 0;
  return decimal(0.01, 10)(raw, name);
};

const rotation: Validator<0 | 90 | 180 | 270> = (raw, name) => {
  if (raw === '0' || raw === '90' || raw === '180' || raw === '270') return Number(raw) as 0 | 90 | 180 | 270;
  throw invalid(name, 'one of 0, 90, 180, 270', raw);
};

export interface ParsedParams {
  w?: number;
  h?: number;
  fit?: Fit;
  pos?: Position;
  fm?: RequestedFormat;
  q?: number;
  dpr?: number;
  bg?: string;
  blur?: number;
  sharpen?: number;
  gray?: boolean;
  rot?: 0 | 90 | 180 | 270;
  flip?: boolean;
  flop?: boolean;
  enlarge?: boolean;
  rect?: readonly [number, number, number, number];
  fp?: readonly [number, number];
  /** Width ÷ height. */
  ar?: number;
  /** Threshold; 0 is off. */
  trim?: number;
  /** top, right, bottom, left. */
  pad?: readonly [number, number, number, number];
  maxbytes?: number;
  meta?: MetaMode;
  /** A watermark's name, relative to WATERMARKS_PREFIX. */
  mark?: string;
  markpos?: Gravity;
  markscale?: number;
  markalpha?: number;
  markpad?: number;
}

interface Operation<K extends keyof ParsedParams> {
  readonly name: K;
  readonly aliases: readonly string[];
  readonly parse: Validator<NonNullable<ParsedParams[K]>>;
}

const op = <K extends keyof ParsedParams>(
  name: K,
  aliases: readonly string[],
  parse: Validator<NonNullable<ParsedParams[K]>>,
): Operation<K> => ({ name, aliases, parse });

export const OPERATIONS = [
  op('w', ['width'], integer(1, MAX_DIMENSION)),
  op('h', ['height'], integer(1, MAX_DIMENSION)),
  op('fit', [], oneOf(FITS)),
  op('pos', ['position', 'crop', 'gravity'], position),
  op('fm', ['format', 'f'], oneOf([...OUTPUT_FORMATS, 'auto', 'json'] as const, { jpg: 'jpeg' })),
  op('q', ['quality'], integer(1, 100)),
  op('dpr', [], decimal(1, 4)),
  op('bg', ['background'], hexColour),
  op('blur', [], decimal(0.3, 100)),
  op('sharpen', [], sharpenSigma),
  op('gray', ['grey', 'grayscale', 'greyscale'], flag),
  op('rot', ['rotate', 'or'], rotation),
  op('flip', [], flag),
  op('flop', [], flag),
  op('enlarge', ['upscale'], flag),
  op('rect', ['crop-rect'], rectangle),
  op('fp', ['focalpoint', 'focal'], fractionPair),
  op('ar', ['aspect-ratio'], aspectRatio),
  op('trim', [], trimThreshold),
  op('pad', ['padding'], padding),
  op('maxbytes', ['max-bytes'], integer(MIN_MAX_BYTES, MAX_MAX_BYTES)),
  op('meta', ['metadata'], oneOf(META_MODES, { strip: 'none' })),
  op('mark', ['watermark'], objectName),
  op('markpos', ['mark-pos'], gravity),
  op('markscale', ['mark-scale'], decimal(0.01, 1)),
  op('markalpha', ['mark-alpha'], integer(0, 100)),
  op('markpad', ['mark-pad'], integer(0, 1000)),
] as const;

const byName = new Map<string, Operation<keyof ParsedParams>>();
for (const operation of OPERATIONS as readonly Operation<keyof ParsedParams>[]) {
  for (const n of [operation.name, ...operation.aliases]) byName.set(n, operation);
}

/** Names that are not image operations but are understood elsewhere (signatures, presets). */
export type ParamEntry = readonly [name: string, value: string];

/**
 * Validates a list of query entries against the table. Unknown names are refused rather than
 * ignored, so a typo (`witdh`) is reported instead of silently serving the original size.
 */
export function parseOperations(entries: readonly ParamEntry[], extraNames: readonly string[] = []): ParsedParams {
  const result: Record<string, unknown> = {};
  const seen = new Map<string, string>();
  for (const [rawName, value] of entries) {
    const name = rawName.toLowerCase();
    if (extraNames.includes(name)) continue;
    const operation = byName.get(name);
    if (!operation) {
      throw new InvalidRequestError(
        'unknown_param',
        `Unknown parameter "${rawName.slice(0, 64)}". Supported: ${OPERATIONS.map((o) => o.name).join(', ')}.`,
      );
    }
    const previous = seen.get(operation.name);
    if (previous !== undefined) {
      throw new InvalidRequestError(
        'duplicate_param',
        `Parameter "${operation.name}" is given more than once (as "${previous}" and "${rawName}").`,
      );
    }
    seen.set(operation.name, rawName);
    result[operation.name] = operation.parse(value, rawName);
  }
  return result as ParsedParams;
}
