import { BatchUsageError } from './errors.js';

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

/** `s3://bucket/key/with spaces.csv`: the key is taken as written, not percent-decoded. */
export function parseS3Uri(uri: string, option: string): S3Location {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri.trim());
  if (!match) throw new BatchUsageError(`${option}: "${uri}" is not an S3 URI such as s3://bucket/key`);
  return { bucket: match[1]!, key: match[2] ?? '' };
}

export const s3Uri = (bucket: string, key: string) => `s3://${bucket}/${key}`;
