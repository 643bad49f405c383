import { InvalidRequestError, TooLargeError } from '../errors.js';
import { negotiateFormat } from './format.js';
import {
  DEFAULT_MARK_POSITION,
  MAX_DIMENSION,
  OPERATIONS,
  STRATEGIES,
  type Fit,
  type Gravity,
  type ParsedParams,
  type Position,
  type RequestedFormat,
} from './operations.js';

/**
 * The canonical transform spec: what the pipeline renders, what the cache key is derived from,
 * and what batch jobs build from presets. Canonical means two requests that must produce the
 * same image produce an identical spec: aliases resolved, defaults and no-op settings dropped,
 * dpr folded into w/h and `fm=auto` resolved against the client's Accept header.
 *
 * `fm` absent keeps the source format (HEIC/TIFF/SVG and friends become JPEG or PNG);
 * `fm: 'auto'` is what remains of `fm=auto` for a client that accepts neither AVIF nor WebP:
 * JPEG, or PNG when the image has alpha. Both depend only on the original, whose ETag is part
 * of the variant key, so the key stays exact.
 */
export interface TransformSpec {
  readonly w?: number;
  readonly h?: number;
  readonly fit?: Fit;
  readonly pos?: Position;
  readonly fm?: RequestedFormat;
  readonly q?: number;
  readonly bg?: string;
  readonly blur?: number;
  readonly sharpen?: number;
  readonly gray?: true;
  readonly rot?: 90 | 180 | 270;
  readonly flip?: true;
  readonly flop?: true;
  readonly enlarge?: true;
  /** Region of the oriented original cropped before anything else: x, y, width, height. */
  readonly rect?: readonly [number, number, number, number];
  /** Focal point of a cover crop, as fractions of the image: x, y. */
  readonly fp?: readonly [number, number];
  /** Width ÷ height to crop the original to; only when neither w nor h is given (else folded into them). */
  readonly ar?: number;
  /** Threshold of the border trim (sharp's trim), before resizing. */
  readonly trim?: number;
  /** Pixels added around the result: top, right, bottom, left. */
  readonly pad?: readonly [number, number, number, number];
  /** Lossy outputs: the quality is lowered until the image fits in this many bytes. */
  readonly maxbytes?: number;
  /** `copyright`: keep the EXIF copyright and artist of the original; everything else is stripped. */
  readonly meta?: 'copyright';
  readonly mark?: string;
  readonly markpos?: Gravity;
  readonly markscale?: number;
  readonly markalpha?: number;
  readonly markpad?: number;
}

export interface SpecContext {
  readonly accept?: string;
  readonly defaultQuality: number;
  readonly maxOutputPixels: number;
}

export interface BuiltSpec {
  readonly spec: TransformSpec;
  /** The response depends on the Accept header (`fm=auto`): it must carry `Vary: Accept`. */
  readonly varyAccept: boolean;
}

/** The fit used when none is given: crop to fill a box, otherwise scale within the one side. */
export function defaultFit(w: number | undefined, h: number | undefined): Fit {
  return w !== undefined && h !== undefined ? 'cover' : 'inside';
}

/**
 * Whether `fit` renders exactly like the default. With one side given sharp keeps the aspect
 * ratio, so cover and outside scale exactly like inside; contain (which pads when it may not
 * enlarge) and fill (which stretches the one side) still differ.
 */
function sameAsDefaultFit(fit: Fit, w: number | undefined, h: number | undefined): boolean {
  if (fit === defaultFit(w, h)) return true;
  const oneSide = (w === undefined) !== (h === undefined);
  return oneSide && (fit === 'cover' || fit === 'outside');
}

function scaled(value: number | undefined, dpr: number, name: string): number | undefined {
  if (value === undefined) return undefined;
  const result = Math.round(value * dpr);
  if (result > MAX_DIMENSION) {
    throw new InvalidRequestError(
      'invalid_param',
      `"${name}" × "dpr" is ${result}, over the maximum of ${MAX_DIMENSION} pixels.`,
    );
  }
  return result;
}

const MARK_DETAILS = ['markpos', 'markscale', 'markalpha', 'markpad'] as const;

/** `ar` with one side given sets the other; with neither it stays, and the original is cropped to it. */
function applyAspectRatio(ar: number | undefined, w: number | undefined, h: number | undefined) {
  if (ar === undefined) return { w, h, ar: undefined };
  if (w !== undefined && h !== undefined) {
    throw new InvalidRequestError('invalid_param', '"ar" sets the other side from one of "w" or "h": give one of them, not both.');
  }
  const side = (value: number, name: string) => {
    if (value < 1 || value > MAX_DIMENSION) {
      throw new InvalidRequestError('invalid_param', `"ar" makes "${name}" ${value} pixels, outside 1 to ${MAX_DIMENSION}.`);
    }
    return value;
  };
  if (w !== undefined) return { w, h: side(Math.round(w / ar), 'h'), ar: undefined };
  if (h !== undefined) return { w: side(Math.round(h * ar), 'w'), h, ar: undefined };
  return { w, h, ar };
}

