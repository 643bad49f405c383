import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObjectStore } from '../storage/image-store.js';
import type { VariantOutcome } from './pregenerate.js';

/**
 * The JSON-lines report of failed variants. Lines go to a local file as they happen (memory
 * stays flat however many fail) and the file is uploaded in one PUT at the end, so the report
 * in S3 is always whole.
 */
export interface FailureReport {
  add(originalKey: string, outcome: VariantOutcome): Promise<void>;
  readonly lines: number;
  /** Uploads the report; returns its size in bytes. */
  upload(objects: ObjectStore, bucket: string, key: string): Promise<number>;
  discard(): void;
}

const IN_MEMORY_LIMIT = 256 * 1024 * 1024;

export interface ReportLine {
  readonly key: string;
  /** What the job asked for (`preset=thumb`, `w=320&fm=auto`) and the variant it made of it. */
  readonly request: string;
  readonly spec: string;
  readonly variantKey?: string;
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

export function createFailureReport(): FailureReport {
  const folder = mkdtempSync(join(tmpdir(), 'batch-report-'));
  const path = join(folder, 'report.jsonl');
  const file = createWriteStream(path);
  let lines = 0;
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    file.end();
    await once(file, 'close');
  };

  return {
    get lines() {
      return lines;
    },
    async add(originalKey, outcome) {
      const error = outcome.error;
      const line: ReportLine = {
        key: originalKey,
        request: outcome.variant.request,
        spec: outcome.variant.canonical,
        variantKey: outcome.variantKey,
        code: error?.code ?? 'unknown',
        status: error?.statusCode ?? 500,
        // Only messages meant for people are kept; internal ones may hold SDK or library detail.
        message: error?.expose ? error.message : `${error?.message ?? 'failed'}${causeOf(error)}`,
      };
      lines++;
      if (!file.write(`${JSON.stringify(line)}\n`)) await once(file, 'drain');
    },
    async upload(objects, bucket, key) {
      await close();
      const size = statSync(path).size;
      // A body in memory is sent with a plain Content-Length (which every S3-compatible store
      // reads); only a report too large to hold is streamed, in S3's aws-chunked encoding.
      const body = size <= IN_MEMORY_LIMIT ? readFileSync(path) : createReadStream(path);
      await objects.writeObject(bucket, key, body, size, 'application/x-ndjson');
      return size;
    },
    discard() {
      file.destroy();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { name?: string; message?: string } } | undefined)?.cause;
  if (!cause) return '';
  return ` (${[cause.name, cause.message].filter(Boolean).join(': ').slice(0, 300)})`;
}
