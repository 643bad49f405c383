import { z } from 'zod';

/**
 * The only reader of the environment. Validated once at cold start; an invalid value stops the
 * function with a message that names the variable, instead of failing later on a request.
 */

/** Lambda's response payload limit is 6 MB; the body travels base64 (4/3) inside a JSON envelope. */
const LAMBDA_INLINE_LIMIT = Math.floor(((6 * 1024 * 1024 - 32 * 1024) * 3) / 4);

const LOCAL_S3_ENDPOINT = 'http://127.0.0.1:4569';

// An empty value means "not set" (serverless.yml's `${env:X, ''}` yields one): it must not
// coerce to 0 and silently turn, say, CACHE_MAX_AGE into no caching at all.
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const int = (min: number, max: number, fallback: number) =>
  z.preprocess(blankToUndefined, z.coerce.number().int().min(min).max(max).default(fallback));
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const prefix = z
  .string()
  .default('')
  .refine((v) => !v.startsWith('/'), 'must not start with "/"')
  .transform((v) => (v === '' || v.endsWith('/') ? v : `${v}/`));

const envSchema = z.object({
  ORIGINALS_BUCKET: z.string().min(3).default('originals'),
  ORIGINALS_PREFIX: prefix,
  VARIANTS_BUCKET: z.string().min(3).default('variants'),
  VARIANTS_PREFIX: z.string().optional(),
  DEFAULT_QUALITY: int(1, 100, 80),
  CACHE_MAX_AGE: int(0, 10 * 365 * 24 * 3600, 365 * 24 * 3600),
  MAX_ORIGINAL_BYTES: int(1, 5 * 1024 ** 3, 50 * 1024 * 1024),
  MAX_INPUT_PIXELS: int(1, 2 ** 31, 100_000_000),
  MAX_OUTPUT_PIXELS: int(1, 8192 * 8192, 8192 * 8192),
  MAX_FRAMES: int(1, 10_000, 300),
  MAX_INLINE_BYTES: int(1, LAMBDA_INLINE_LIMIT, LAMBDA_INLINE_LIMIT),
  PRESIGNED_URL_TTL: int(1, 7 * 24 * 3600, 300),
  PROCESSING_TIMEOUT_MS: int(100, 15 * 60 * 1000, 25_000),
  S3_ENDPOINT: optionalString,
  S3_FORCE_PATH_STYLE: bool.optional(),
  S3_REGION: optionalString,
  AWS_REGION: optionalString,
  S3_REQUEST_TIMEOUT_MS: int(100, 120_000, 5_000),
  S3_MAX_ATTEMPTS: int(1, 10, 3),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  // Set by `sls invoke local` and serverless-offline: point at the project's local S3 by default.
  IS_LOCAL: optionalString,
  IS_OFFLINE: optionalString,
});

export interface S3Settings {
  readonly endpoint?: string;
  readonly forcePathStyle: boolean;
  readonly region: string;
  readonly requestTimeoutMs: number;
  readonly maxAttempts: number;
  /** Only with a custom endpoint; in AWS the default provider chain is used. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface Config {
  readonly originalsBucket: string;
  readonly originalsPrefix: string;
  readonly variantsBucket: string;
  readonly variantsPrefix: string;
  readonly defaultQuality: number;
  readonly cacheMaxAge: number;
  readonly maxOriginalBytes: number;
  readonly maxInputPixels: number;
  readonly maxOutputPixels: number;
  readonly maxFrames: number;
  readonly maxInlineBytes: number;
  readonly presignedUrlTtl: number;
  readonly processingTimeoutMs: number;
  readonly s3: S3Settings;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const local = e.IS_LOCAL === 'true' || e.IS_OFFLINE === 'true';
  const endpoint = e.S3_ENDPOINT ?? (local ? LOCAL_S3_ENDPOINT : undefined);
  const sameBucket = e.ORIGINALS_BUCKET === e.VARIANTS_BUCKET;
  const parsedPrefix = prefix.safeParse(e.VARIANTS_PREFIX ?? (sameBucket ? '_variants/' : ''));
  if (!parsedPrefix.success) {
    const problems = parsedPrefix.error.issues.map((i) => i.message).join('; ');
    throw new ConfigError(`Invalid configuration: VARIANTS_PREFIX: ${problems}`);
  }
  const variantsPrefix = parsedPrefix.data;
  if (sameBucket && variantsPrefix === '') {
    throw new ConfigError(
      'Invalid configuration: VARIANTS_PREFIX must be non-empty when VARIANTS_BUCKET equals ORIGINALS_BUCKET',
    );
  }
  if (sameBucket && e.ORIGINALS_PREFIX !== '' && e.ORIGINALS_PREFIX.startsWith(variantsPrefix)) {
    throw new ConfigError('Invalid configuration: ORIGINALS_PREFIX must not lie inside VARIANTS_PREFIX');
  }
  return Object.freeze({
    originalsBucket: e.ORIGINALS_BUCKET,
    originalsPrefix: e.ORIGINALS_PREFIX,
    variantsBucket: e.VARIANTS_BUCKET,
    variantsPrefix,
    defaultQuality: e.DEFAULT_QUALITY,
    cacheMaxAge: e.CACHE_MAX_AGE,
    maxOriginalBytes: e.MAX_ORIGINAL_BYTES,
    maxInputPixels: e.MAX_INPUT_PIXELS,
    maxOutputPixels: e.MAX_OUTPUT_PIXELS,
    maxFrames: e.MAX_FRAMES,
    maxInlineBytes: e.MAX_INLINE_BYTES,
    presignedUrlTtl: e.PRESIGNED_URL_TTL,
    processingTimeoutMs: e.PROCESSING_TIMEOUT_MS,
    s3: Object.freeze({
      endpoint,
      forcePathStyle: e.S3_FORCE_PATH_STYLE ?? endpoint !== undefined,
      region: e.S3_REGION ?? e.AWS_REGION ?? 'us-east-1',
      requestTimeoutMs: e.S3_REQUEST_TIMEOUT_MS,
      maxAttempts: e.S3_MAX_ATTEMPTS,
      // A custom endpoint (the local S3, MinIO, …) takes keys from this environment, or the
      // local S3's own; in AWS the SDK's default provider chain finds the function's role.
      credentials:
        endpoint === undefined
          ? undefined
          : {
              accessKeyId: e.AWS_ACCESS_KEY_ID ?? 'S3RVER',
              secretAccessKey: e.AWS_SECRET_ACCESS_KEY ?? 'S3RVER',
            },
    }),
  });
}
