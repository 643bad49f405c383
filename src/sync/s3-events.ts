/**
 * S3 event notifications, read for what they are: at-least-once, possibly out of order, keys
 * URL-encoded with `+` for spaces, ETags without quotes, no ETag at all on deletes. Only the
 * bucket and key are trusted; what happened is found out from the bucket itself afterwards.
 */

export interface ObjectChange {
  readonly bucket: string;
  /** The object key, decoded. */
  readonly key: string;
  readonly kind: 'created' | 'removed';
  /** `ObjectCreated:Put`, `ObjectRemoved:DeleteMarkerCreated`, … (for the log). */
  readonly eventName: string;
}

export interface ParsedEvent {
  readonly changes: readonly ObjectChange[];
  /** Records that are not object changes this service acts on (test events, other sources), with why. */
  readonly ignored: readonly string[];
}

interface S3EventRecord {
  readonly eventSource?: unknown;
  readonly eventName?: unknown;
  readonly s3?: { readonly bucket?: { readonly name?: unknown }; readonly object?: { readonly key?: unknown } };
}

/** `photos/my+cat%C3%A9.jpg` → `photos/my caté.jpg`; `%2B` is a literal `+`. */
export function decodeEventKey(key: string): string | undefined {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

export function parseS3Event(event: unknown): ParsedEvent {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records)) {
    // S3 sends `{"Event": "s3:TestEvent", …}` once when a notification is configured.
    const test = (event as { Event?: unknown } | null)?.Event === 's3:TestEvent';
    return { changes: [], ignored: [test ? 's3:TestEvent' : 'not an S3 event notification (no Records)'] };
  }
  const changes: ObjectChange[] = [];
  const ignored: string[] = [];
  for (const record of records as S3EventRecord[]) {
    const name = typeof record?.eventName === 'string' ? record.eventName : '';
    const bucket = record?.s3?.bucket?.name;
    const rawKey = record?.s3?.object?.key;
    if (record?.eventSource !== 'aws:s3' || typeof bucket !== 'string' || typeof rawKey !== 'string') {
      ignored.push(`not an S3 record (${String(record?.eventSource ?? 'no eventSource')})`);
      continue;
    }
    const kind = name.startsWith('ObjectCreated:') ? 'created' : name.startsWith('ObjectRemoved:') ? 'removed' : undefined;
    const key = decodeEventKey(rawKey);
    if (!kind) ignored.push(`${name || 'no eventName'} on ${bucket}`);
    else if (key === undefined) ignored.push(`undecodable key ${rawKey.slice(0, 200)}`);
    else changes.push({ bucket, key, kind, eventName: name });
  }
  return { changes, ignored };
}
