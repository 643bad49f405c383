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
