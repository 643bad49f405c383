import type { Config } from '../config.js';
import { InvalidRequestError } from '../errors.js';
import { requestRules } from '../http/resize-handler.js';
import { validateKey } from '../request/original-key.js';
import type { ObjectStore } from '../storage/image-store.js';

/**
 * The playground's picker: originals a page at a time, straight from ListObjectsV2 (no index).
 * Keys are relative to ORIGINALS_PREFIX, as URLs name them. `prefix` narrows the listing at S3;
 * `q` keeps the keys that contain it (any case) among those listed, so one request reads at
 * most `scanLimit` keys whatever matches; `next` resumes after the last key read.
 */

export interface OriginalsQuery {
  /** Listed at S3: only keys that start with it. */
  readonly prefix: string;
  /** The cursor of the previous page: listing resumes after this key. */
  readonly after?: string;
  /** Keys that contain this text, compared in lower case. */
  readonly q?: string;
}

export interface OriginalsPage {
  readonly items: readonly { readonly key: string; readonly size: number }[];
  /** Where the next page starts (pass as `after`); absent when the listing is complete. */
  readonly next?: string;
  /** Keys read for this page, matching or not. */
  readonly scanned: number;
}

export interface ListLimits {
  /** At most this many keys per page. */
  readonly items?: number;
  /** At most this many keys read from S3 per page (one ListObjectsV2 page is 1000). */
  readonly scanLimit?: number;
}

// Above every key S3 can hold that starts with a given prefix: listing after `<prefix>` + this
// skips them all without reading them.
const PAST_PREFIX = '\u{10FFFF}';
const MAX_Q_LENGTH = 200;

const invalid = (name: string, message: string) => new InvalidRequestError('invalid_param', `Parameter "${name}" ${message}`);

/** The listing's query parameters (`prefix`, `after`, `q`), checked. */
export function readOriginalsQuery(query: URLSearchParams): OriginalsQuery {
  const text = (name: string, maxBytes: number): string | undefined => {
    const values = query.getAll(name);
    if (values.length > 1) throw new InvalidRequestError('duplicate_param', `Parameter "${name}" is given more than once.`);
    const value = values[0];
    if (value === undefined || value === '') return undefined;
    if (Buffer.byteLength(value, 'utf8') > maxBytes) throw invalid(name, `must be at most ${maxBytes} bytes.`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(value)) throw invalid(name, 'must not contain control characters.');
    return value;
  };
  const prefix = text('prefix', 1024) ?? '';
  if (prefix.startsWith('/')) throw invalid('prefix', 'must not start with "/".');
  return { prefix, after: text('after', 1024), q: text('q', MAX_Q_LENGTH) };
}

export async function listOriginals(
  config: Config,
  objects: ObjectStore,
  query: OriginalsQuery,
  limits: ListLimits = {},
): Promise<OriginalsPage> {
  const maxItems = limits.items ?? 60;
  const scanLimit = limits.scanLimit ?? 1000;
  const rules = requestRules(config);
  const reserved = rules.reservedPrefix;
  const needle = query.q?.toLowerCase();
  const base = config.originalsPrefix;
  const items: { key: string; size: number }[] = [];
  let cursor = query.after;
  let scanned = 0;
  for (;;) {
    let skipped = false;
    for await (const object of objects.listObjects(config.originalsBucket, base + query.prefix, cursor === undefined ? undefined : base + cursor)) {
      const key = object.key.slice(base.length);
      cursor = key;
      scanned += 1;
      if (reserved && key.startsWith(reserved)) {
        // Variants in the originals bucket (same-bucket setups): jump over all of them at once.
        cursor = reserved + PAST_PREFIX;
        skipped = true;
        break;
      }
      if (servable(key, rules) && (needle === undefined || key.toLowerCase().includes(needle))) {
        items.push({ key, size: object.size });
      }
      if (items.length >= maxItems || scanned >= scanLimit) return { items, next: cursor, scanned };
    }
    if (!skipped) return { items, scanned };
  }
}

/** A key a URL can name (so the page can show it), and not a folder placeholder. */
function servable(key: string, rules: ReturnType<typeof requestRules>): boolean {
  if (key.endsWith('/')) return false;
  try {
    validateKey(key, rules);
    return true;
  } catch {
    return false;
  }
}
