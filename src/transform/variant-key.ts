import { createHash } from 'node:crypto';
import { canonicalString, type TransformSpec } from './spec.js';

/** Bump when the rendering of an unchanged spec, or the key layout, changes: old variants are no longer served. */
export const RENDER_VERSION = 'v2';
/**
 * Versions whose variants may still be stored. `syncVariants` deletes an original's variants of
 * these wholesale (none of them is ever served again); the lifecycle rule expires the rest.
 */
export const FORMER_RENDER_VERSIONS: readonly string[] = ['v1'];

export interface OriginalIdentity {
  readonly key: string;
  readonly etag: string;
  /** The ETag of the watermark `spec.mark` names (its name is in the spec): a replaced watermark makes new keys. */
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

/** The folder, below the original's, of the variants made from one version (ETag) of it. */
export function etagFolder(etag: string): string {
  return sha256(normalizeEtag(etag)).slice(0, 16);
}

/**
 * A variant's key is a pure function of the original's key, its ETag and the canonical spec:
 * a replaced original gets new keys (no stale variant is ever served), a lookup never needs a
 * listing, and the length stays bounded whatever the original key's length. Layout:
 * `<prefix>v2/<key hash>/<ETag hash>/<variant hash>`: all variants of one original share a
 * prefix, and those made from an older version of it can be told apart by one listing, without
 * reading a single variant (what `syncVariants` does when an original is replaced). A watermarked
 * variant's hash also covers the watermark's ETag; its folder is still the original's ETag's.
 */
export function variantId(prefix: string, original: OriginalIdentity, spec: TransformSpec): VariantId {
  const specText = canonicalString(spec);
  const etag = normalizeEtag(original.etag);
  // Only a watermarked variant hashes one more line: every other key stays what it was.
  const watermark = original.watermarkEtag === undefined ? '' : `\nmark-etag=${normalizeEtag(original.watermarkEtag)}`;
  const variantHash = sha256(`${RENDER_VERSION}\n${original.key}\n${etag}\n${specText}${watermark}`).slice(0, 40);
  return {
    key: `${originalVariantsPrefix(prefix, original.key)}${etagFolder(etag)}/${variantHash}`,
    etag: `"${variantHash}"`,
    spec: specText,
  };
}
