import { InvalidRequestError } from '../errors.js';
import type { Fit } from './operations.js';
import { defaultFit, type TransformSpec } from './spec.js';

/**
 * The arithmetic of the geometry parameters (rect, trim, ar, fp, pad), kept apart from sharp so
 * it can be read and tested on its own. Frames, in the order the pipeline applies them:
 *
 *   original ─EXIF─► upright ─rect, trim─► region ─flip, flop, rot─► turned ─resize, crop─► result ─pad─►
 *
 * `rect` and `fp` are both given in the upright original (what a viewer of the original sees), so
 * a focal point names a point of the picture whatever else the URL asks; `w`, `h`, `ar` and `pos`
 * describe the turned region, as they did before (`rot=90&w=40` is 40 wide after the turn).
 */

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface Box extends Size {
  readonly left: number;
  readonly top: number;
}

type Turns = Pick<TransformSpec, 'rot' | 'flip' | 'flop'>;

export interface ResizeTarget {
  readonly width?: number;
  readonly height?: number;
  readonly fit: Fit;
}

/** The sharp calls of the geometry: a pre-resize extract, a resize, a post-resize extract. */
export interface GeometryPlan {
  /** The region, in the frame sharp cuts it from (see `planGeometry`). */
  readonly extract?: Box;
  readonly resize?: ResizeTarget;
  /** The window of a focal-point crop, in the resized and turned image. */
  readonly window?: Box;
}

export const wholeImage = (size: Size): Box => ({ left: 0, top: 0, width: size.width, height: size.height });

const isWhole = (box: Box, size: Size) =>
  box.left === 0 && box.top === 0 && box.width === size.width && box.height === size.height;

/** Quarter turns swap the sides. */
export function turnedSize(size: Size, rot: TransformSpec['rot']): Size {
  return rot === 90 || rot === 270 ? { width: size.height, height: size.width } : { width: size.width, height: size.height };
}

/** `rect` as a box of the upright original; a region not entirely inside it is a 400. */
export function rectRegion(rect: readonly [number, number, number, number], upright: Size): Box {
  const [left, top, width, height] = rect;
  if (left + width > upright.width || top + height > upright.height) {
    throw new InvalidRequestError(
      'invalid_param',
      `"rect" ${rect.join(',')} is not inside the image, which is ${upright.width}×${upright.height} pixels ` +
        `(after EXIF orientation): x + width must be at most ${upright.width} and y + height at most ${upright.height}.`,
    );
  }
  return { left, top, width, height };
}

/**
 * A box of an image of `size` after sharp's flip, flop and quarter turn, in that order (sharp
 * mirrors before it rotates, whatever order the calls were made in).
 */
export function turnBox(box: Box, size: Size, turns: Turns): Box {
  let { left, top } = box;
  if (turns.flip) top = size.height - top - box.height;
  if (turns.flop) left = size.width - left - box.width;
  switch (turns.rot) {
    case 90:
      return { left: size.height - top - box.height, top: left, width: box.height, height: box.width };
    case 180:
      return { left: size.width - left - box.width, top: size.height - top - box.height, width: box.width, height: box.height };
    case 270:
      return { left: top, top: size.width - left - box.width, width: box.height, height: box.width };
    default:
      return { left, top, width: box.width, height: box.height };
  }
}

/** A point (continuous coordinates) of an image of `size` after flip, flop and quarter turn. */
export function turnPoint(point: readonly [number, number], size: Size, turns: Turns): [number, number] {
  let [x, y] = point;
  if (turns.flip) y = size.height - y;
  if (turns.flop) x = size.width - x;
  switch (turns.rot) {
    case 90:
      return [size.height - y, x];
    case 180:
      return [size.width - x, size.height - y];
    case 270:
      return [y, size.width - x];
    default:
      return [x, y];
  }
}

/** The largest box of ratio `ar` inside `size` (a cover crop at the image's own size). */
export function innerBox(size: Size, ar: number): Size {
  if (size.width / size.height > ar) return { width: Math.min(size.width, Math.max(1, Math.round(size.height * ar))), height: size.height };
  return { width: size.width, height: Math.min(size.height, Math.max(1, Math.round(size.width / ar))) };
}

/** The smallest box of ratio `ar` around `size` (contain: the image padded to the ratio). */
export function outerBox(size: Size, ar: number): Size {
  if (size.width / size.height > ar) return { width: size.width, height: Math.max(size.height, Math.round(size.width / ar)) };
  return { width: Math.max(size.width, Math.round(size.height * ar)), height: size.height };
}

/**
 * What the resize is asked for, given the (turned) size of the region. `ar` alone becomes a box
 * of that ratio at the region's own size: the largest inside it (cover crops to it, fill squeezes
 * into it), or with `fit=contain` the smallest around it (padded with the background).
 */
