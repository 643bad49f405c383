/**
 * The storage port: everything the service needs from where images live. Not found is a value
 * (`undefined`); anything else that goes wrong is an exception (StorageUnavailableError).
 * Keys are full object keys: prefixes are the service's business, buckets the adapter's.
 */
export interface OriginalHead {
  readonly etag: string;
  readonly size: number;
  /** When this version was stored (S3: whole seconds; a multipart upload's start). */
  readonly lastModified?: Date;
}

/**
 * A read of an original that has begun: its ETag and size are known from the response headers,
 * its body may still be arriving. Exactly one of `bytes()` and `abandon()` is called.
 */
export interface OriginalRead extends OriginalHead {
  bytes(): Promise<Buffer>;
  /** The body is not needed after all (the variant turned out stored): stop it, free the connection. */
  abandon(): void;
}

/** `openOriginal` with `ifNoneMatch`: the original still has that ETag (no body was sent). */
export interface OriginalUnchanged {
  readonly unchanged: true;
  readonly etag: string;
}

/** A stored variant's headers, without its body. */
export interface VariantHead {
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface StoredVariant {
  readonly body: Buffer;
  readonly contentType: string;
  /** The metadata it was stored with (VariantWrite's), names lower-cased as S3 returns them. */
  readonly metadata?: Readonly<Record<string, string>>;
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
  /**
   * Starts reading the original and resolves once its headers are in, before the body: the
   * caller decides from the ETag whether it needs the body at all. With `ifNoneMatch` (an ETag
   * whose bytes the caller holds), an unchanged original answers without a body.
   */
  openOriginal(key: string, ifNoneMatch?: string): Promise<OriginalRead | OriginalUnchanged | undefined>;
  getVariant(key: string): Promise<StoredVariant | undefined>;
  /** A stored variant's metadata without its body (the batch worker's skip check). */
  headVariant(key: string): Promise<VariantHead | undefined>;
  putVariant(key: string, body: Buffer, write: VariantWrite): Promise<void>;
  /** Stored variants under a prefix of the variants bucket, a page at a time (`syncVariants`). */
  listVariants(prefix: string): AsyncIterable<ListedObject>;
  /** Deletes these variants, in as few requests as the store allows; absent keys count as deleted. */
  deleteVariants(keys: readonly string[]): Promise<void>;
  /**
   * A short-lived URL a client can fetch the stored variant from directly; `cacheControl`, when
   * given, replaces the stored Cache-Control in that response.
   */
  variantUrl(key: string, ttlSeconds: number, cacheControl?: string): Promise<string>;
}

/** One object of a listing: ListObjectsV2 gives the ETag and size, so no HEAD is needed. */
export interface ListedObject {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly lastModified?: Date;
}

/**
 * Plain object access for the batch worker: listing originals page by page, reading manifests,
 * writing reports. Buckets are explicit here because manifests and reports may live anywhere.
 */
export interface ObjectStore {
  /** Whether the bucket exists and can be reached with these credentials. */
  bucketExists(bucket: string): Promise<boolean>;
  /** Every object under the prefix, one ListObjectsV2 page at a time (never the whole listing). */
  listObjects(bucket: string, prefix: string, startAfter?: string): AsyncIterable<ListedObject>;
  /** The object's body as a stream, or `undefined` when it does not exist. */
  readObject(bucket: string, key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** One PUT: the object appears whole or not at all. A stream needs its length up front. */
  writeObject(bucket: string, key: string, body: Buffer | NodeJS.ReadableStream, length: number, contentType: string): Promise<void>;
}
