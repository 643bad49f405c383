import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse';
import { InvalidRequestError } from '../errors.js';
import type { ObjectStore } from '../storage/image-store.js';
import { BatchSourceError } from './errors.js';
import type { ManifestFormat } from './job.js';
import type { OriginalTask } from './pregenerate.js';
import { s3Uri, type S3Location } from './s3-uri.js';

/**
 * Manifests, read as streams so a list of millions of keys never sits in memory:
 * - csv: `bucket,key[,versionId]` rows with URL-encoded keys (S3 Batch Operations);
 * - inventory: an S3 Inventory `manifest.json` pointing at gzipped CSV data files;
 * - text: one key per line, as is.
 * Keys are full object keys of the originals bucket, as S3's own tools write them.
 */

export interface Manifest {
  readonly format: ManifestFormat;
  /** The rows, read again from storage on each call. */
  tasks(): AsyncIterable<OriginalTask>;
}

interface InventoryManifest {
  readonly bucket: string;
  readonly files: readonly string[];
  readonly columns: readonly string[];
}

const badRow = (message: string) => new InvalidRequestError('invalid_manifest_row', message);

/** S3's manifests encode keys as HTML forms do: `+` for a space, `%2B` for a plus. */
function decodeKey(raw: string): string | InvalidRequestError {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return badRow(`The key "${raw.slice(0, 200)}" is not valid URL encoding.`);
  }
}

function rowTask(bucketColumn: string | undefined, rawKey: string | undefined, originalsBucket: string, line: number): OriginalTask | undefined {
  if (rawKey === undefined || rawKey === '') return { key: `(line ${line})`, problem: badRow(`Line ${line} has no key.`) };
  const key = decodeKey(rawKey);
  if (typeof key !== 'string') return { key: rawKey, problem: key };
  if (bucketColumn !== undefined && bucketColumn !== originalsBucket) {
    return { key, problem: badRow(`Line ${line} names bucket "${bucketColumn.slice(0, 63)}", not the originals bucket "${originalsBucket}".`) };
  }
  return { key };
}

async function open(objects: ObjectStore, location: S3Location, what: string): Promise<AsyncIterable<Uint8Array>> {
  const body = await objects.readObject(location.bucket, location.key);
  if (!body) throw new BatchSourceError(`${what} ${s3Uri(location.bucket, location.key)} does not exist`);
  return body;
}

async function* lines(body: AsyncIterable<Uint8Array>, gzipped = false): AsyncIterable<string> {
  let stream: NodeJS.ReadableStream = Readable.from(body);
  if (gzipped) stream = stream.pipe(createGunzip());
  yield* createInterface({ input: stream, crlfDelay: Infinity });
}

async function* csvRows(body: AsyncIterable<Uint8Array>, gzipped = false): AsyncIterable<string[]> {
  let stream: NodeJS.ReadableStream = Readable.from(body);
  if (gzipped) stream = stream.pipe(createGunzip());
  yield* stream.pipe(parseCsv({ relax_column_count: true, skip_empty_lines: true, trim: true, bom: true })) as AsyncIterable<string[]>;
}

