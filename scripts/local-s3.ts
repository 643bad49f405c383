import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { NotificationRecord } from './s3-notifications.js';

/**
 * The project's local S3 (s3rver): path-style, any credentials accepted (S3RVER/S3RVER by
 * convention), always on loopback. Used by `npm start`, the tests and the benchmarks.
 */
export interface LocalS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly directory: string;
  close(): Promise<void>;
}

export interface LocalS3Options {
  /** 0 picks a free port. */
  readonly port?: number;
  readonly buckets: readonly string[];
  /** Where objects are kept; a fresh temporary folder (removed on close) when omitted. */
  readonly directory?: string;
  /**
   * Called for each object written or deleted, as S3 would notify it. s3rver reports PUT, POST,
   * copy and single DELETE requests; unlike S3 it says nothing for multi-object deletes.
   */
  readonly onObjectEvent?: (record: NotificationRecord) => void;
}

interface S3rverEvent {
  readonly Records: readonly {
    readonly eventName: string;
    readonly s3: { readonly bucket: { readonly name: string }; readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string } };
  }[];
}

export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const temporary = options.directory === undefined;
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'local-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    configureBuckets: [...new Set(options.buckets)].map((name) => ({ name })),
  });
  const { onObjectEvent } = options;
  if (onObjectEvent) {
    // s3rver's records carry the key decoded; the notification is re-encoded as S3 sends it.
    (server as unknown as NodeJS.EventEmitter).on('event', (event: S3rverEvent) => {
      for (const r of event.Records) {
        onObjectEvent({ bucket: r.s3.bucket.name, key: r.s3.object.key, eventName: r.eventName, etag: r.s3.object.eTag, size: r.s3.object.size });
      }
    });
  }
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    directory,
    async close() {
      await server.close();
      if (temporary) rmSync(directory, { recursive: true, force: true });
    },
  };
}
