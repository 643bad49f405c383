import { InvalidRequestError } from '../errors.js';
import type { ParamEntry } from '../transform/operations.js';
import { invalid } from '../transform/validators.js';
import {
  EntryList,
  TRANSPARENT,
  bucketForbidden,
  colourToHex,
  malformed,
  quoted,
  rightAngle,
  type CompatRules,
  type MappedTarget,
} from './compat.js';

/**
 * AWS Serverless Image Handler's default request format: the whole path is one base64 JSON
 * object, `{"bucket": …, "key": …, "edits": {…}, "outputFormat": …}`, whose edits are sharp
 * method names with their arguments (SIH's image-request.ts / image-handler.ts). Each edit that
 * has an equivalent becomes the query parameter it stands for; anything else is refused by name.
 */

/** Either alphabet (SIH decodes with Node's lenient base64), padding optional, nothing else. */
const BASE64_PATH = /^[A-Za-z0-9+/_-]+={0,2}$/;
/** What a JSON object's first bytes look like: `{"…` or `{}`, JSON whitespace allowed. */
const JSON_OBJECT_START = /^\{[ \t\r\n]*["}]/;

/**
 * Whether a path is an SIH request: all of it base64 (so it has no `.`, no extension) and its
 * first bytes decode to the start of a JSON object. Keys such as `eyes` or `eyewear/frames`
 * decode to other bytes and stay keys.
 */
export function isSihPath(path: string): boolean {
  if (!BASE64_PATH.test(path)) return false;
  const head = Buffer.from(path.slice(0, 64), 'base64').toString('latin1');
  return JSON_OBJECT_START.test(head);
}

const FIELDS = ['bucket', 'key', 'edits', 'outputFormat'];
const FORMATS = ['jpeg', 'jpg', 'png', 'webp', 'avif', 'gif'];
/** sharp's per-format output options that SIH passes through; only `quality` has an equivalent. */
const FORMAT_OPTIONS = ['jpeg', 'png', 'webp', 'avif', 'gif'];

type Json = unknown;
const isObject = (value: Json): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
/** `false` and `null` switch an edit off in SIH (except `rotate: null`, which only auto-orients: ours always does). */
const isOff = (value: Json) => value === false || value === null || value === undefined;

/** Everything one request's edits add up to, before the output format is settled. */
interface Mapping {
  readonly list: EntryList;
  /** Options inside edits that have no equivalent: refused together, by path. */
  readonly unsupported: string[];
  bg?: { value: string; source: string };
  toFormat?: string;
  /** `webp: {quality: 70}` and friends, in edit order: sharp's last call sets the format. */
  readonly formatOptions: { format: string; quality?: number; source: string }[];
}

function decode(path: string): Record<string, Json> {
  const body = path.replace(/=+$/, '');
  if (body.length % 4 === 1) throw malformed('The SIH request path is not valid base64 (its length is impossible: truncated?).');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(body, 'base64'));
  } catch {
    throw malformed('The SIH request decodes from base64 to bytes that are not UTF-8 text.');
  }
  let request: Json;
  try {
    request = JSON.parse(text);
  } catch (error) {
    throw malformed(`The SIH request is not valid JSON after base64 decoding: ${(error as Error).message.slice(0, 200)}`);
  }
  if (!isObject(request)) throw malformed('The SIH request must be a JSON object such as {"key": "photos/a.jpg", "edits": {…}}.');
  return request;
}

function keyBelowPrefix(key: Json, prefix: string): string {
  if (typeof key !== 'string' || key === '') {
    throw malformed('The SIH request needs "key": the full S3 key of the original, as a string.');
  }
  if (!key.startsWith(prefix)) {
    const shown = key.length > 128 ? `${key.slice(0, 128)}…` : key;
    throw new InvalidRequestError('invalid_key', `The SIH request's key "${shown}" is not below "${prefix}", the folder this service serves.`);
  }
  return key.slice(prefix.length);
}

/**
 * The SIH request a path stands for, as key + query entries; undefined when the path is not one
 * (see isSihPath). `query` is the URL's own query, which may add parameters like any URL's.
 */