export function buildSpec(params: ParsedParams, context: SpecContext): BuiltSpec {
  const dpr = params.dpr ?? 1;
  const { w, h, ar } = applyAspectRatio(params.ar, scaled(params.w, dpr, 'w'), scaled(params.h, dpr, 'h'));
  const resizing = w !== undefined || h !== undefined;
  if (w !== undefined && h !== undefined && w * h > context.maxOutputPixels) {
    throw new TooLargeError(
      'output_too_large',
      `The requested output of ${w}×${h} pixels exceeds the limit of ${context.maxOutputPixels} pixels.`,
    );
  }
  if (params.mark === undefined) {
    const orphan = MARK_DETAILS.find((name) => params[name] !== undefined);
    if (orphan) throw new InvalidRequestError('invalid_param', `"${orphan}" places a watermark: it needs "mark".`);
  }
  // An aspect ratio alone crops the original to it: a cover crop, unless a fit says otherwise.
  const fit = params.fit ?? (ar !== undefined ? 'cover' : defaultFit(w, h));
  const cropsOrPads = ((w !== undefined && h !== undefined) || ar !== undefined) && (fit === 'cover' || fit === 'contain');
  const crops = (w !== undefined && h !== undefined && fit === 'cover') || (ar !== undefined && fit === 'cover');
  const focal = params.fp !== undefined && crops && !(params.fp[0] === 0.5 && params.fp[1] === 0.5) ? params.fp : undefined;
  if (focal && params.pos !== undefined && params.pos !== 'center') {
    throw new InvalidRequestError('invalid_param', `"fp" and "pos=${params.pos}" both say where to crop: give one of them.`);
  }
  const fm = params.fm === 'auto' ? negotiateFormat(context.accept) : params.fm;
  if (params.maxbytes !== undefined && (fm === 'png' || fm === 'gif' || fm === 'json')) {
    throw new InvalidRequestError('invalid_param', `"maxbytes" lowers the quality of lossy outputs (JPEG, WebP, AVIF); fm=${fm} has none to lower.`);
  }
  const isStrategy = params.pos !== undefined && (STRATEGIES as readonly string[]).includes(params.pos);
  if (isStrategy && fit !== 'cover') {
    throw new InvalidRequestError('invalid_param', `"pos=${params.pos}" (smart crop) needs fit=cover, not fit=${fit}.`);
  }
  const pos = cropsOrPads && params.pos !== 'center' ? params.pos : undefined;
  const pad = params.pad && params.pad.some((p) => p > 0) ? params.pad : undefined;
  const mark = params.mark;

  const spec: Record<string, unknown> = {
    w,
    h,
    fit: (resizing && !sameAsDefaultFit(fit, w, h)) || (ar !== undefined && fit !== 'cover') ? fit : undefined,
    pos,
    fm,
    // PNG and GIF are encoded without a quality setting: q changes nothing there.
    q: params.q !== undefined && params.q !== context.defaultQuality && fm !== 'png' && fm !== 'gif' && fm !== 'json' ? params.q : undefined,
    bg: params.bg,
    blur: params.blur,
    sharpen: params.sharpen ? params.sharpen : undefined,
    gray: params.gray || undefined,
    rot: params.rot ? params.rot : undefined,
    flip: params.flip || undefined,
    flop: params.flop || undefined,
    enlarge: resizing && params.enlarge ? true : undefined,
    rect: params.rect,
    fp: focal,
    ar,
    trim: params.trim ? params.trim : undefined,
    pad,
    maxbytes: params.maxbytes,
    meta: params.meta === 'copyright' ? 'copyright' : undefined,
    mark,
    markpos: mark && params.markpos && params.markpos !== DEFAULT_MARK_POSITION ? params.markpos : undefined,
    markscale: mark ? params.markscale : undefined,
    markalpha: mark && params.markalpha !== undefined && params.markalpha !== 100 ? params.markalpha : undefined,
    markpad: mark && params.markpad ? params.markpad : undefined,
  };
  for (const key of Object.keys(spec)) if (spec[key] === undefined) delete spec[key];
  return { spec: Object.freeze(spec) as TransformSpec, varyAccept: params.fm === 'auto' };
}

/** `fit=cover&fm=webp&w=800`-style text in table order: the identity of a spec. */
export function canonicalString(spec: TransformSpec): string {
  const record = spec as Record<string, unknown>;
  return OPERATIONS.map((o) => o.name)
    .filter((name) => record[name] !== undefined)
    .map((name) => `${name}=${encodeURIComponent(String(record[name]))}`)
    .join('&');
}
