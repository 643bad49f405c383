import type { Config } from '../config.js';
import type { ObjectStore } from '../storage/image-store.js';
import { BatchSourceError } from './errors.js';
import type { BatchJob } from './job.js';
import { openManifest } from './manifest.js';
import type { OriginalTask } from './pregenerate.js';

/** What a job renders: its originals, one at a time, and how many there are when that is known. */
export interface JobSourceStream {
  /** Known for manifests (counted in a first pass); listings are only counted as they go. */
  readonly totalOriginals?: number;
  tasks(): AsyncIterable<OriginalTask>;
}

/** Keys in the originals listing that are not originals: the service's own objects (same bucket). */
function ownObjects(config: Config): string[] {
  if (config.originalsBucket !== config.variantsBucket) return [];
  return [config.variantsPrefix, config.batch.reportsPrefix];
}

async function* listing(objects: ObjectStore, config: Config, prefix: string): AsyncIterable<OriginalTask> {
  const excluded = ownObjects(config);
  for await (const object of objects.listObjects(config.originalsBucket, config.originalsPrefix + prefix)) {
    // "Folders" made by the S3 console are empty keys ending in "/": nothing to render.
    if (object.key.endsWith('/') && object.size === 0) continue;
    if (excluded.some((p) => object.key.startsWith(p))) continue;
    yield { key: object.key, etag: object.etag, size: object.size };
  }
}

/**
 * Opens the job's source, checking before any work that everything it needs exists: the
 * buckets, and the manifest (read through once to count it, so a manifest that does not
 * parse stops the job here rather than halfway).
 */
export async function openSource(job: BatchJob, objects: ObjectStore, config: Config): Promise<JobSourceStream> {
  const buckets = new Set([config.originalsBucket, config.variantsBucket, job.report.bucket]);
  if (job.source.kind === 'manifest') buckets.add(job.source.location.bucket);
  for (const bucket of buckets) {
    if (!(await objects.bucketExists(bucket))) throw new BatchSourceError(`bucket "${bucket}" does not exist or is not accessible`);
  }
  if (job.source.kind === 'prefix') {
    const prefix = job.source.prefix;
    return { tasks: () => listing(objects, config, prefix) };
  }
  const manifest = await openManifest(objects, job.source.location, config.originalsBucket, job.source.format);
  let totalOriginals = 0;
  try {
    for await (const _ of manifest.tasks()) totalOriginals++;
  } catch (error) {
    if (error instanceof BatchSourceError) throw error;
    if ((error as { code?: string }).code?.startsWith('CSV_') || (error as { code?: string }).code === 'Z_DATA_ERROR') {
      throw new BatchSourceError(`manifest ${job.source.location.key} cannot be read as ${manifest.format}: ${(error as Error).message}`);
    }
    throw error;
  }
  return { totalOriginals, tasks: () => manifest.tasks() };
}