export function readSihPath(path: string, query: readonly ParamEntry[], compat: CompatRules): MappedTarget | undefined {
  if (!isSihPath(path)) return undefined;
  if (query.some(([name]) => name.toLowerCase() === 'signature')) {
    throw malformed('SIH\'s "signature" parameter is not supported: sign URLs with this service\'s "s" parameter (npm run sign), which covers SIH paths too.');
  }
  const request = decode(path);
  const unknown = Object.keys(request).filter((name) => !FIELDS.includes(name));
  if (unknown.length > 0) {
    throw new InvalidRequestError('unsupported_edit', `Unsupported fields in the SIH request: ${quoted(unknown)}. Supported: ${FIELDS.join(', ')}.`);
  }
  if (request.bucket !== undefined && request.bucket !== null) {
    if (typeof request.bucket !== 'string') throw malformed('The SIH request\'s "bucket" must be a string.');
    if (request.bucket !== compat.bucket) throw bucketForbidden(request.bucket);
  }
  const key = keyBelowPrefix(request.key, compat.prefix);
  const edits = request.edits ?? {};
  if (!isObject(edits)) throw malformed('The SIH request\'s "edits" must be a JSON object such as {"resize": {"width": 300}}.');
  if (request.outputFormat !== undefined && request.outputFormat !== null && typeof request.outputFormat !== 'string') {
    throw malformed('The SIH request\'s "outputFormat" must be a string such as "webp".');
  }
  return { key, entries: mapEdits(edits, request.outputFormat ?? undefined) };
}

type EditMapper = (value: Json, mapping: Mapping, name: string) => void;

/** SIH edits with an equivalent, in the table's terms. Looked up as own keys only. */
const EDITS: Readonly<Record<string, EditMapper>> = {
  resize: mapResize,
  extract: mapExtract,
  crop: mapExtract,
  trim: mapTrim,
  extend: mapExtend,
  flatten: (value, m, name) => {
    if (value === true) return setBackground(m, '000000', name); // sharp's default: black
    options(value, name, m, { background: (bg) => setBackground(m, colour(bg, `edits.${name}.background`), `${name}.background`) });
  },
  grayscale: (value, m, name) => {
    if (value === true) m.list.add('gray', '', `edits.${name}`);
    else throw invalid(`edits.${name}`, 'true', JSON.stringify(value));
  },
  greyscale: (value, m, name) => EDITS.grayscale!(value, m, name),
  flip: (value, m) => flag(value, m, 'flip'),
  flop: (value, m) => flag(value, m, 'flop'),
  rotate: (value, m) => {
    if (typeof value !== 'number') throw invalid('edits.rotate', 'a number of degrees (90, 180, 270) or null', JSON.stringify(value));
    m.list.add('rot', rightAngle(value), 'edits.rotate');
  },
  blur: (value, m) => {
    if (typeof value !== 'number') {
      throw invalid('edits.blur', 'a Gaussian sigma from 0.3 to 100 (sharp\'s sigma-less fast blur has no equivalent)', JSON.stringify(value));
    }
    m.list.add('blur', String(value), 'edits.blur');
  },
  sharpen: (value, m) => {
    if (value === true) return m.list.add('sharpen', '', 'edits.sharpen');
    if (typeof value === 'number') return m.list.add('sharpen', String(value), 'edits.sharpen');
    options(value, 'sharpen', m, { sigma: (sigma) => m.list.add('sharpen', String(sigma), 'edits.sharpen.sigma') });
  },
  toFormat: (value, m) => {
    if (typeof value !== 'string') throw invalid('edits.toFormat', `one of ${FORMATS.join(', ')}`, JSON.stringify(value));
    m.toFormat = value;
  },
  ...Object.fromEntries(FORMAT_OPTIONS.map((format) => [format, formatOptions(format)])),
};

/** Which edits can be mapped, for error messages. */
export const SUPPORTED_EDITS = Object.keys(EDITS);

