import { createHash } from 'node:crypto';
import { canonicalString, type TransformSpec } from './spec.js';

/** Bump when the rendering of an unchanged spec changes, so old variants are no longer served. */
export const RENDER_VERSION = 'v1';

export interface OriginalIdentity {
  readonly key: string;
  readonly etag: string;
}

export interface VariantId {
  /** The S3 key of the stored variant, below the variants prefix. */
  readonly key: string;
  /** A strong HTTP ETag for the variant: the same bytes for the same id, always. */
  readonly etag: string;
  readonly spec: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * A variant's key is a pure function of the original's key, its ETag and the canonical spec:
 * a replaced original gets new keys (no stale variant is ever served), a lookup never needs a
 * listing, and the length stays bounded whatever the original key's length. The original key's
 * hash is a folder, so all variants of one original share a prefix.
 */
export function variantId(prefix: string, original: OriginalIdentity, spec: TransformSpec): VariantId {
  const specText = canonicalString(spec);
  const keyHash = sha256(original.key).slice(0, 32);
  const variantHash = sha256(`${RENDER_VERSION}\n${original.key}\n${original.etag}\n${specText}`).slice(0, 40);
  return {
    key: `${prefix}${RENDER_VERSION}/${keyHash}/${variantHash}`,
    etag: `"${variantHash}"`,
    spec: specText,
  };
}