export function resizeTarget(source: Size, spec: TransformSpec): ResizeTarget | undefined {
  if (spec.w === undefined && spec.h === undefined) {
    if (spec.ar === undefined) return undefined;
    const fit = spec.fit ?? 'cover';
    const box = fit === 'contain' ? outerBox(source, spec.ar) : innerBox(source, spec.ar);
    return { width: box.width, height: box.height, fit };
  }
  return { width: spec.w, height: spec.h, fit: spec.fit ?? defaultFit(spec.w, spec.h) };
}

/**
 * A cover crop around a focal point: the scale sharp's cover would use (the larger of the two
 * ratios, never above 1 without `enlarge`, as sharp's withoutEnlargement), then the window of
 * the asked size (or less, when the image is smaller and may not be enlarged) whose centre is
 * the point, pushed back inside the image where it would cross an edge.
 */
export function focalCrop(
  source: Size,
  target: Size,
  point: readonly [number, number],
  enlarge: boolean,
): { resized: Size; window: Box } {
  let scale = Math.max(target.width / source.width, target.height / source.height);
  if (!enlarge) scale = Math.min(scale, 1);
  const resized = {
    width: Math.max(1, Math.round(source.width * scale)),
    height: Math.max(1, Math.round(source.height * scale)),
  };
  const width = Math.min(target.width, resized.width);
  const height = Math.min(target.height, resized.height);
  const clamp = (value: number, max: number) => Math.min(Math.max(value, 0), max);
  return {
    resized,
    window: {
      left: clamp(Math.round(point[0] * scale - width / 2), resized.width - width),
      top: clamp(Math.round(point[1] * scale - height / 2), resized.height - height),
      width,
      height,
    },
  };
}

/**
 * The sharp calls for a region (`rect` and `trim` applied, in the upright original) of an image
 * of upright size `upright`.
 *
 * sharp cuts a pre-resize extract out of the upright image (autoOrient with extract orients
 * first) but, when a rotation is set, only after flip, flop and the rotation (sharp then turns
 * before extracting and resizing, so that w and h describe the turned image): the region is
 * turned with them in that case. The focal-point window is cut after every turn in both cases.
 */
export function planGeometry(upright: Size, region: Box, spec: TransformSpec): GeometryPlan {
  const turns: Turns = { rot: spec.rot, flip: spec.flip, flop: spec.flop };
  const extract = isWhole(region, upright) ? undefined : turnBox(region, upright, spec.rot ? turns : {});
  const source = turnedSize(region, spec.rot);
  const target = resizeTarget(source, spec);
  if (target === undefined) return { extract };
  const { width, height, fit } = target;
  if (spec.fp && fit === 'cover' && width !== undefined && height !== undefined) {
    const inRegion: [number, number] = [spec.fp[0] * upright.width - region.left, spec.fp[1] * upright.height - region.top];
    const point = turnPoint(inRegion, region, turns);
    const { resized, window } = focalCrop(source, { width, height }, point, spec.enlarge === true);
    // An exact size (fill) so that the window is known before sharp runs; the aspect ratio is
    // the image's to within the rounding of one pixel, as in sharp's own cover.
    return { extract, resize: { ...resized, fit: 'fill' }, window };
  }
  return { extract, resize: target };
}

/**
 * The largest output the spec can produce from an original of (turned) size `source`: sharp
 * never exceeds it. A `rect` reduces the source (a `trim` can only reduce it further, and is not
 * known before decoding); `pad` adds to the result.
 */
export function outputBound(source: Size, spec: TransformSpec): Size {
  const region = spec.rect ? turnedSize({ width: spec.rect[2], height: spec.rect[3] }, spec.rot) : source;
  const result = resizedBound(region, spec);
  const [top, right, bottom, left] = spec.pad ?? [0, 0, 0, 0];
  return { width: result.width + left + right, height: result.height + top + bottom };
}

function resizedBound(source: Size, spec: TransformSpec): Size {
  const target = resizeTarget(source, spec);
  if (target === undefined) return source;
  const { width: w, height: h, fit } = target;
  if (w !== undefined && h !== undefined && fit !== 'inside' && fit !== 'outside') return { width: w, height: h };
  // One side given: fill stretches that side alone, and contain pads it to the full size even
  // when it may not enlarge; the other side scales with the image.
  if (fit === 'fill') {
    const side = (asked: number | undefined, own: number) => (asked === undefined ? own : spec.enlarge ? asked : Math.min(asked, own));
    return { width: side(w, source.width), height: side(h, source.height) };
  }
  const scales = [w !== undefined ? w / source.width : undefined, h !== undefined ? h / source.height : undefined].filter(
    (s): s is number => s !== undefined,
  );
  let scale = fit === 'outside' ? Math.max(...scales) : Math.min(...scales);
  if (!spec.enlarge) scale = Math.min(scale, 1);
  const padded = fit === 'contain';
  return {
    width: padded && w !== undefined ? w : Math.round(source.width * scale),
    height: padded && h !== undefined ? h : Math.round(source.height * scale),
  };
}