function mapEdits(edits: Record<string, Json>, outputFormat: string | undefined): ParamEntry[] {
  const active = Object.keys(edits).filter((name) => !isOff(edits[name]));
  const unknown = active.filter((name) => !Object.hasOwn(EDITS, name));
  if (unknown.length > 0) {
    throw new InvalidRequestError('unsupported_edit', `Unsupported edits: ${quoted(unknown)}. Supported: ${SUPPORTED_EDITS.join(', ')}.`);
  }
  checkExtractOrder(active, edits);
  const mapping: Mapping = { list: new EntryList(), unsupported: [], formatOptions: [] };
  for (const name of active) EDITS[name]!(edits[name], mapping, name);
  if (mapping.unsupported.length > 0) {
    throw new InvalidRequestError('unsupported_edit', `Unsupported edit options: ${quoted(mapping.unsupported)}.`);
  }
  if (mapping.bg && mapping.bg.value !== TRANSPARENT) mapping.list.add('bg', mapping.bg.value, mapping.bg.source);
  settleFormat(mapping, outputFormat);
  return mapping.list.entries;
}

/**
 * `rect` crops the oriented original before anything else. In sharp, and so in SIH, an extract
 * called after resize or rotate crops the resized or rotated image instead: edits apply in the
 * order of their keys. That order has no equivalent here, so it is refused rather than changed.
 */
function checkExtractOrder(active: readonly string[], edits: Record<string, Json>) {
  const first = active.findIndex((name) => name === 'resize' || (name === 'rotate' && edits.rotate !== 0));
  const late = active.filter((name, i) => (name === 'extract' || name === 'crop') && first >= 0 && i > first);
  if (late.length > 0) {
    throw new InvalidRequestError(
      'unsupported_edit',
      `"${late[0]}" after "${active[first]}" crops the ${active[first] === 'resize' ? 'resized' : 'rotated'} image, which is not supported: put "${late[0]}" first in "edits" to crop the original.`,
    );
  }
}

/** The output format: edits.toFormat, else outputFormat (SIH's order), else the last format-options edit. */
function settleFormat(m: Mapping, outputFormat: string | undefined) {
  const last = m.formatOptions[m.formatOptions.length - 1];
  const [format, source] =
    m.toFormat !== undefined
      ? [m.toFormat, 'edits.toFormat']
      : outputFormat !== undefined
        ? [outputFormat, 'outputFormat']
        : last
          ? [last.format, last.source]
          : [undefined, ''];
  if (format === undefined) return;
  const lower = format.toLowerCase();
  if (!FORMATS.includes(lower)) throw invalid(source, `one of ${FORMATS.join(', ')}`, format);
  const fm = lower === 'jpg' ? 'jpeg' : lower;
  m.list.add('fm', fm, source);
  // Options for another format than the output's change nothing in sharp either.
  const options = m.formatOptions.filter((o) => o.format === fm && o.quality !== undefined);
  const chosen = options[options.length - 1];
  if (chosen) m.list.add('q', String(chosen.quality), `${chosen.source}.quality`);
}

function formatOptions(format: string): EditMapper {
  return (value, m) => {
    const source = `edits.${format}`;
    const entry: { format: string; quality?: number; source: string } = { format, source };
    if (value !== true) {
      options(value, format, m, {
        quality: (quality) => {
          if (typeof quality !== 'number') throw invalid(`${source}.quality`, 'an integer from 1 to 100', JSON.stringify(quality));
          entry.quality = quality;
        },
      });
    }
    m.formatOptions.push(entry);
  };
}

/**
 * Walks an edit's options object: known ones go to their handler, `false`/`null`/`undefined` ones
 * are skipped, the rest are noted as unsupported (`resize.kernel`).
 */
function options(
  value: Json,
  name: string,
  m: Mapping,
  handlers: Readonly<Record<string, (option: Json) => void>>,
  defaults: Readonly<Record<string, Json>> = {},
) {
  if (!isObject(value)) throw malformed(`The SIH edit "${name}" must be an object of options.`);
  for (const [option, optionValue] of Object.entries(value)) {
    if (optionValue === undefined || optionValue === null) continue;
    if (Object.hasOwn(defaults, option) && defaults[option] === optionValue) continue;
    if (Object.hasOwn(handlers, option)) handlers[option]!(optionValue);
    else m.unsupported.push(`${name}.${option}`);
  }
}

function flag(value: Json, m: Mapping, name: 'flip' | 'flop') {
  if (value !== true) throw invalid(`edits.${name}`, 'true', JSON.stringify(value));
  m.list.add(name, '', `edits.${name}`);
}