async function readInventoryManifest(objects: ObjectStore, location: S3Location): Promise<InventoryManifest> {
  let text = '';
  for await (const chunk of await open(objects, location, 'manifest')) {
    text += Buffer.from(chunk).toString('utf8');
    if (text.length > 64 * 1024 * 1024) throw new BatchSourceError('manifest.json is larger than 64 MB: not an S3 Inventory manifest');
  }
  let json: { destinationBucket?: unknown; fileFormat?: unknown; fileSchema?: unknown; files?: unknown };
  try {
    json = JSON.parse(text);
  } catch {
    throw new BatchSourceError(`${s3Uri(location.bucket, location.key)} is not valid JSON (expected an S3 Inventory manifest.json)`);
  }
  if (json.fileFormat !== 'CSV') {
    throw new BatchSourceError(`S3 Inventory format "${String(json.fileFormat)}" is not supported: configure the inventory as CSV`);
  }
  if (typeof json.fileSchema !== 'string' || !Array.isArray(json.files)) {
    throw new BatchSourceError('S3 Inventory manifest.json has no fileSchema or files');
  }
  const columns = json.fileSchema.split(',').map((c) => c.trim());
  if (!columns.includes('Key')) throw new BatchSourceError('S3 Inventory fileSchema has no Key column');
  // The data files sit in the destination bucket (an ARN); without one, next to the manifest.
  const destination = typeof json.destinationBucket === 'string' ? json.destinationBucket.replace(/^arn:aws[a-z-]*:s3:::/, '') : location.bucket;
  const files = json.files.map((f: { key?: unknown }) => f?.key);
  if (files.some((f) => typeof f !== 'string')) throw new BatchSourceError('S3 Inventory manifest.json lists a file without a key');
  return { bucket: destination, files: files as string[], columns };
}

async function* inventoryTasks(objects: ObjectStore, inventory: InventoryManifest, originalsBucket: string): AsyncIterable<OriginalTask> {
  const at = (name: string) => inventory.columns.indexOf(name);
  const [bucket, key, isLatest, isDeleteMarker] = [at('Bucket'), at('Key'), at('IsLatest'), at('IsDeleteMarker')];
  for (const file of inventory.files) {
    let line = 0;
    for await (const row of csvRows(await open(objects, { bucket: inventory.bucket, key: file }, 'inventory data file'), file.endsWith('.gz'))) {
      line++;
      // Versioned inventories list every version: only the current one is served.
      if (isLatest >= 0 && row[isLatest] !== 'true') continue;
      if (isDeleteMarker >= 0 && row[isDeleteMarker] === 'true') continue;
      const task = rowTask(bucket >= 0 ? row[bucket] : undefined, row[key], originalsBucket, line);
      if (task) yield task;
    }
  }
}

/** Which kind of manifest this is, from its name, else from its first bytes. */
async function detectFormat(objects: ObjectStore, location: S3Location): Promise<ManifestFormat> {
  const name = location.key.toLowerCase();
  if (name.endsWith('.json')) return 'inventory';
  if (name.endsWith('.csv') || name.endsWith('.csv.gz')) return 'csv';
  if (name.endsWith('.txt')) return 'text';
  for await (const first of lines(await open(objects, location, 'manifest'), name.endsWith('.gz'))) {
    if (first.trim() === '') continue;
    if (first.trimStart().startsWith('{')) return 'inventory';
    return /^"?[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"?,/.test(first) ? 'csv' : 'text';
  }
  return 'text';
}

/**
 * Opens a manifest: it must exist and parse (exit code 2 otherwise) before any work starts.
 */
export async function openManifest(objects: ObjectStore, location: S3Location, originalsBucket: string, format?: ManifestFormat): Promise<Manifest> {
  const kind = format ?? (await detectFormat(objects, location));
  const gzipped = location.key.toLowerCase().endsWith('.gz');
  if (kind === 'inventory') {
    const inventory = await readInventoryManifest(objects, location);
    return { format: kind, tasks: () => inventoryTasks(objects, inventory, originalsBucket) };
  }
  // Reading the first bytes now turns a missing or forbidden manifest into an error before work.
  const probe = await open(objects, location, 'manifest');
  (probe as unknown as { destroy?: () => void }).destroy?.();
  if (kind === 'csv') {
    return {
      format: kind,
      async *tasks() {
        let line = 0;
        for await (const row of csvRows(await open(objects, location, 'manifest'), gzipped)) {
          line++;
          const task = rowTask(row[0], row[1], originalsBucket, line);
          if (task) yield task;
        }
      },
    };
  }
  return {
    format: kind,
    async *tasks() {
      for await (const line of lines(await open(objects, location, 'manifest'), gzipped)) {
        if (line.trim() !== '') yield { key: line.replace(/\r$/, '') };
      }
    },
  };
}
