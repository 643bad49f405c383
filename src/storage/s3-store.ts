import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3Settings } from '../config.js';
import { StorageUnavailableError } from '../errors.js';
import type { ImageStore, ListedObject, ObjectStore, OriginalHead, OriginalRead, OriginalUnchanged, StoredVariant, VariantHead, VariantWrite } from './image-store.js';

/** The only module that imports the AWS SDK. */

export interface S3StoreOptions {
  readonly originalsBucket: string;
  readonly variantsBucket: string;
  readonly s3: S3Settings;
}

export function createS3Client(s3: S3Settings): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: 64 };
  return new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
    credentials: s3.credentials,
    maxAttempts: s3.maxAttempts,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(s3.requestTimeoutMs, 3000),
      // Without throwOnRequestTimeout, @smithy/node-http-handler only logs a warning when the
      // timeout passes and keeps waiting: a hung endpoint would hold the request until Lambda's own
      // timeout instead of becoming a 503. The request timeout ends at the response headers; the
      // socket timeout (inactivity) covers a body download that stalls halfway.
      requestTimeout: s3.requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: s3.requestTimeoutMs,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    }),
  });
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata?.httpStatusCode;
  const meta = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  return meta?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return statusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

/** Runs an S3 call: not found (and, where asked, precondition failed) become `undefined`. */
async function attempt<T>(call: () => Promise<T>, options: { preconditionIsMissing?: boolean } = {}): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    if (options.preconditionIsMissing && statusOf(error) === 412) return undefined;
    throw new StorageUnavailableError(error);
  }
}

/**
 * A body this small is read to its end and dropped when abandoned: that keeps the keep-alive
 * connection for the next request. A larger one is cut off (the socket is closed) rather than
 * downloaded for nothing.
 */
const DRAIN_ON_ABANDON_BYTES = 256 * 1024;

