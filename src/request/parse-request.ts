import { InvalidRequestError } from '../errors.js';
import { EXPIRES_PARAM, SIGNATURE_PARAM } from '../security/url-signature.js';
import { parseOperations, type ParamEntry, type ParsedParams } from '../transform/operations.js';
import { applyAllowlist, type AllowlistPolicy } from './allowlist.js';
import type { CompatRules } from './compat.js';
import { validateKey, type KeyRules } from './original-key.js';
import { takePreset, type Presets } from './presets.js';
import { readSihPath } from './sih.js';
import { readThumborPath } from './thumbor.js';

/** What an HTTP request asks for, before it becomes a canonical spec. */
export interface ImageRequest {
  readonly key: string;
  readonly params: ParsedParams;
  readonly accept?: string;
  readonly ifNoneMatch?: string;
  readonly presetName?: string;
}

export interface RawHttpRequest {
  /** The path with percent-encoding already removed (API Gateway's `{proxy+}` parameter), if known. */
  readonly decodedPath?: string;
  /** The path as sent, still percent-encoded. Used when no decoded path is given. */
  readonly rawPath?: string;
  readonly rawQueryString?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
}

/** The request reduced to what everything else is decided on: decoded path, query, headers. */
export interface RequestTarget {
  /** Decoded exactly once, without the leading slash. */
  readonly path: string;
  readonly entries: readonly ParamEntry[];
  readonly headers: Readonly<Record<string, string | undefined>>;
}

export interface RequestRules extends KeyRules {
  readonly presets?: Presets;
  readonly allowlist?: AllowlistPolicy;
  /** Query parameters handled elsewhere and ignored here. */
  readonly extraParams?: readonly string[];
  /** SIH's base64 JSON paths and Thumbor paths, read as the query form (URL_COMPAT); off when absent. */
  readonly compat?: CompatRules;
}

/** Parameters that are about access, not the image: never part of the transform. */
const ACCESS_PARAMS = [SIGNATURE_PARAM, EXPIRES_PARAM];

/** `800x600`, `800x`, `x600`, `0x600`: at least one digit, so a folder named `x` stays a folder. */
const CLASSIC_SIZE = /^(?=\d|x\d)(\d{0,5})x(\d{0,5})$/i;

// Exactly the one slash that starts every path goes: a second one belongs to the key, which
// validateKey then refuses (`//etc/passwd` is not quietly read as `etc/passwd`).
function decodePath(raw: RawHttpRequest): string {
  if (raw.decodedPath !== undefined) return raw.decodedPath;
  try {
    return decodeURIComponent((raw.rawPath ?? '').replace(/^\//, ''));
  } catch {
    throw new InvalidRequestError('invalid_key', 'The URL path is not valid percent-encoded UTF-8.');
  }
}

export function queryEntries(rawQueryString: string | undefined): ParamEntry[] {
  return [...new URLSearchParams(rawQueryString ?? '')];
}

export function header(target: { readonly headers?: RequestTarget['headers'] }, name: string): string | undefined {
  const headers = target.headers ?? {};
  const found = Object.keys(headers).find((h) => h.toLowerCase() === name);
  return found === undefined ? undefined : headers[found];
}

export function readTarget(raw: RawHttpRequest): RequestTarget {
  return { path: decodePath(raw), entries: queryEntries(raw.rawQueryString), headers: raw.headers ?? {} };
}

/**
 * Turns a request target into key + validated params. `/{W}x{H}/{key}` is the classic form of
 * `/{key}?w=W&h=H` (0 or empty means "not set"); a first segment that looks like a size is
 * always read as one. A preset supplies parameters the URL's own override, within the allowlist.
 * With `rules.compat`, an SIH path (all of it base64 JSON) and a Thumbor path (after any classic
 * size) become the query entries they stand for, before anything is validated (docs/migrating.md).
 */
export function interpretTarget(target: RequestTarget, rules: RequestRules = {}): ImageRequest {
  const sih = rules.compat?.sih ? readSihPath(target.path, target.entries, rules.compat) : undefined;
  let path = sih ? sih.key : target.path;
  const entries = [...target.entries, ...(sih?.entries ?? [])];
  const slash = path.indexOf('/');
  const classic = !sih && slash > 0 ? CLASSIC_SIZE.exec(path.slice(0, slash)) : null;
  if (classic) {
    path = path.slice(slash + 1);
    const named = new Set(entries.map(([n]) => n.toLowerCase()));
    for (const [side, value] of [['w', classic[1]], ['h', classic[2]]] as const) {
      if (!value || Number(value) === 0) continue;
      const aliases = side === 'w' ? ['w', 'width'] : ['h', 'height'];
      if (aliases.some((a) => named.has(a))) {
        throw new InvalidRequestError('duplicate_param', `"${side}" is given both in the /{W}x{H}/ path and in the query.`);
      }
      entries.push([side, value]);
    }
  }
  const thumbor = !sih && rules.compat?.thumbor ? readThumborPath(path, entries, rules.compat) : undefined;
  if (thumbor) {
    path = thumbor.key;
    entries.push(...thumbor.entries);
  }
  const key = validateKey(path, rules);
  const { params, presetName } = interpretParams(entries, rules);
  return {
    key,
    params,
    accept: header(target, 'accept'),
    ifNoneMatch: header(target, 'if-none-match'),
    presetName,
  };
}

/**
 * The query's parameters under the URL API's rules: a preset expanded, the URL's own parameters
 * validated against the operations table, the allowlist applied. The batch worker's specs go
 * through here too, so a job can only make variants a URL could ask for.
 */
export function interpretParams(
  entries: readonly ParamEntry[],
  rules: RequestRules = {},
): { readonly params: ParsedParams; readonly presetName?: string } {
  const { preset, presetName, entries: own } = takePreset(entries, rules.presets ?? new Map());
  const explicit = parseOperations(own, [...ACCESS_PARAMS, ...(rules.extraParams ?? [])]);
  const params = rules.allowlist
    ? applyAllowlist(explicit, preset, rules.allowlist, [...(rules.presets?.keys() ?? [])])
    : { ...preset, ...explicit };
  return { params, presetName };
}

export function parseRequest(raw: RawHttpRequest, rules: RequestRules = {}): ImageRequest {
  return interpretTarget(readTarget(raw), rules);
}
