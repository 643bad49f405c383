// zod's tree-shakable build: the full one costs a Lambda cold start ~25 ms and ~10 MB to load.
import { availableParallelism } from 'node:os';
import * as z from 'zod/mini';
import type { CorsPolicy } from './http/cors.js';
import { ConfigError } from './errors.js';
import type { AllowlistPolicy } from './request/allowlist.js';
import { DEFAULT_PRESETS, parsePresets, type Presets } from './request/presets.js';
import { parseSecrets, type SecretsSource } from './security/signing-secrets.js';

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
  z.pipe(
    z.transform(blankToUndefined),
    z._default(
      z.coerce.number().check(z.refine(Number.isInteger, 'expected an integer'), z.minimum(min), z.maximum(max)),
      fallback,
    ),
  );
const bool = z.pipe(
  z.enum(['true', 'false', '1', '0', 'yes', 'no', '']),
  z.transform((v) => v === 'true' || v === '1' || v === 'yes'),
);
const optionalString = z.pipe(
  z.optional(z.string()),
  z.transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim())),
);
const prefix = z.pipe(
  z._default(z.string().check(z.refine((v) => !v.startsWith('/'), 'must not start with "/"')), ''),
  z.transform((v) => (v === '' || v.endsWith('/') ? v : `${v}/`)),
);
/** A prefix that cannot be the bucket root: blank (unset) means the default. */
const namedPrefix = (fallback: string) =>
  z.pipe(
    z._default(z.string().check(z.refine((v) => !v.startsWith('/'), 'must not start with "/"')), fallback),
    z.transform((v) => (v.trim() === '' ? fallback : v.endsWith('/') ? v : `${v}/`)),
  );
/** A name of a restricted alphabet; blank means the default. */
const word = (pattern: RegExp, fallback: string) =>
  z.pipe(z.transform(blankToUndefined), z._default(z.string().check(z.regex(pattern, `expected ${pattern.source}`)), fallback));
const bucket = (fallback: string) => z._default(z.string().check(z.minLength(3)), fallback);