function abandonBody(body: unknown, length: number | undefined): void {
  const stream = body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  if (!stream) return;
  if (length !== undefined && length <= DRAIN_ON_ABANDON_BYTES && typeof stream[Symbol.asyncIterator] === 'function') {
    void (async () => {
      for await (const _ of stream);
    })().catch(() => undefined);
    return;
  }
  stream.destroy?.();
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads a body of known length straight into one buffer of that size. Collecting the chunks and
 * joining them afterwards (what the SDK's transformToByteArray does) holds every byte twice at
 * the peak: for a 50 MB original that is 50 MB more memory, for nothing.
 */
async function readBody(body: unknown, length: number | undefined): Promise<Buffer> {
  const stream = body as AsyncIterable<Uint8Array> & { transformToByteArray(): Promise<Uint8Array> };
  if (length === undefined || typeof stream[Symbol.asyncIterator] !== 'function') {
    return toBuffer(await stream.transformToByteArray());
  }
  const buffer = Buffer.allocUnsafe(length);
  let offset = 0;
  for await (const chunk of stream) {
    if (offset + chunk.length > length) throw new Error(`object body longer than its Content-Length ${length}`);
    buffer.set(chunk, offset);
    offset += chunk.length;
  }
  if (offset !== length) throw new Error(`object body ended after ${offset} of ${length} bytes`);
  return buffer;
}

export function createS3Store(options: S3StoreOptions, client: S3Client = createS3Client(options.s3)): ImageStore {
  const { originalsBucket, variantsBucket } = options;
  return {
    async headOriginal(key: string): Promise<OriginalHead | undefined> {
      const head = await attempt(() => client.send(new HeadObjectCommand({ Bucket: originalsBucket, Key: key })));
      if (!head) return undefined;
      return { etag: head.ETag ?? '', size: head.ContentLength ?? 0, lastModified: head.LastModified };
    },

    async openOriginal(key: string, ifNoneMatch?: string): Promise<OriginalRead | OriginalUnchanged | undefined> {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: originalsBucket, Key: key, IfNoneMatch: ifNoneMatch }));
        const length = object.ContentLength;
        let settled = false;
        return {
          etag: object.ETag ?? '',
          size: length ?? 0,
          lastModified: object.LastModified,
          async bytes() {
            settled = true;
            try {
              return await readBody(object.Body, length);
            } catch (error) {
              throw new StorageUnavailableError(error);
            }
          },
          abandon() {
            if (settled) return;
            settled = true;
            abandonBody(object.Body, length);
          },
        };
      } catch (error) {
        if (ifNoneMatch !== undefined && statusOf(error) === 304) return { unchanged: true, etag: ifNoneMatch };
        if (isNotFound(error)) return undefined;
        throw new StorageUnavailableError(error);
      }
    },

    async getOriginal(key: string, etag: string): Promise<Buffer | undefined> {
      return attempt(
        async () => {
          const object = await client.send(
            new GetObjectCommand({ Bucket: originalsBucket, Key: key, IfMatch: etag || undefined }),
          );
          // Some S3-compatible stores (s3rver among them) ignore If-Match and answer with whatever is
          // there now: bytes under another ETag must not be rendered into this ETag's variant key.
          if (etag && object.ETag !== undefined && object.ETag !== etag) {
            abandonBody(object.Body, object.ContentLength);
            return undefined;
          }
          return readBody(object.Body, object.ContentLength);
        },
        { preconditionIsMissing: true },
      );
    },

    async getVariant(key: string): Promise<StoredVariant | undefined> {
      return attempt(async () => {
        const object = await client.send(new GetObjectCommand({ Bucket: variantsBucket, Key: key }));
        const body = toBuffer(await object.Body!.transformToByteArray());
        return { body, contentType: object.ContentType ?? 'application/octet-stream', metadata: object.Metadata };
      });
    },

    async headVariant(key: string): Promise<VariantHead | undefined> {
      const head = await attempt(() => client.send(new HeadObjectCommand({ Bucket: variantsBucket, Key: key })));
      return head && { metadata: head.Metadata };
    },

    async putVariant(key: string, body: Buffer, write: VariantWrite): Promise<void> {
      await attempt(() =>
        client.send(
          new PutObjectCommand({
            Bucket: variantsBucket,
            Key: key,
            Body: body,
            ContentLength: body.length,
            ContentType: write.contentType,
            CacheControl: write.cacheControl,
            Metadata: { ...write.metadata },
          }),
        ),
      );
    },

    listVariants(prefix: string): AsyncIterable<ListedObject> {
      return listPages(client, variantsBucket, prefix);
    },

    async deleteVariants(keys: readonly string[]): Promise<void> {
      // DeleteObjects takes at most 1000 keys; a key already gone counts as deleted.
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000);
        const result = await attempt(() =>
          client.send(new DeleteObjectsCommand({ Bucket: variantsBucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } })),
        );
        const failed = (result?.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0]!;
          throw new StorageUnavailableError(new Error(`${failed.length} of ${chunk.length} deletes failed, first ${first.Key}: ${first.Code} ${first.Message ?? ''}`.trim()));
        }
      }
    },

    async variantUrl(key: string, ttlSeconds: number, cacheControl?: string): Promise<string> {
      try {
        // Only responses over Lambda's 6 MB limit need it: loaded then, not on every cold start.
        const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
        return await getSignedUrl(client, new GetObjectCommand({ Bucket: variantsBucket, Key: key, ResponseCacheControl: cacheControl }), {
          expiresIn: ttlSeconds,
        });
      } catch (error) {
        throw new StorageUnavailableError(error);
      }
    },
  };
}

/** Every object under the prefix, one ListObjectsV2 page (1000 keys) at a time. */
async function* listPages(client: S3Client, bucket: string, prefix: string, startAfter?: string): AsyncIterable<ListedObject> {
  let token: string | undefined;
  do {
    const page = await attempt(() =>
      client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token, StartAfter: token ? undefined : startAfter }),
      ),
    );
    if (!page) throw new StorageUnavailableError(new Error(`bucket ${bucket} disappeared during the listing`));
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined) yield { key: object.Key, etag: object.ETag ?? '', size: object.Size ?? 0, lastModified: object.LastModified };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

export function createS3ObjectStore(client: S3Client): ObjectStore {
  return {
    async bucketExists(bucket) {
      const head = await attempt(() => client.send(new HeadBucketCommand({ Bucket: bucket })));
      return head !== undefined;
    },

    listObjects(bucket, prefix, startAfter): AsyncIterable<ListedObject> {
      return listPages(client, bucket, prefix, startAfter);
    },

    async readObject(bucket, key) {
      const object = await attempt(() => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
      return object ? (object.Body as AsyncIterable<Uint8Array>) : undefined;
    },

    async writeObject(bucket, key, body, length, contentType) {
      await attempt(() =>
        client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: body as Buffer | Readable, ContentLength: length, ContentType: contentType }),
        ),
      );
    },
  };
}
