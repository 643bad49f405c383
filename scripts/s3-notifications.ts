/**
 * S3 event notifications shaped as AWS sends them, for the local S3 (`npm start` forwards its
 * object events to `syncVariants`) and the tests: keys URL-encoded with `+` for spaces, ETags
 * without quotes, no ETag or size on deletes.
 */

export interface NotificationRecord {
  readonly bucket: string;
  /** The object key, decoded. */
  readonly key: string;
  /** `ObjectCreated:Put`, `ObjectRemoved:Delete`, `ObjectRemoved:DeleteMarkerCreated`, … */
  readonly eventName: string;
  readonly etag?: string;
  readonly size?: number;
}

/** S3's encoding of keys in notifications: form-style, `/` kept, space as `+`. */
export function encodeEventKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');
}

let sequence = 0;

export function s3Notification(records: readonly NotificationRecord[], region = 'us-east-1') {
  return {
    Records: records.map((r) => {
      const created = r.eventName.startsWith('ObjectCreated:');
      return {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: new Date().toISOString(),
        eventName: r.eventName,
        userIdentity: { principalId: 'AWS:LOCAL' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'LOCAL', 'x-amz-id-2': 'LOCAL' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'sync-variants',
          bucket: { name: r.bucket, ownerIdentity: { principalId: 'LOCAL' }, arn: `arn:aws:s3:::${r.bucket}` },
          object: {
            key: encodeEventKey(r.key),
            ...(created ? { size: r.size ?? 0, eTag: (r.etag ?? '').replace(/"/g, '') } : {}),
            sequencer: (Date.now() * 1000 + (sequence++ % 1000)).toString(16).toUpperCase(),
          },
        },
      };
    }),
  };
}
