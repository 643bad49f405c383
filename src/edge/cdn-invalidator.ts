import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import type { EdgeSettings } from '../config.js';

/**
 * Removing an original's responses from CloudFront's edge caches once its variants are gone.
 * The only module that imports the CloudFront client.
 */

/** Individual file paths CloudFront keeps in progress per distribution (Developer Guide, "Concurrent invalidation request maximum"). */
export const MAX_FILE_PATHS_IN_PROGRESS = 3000;
/** Wildcard paths in progress per distribution: a request with more can never be accepted. */
export const MAX_WILDCARD_PATHS_IN_PROGRESS = 15;
/** CloudFront's limit on one invalidation path. */
export const MAX_PATH_LENGTH = 4000;
export const DEFAULT_MAX_WAIT_MS = 60_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 20_000;

/**
 * Characters every client sends as they are: unreserved ones (but `~`, which CloudFront refuses
 * in a path and does not match when encoded) and `!'()`, which neither browsers nor
 * encodeURIComponent encode. The docs: encode non-ASCII and unsafe characters, nothing else.
 */
const AS_IS = /^[A-Za-z0-9\-._!'()]$/;
/** Characters no client can send raw in a path (they would end it, or are not URL characters). */
const ALWAYS_ENCODED = /^[\u0000-\u0020"#%<>?`{}\u007f]$/;

/**
 * One wildcard path per original key (relative to ORIGINALS_PREFIX, decoded), covering every
 * query of that URL: `photos/my cat.jpg` → `/photos/my%20cat.jpg*`. CloudFront compares paths
 * with the URI as the viewer sent it, so each character is written the way clients send it.
 * Where clients differ (`:` `@` `&` `=` `+` `$` `,` `;` `[` `]` `|` `^` `\`: raw from a browser,
 * encoded by encodeURIComponent), or where CloudFront cannot match the character at all (`*` is
 * only a wildcard at the end; `~` is refused raw, and `%7E` does not match `~`), the path stops
 * just before it: the shorter wildcard covers both spellings, at the price of also invalidating
 * keys that share the prefix. Deduplicated, paths covered by a shorter one dropped, sorted.
 */
export function invalidationPaths(urlKeys: readonly string[]): string[] {
  const prefixes = [...new Set(urlKeys.map(invalidationPrefix))].sort();
  const kept: string[] = [];
  for (const prefix of prefixes) {
    // Sorted, a prefix comes right before the strings it covers.
    const last = kept.at(-1);
    if (last === undefined || !prefix.startsWith(last)) kept.push(prefix);
  }
  return kept.map((prefix) => `${prefix}*`).sort();
}

function invalidationPrefix(key: string): string {
  if (key === '') throw new RangeError('invalidationPaths: an empty key would invalidate the whole distribution');
  let path = '/';
  for (const char of key) {
    let piece: string;
    if (char === '/' || AS_IS.test(char)) piece = char;
    else if (ALWAYS_ENCODED.test(char) || (char > '\u007f' && !isLoneSurrogate(char))) piece = encodeURIComponent(char);
    else break;
    if (path.length + piece.length + 1 > MAX_PATH_LENGTH) break;
    path += piece;
  }
  return path;
}

const isLoneSurrogate = (char: string) => char.length === 1 && char >= '\ud800' && char <= '\udfff';

/** CloudFront refused the invalidation, or kept refusing it until the wait was over. */
export class CdnInvalidationError extends Error {
  /** CloudFront's error code (`TooManyInvalidationsInProgress`, `AccessDenied`, …) or the network error's name. */
  readonly code: string;
  /** Paths not invalidated. */
  readonly pathCount: number;
  /** Invalidations created before the failure (earlier chunks). */
  readonly invalidationIds: readonly string[];
  /** Whether the same call may succeed later (CloudFront was busy) or needs a fix (rights, distribution id, paths). */
  readonly retryable: boolean;

  constructor(message: string, details: { code: string; pathCount: number; invalidationIds: readonly string[]; retryable: boolean; cause?: unknown }) {
    super(message, { cause: details.cause });
    this.name = 'CdnInvalidationError';
    this.code = details.code;
    this.pathCount = details.pathCount;
    this.invalidationIds = details.invalidationIds;
    this.retryable = details.retryable;
  }
}

export interface CdnInvalidator {
  /** Creates as few invalidations as CloudFront's limits allow, one after the other; resolves to their ids. */
  invalidate(paths: readonly string[]): Promise<{ invalidationIds: string[] }>;
}

export interface CdnInvalidatorOptions {
  readonly client?: CloudFrontClient;
  /** How long one `invalidate` call keeps retrying a busy CloudFront; keep it under the function's timeout. */
  readonly maxWaitMs?: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly now?: () => number;
  readonly random?: () => number;
}

export function createCdnInvalidator(edge: EdgeSettings, options: CdnInvalidatorOptions = {}): CdnInvalidator | undefined {
  const distributionId = edge.distributionId;
  if (!distributionId) return undefined;
  const client = options.client ?? createCloudFrontClient(edge);
  const { maxWaitMs = DEFAULT_MAX_WAIT_MS, sleep = delay, now = Date.now, random = Math.random } = options;

  return {
    async invalidate(paths) {
      const unique = [...new Set(paths)];
      const invalid = unique.find((p) => !p.startsWith('/') || p.length > MAX_PATH_LENGTH || p.slice(0, -1).includes('*'));
      if (invalid !== undefined) {
        throw new CdnInvalidationError(`not an invalidation path: "${invalid.slice(0, 200)}" (expected /…, at most ${MAX_PATH_LENGTH} characters, * only at the end)`, {
          code: 'InvalidPath', pathCount: unique.length, invalidationIds: [], retryable: false,
        });
      }
      const chunks = chunkPaths(unique);
      const deadline = now() + maxWaitMs;
      const invalidationIds: string[] = [];
      for (const [index, chunk] of chunks.entries()) {
        // One reference per chunk, reused by its retries: a retry of a request CloudFront did
        // receive gets the same invalidation back instead of a second one.
        const callerReference = `image-resizer-${randomUUID()}`;
        const fail = (error: unknown, retryable: boolean, attempts: number) => {
          const code = errorCode(error);
          const left = chunks.slice(index).reduce((n, c) => n + c.length, 0);
          const when = retryable ? `gave up after ${attempts} attempt(s) within ${maxWaitMs} ms: ` : '';
          return new CdnInvalidationError(
            `CloudFront invalidation on distribution ${distributionId} failed: ${when}${code}: ${(error as Error)?.message ?? String(error)}; ` +
              `${left} of ${unique.length} path(s) not invalidated (chunk ${index + 1} of ${chunks.length}, ${invalidationIds.length} invalidation(s) created before)`,
            { code, pathCount: left, invalidationIds: [...invalidationIds], retryable, cause: error },
          );
        };
        for (let attempt = 1; ; attempt++) {
          try {
            const response = await client.send(
              new CreateInvalidationCommand({
                DistributionId: distributionId,
                InvalidationBatch: { CallerReference: callerReference, Paths: { Quantity: chunk.length, Items: chunk } },
              }),
            );
            if (response.Invalidation?.Id) invalidationIds.push(response.Invalidation.Id);
            break;
          } catch (error) {
            if (!isTransient(error)) throw fail(error, false, attempt);
            // Equal jitter: half the doubled delay fixed, half random, so waits always grow.
            const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1));
            const wait = Math.round(ceiling / 2 + (random() * ceiling) / 2);
            if (now() + wait > deadline) throw fail(error, true, attempt);
            await sleep(wait);
          }
        }
      }
      return { invalidationIds };
    },
  };
}

