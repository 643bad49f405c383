import { InvalidRequestError, TooLargeError } from '../errors.js';
import { negotiateFormat } from './format.js';
import {
  MAX_DIMENSION,
  OPERATIONS,
  STRATEGIES,
  type Fit,
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

export function buildSpec(params: ParsedParams, context: SpecContext): BuiltSpec {
  const dpr = params.dpr ?? 1;
  const w = scaled(params.w, dpr, 'w');
  const h = scaled(params.h, dpr, 'h');
  const resizing = w !== undefined || h !== undefined;
  if (w !== undefined && h !== undefined && w * h > context.maxOutputPixels) {
    throw new TooLargeError(
      'output_too_large',
      `The requested output of ${w}×${h} pixels exceeds the limit of ${context.maxOutputPixels} pixels.`,
    );
  }
  const fit = params.fit ?? defaultFit(w, h);
  const cropsOrPads = w !== undefined && h !== undefined && (fit === 'cover' || fit === 'contain');
  const isStrategy = params.pos !== undefined && (STRATEGIES as readonly string[]).includes(params.pos);
  if (isStrategy && fit !== 'cover') {
    throw new InvalidRequestError('invalid_param', `"pos=${params.pos}" (smart crop) needs fit=cover, not fit=${fit}.`);
  }
  const pos = cropsOrPads && params.pos !== 'center' ? params.pos : undefined;
  const fm = params.fm === 'auto' ? negotiateFormat(context.accept) : params.fm;

  const spec: Record<string, unknown> = {
    w,
    h,
    fit: resizing && !sameAsDefaultFit(fit, w, h) ? fit : undefined,
    pos,
    fm,
    // PNG and GIF are encoded without a quality setting: q changes nothing there.
    q: params.q !== undefined && params.q !== context.defaultQuality && fm !== 'png' && fm !== 'gif' ? params.q : undefined,
    bg: params.bg,
    blur: params.blur,
    sharpen: params.sharpen ? params.sharpen : undefined,
    gray: params.gray || undefined,
    rot: params.rot ? params.rot : undefined,
    flip: params.flip || undefined,
    flop: params.flop || undefined,
    enlarge: resizing && params.enlarge ? true : undefined,
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
