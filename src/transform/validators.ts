import { InvalidRequestError } from '../errors.js';

/**
 * The small vocabulary every URL parameter is checked with. Each validator turns the raw string
 * into a typed value or throws one error of one shape: which parameter, what was expected,
 * what was received. Bounds follow what sharp itself accepts, so a mistake is a 400 here and
 * never a failure deep inside the pipeline.
 */
export type Validator<T> = (raw: string, name: string) => T;

export function invalid(name: string, expected: string, raw: string): InvalidRequestError {
  const shown = raw.length > 64 ? `${raw.slice(0, 64)}…` : raw;
  return new InvalidRequestError('invalid_param', `Invalid value for "${name}": expected ${expected}, received "${shown}".`);
}

export const integer =
  (min: number, max: number): Validator<number> =>
  (raw, name) => {
    const value = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw invalid(name, `an integer from ${min} to ${max}`, raw);
    }
    return value;
  };

export const decimal =
  (min: number, max: number): Validator<number> =>
  (raw, name) => {
    const value = /^\d{1,6}(\.\d{1,6})?$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(value) || value < min || value > max) {
      throw invalid(name, `a number from ${min} to ${max}`, raw);
    }
    return value;
  };

export const oneOf =
  <T extends string>(values: readonly T[], aliases: Readonly<Record<string, T>> = {}): Validator<T> =>
  (raw, name) => {
    const lower = raw.toLowerCase();
    // Own keys only: `fm=constructor` must not find Object.prototype's members.
    const found = (values as readonly string[]).includes(lower)
      ? (lower as T)
      : Object.hasOwn(aliases, lower)
        ? aliases[lower]
        : undefined;
    if (found === undefined) throw invalid(name, `one of ${values.join(', ')}`, raw);
    return found;
  };

/** A present flag (`?gray`, `?gray=1`, `?gray=true`) is on; `0`/`false` switch it off explicitly. */
export const flag: Validator<boolean> = (raw, name) => {
  const lower = raw.toLowerCase();
  if (lower === '' || lower === '1' || lower === 'true') return true;
  if (lower === '0' || lower === 'false') return false;
  throw invalid(name, 'a flag (empty, 1, true, 0 or false)', raw);
};

/** Hex colour without `#` (a `#` would start the URL fragment): rgb, rgba, rrggbb or rrggbbaa, lowercased and expanded. */
export const hexColour: Validator<string> = (raw, name) => {
  const hex = raw.replace(/^#/, '').toLowerCase();
  if (!/^([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/.test(hex)) {
    throw invalid(name, 'a hex colour such as fff, ffffff or ffffff80', raw);
  }
  return hex.length <= 4 ? [...hex].map((c) => c + c).join('') : hex;
};

/** `a,b,c`: between `min` and `max` integers, each from `low` to `high`. */
export const integerList =
  (min: number, max: number, low: number, high: number): Validator<number[]> =>
  (raw, name) => {
    const parts = raw.split(',').map((p) => p.trim());
    const values = parts.map((p) => (/^\d{1,10}$/.test(p) ? Number(p) : NaN));
    if (parts.length < min || parts.length > max || values.some((v) => !Number.isInteger(v) || v < low || v > high)) {
      const count = min === max ? `${min}` : `${min} to ${max}`;
      throw invalid(name, `${count} comma-separated integers from ${low} to ${high}`, raw);
    }
    return values;
  };

/** `x,y` as fractions of the image, each from 0 to 1. */
export const fractionPair: Validator<readonly [number, number]> = (raw, name) => {
  const parts = raw.split(',').map((p) => p.trim());
  const values = parts.map((p) => (/^(0|1|0?\.\d{1,6}|1\.0{1,6})$/.test(p) ? Number(p) : NaN));
  if (values.length !== 2 || values.some((v) => !Number.isFinite(v) || v < 0 || v > 1)) {
    throw invalid(name, 'x,y as fractions from 0 to 1 (e.g. 0.5,0.3)', raw);
  }
  return [values[0]!, values[1]!];
};

/** `16:9`, `4:3`, `1.91:1` → width ÷ height, rounded so that equal ratios are one variant. */
export const aspectRatio: Validator<number> = (raw, name) => {
  const match = /^(\d{1,5}(?:\.\d{1,4})?):(\d{1,5}(?:\.\d{1,4})?)$/.exec(raw.trim());
  const ratio = match ? Number(match[1]) / Number(match[2]) : NaN;
  if (!Number.isFinite(ratio) || ratio < 0.01 || ratio > 100) {
    throw invalid(name, 'W:H with a ratio from 1:100 to 100:1 (e.g. 16:9)', raw);
  }
  return Math.round(ratio * 10_000) / 10_000;
};

/**
 * A name below a fixed prefix (a watermark): relative, no `.`/`..` segments, no empty segments,
 * no backslashes or control characters, at most 256 bytes. The prefix is the caller's.
 */
export const objectName: Validator<string> = (raw, name) => {
  const segments = raw.split('/');
  const valid =
    raw.length > 0 &&
    Buffer.byteLength(raw, 'utf8') <= 256 &&
    !/[\\\u0000-\u001f\u007f]/.test(raw) &&
    segments.every((s) => s !== '' && s !== '.' && s !== '..');
  if (!valid) throw invalid(name, 'a file name below the watermarks folder (no leading "/", no "..", at most 256 bytes)', raw);
  return raw;
};
