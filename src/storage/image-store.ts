/**
 * The storage port: everything the service needs from where images live. Not found is a value
 * (`undefined`); anything else that goes wrong is an exception (StorageUnavailableError).
 * Keys are full object keys: prefixes are the service's business, buckets the adapter's.
 */
export interface OriginalHead {
  readonly etag: string;
  readonly size: number;
}

export interface StoredVariant {
  readonly body: Buffer;
  readonly contentType: string;
}

export interface VariantWrite {
  readonly contentType: string;
  readonly cacheControl: string;
  /** Small ASCII-safe strings only: they travel as object metadata headers. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ImageStore {
  headOriginal(key: string): Promise<OriginalHead | undefined>;
  /** The original's bytes, provided it still has this ETag; `undefined` when gone or replaced. */
  getOriginal(key: string, etag: string): Promise<Buffer | undefined>;
  getVariant(key: string): Promise<StoredVariant | undefined>;
  putVariant(key: string, body: Buffer, write: VariantWrite): Promise<void>;
  /**
   * A short-lived URL a client can fetch the stored variant from directly; `cacheControl`, when
   * given, replaces the stored Cache-Control in that response.
   */
  variantUrl(key: string, ttlSeconds: number, cacheControl?: string): Promise<string>;
}
