import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { ImageServiceError } from '../errors.js';
import { validateKey } from '../request/original-key.js';
import { interpretParams, queryEntries } from '../request/parse-request.js';
import { PRESET_PARAM } from '../request/presets.js';
import { requestRules } from '../http/resize-handler.js';
import { buildSpec, canonicalString, type TransformSpec } from '../transform/spec.js';
import { BatchUsageError } from './errors.js';
import { parseS3Uri, type S3Location } from './s3-uri.js';

/**
 * A batch job, validated: what to render (a prefix or a manifest) times which variants, and
 * where the report goes. The CLI (`npm run batch -- …`), the container's command on Fargate and
 * `startBatch` all go through `parseBatchArgs`, so a job that starts is a job that can run.
 */

export type ManifestFormat = 'csv' | 'inventory' | 'text';
export const MANIFEST_FORMATS: readonly ManifestFormat[] = ['csv', 'inventory', 'text'];

export type JobSource =
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'manifest'; readonly location: S3Location; readonly format?: ManifestFormat };

/** One rendered variant per entry: `fm=auto` has become its AVIF, WebP and fallback entries. */
export interface JobVariant {
  /** What the operator asked for (`preset=thumb`, `w=320&fm=webp`), for the report. */
  readonly request: string;
  readonly spec: TransformSpec;
  /** The canonical spec text, as in the variant's metadata. */
  readonly canonical: string;
}

export interface ReportLocation {
  readonly bucket: string;
  /** The JSON-lines report of failed items. */
  readonly reportKey: string;
  readonly summaryKey: string;
}

export interface BatchJob {
  readonly jobId: string;
  readonly source: JobSource;
  readonly variants: readonly JobVariant[];
  readonly concurrency: number;
  readonly dryRun: boolean;
  readonly report: ReportLocation;
  /** After SIGTERM, how long in-flight items may take before they are abandoned. */
  readonly graceSeconds: number;
}

/** The JSON form of a job, as `startBatch` receives it. */
export interface JobRequest {
  readonly prefix?: string;
  readonly manifest?: string;
  readonly manifestFormat?: string;
  readonly presets?: readonly string[] | string;
  readonly specs?: readonly string[] | string;
  readonly concurrency?: number;
  readonly dryRun?: boolean;
  readonly report?: string;
  readonly jobId?: string;
  readonly graceSeconds?: number;
}

export const USAGE = `Usage: npm run batch -- (--prefix P | --manifest s3://bucket/key) (--preset a,b | --spec QUERY)... [options]

Renders and stores variants ahead of traffic, exactly as the HTTP API would store them.

  --prefix P             every original under P (relative to ORIGINALS_PREFIX, as in URLs; "" for all)
  --manifest s3://b/k    a CSV of bucket,key rows (S3 Batch Operations), an S3 Inventory
                         manifest.json, or plain text with one key per line
  --manifest-format F    csv | inventory | text (default: from the file's name and first line)
  --preset a,b           configured presets (PRESETS); repeatable
  --spec QUERY           any URL query, e.g. "w=320&fm=webp"; repeatable. fm=auto renders AVIF,
                         WebP and the JPEG/PNG fallback
  --concurrency N        originals in flight (default: 2 × CPUs)
  --dry-run              count what would be rendered; write nothing
  --report s3://b/p/     where the report and summary go (default: s3://VARIANTS_BUCKET/BATCH_REPORTS_PREFIX)
  --job-id ID            names the report folder (default: the start time and a random suffix)
  --grace-seconds N      after SIGTERM, time for in-flight items before they are abandoned (default 25)

Exit codes: 0 all done or skipped, 1 some items failed, 2 could not start or proceed (or stopped early).
The last line of stdout is the summary as JSON.`;

const MAX_CONCURRENCY = 256;
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The Accept headers that make `fm=auto` pick each of its formats. */
const AUTO_ACCEPTS = ['image/avif,image/webp', 'image/webp', undefined] as const;

export function defaultConcurrency(): number {
  return Math.max(2, availableParallelism() * 2);
}

