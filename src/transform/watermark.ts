import { WatermarkError } from '../errors.js';
import type { Gravity } from './operations.js';
import type { TransformSpec } from './spec.js';

/**
 * Where a watermark goes and how big it is: pure arithmetic on sizes, so placement is testable
 * without pixels. The pixels themselves are pipeline.ts's (the only sharp importer).
 */

/** A watermark's bytes as the store gave them, with what error messages name it by. */
export interface WatermarkImage {
  /** As the URL (or preset) gave it: `logo.png`. */
  readonly name: string;
  /** The full key in the originals bucket: `watermarks/logo.png`. */
  readonly key: string;
  readonly bytes: Buffer;
}

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface Placement extends Size {
  readonly left: number;
  readonly top: number;
}

export const undecodableWatermark = (mark: WatermarkImage, detail: string, cause?: unknown) =>
  new WatermarkError(422, 'undecodable_watermark', `The watermark "${mark.name}" (${mark.key}) ${detail}.`, cause);

export const watermarkTooLarge = (mark: WatermarkImage, detail: string) =>
  new WatermarkError(413, 'watermark_too_large', `The watermark "${mark.name}" (${mark.key}) ${detail}.`);

/** The room for the watermark along one side: inside `markpad` on both ends, unless that leaves none. */
const room = (side: number, pad: number) => (side - 2 * pad >= 1 ? side - 2 * pad : side);

/** Offset along one side: at the start, the end (each `pad` from the edge) or centred; always inside. */
function offset(side: number, size: number, pad: number, where: 'start' | 'end' | 'center'): number {
  const at = where === 'start' ? pad : where === 'end' ? side - size - pad : Math.round((side - size) / 2);
  return Math.min(Math.max(at, 0), side - size);
}

/**
 * The watermark's size and position on an output of `output` pixels (one frame, before `pad`):
 * `markscale` of the output's width (aspect kept), else its own size; never larger than the output
 * (inside `markpad`): scaled down to fit, never cropped. Placed by `markpos`, `markpad` from the
 * edges it is placed against.
 */
export function placeWatermark(output: Size, mark: Size, spec: Pick<TransformSpec, 'markpos' | 'markscale' | 'markpad'>): Placement {
  const pad = spec.markpad ?? 0;
  const gravity: Gravity = spec.markpos ?? 'right bottom';
  let width = spec.markscale === undefined ? mark.width : Math.max(1, Math.round(output.width * spec.markscale));
  let height = spec.markscale === undefined ? mark.height : Math.max(1, Math.round((width * mark.height) / mark.width));
  const roomWidth = room(output.width, pad);
  const roomHeight = room(output.height, pad);
  const fit = Math.min(1, roomWidth / width, roomHeight / height);
  if (fit < 1) {
    width = Math.min(roomWidth, Math.max(1, Math.round(width * fit)));
    height = Math.min(roomHeight, Math.max(1, Math.round(height * fit)));
  }
  const words = gravity.split(' ');
  const along = (start: string, end: string) => (words.includes(start) ? 'start' : words.includes(end) ? 'end' : 'center');
  return {
    width,
    height,
    left: offset(output.width, width, pad, along('left', 'right')),
    top: offset(output.height, height, pad, along('top', 'bottom')),
  };
}

/** `markalpha`: the watermark's own alpha (RGBA, 8 bits) times alpha/100, so its transparent parts stay so. */
export function scaleAlpha(rgba: Buffer, alpha: number): Buffer {
  if (alpha >= 100) return rgba;
  const factor = alpha / 100;
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = Math.round(rgba[i]! * factor);
  return rgba;
}