/**
 * As few chunks as CloudFront's in-progress maximums allow, each fitting them on its own: at most
 * 15 wildcard paths and 3000 other paths, the two counts being independent.
 */
export function chunkPaths(paths: readonly string[]): string[][] {
  const wildcards = paths.filter((p) => p.endsWith('*'));
  const files = paths.filter((p) => !p.endsWith('*'));
  const count = Math.max(Math.ceil(wildcards.length / MAX_WILDCARD_PATHS_IN_PROGRESS), Math.ceil(files.length / MAX_FILE_PATHS_IN_PROGRESS));
  return Array.from({ length: count }, (_, i) => [
    ...wildcards.slice(i * MAX_WILDCARD_PATHS_IN_PROGRESS, (i + 1) * MAX_WILDCARD_PATHS_IN_PROGRESS),
    ...files.slice(i * MAX_FILE_PATHS_IN_PROGRESS, (i + 1) * MAX_FILE_PATHS_IN_PROGRESS),
  ]);
}

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown']);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** Worth asking again: CloudFront busy (invalidations in progress, throttling, 5xx) or the connection failed. */
function isTransient(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (e?.name === 'TooManyInvalidationsInProgress' || THROTTLING.has(e?.name ?? '') || status === 429) return true;
  if (status !== undefined) return status >= 500;
  return e?.name === 'TimeoutError' || NETWORK.has(e?.code ?? '');
}

function errorCode(error: unknown): string {
  const e = error as { name?: string; code?: string };
  return (e?.name && e.name !== 'Error' ? e.name : e?.code) ?? 'Error';
}

function createCloudFrontClient(edge: EdgeSettings): CloudFrontClient {
  return new CloudFrontClient({
    region: edge.region,
    endpoint: edge.cloudfrontEndpoint,
    credentials: edge.cloudfrontCredentials,
    // `invalidate` retries with its own budget; SDK retries on top would multiply it.
    maxAttempts: 1,
    // Bounded well inside the function's timeout, so a hung call fails with a message.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  });
}