function newJobId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(36).slice(2, 8)}`;
}

function integerOption(name: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new BatchUsageError(`--${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** Every variant one requested query makes: one, or three for `fm=auto`. */
export function expandVariants(request: string, config: Config): JobVariant[] {
  const rules = requestRules(config);
  let built;
  try {
    const { params } = interpretParams(queryEntries(request), rules);
    const context = { defaultQuality: config.defaultQuality, maxOutputPixels: config.maxOutputPixels };
    built = AUTO_ACCEPTS.map((accept) => buildSpec(params, { ...context, accept }));
  } catch (error) {
    if (error instanceof ImageServiceError) throw new BatchUsageError(`"${request}": ${error.message}`);
    throw error;
  }
  const variants = built[0]!.varyAccept ? built : [built[0]!];
  return variants.map(({ spec }) => ({ request, spec, canonical: canonicalString(spec) }));
}

function reportLocation(config: Config, jobId: string, uri: string | undefined): ReportLocation {
  if (uri === undefined) {
    const folder = `${config.batch.reportsPrefix}${jobId}/`;
    return { bucket: config.variantsBucket, reportKey: `${folder}report.jsonl`, summaryKey: `${folder}summary.json` };
  }
  const location = parseS3Uri(uri, '--report');
  // `s3://b/reports/run.jsonl` names the report itself; anything else is a folder for the job.
  if (location.key.endsWith('.jsonl')) {
    return { bucket: location.bucket, reportKey: location.key, summaryKey: location.key.replace(/\.jsonl$/, '.summary.json') };
  }
  const folder = location.key === '' || location.key.endsWith('/') ? location.key : `${location.key}/`;
  return { bucket: location.bucket, reportKey: `${folder}${jobId}/report.jsonl`, summaryKey: `${folder}${jobId}/summary.json` };
}

/** Validates options without touching storage: every mistake here is exit code 2. */
export function parseBatchArgs(argv: readonly string[], config: Config, now = new Date()): BatchJob {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        prefix: { type: 'string' },
        manifest: { type: 'string' },
        'manifest-format': { type: 'string' },
        preset: { type: 'string', multiple: true },
        spec: { type: 'string', multiple: true },
        concurrency: { type: 'string' },
        'dry-run': { type: 'boolean' },
        report: { type: 'string' },
        'job-id': { type: 'string' },
        'grace-seconds': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new BatchUsageError((error as Error).message);
  }

  if ((values.prefix === undefined) === (values.manifest === undefined)) {
    throw new BatchUsageError('give exactly one of --prefix and --manifest');
  }
  let source: JobSource;
  if (values.prefix !== undefined) {
    const prefix = values.prefix.replace(/^\/+/, '');
    if (prefix !== '') {
      try {
        validateKey(prefix, requestRules(config));
      } catch (error) {
        throw new BatchUsageError(`--prefix "${values.prefix}": ${(error as Error).message}`);
      }
    }
    if (values['manifest-format'] !== undefined) throw new BatchUsageError('--manifest-format goes with --manifest');
    source = { kind: 'prefix', prefix };
  } else {
    const format = values['manifest-format'];
    if (format !== undefined && !(MANIFEST_FORMATS as readonly string[]).includes(format)) {
      throw new BatchUsageError(`--manifest-format: expected one of ${MANIFEST_FORMATS.join(', ')}, got "${format}"`);
    }
    const location = parseS3Uri(values.manifest!, '--manifest');
    if (location.key === '' || location.key.endsWith('/')) throw new BatchUsageError(`--manifest "${values.manifest}" names no object`);
    source = { kind: 'manifest', location, format: format as ManifestFormat | undefined };
  }

  const presetNames = (values.preset ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  for (const name of presetNames) {
    if (!config.presets.has(name.toLowerCase())) {
      const known = [...config.presets.keys()].join(', ') || 'none are configured';
      throw new BatchUsageError(`--preset: unknown preset "${name}". Available presets: ${known}.`);
    }
  }
  const requests = [
    ...presetNames.map((name) => `${PRESET_PARAM}=${encodeURIComponent(name.toLowerCase())}`),
    ...(values.spec ?? []).map((s) => s.trim().replace(/^\?/, '')),
  ];
  if (requests.length === 0) throw new BatchUsageError('give at least one --preset or --spec');
  for (const request of requests) {
    if (request === '') throw new BatchUsageError('--spec: empty query (give parameters such as "w=320&fm=webp")');
  }
  const seen = new Set<string>();
  const variants = requests.flatMap((r) => expandVariants(r, config)).filter((v) => !seen.has(v.canonical) && Boolean(seen.add(v.canonical)));

  const jobId = values['job-id'] ?? newJobId(now);
  if (!JOB_ID.test(jobId)) throw new BatchUsageError(`--job-id "${jobId}": letters, digits, ".", "_" and "-" only, at most 100`);
  return {
    jobId,
    source,
    variants,
    concurrency: integerOption('concurrency', values.concurrency, 1, MAX_CONCURRENCY, defaultConcurrency()),
    dryRun: values['dry-run'] ?? false,
    report: reportLocation(config, jobId, values.report),
    graceSeconds: integerOption('grace-seconds', values['grace-seconds'], 0, 3600, 25),
  };
}

/** The command-line form of a JSON job request (what `startBatch` passes to the container). */
export function jobRequestToArgs(request: JobRequest): string[] {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new BatchUsageError('the job must be a JSON object such as {"prefix": "photos/", "presets": ["thumb"]}');
  }
  const known = new Set(['prefix', 'manifest', 'manifestFormat', 'presets', 'specs', 'concurrency', 'dryRun', 'report', 'jobId', 'graceSeconds']);
  const unknown = Object.keys(request).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new BatchUsageError(`unknown job field(s): ${unknown.join(', ')}`);
  const strings = (name: string, value: unknown): string[] => {
    if (value === undefined) return [];
    const items = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(items) || items.some((i) => typeof i !== 'string')) {
      throw new BatchUsageError(`"${name}" must be a string or an array of strings`);
    }
    return items as string[];
  };
  const scalar = (name: string, value: unknown, type: 'string' | 'number') => {
    if (value === undefined) return [];
    if (typeof value !== type) throw new BatchUsageError(`"${name}" must be a ${type}`);
    return [String(value)];
  };
  const args: string[] = [];
  const add = (flag: string, values: string[]) => values.forEach((v) => args.push(`--${flag}`, v));
  add('prefix', scalar('prefix', request.prefix, 'string'));
  add('manifest', scalar('manifest', request.manifest, 'string'));
  add('manifest-format', scalar('manifestFormat', request.manifestFormat, 'string'));
  add('preset', strings('presets', request.presets));
  add('spec', strings('specs', request.specs));
  add('concurrency', scalar('concurrency', request.concurrency, 'number'));
  add('report', scalar('report', request.report, 'string'));
  add('job-id', scalar('jobId', request.jobId, 'string'));
  add('grace-seconds', scalar('graceSeconds', request.graceSeconds, 'number'));
  if (request.dryRun !== undefined) {
    if (typeof request.dryRun !== 'boolean') throw new BatchUsageError('"dryRun" must be true or false');
    if (request.dryRun) args.push('--dry-run');
  }
  return args;
}