const envSchema = z.object({
  ORIGINALS_BUCKET: bucket('originals'),
  ORIGINALS_PREFIX: prefix,
  WATERMARKS_PREFIX: namedPrefix('watermarks/'),
  VARIANTS_BUCKET: bucket('variants'),
  VARIANTS_PREFIX: z.optional(z.string()),
  DEFAULT_QUALITY: int(1, 100, 80),
  CACHE_MAX_AGE: int(0, 10 * 365 * 24 * 3600, 365 * 24 * 3600),
  MAX_ORIGINAL_BYTES: int(1, 5 * 1024 ** 3, 50 * 1024 * 1024),
  MAX_INPUT_PIXELS: int(1, 2 ** 31, 100_000_000),
  MAX_OUTPUT_PIXELS: int(1, 8192 * 8192, 8192 * 8192),
  MAX_FRAMES: int(1, 10_000, 300),
  ORIGINAL_CACHE_BYTES: int(0, 2 * 1024 ** 3, 64 * 1024 * 1024),
  FRESHNESS: z.pipe(z.transform(blankToUndefined), z.optional(z.enum(['strict', 'events']))),
  HOT_VARIANT_SECONDS: int(0, 300, 0),
  HOT_VARIANT_BYTES: int(0, 2 * 1024 ** 3, 32 * 1024 * 1024),
  MAX_INLINE_BYTES: int(1, LAMBDA_INLINE_LIMIT, LAMBDA_INLINE_LIMIT),
  PRESIGNED_URL_TTL: int(1, 7 * 24 * 3600, 300),
  PROCESSING_TIMEOUT_MS: int(100, 15 * 60 * 1000, 25_000),
  S3_ENDPOINT: optionalString,
  S3_FORCE_PATH_STYLE: z.optional(bool),
  S3_REGION: optionalString,
  AWS_REGION: optionalString,
  S3_REQUEST_TIMEOUT_MS: int(100, 120_000, 5_000),
  S3_MAX_ATTEMPTS: int(1, 10, 3),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  SIGNING_SECRETS: optionalString,
  SIGNING_SECRETS_SSM_PARAMETER: optionalString,
  SIGNING_SECRETS_SECRET_ID: optionalString,
  PRESETS: optionalString,
  ALLOWLIST: optionalString,
  ALLOWED_WIDTHS: optionalString,
  ALLOWED_HEIGHTS: optionalString,
  SNAP_WIDTHS: z.optional(bool),
  ALLOW_SVG: z.optional(bool),
  URL_COMPAT: optionalString,
  CORS_ORIGINS: optionalString,
  CORS_CREDENTIALS: z.optional(bool),
  // The batch worker and its launcher (README "Batch").
  BATCH_REPORTS_PREFIX: z.optional(z.string()),
  BATCH_PROGRESS_SECONDS: int(1, 3600, 5),
  BATCH_CLUSTER: optionalString,
  BATCH_TASK_DEFINITION: optionalString,
  BATCH_CONTAINER_NAME: optionalString,
  BATCH_SUBNETS: optionalString,
  BATCH_SECURITY_GROUPS: optionalString,
  BATCH_ASSIGN_PUBLIC_IP: z.optional(bool),
  ECS_ENDPOINT: optionalString,
  // Production edge (README "Deploy"): syncVariants, CloudFront, the origin-verify header.
  EAGER_PRESETS: optionalString,
  CDN_DISTRIBUTION_ID: optionalString,
  CLOUDFRONT_ENDPOINT: optionalString,
  CDN_MAX_AGE: z.pipe(z.transform(blankToUndefined), z.optional(z.coerce.number().check(z.refine(Number.isInteger, 'expected an integer'), z.minimum(0), z.maximum(10 * 365 * 24 * 3600)))),
  ERROR_MAX_AGE: int(0, 3600, 60),
  ORIGIN_VERIFY_SECRET: optionalString,
  ORIGIN_VERIFY_SECRET_ID: optionalString,
  ORIGIN_VERIFY_SSM_PARAMETER: optionalString,
  // Metrics (docs/observability.md): CloudWatch namespace and the stage dimension.
  POWERTOOLS_METRICS_NAMESPACE: word(/^[A-Za-z0-9_./#:-]{1,255}$/, 'ImageResizer'),
  STAGE: word(/^[A-Za-z0-9_-]{1,64}$/, 'local'),
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

/** Where batch jobs keep their reports, and how `startBatch` launches the worker on ECS. */
export interface BatchSettings {
  /** Reports, summaries: under this prefix of the variants bucket unless a job says otherwise. */
  readonly reportsPrefix: string;
  /** Off a terminal, seconds between progress log lines. */
  readonly progressSeconds: number;
  readonly cluster?: string;
  readonly taskDefinition?: string;
  readonly containerName: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  readonly assignPublicIp: boolean;
  /** A stand-in for ECS (tests, `sls invoke local`); AWS's own endpoint when unset. */
  readonly ecsEndpoint?: string;
  readonly region: string;
  /** Only with a stand-in endpoint; in AWS the default provider chain finds the function's role. */
  readonly ecsCredentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * `sls invoke local` without ECS_ENDPOINT: startBatch shows the RunTask input it would send
   * instead of starting a task with whatever AWS credentials the machine happens to have.
   */
  readonly launchDryRun: boolean;
}

/** What the CDN in front needs from the function, and what `syncVariants` does beyond deleting. */
export interface EdgeSettings {
  /** CloudFront distribution whose cached URLs `syncVariants` invalidates; unset: no CDN. */
  readonly distributionId?: string;
  /** A stand-in for CloudFront (tests, `sls invoke local`); AWS's own endpoint when unset. */
  readonly cloudfrontEndpoint?: string;
  readonly region: string;
  /** Only with a stand-in endpoint. */
  readonly cloudfrontCredentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** `s-maxage` of image responses (the CDN's lifetime, apart from browsers' `max-age`); unset: none. */
  readonly cdnMaxAge?: number;
  /** `max-age` of 4xx error responses (5xx are never cached). */
  readonly errorMaxAge: number;
  /** The secret CloudFront sends in `X-Origin-Verify`; `none`: the header is not required. */
  readonly originVerify: SecretsSource;
  /** Presets rendered by `syncVariants` as soon as an original is uploaded. */
  readonly eagerPresets: readonly string[];
}

/** Where metrics go: a CloudWatch namespace, and the stage every metric carries as a dimension. */
export interface MetricsSettings {
  readonly namespace: string;
  readonly stage: string;
}

export interface Config {
  readonly originalsBucket: string;
  readonly originalsPrefix: string;
  /** Where `mark=<name>` finds `<prefix><name>`: a full key of the originals bucket, independent of originalsPrefix. */
  readonly watermarksPrefix: string;
  readonly variantsBucket: string;
  readonly variantsPrefix: string;
  readonly defaultQuality: number;
  readonly cacheMaxAge: number;
  readonly maxOriginalBytes: number;
  readonly maxInputPixels: number;
  readonly maxOutputPixels: number;
  readonly maxFrames: number;
  /** Recently read originals kept in memory (0: none). */
  readonly originalCacheBytes: number;
  /**
   * How a hit knows its variant is current. `strict`: it checks the original's ETag (one round
   * trip, two requests). `events`: `syncVariants` deletes a replaced original's variants, so a
   * hit reads the variant alone.
   */
  readonly freshness: 'strict' | 'events';
  /**
   * FRESHNESS=events only: variants served or stored in the last N seconds are answered from
   * memory (within `bytes`), without an S3 request; 0: off. A replaced original's old variant may
   * then be served for up to N seconds more after syncVariants has deleted it.
   */
  readonly hotVariants: { readonly seconds: number; readonly bytes: number };
  readonly maxInlineBytes: number;
  readonly presignedUrlTtl: number;
  readonly processingTimeoutMs: number;
  readonly s3: S3Settings;
  readonly signingSecrets: SecretsSource;
  readonly presets: Presets;
  readonly allowlist: AllowlistPolicy;
  readonly allowSvg: boolean;
  /** Foreign URL forms read as the query form (docs/migrating.md): SIH's base64 JSON paths, Thumbor paths. */
  readonly urlCompat: { readonly sih: boolean; readonly thumbor: boolean };
  readonly cors: CorsPolicy;
  readonly batch: BatchSettings;
  readonly edge: EdgeSettings;
  readonly metrics: MetricsSettings;
}

function sizeList(name: string, value: string | undefined): number[] {
  const items = (value ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  const sizes = items.map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 8192)) {
    throw new ConfigError(`Invalid configuration: ${name}: expected comma-separated integers from 1 to 8192`);
  }
  return [...new Set(sizes)].sort((a, b) => a - b);
}

type SecretVariable = { readonly name: string; readonly kind: SecretsSource['kind'] };

/**
 * Where a secret comes from, from the one of its variables that is set: inline (local use and
 * tests), an SSM parameter or a Secrets Manager secret. Setting two of them is an error.
 */
function secretsSource(env: Record<string, unknown>, variables: readonly SecretVariable[], noun?: string): SecretsSource {
  const given = variables.filter((v) => env[v.name]);
  if (given.length > 1) {
    throw new ConfigError(`Invalid configuration: set only one of ${variables.map((v) => v.name).join(', ')}`);
  }
  const chosen = given[0];
  const value = chosen && (env[chosen.name] as string);
  switch (chosen?.kind) {
    case 'inline':
      return { kind: 'inline', secrets: parseSecrets(value!, `Invalid configuration: ${chosen.name}`, noun) };
    case 'ssm':
      return { kind: 'ssm', name: value! };
    case 'secrets-manager':
      return { kind: 'secrets-manager', id: value! };
    default:
      return { kind: 'none' };
  }
}

const signingSource = (e: Record<string, unknown>) =>
  secretsSource(e, [
    { name: 'SIGNING_SECRETS', kind: 'inline' },
    { name: 'SIGNING_SECRETS_SSM_PARAMETER', kind: 'ssm' },
    { name: 'SIGNING_SECRETS_SECRET_ID', kind: 'secrets-manager' },
  ]);

function presetDefinitions(json: string | undefined): Record<string, string> {
  if (json === undefined) return { ...DEFAULT_PRESETS };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ConfigError('Invalid configuration: PRESETS: not valid JSON (expected {"name": "w=…&h=…", …})');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new ConfigError('Invalid configuration: PRESETS: expected a JSON object of name → query string');
  }
  return value as Record<string, string>;
}

function allowlistPolicy(e: { ALLOWLIST?: string; ALLOWED_WIDTHS?: string; ALLOWED_HEIGHTS?: string; SNAP_WIDTHS?: boolean }, presets: Presets): AllowlistPolicy {
  const modes = (e.ALLOWLIST ?? 'off').split(',').map((m) => m.trim().toLowerCase()).filter(Boolean);
  const unknown = modes.filter((m) => !['off', 'presets', 'widths'].includes(m));
  if (unknown.length > 0 || (modes.includes('off') && modes.length > 1)) {
    throw new ConfigError('Invalid configuration: ALLOWLIST: expected off, presets, widths or presets,widths');
  }
  const policy = {
    presets: modes.includes('presets'),
    widths: modes.includes('widths'),
    allowedWidths: sizeList('ALLOWED_WIDTHS', e.ALLOWED_WIDTHS),
    allowedHeights: sizeList('ALLOWED_HEIGHTS', e.ALLOWED_HEIGHTS),
    snapWidths: e.SNAP_WIDTHS ?? false,
  };
  if (policy.widths && policy.allowedWidths.length === 0) {
    throw new ConfigError('Invalid configuration: ALLOWED_WIDTHS must list at least one width when ALLOWLIST includes widths');
  }
  if (policy.presets && presets.size === 0) {
    throw new ConfigError('Invalid configuration: PRESETS must define at least one preset when ALLOWLIST includes presets');
  }
  return policy;
}

/** `thumbor,sih` (the default), either alone, or `none` for buckets whose keys look like those forms. */
function urlCompat(value: string | undefined): Config['urlCompat'] {
  const forms = (value ?? 'thumbor,sih').split(',').map((f) => f.trim().toLowerCase()).filter(Boolean);
  const unknown = forms.filter((f) => !['thumbor', 'sih', 'none'].includes(f));
  if (unknown.length > 0 || forms.length === 0 || (forms.includes('none') && forms.length > 1)) {
    throw new ConfigError('Invalid configuration: URL_COMPAT: expected thumbor, sih, thumbor,sih or none');
  }
  return Object.freeze({ sih: forms.includes('sih'), thumbor: forms.includes('thumbor') });
}

function corsPolicy(e: { CORS_ORIGINS?: string; CORS_CREDENTIALS?: boolean }): CorsPolicy {
  const origins = (e.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    let valid = origin === '*';
    try {
      valid ||= new URL(origin).origin === origin;
    } catch {
      valid = false;
    }
    if (!valid) throw new ConfigError(`Invalid configuration: CORS_ORIGINS: "${origin}" is not an origin such as https://example.com`);
  }
  const credentials = e.CORS_CREDENTIALS ?? false;
  if (credentials && origins.includes('*')) {
    throw new ConfigError('Invalid configuration: CORS_CREDENTIALS cannot be combined with CORS_ORIGINS=* (browsers refuse it, and it would expose credentials to every site)');
  }
  return { origins, credentials };
}

const list = (value: string | undefined) => (value ?? '').split(',').map((v) => v.trim()).filter(Boolean);

function batchSettings(e: z.infer<typeof envSchema>, variantsPrefix: string): BatchSettings {
  const parsed = prefix.safeParse(e.BATCH_REPORTS_PREFIX?.trim() || `${variantsPrefix}batch-reports/`);
  if (!parsed.success) {
    throw new ConfigError(`Invalid configuration: BATCH_REPORTS_PREFIX: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  // Reports must not land where variant keys live (`<variants prefix>v2/…`) or among originals.
  if (parsed.data === '' || (parsed.data.startsWith(variantsPrefix) && /^v\d+\//.test(parsed.data.slice(variantsPrefix.length)))) {
    throw new ConfigError('Invalid configuration: BATCH_REPORTS_PREFIX must be a non-empty prefix outside the variant keys');
  }
  return Object.freeze({
    reportsPrefix: parsed.data,
    progressSeconds: e.BATCH_PROGRESS_SECONDS,
    cluster: e.BATCH_CLUSTER,
    taskDefinition: e.BATCH_TASK_DEFINITION,
    containerName: e.BATCH_CONTAINER_NAME ?? 'worker',
    subnets: list(e.BATCH_SUBNETS),
    securityGroups: list(e.BATCH_SECURITY_GROUPS),
    assignPublicIp: e.BATCH_ASSIGN_PUBLIC_IP ?? false,
    ecsEndpoint: e.ECS_ENDPOINT,
    region: e.AWS_REGION ?? 'us-east-1',
    ecsCredentials: standInCredentials(e, e.ECS_ENDPOINT),
    launchDryRun: e.IS_LOCAL === 'true' && e.ECS_ENDPOINT === undefined,
  });
}

const originVerifySource = (e: Record<string, unknown>) =>
  secretsSource(
    e,
    [
      { name: 'ORIGIN_VERIFY_SECRET', kind: 'inline' },
      { name: 'ORIGIN_VERIFY_SECRET_ID', kind: 'secrets-manager' },
      { name: 'ORIGIN_VERIFY_SSM_PARAMETER', kind: 'ssm' },
    ],
    'origin-verify secret',
  );

/** Credentials for a stand-in endpoint (tests, `sls invoke local`); in AWS, the default provider chain. */
const standInCredentials = (e: z.infer<typeof envSchema>, endpoint: string | undefined) =>
  endpoint === undefined ? undefined : { accessKeyId: e.AWS_ACCESS_KEY_ID ?? 'local', secretAccessKey: e.AWS_SECRET_ACCESS_KEY ?? 'local' };

function edgeSettings(e: z.infer<typeof envSchema>, presets: Presets): EdgeSettings {
  const eagerPresets = list(e.EAGER_PRESETS).map((name) => name.toLowerCase());
  const unknown = eagerPresets.filter((name) => !presets.has(name));
  if (unknown.length > 0) {
    throw new ConfigError(`Invalid configuration: EAGER_PRESETS: ${unknown.map((n) => `"${n}"`).join(', ')} not in PRESETS (${[...presets.keys()].join(', ')})`);
  }
  return Object.freeze({
    distributionId: e.CDN_DISTRIBUTION_ID,
    cloudfrontEndpoint: e.CLOUDFRONT_ENDPOINT,
    region: e.AWS_REGION ?? 'us-east-1',
    cloudfrontCredentials: standInCredentials(e, e.CLOUDFRONT_ENDPOINT),
    cdnMaxAge: e.CDN_MAX_AGE,
    errorMaxAge: e.ERROR_MAX_AGE,
    originVerify: originVerifySource(e),
    eagerPresets: [...new Set(eagerPresets)],
  });
}

/** How `npm run serve` (the engine) listens and how much it takes on. */
export interface EngineSettings {
  readonly port: number;
  readonly host: string;
  /** Requests in the handler at once (ENGINE_CONCURRENCY; default 2 × CPUs). */
  readonly concurrency: number;
  /** Requests waiting for a turn before 503 (ENGINE_QUEUE; default 4 × concurrency). */
  readonly queue: number;
  /** How long SIGTERM waits for in-flight and queued requests (ENGINE_DRAIN_SECONDS; default 25). */
  readonly drainSeconds: number;
}

const engineSchema = z.object({
  PORT: int(0, 65535, 3000),
  HOST: optionalString,
  ENGINE_CONCURRENCY: int(1, 1024, 2 * availableParallelism()),
  ENGINE_QUEUE: z.pipe(z.transform(blankToUndefined), z.optional(z.coerce.number().check(z.refine(Number.isInteger, 'expected an integer'), z.minimum(0), z.maximum(100_000)))),
  ENGINE_DRAIN_SECONDS: int(0, 3600, 25),
});

export function loadEngineSettings(env: Record<string, string | undefined> = process.env): EngineSettings {
  const parsed = engineSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST ?? '127.0.0.1',
    concurrency: e.ENGINE_CONCURRENCY,
    queue: e.ENGINE_QUEUE ?? 4 * e.ENGINE_CONCURRENCY,
    drainSeconds: e.ENGINE_DRAIN_SECONDS,
  };
}

export { ConfigError };

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
  // A watermark name must never reach a variant (or a report): `mark=v2/…` would read the cache.
  if (sameBucket && (e.WATERMARKS_PREFIX.startsWith(variantsPrefix) || variantsPrefix.startsWith(e.WATERMARKS_PREFIX))) {
    throw new ConfigError('Invalid configuration: WATERMARKS_PREFIX and VARIANTS_PREFIX must not contain one another when VARIANTS_BUCKET equals ORIGINALS_BUCKET');
  }
  // Strict freshness means every hit checks the original: nothing may answer from memory alone.
  if (e.HOT_VARIANT_SECONDS > 0 && e.FRESHNESS !== 'events') {
    throw new ConfigError('Invalid configuration: HOT_VARIANT_SECONDS needs FRESHNESS=events (strict freshness checks the original on every hit)');
  }
  const presets = parsePresets(presetDefinitions(e.PRESETS));
  return Object.freeze({
    signingSecrets: signingSource(e),
    presets,
    allowlist: allowlistPolicy(e, presets),
    allowSvg: e.ALLOW_SVG ?? false,
    urlCompat: urlCompat(e.URL_COMPAT),
    cors: corsPolicy(e),
    batch: batchSettings(e, variantsPrefix),
    edge: edgeSettings(e, presets),
    metrics: Object.freeze({ namespace: e.POWERTOOLS_METRICS_NAMESPACE, stage: e.STAGE }),
    originalsBucket: e.ORIGINALS_BUCKET,
    originalsPrefix: e.ORIGINALS_PREFIX,
    watermarksPrefix: e.WATERMARKS_PREFIX,
    variantsBucket: e.VARIANTS_BUCKET,
    variantsPrefix,
    defaultQuality: e.DEFAULT_QUALITY,
    cacheMaxAge: e.CACHE_MAX_AGE,
    maxOriginalBytes: e.MAX_ORIGINAL_BYTES,
    maxInputPixels: e.MAX_INPUT_PIXELS,
    maxOutputPixels: e.MAX_OUTPUT_PIXELS,
    maxFrames: e.MAX_FRAMES,
    originalCacheBytes: e.ORIGINAL_CACHE_BYTES,
    freshness: e.FRESHNESS ?? 'strict',
    hotVariants: Object.freeze({ seconds: e.HOT_VARIANT_SECONDS, bytes: e.HOT_VARIANT_BYTES }),
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
