import { InvalidRequestError } from '../errors.js';
import type { ParsedParams } from '../transform/operations.js';

/**
 * Allowlist mode: bounds the number of distinct variants anyone can make, so the bucket and the
 * bill cannot be filled by walking through sizes. With `presets`, named presets are served; with
 * `widths`, requests whose width (× dpr) is one of the allowed widths (and height, if any, one of
 * the allowed heights). Parameters with many values (q, bg, blur, sharpen, crops, trims, pads,
 * byte budgets, watermarks) are then only
 * available through presets. Optionally a width is snapped up to the next allowed one instead
 * of being refused.
 */
export interface AllowlistPolicy {
  readonly presets: boolean;
  readonly widths: boolean;
  readonly allowedWidths: readonly number[];
  readonly allowedHeights: readonly number[];
  readonly snapWidths: boolean;
}

/** May be added to a preset by the URL: both have a handful of values. */
const PRESET_OVERRIDES: ReadonlySet<keyof ParsedParams> = new Set(['fm', 'dpr']);
/**
 * Parameters whose values would each make a new variant: continuous or with a hundred values
 * (q). With an allowlist they come only from presets, so the variants per original stay few.
 */
const UNBOUNDED: readonly (keyof ParsedParams)[] = [
  'q', 'bg', 'blur', 'sharpen', 'rect', 'fp', 'ar', 'trim', 'pad', 'maxbytes',
  'mark', 'markpos', 'markscale', 'markalpha', 'markpad',
];

const notAllowed = (message: string) => new InvalidRequestError('not_allowed', message);

function snapUp(value: number, allowed: readonly number[]): number {
  return allowed.find((a) => a >= value) ?? allowed[allowed.length - 1]!;
}

function checkDpr(dpr: number | undefined) {
  if (dpr !== undefined && !Number.isInteger(dpr)) {
    throw notAllowed('Only whole-number "dpr" values (1, 2, 3, 4) are served on this service.');
  }
}

export function applyAllowlist(
  explicit: ParsedParams,
  preset: ParsedParams | undefined,
  policy: AllowlistPolicy,
  presetNames: readonly string[] = [],
): ParsedParams {
  if (!policy.presets && !policy.widths) return { ...preset, ...explicit };

  if (preset) {
    if (!policy.presets) {
      throw notAllowed(`Presets are not served on this service; allowed widths: ${policy.allowedWidths.join(', ')}.`);
    }
    const extra = (Object.keys(explicit) as (keyof ParsedParams)[]).filter((k) => !PRESET_OVERRIDES.has(k));
    if (extra.length > 0) {
      throw notAllowed(`With a preset, only ${[...PRESET_OVERRIDES].join(' and ')} may be added; not: ${extra.join(', ')}.`);
    }
    checkDpr(explicit.dpr);
    return { ...preset, ...explicit };
  }

  if (!policy.widths) {
    throw notAllowed(`Only named presets are served on this service: use ?preset=<name> with one of ${presetNames.join(', ') || 'the configured presets'}.`);
  }
  const unbounded = UNBOUNDED.filter((k) => explicit[k] !== undefined);
  if (unbounded.length > 0) {
    // Without presets mode there is no way to them at all: say so rather than point at presets.
    const where = policy.presets ? 'only available through presets' : 'not served on this service';
    throw notAllowed(`${unbounded.join(', ')} ${unbounded.length > 1 ? 'are' : 'is'} ${where}.`);
  }
  checkDpr(explicit.dpr);
  const dpr = explicit.dpr ?? 1;
  const params: ParsedParams = { ...explicit };
  if (explicit.w !== undefined) {
    const width = Math.round(explicit.w * dpr);
    if (!policy.allowedWidths.includes(width)) {
      if (!policy.snapWidths || policy.allowedWidths.length === 0) {
        throw notAllowed(`Width ${width} is not served; allowed widths: ${policy.allowedWidths.join(', ') || 'none'}.`);
      }
      // Snapped in device pixels: the output is the allowed width, whatever the dpr.
      params.w = snapUp(width, policy.allowedWidths);
      params.dpr = undefined;
      if (explicit.h !== undefined) params.h = Math.round(explicit.h * dpr);
    }
  }
  if (params.h !== undefined) {
    const height = params.dpr === undefined ? params.h : Math.round(params.h * dpr);
    if (!policy.allowedHeights.includes(height)) {
      throw notAllowed(`Height ${height} is not served; allowed heights: ${policy.allowedHeights.join(', ') || 'none'}.`);
    }
  }
  return params;
}
