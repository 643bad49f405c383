import { ConfigError, StorageUnavailableError } from '../errors.js';

/** The worker's exit codes, decided here and nowhere else. */
export const EXIT = {
  /** Every item rendered or skipped. */
  ok: 0,
  /** The run finished, but some items failed (see the report). */
  itemsFailed: 1,
  /** The run could not start (bad options, unreadable manifest, missing bucket) or proceed. */
  cannotRun: 2,
} as const;

/** A bad option or job field: reported with what was wrong, before any work. */
export class BatchUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchUsageError';
  }
}

/** The job's inputs exist in the options but not in storage (a missing bucket or manifest). */
export class BatchSourceError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'BatchSourceError';
  }
}

/** Storage stopped answering mid-run: continuing would only record every item as failed. */
export class StorageLostError extends Error {
  constructor(cause: unknown) {
    super('storage is unreachable: stopped the run', { cause });
    this.name = 'StorageLostError';
  }
}

/** A message for the operator: what went wrong, without a stack trace. */
export function describeFailure(error: unknown): string {
  if (error instanceof BatchUsageError) return `invalid options: ${error.message}`;
  if (error instanceof ConfigError) return error.message;
  if (error instanceof BatchSourceError) return error.message;
  if ((error as { code?: string })?.code?.startsWith('CSV_') || (error as { code?: string })?.code === 'Z_DATA_ERROR') {
    return `the manifest could not be read: ${(error as Error).message}`;
  }
  if (error instanceof StorageLostError || error instanceof StorageUnavailableError) {
    const cause = (error as { cause?: { message?: string; name?: string } }).cause;
    const detail = cause?.name ?? cause?.message;
    return `storage is unreachable${detail ? ` (${detail})` : ''}`;
  }
  return `internal error: ${(error as Error)?.message ?? String(error)}`;
}