function colour(value: Json, source: string): string {
  const hex = colourToHex(value);
  if (hex === undefined) {
    throw invalid(source, 'a colour: "#rrggbb", "rgb(…)", "rgba(…)", a basic CSS name or {"r", "g", "b", "alpha"}', JSON.stringify(value));
  }
  return hex;
}

/** One `bg` serves resize's, extend's and flatten's background here: they must agree. */
function setBackground(m: Mapping, value: string, source: string) {
  if (m.bg && m.bg.value !== value) {
    throw new InvalidRequestError('invalid_param', `${m.bg.source} and edits.${source} ask for different backgrounds; this service has one "bg" for all of them.`);
  }
  m.bg ??= { value, source: `edits.${source}` };
}

const dimension = (value: Json, source: string): string | undefined => {
  if (value === 0 || value === '0') return undefined; // sharp: null/0 mean "auto"
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw invalid(source, 'a positive number of pixels', JSON.stringify(value));
  return String(Math.round(n)); // as SIH rounds
};

function mapResize(value: Json, m: Mapping) {
  const side = (name: 'w' | 'h', source: string) => (v: Json) => {
    const size = dimension(v, source);
    if (size !== undefined) m.list.add(name, size, source);
  };
  options(
    value,
    'resize',
    m,
    {
      width: side('w', 'edits.resize.width'),
      height: side('h', 'edits.resize.height'),
      fit: (fit) => m.list.add('fit', String(fit), 'edits.resize.fit'),
      position: (pos) => {
        if (typeof pos !== 'string') m.unsupported.push('resize.position (sharp.gravity numbers; use a name such as "top" or "attention")');
        else m.list.add('pos', pos, 'edits.resize.position');
      },
      background: (bg) => setBackground(m, colour(bg, 'edits.resize.background'), 'resize.background'),
      // sharp enlarges unless told not to; this service does not unless asked (docs/migrating.md).
      withoutEnlargement: (v) => {
        if (v === false) m.list.add('enlarge', '', 'edits.resize.withoutEnlargement');
        else if (v !== true) throw invalid('edits.resize.withoutEnlargement', 'true or false', JSON.stringify(v));
      },
    },
    { withoutReduction: false, kernel: 'lanczos3', fastShrinkOnLoad: true },
  );
}

function mapExtract(value: Json, m: Mapping, name: string) {
  const source = `edits.${name}`;
  if (!isObject(value)) throw malformed(`The SIH edit "${name}" must be {"left", "top", "width", "height"} in pixels.`);
  const extra = Object.keys(value).filter((k) => !['left', 'top', 'width', 'height'].includes(k));
  if (extra.length > 0) m.unsupported.push(...extra.map((k) => `${name}.${k}`));
  const sides = ['left', 'top', 'width', 'height'].map((k) => value[k]);
  if (!sides.every((s) => typeof s === 'number' && Number.isInteger(s) && s >= 0)) {
    throw invalid(source, '{"left", "top", "width", "height"}: whole numbers of pixels', JSON.stringify(value));
  }
  m.list.add('rect', sides.join(','), source);
}

function mapTrim(value: Json, m: Mapping) {
  if (value === true) return m.list.add('trim', '', 'edits.trim');
  // sharp < 0.33 took the threshold itself.
  if (typeof value === 'number') return m.list.add('trim', String(value), 'edits.trim');
  options(value, 'trim', m, { threshold: (t) => m.list.add('trim', String(t), 'edits.trim.threshold') }, { lineArt: false });
  if (!m.list.has('trim')) m.list.add('trim', '', 'edits.trim');
}

function mapExtend(value: Json, m: Mapping) {
  if (typeof value === 'number') return m.list.add('pad', String(value), 'edits.extend');
  const sides: Record<string, Json> = { top: 0, right: 0, bottom: 0, left: 0 };
  const side = (name: string) => (v: Json) => {
    sides[name] = v;
  };
  options(
    value,
    'extend',
    m,
    {
      top: side('top'),
      right: side('right'),
      bottom: side('bottom'),
      left: side('left'),
      background: (bg) => setBackground(m, colour(bg, 'edits.extend.background'), 'extend.background'),
    },
    { extendWith: 'background' },
  );
  m.list.add('pad', [sides.top, sides.right, sides.bottom, sides.left].map(String).join(','), 'edits.extend');
}
