import { ForbiddenError, InvalidRequestError } from '../errors.js';
import { parseOperations, type ParamEntry } from '../transform/operations.js';

/**
 * What the foreign URL forms (AWS Serverless Image Handler's base64 JSON, Thumbor paths) share:
 * which are on, the one bucket and prefix they may name, and how their parts become entries of
 * the query form. Both mappers only produce query entries; validation, presets, the allowlist,
 * the canonical spec and the cache key are the query form's own (docs/migrating.md).
 */
export interface CompatRules {
  readonly sih: boolean;
  readonly thumbor: boolean;
  /** The originals bucket: the only one an SIH request or a Thumbor `s3:` segment may name. */
  readonly bucket: string;
  /** ORIGINALS_PREFIX: SIH keys are full S3 keys and must begin with it. */
  readonly prefix: string;
}

/** A foreign URL read as the query form: the key below the prefix and the entries it stands for. */
export interface MappedTarget {
  readonly key: string;
  readonly entries: readonly ParamEntry[];
}

export const malformed = (message: string) => new InvalidRequestError('invalid_request', message);

export const quoted = (names: readonly string[]) => names.map((n) => `"${n.length > 64 ? `${n.slice(0, 64)}…` : n}"`).join(', ');

/**
 * Another bucket than the originals bucket. 403 as SIH answers it (`ImageBucket::CannotAccessBucket`),
 * and like every 403 here never cached. The configured bucket's name is not given away.
 */
export const bucketForbidden = (bucket: string) =>
  new ForbiddenError(
    'bucket_forbidden',
    `The bucket ${quoted([bucket])} is not served here: this service reads originals from one bucket only; omit "bucket" or name that one.`,
  );

/**
 * Collects the query entries a foreign URL stands for. Each value is validated at once against
 * the operations table, so an error names the part of the foreign URL it came from; a parameter
 * set twice by two parts is refused (the same value twice is kept once).
 */
export class EntryList {
  readonly entries: ParamEntry[] = [];
  private readonly sources = new Map<string, { value: string; source: string }>();

  add(name: string, value: string, source: string): void {
    try {
      parseOperations([[name, value]]);
    } catch (error) {
      if (error instanceof InvalidRequestError) throw new InvalidRequestError(error.code, `${source}: ${error.message}`);
      throw error;
    }
    const previous = this.sources.get(name);
    if (previous?.value === value) return;
    if (previous) {
      throw new InvalidRequestError('duplicate_param', `${previous.source} and ${source} both set "${name}".`);
    }
    this.sources.set(name, { value, source });
    this.entries.push([name, value]);
  }

  has(name: string): boolean {
    return this.sources.has(name);
  }
}

/** Whether the query (with a classic size folded in) already gives that side. */
export function querySets(entries: readonly ParamEntry[], side: 'w' | 'h'): boolean {
  const names = side === 'w' ? ['w', 'width'] : ['h', 'height'];
  return entries.some(([name, value]) => names.includes(name.toLowerCase()) && value !== '' && Number(value) !== 0);
}

/** `transparent`: no `bg` at all (a transparent fill where the output has alpha, white otherwise). */
export const TRANSPARENT = 'transparent';

/** CSS's basic colour names (and the spellings Thumbor's and sharp's examples use). */
const NAMED_COLOURS: Readonly<Record<string, string>> = {
  black: '000000',
  silver: 'c0c0c0',
  gray: '808080',
  grey: '808080',
  white: 'ffffff',
  maroon: '800000',
  red: 'ff0000',
  purple: '800080',
  fuchsia: 'ff00ff',
  magenta: 'ff00ff',
  green: '008000',
  lime: '00ff00',
  olive: '808000',
  yellow: 'ffff00',
  navy: '000080',
  blue: '0000ff',
  teal: '008080',
  aqua: '00ffff',
  cyan: '00ffff',
  orange: 'ffa500',
};

const byte = (n: number) => Math.round(n).toString(16).padStart(2, '0');

/**
 * A colour as Thumbor (`ff0000`, `red`) or sharp (`#f00`, `rgb(255,0,0)`, `rgba(…, 0.5)`,
 * `{r, g, b, alpha}`) spell it, as `bg`'s hex; `transparent` for a fully transparent one.
 * Undefined when it is none of these: the caller names what it expected.
 */
export function colourToHex(raw: unknown): string | undefined {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const { r, g, b, alpha, ...rest } = raw as Record<string, unknown>;
    const channels = [r, g, b];
    const valid =
      Object.keys(rest).length === 0 &&
      channels.every((c) => typeof c === 'number' && c >= 0 && c <= 255) &&
      (alpha === undefined || (typeof alpha === 'number' && alpha >= 0 && alpha <= 1));
    if (!valid) return undefined;
    return rgba(channels as number[], alpha as number | undefined);
  }
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim().toLowerCase();
  if (text === TRANSPARENT) return TRANSPARENT;
  if (Object.hasOwn(NAMED_COLOURS, text)) return NAMED_COLOURS[text];
  const hex = /^#?([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/.exec(text);
  if (hex) {
    const digits = hex[1]!.length <= 4 ? [...hex[1]!].map((c) => c + c).join('') : hex[1]!;
    return digits.length === 8 && digits.endsWith('00') ? TRANSPARENT : digits;
  }
  const fn = /^rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*(0|1|0?\.\d+|1\.0+)\s*)?\)$/.exec(text);
  if (fn) {
    const channels = [fn[1], fn[2], fn[3]].map(Number);
    if (channels.some((c) => c > 255)) return undefined;
    return rgba(channels, fn[4] === undefined ? undefined : Number(fn[4]));
  }
  return undefined;
}

function rgba(channels: readonly number[], alpha: number | undefined): string {
  if (alpha === 0) return TRANSPARENT;
  const hex = channels.map(byte).join('');
  return alpha === undefined || alpha === 1 ? hex : hex + byte(alpha * 255);
}

/** An integer angle to one of 0, 90, 180, 270 when it is a right angle; otherwise as given (and refused by `rot`). */
export function rightAngle(angle: number): string {
  return Number.isInteger(angle) ? String(((angle % 360) + 360) % 360) : String(angle);
}
