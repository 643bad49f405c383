import { InvalidRequestError } from '../errors.js';
import { parseOperations, type ParamEntry, type ParsedParams } from '../transform/operations.js';
import { validateKey, type KeyRules } from './original-key.js';

/** What an HTTP request asks for, before it becomes a canonical spec. */
export interface ImageRequest {
  readonly key: string;
  readonly params: ParsedParams;
  readonly accept?: string;
  readonly ifNoneMatch?: string;
}

export interface RawHttpRequest {
  /** The path with percent-encoding already removed (API Gateway's `{proxy+}` parameter), if known. */
  readonly decodedPath?: string;
  /** The path as sent, still percent-encoded. Used when no decoded path is given. */
  readonly rawPath?: string;
  readonly rawQueryString?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
}

/** `800x600`, `800x`, `x600`, `0x600`: at least one digit, so a folder named `x` stays a folder. */
const CLASSIC_SIZE = /^(?=\d|x\d)(\d{0,5})x(\d{0,5})$/i;

function decodePath(raw: RawHttpRequest): string {
  if (raw.decodedPath !== undefined) return raw.decodedPath.replace(/^\/+/, '');
  try {
    return decodeURIComponent((raw.rawPath ?? '').replace(/^\/+/, ''));
  } catch {
    throw new InvalidRequestError('invalid_key', 'The URL path is not valid percent-encoded UTF-8.');
  }
}

export function queryEntries(rawQueryString: string | undefined): ParamEntry[] {
  return [...new URLSearchParams(rawQueryString ?? '')];
}

function header(raw: RawHttpRequest, name: string): string | undefined {
  const headers = raw.headers ?? {};
  const found = Object.keys(headers).find((h) => h.toLowerCase() === name);
  return found === undefined ? undefined : headers[found];
}

/**
 * Turns a request into key + validated params. `/{W}x{H}/{key}` is the classic form of
 * `/{key}?w=W&h=H` (0 or empty means "not set"); a first segment that looks like a size is
 * always read as one.
 */
export function parseRequest(raw: RawHttpRequest, keyRules: KeyRules = {}, extraParams: readonly string[] = []): ImageRequest {
  let path = decodePath(raw);
  const entries = queryEntries(raw.rawQueryString);
  const slash = path.indexOf('/');
  const classic = slash > 0 ? CLASSIC_SIZE.exec(path.slice(0, slash)) : null;
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
  return {
    key: validateKey(path, keyRules),
    params: parseOperations(entries, extraParams),
    accept: header(raw, 'accept'),
    ifNoneMatch: header(raw, 'if-none-match'),
  };
}
