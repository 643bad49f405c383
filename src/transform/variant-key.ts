import { createHash } from 'node:crypto';
import { canonicalString, type TransformSpec } from './spec.js';

/** Bump when the rendering of an unchanged spec, or the key layout, changes: old variants are no longer served. */
export const RENDER_VERSION = 'v3';
/**
 * Versions whose variants may still be stored. `syncVariants` deletes an original's variants of
 * these wholesale (none of them is ever served again); the lifecycle rule expires the rest.
 * v1 and v2 keys held the original's ETag, so a lookup had to wait for it (a HEAD) first.
 */
export const FORMER_RENDER_VERSIONS: readonly string[] = ['v1', 'v2'];

/** What a variant is made from: the original's version and, for `mark`, the watermark's. */
export interface VariantSource {
  readonly key: string;
  readonly etag: string;
  /** The ETag of the watermark `spec.mark` names (its name is in the spec). */
  readonly watermarkEtag?: string;
}

export interface VariantId {
  /** The S3 key of the stored variant, below the variants prefix. */
  readonly key: string;
  /** A strong HTTP ETag for the variant: the same bytes for the same id, always. */
  readonly etag: string;
  readonly spec: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** S3 says `"abc"` in HEAD and GET responses, `abc` in event notifications: one form for hashing. */
export const normalizeEtag = (etag: string) => etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

/** Where every variant of one original lives, whatever its version: `<prefix><version>/<key hash>/`. */
export function originalVariantsPrefix(prefix: string, originalKey: string, version = RENDER_VERSION): string {
  return `${prefix}${version}/${sha256(originalKey).slice(0, 32)}/`;
}

/**
 * A variant's key is a pure function of the original's key and the canonical spec, and nothing
 * else: it is known before anything is asked of S3, so the variant lookup and the original's
 * read start together, and a hit needs no word from the original at all when something else keeps
 * variants fresh (`FRESHNESS=events`). Layout: `<prefix>v3/<key hash>/<variant hash>`: all variants
 * of one original share a folder (what `syncVariants` lists), and the length stays bounded
 * whatever the original key's length. Which version of the original (and of its watermark) a
 * stored variant was made from is in its metadata (`sourceMetadata`), checked by `madeFrom`.
 */
export function variantKey(prefix: string, originalKey: string, spec: TransformSpec): string {
  const variantHash = sha256(`${RENDER_VERSION}\n${originalKey}\n${canonicalString(spec)}`).slice(0, 40);
  return `${originalVariantsPrefix(prefix, originalKey)}${variantHash}`;
}

/**
 * The key, and an HTTP ETag that does change with the original's version (and the watermark's):
 * a client revalidating after a replacement must not be told 304.
 */
export function variantId(prefix: string, source: VariantSource, spec: TransformSpec): VariantId {
  const specText = canonicalString(spec);
  const key = variantKey(prefix, source.key, spec);
  const mark = source.watermarkEtag === undefined ? '' : `\n${normalizeEtag(source.watermarkEtag)}`;
  const etag = sha256(`${key}\n${normalizeEtag(source.etag)}${mark}`).slice(0, 40);
  return { key, etag: `"${etag}"`, spec: specText };
}

const SOURCE_ETAG = 'source-etag';
const MARK_ETAG = 'mark-etag';
const SUPERSEDES = 'supersedes';

/**
 * The metadata a stored variant carries to say what it was made from. `supersedes`: it replaced
 * a variant made from another version, so caches may still hold that one (`syncVariants` then
 * invalidates the CDN even though nothing stale is left to delete).
 */
export function sourceMetadata(source: VariantSource, supersedes = false): Record<string, string> {
  return {
    [SOURCE_ETAG]: normalizeEtag(source.etag),
    ...(source.watermarkEtag === undefined ? {} : { [MARK_ETAG]: normalizeEtag(source.watermarkEtag) }),
    ...(supersedes ? { [SUPERSEDES]: 'true' } : {}),
  };
}

/** Whether a stored variant replaced one made from another version of its original. */
export const supersedesOther = (metadata: Readonly<Record<string, string>> | undefined) => metadata?.[SUPERSEDES] === 'true';

/** The original's (and watermark's) ETags a stored variant says it was made from. */
export function storedSource(metadata: Readonly<Record<string, string>> | undefined): { etag?: string; watermarkEtag?: string } {
  const etag = metadata?.[SOURCE_ETAG];
  const mark = metadata?.[MARK_ETAG];
  return { etag: etag === undefined ? undefined : normalizeEtag(etag), watermarkEtag: mark === undefined ? undefined : normalizeEtag(mark) };
}

/**
 * Whether a stored variant was made from exactly this version of the original (and of its
 * watermark; `watermarkEtag` undefined: the spec has none). The original's side is skipped when
 * `etag` is undefined (the caller trusts events to have deleted stale variants).
 */
export function madeFrom(metadata: Readonly<Record<string, string>> | undefined, current: { etag?: string; watermarkEtag?: string }): boolean {
  const stored = storedSource(metadata);
  if (current.etag !== undefined && stored.etag !== normalizeEtag(current.etag)) return false;
  if (current.watermarkEtag !== undefined && stored.watermarkEtag !== normalizeEtag(current.watermarkEtag)) return false;
  return true;
}
