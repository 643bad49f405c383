import type { Config } from '../config.js';
import type { ImageStore } from '../storage/image-store.js';
import { EXIT, StorageLostError } from './errors.js';
import type { BatchJob } from './job.js';
import { pregenerateOriginal, type OriginalTask, type VariantOutcome } from './pregenerate.js';
import type { FailureReport } from './report.js';
import type { JobSourceStream } from './sources.js';

export interface Counts {
  done: number;
  skipped: number;
  failed: number;
  wouldRender: number;
  abandoned: number;
  originals: number;
  bytesIn: number;
  bytesOut: number;
}

export interface RunOutcome {
  readonly counts: Counts;
  /** Why the run ended before its source did: a stop signal, or storage that stopped answering. */
  readonly stopped?: 'SIGTERM' | 'SIGINT' | 'storage-unreachable' | 'source-unreadable';
  /** What made it stop, when that was an error. */
  readonly error?: unknown;
  readonly durationSeconds: number;
}

export interface RunDeps {
  readonly config: Config;
  readonly store: ImageStore;
  readonly report: FailureReport;
  /** Aborted (with the signal's name as reason) to stop taking new originals. */
  readonly stop: AbortSignal;
  /** Called after each original, for progress. */
  readonly onProgress?: (counts: Readonly<Counts>) => void;
}

/** Consecutive originals lost to storage errors before the run gives up (exit code 2). */
const STORAGE_FAILURE_LIMIT = 20;

export function emptyCounts(): Counts {
  return { done: 0, skipped: 0, failed: 0, wouldRender: 0, abandoned: 0, originals: 0, bytesIn: 0, bytesOut: 0 };
}

/**
 * The pool: `job.concurrency` loops, each taking the next original from the source as it
 * becomes free. The source is pulled, never buffered, so memory is that of the originals in
 * flight whatever the job's size; while one loop waits on S3 another renders, so the CPU stays
 * busy. After `stop`, no new original is taken; in-flight ones get `graceSeconds` to finish,
 * then nothing more is written and the run returns.
 */
export async function runBatch(job: BatchJob, source: JobSourceStream, deps: RunDeps): Promise<RunOutcome> {
  const started = performance.now();
  const counts = emptyCounts();
  const abandon = new AbortController();
  const tasks = source.tasks()[Symbol.asyncIterator]();
  let storageFailures = 0;
  let lost: StorageLostError | undefined;
  let sourceError: unknown;
  let inFlight = 0;

  const next = async (): Promise<OriginalTask | undefined> => {
    if (deps.stop.aborted || lost || sourceError) return undefined;
    try {
      const item = await tasks.next();
      return item.done ? undefined : item.value;
    } catch (error) {
      sourceError ??= error;
      return undefined;
    }
  };

  const record = async (outcomes: VariantOutcome[], task: OriginalTask) => {
    counts.originals++;
    for (const outcome of outcomes) {
      if (outcome.status === 'done') counts.done++;
      else if (outcome.status === 'skipped') counts.skipped++;
      else if (outcome.status === 'would-render') counts.wouldRender++;
      else if (outcome.status === 'abandoned') counts.abandoned++;
      else counts.failed++;
      counts.bytesIn += outcome.bytesIn ?? 0;
      counts.bytesOut += outcome.bytesOut ?? 0;
      if (outcome.status === 'failed') await deps.report.add(task.key, outcome);
    }
    const storageDown = outcomes.length > 0 && outcomes.every((o) => o.error?.code === 'storage_unavailable');
    storageFailures = storageDown ? storageFailures + 1 : 0;
    if (storageFailures >= STORAGE_FAILURE_LIMIT) lost ??= new StorageLostError(outcomes[0]!.error);
    deps.onProgress?.(counts);
  };

  const loop = async () => {
    for (let task = await next(); task; task = await next()) {
      inFlight++;
      const outcomes = await pregenerateOriginal(task, job.variants, {
        config: deps.config,
        store: deps.store,
        dryRun: job.dryRun,
        abandon: abandon.signal,
      });
      inFlight--;
      await record(outcomes, task);
    }
  };

  const loops = Promise.all(Array.from({ length: job.concurrency }, loop));
  let graceTimer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<void>((resolve) => {
    const startGrace = () => {
      graceTimer = setTimeout(() => {
        abandon.abort();
        resolve();
      }, job.graceSeconds * 1000);
    };
    if (deps.stop.aborted) startGrace();
    else deps.stop.addEventListener('abort', startGrace, { once: true });
  });
  try {
    // After the grace period, in-flight renders (which sharp cannot cancel) are left behind:
    // they write nothing more, and the process exits without them.
    await Promise.race([loops, graceOver]);
  } finally {
    clearTimeout(graceTimer);
  }
  // Left behind at the end of the grace period: counted, never written.
  counts.abandoned += inFlight * job.variants.length;
  const durationSeconds = (performance.now() - started) / 1000;
  // A listing or manifest that breaks halfway ends the run; what was done so far still counts.
  if (sourceError) return { counts: { ...counts }, stopped: 'source-unreadable', error: sourceError, durationSeconds };
  if (lost) return { counts: { ...counts }, stopped: 'storage-unreachable', error: lost, durationSeconds };
  const stopped = deps.stop.aborted ? ((deps.stop.reason as RunOutcome['stopped']) ?? 'SIGTERM') : undefined;
  return { counts: { ...counts }, stopped, durationSeconds };
}

export function exitCodeFor(outcome: RunOutcome): number {
  if (outcome.stopped) return EXIT.cannotRun;
  return outcome.counts.failed > 0 ? EXIT.itemsFailed : EXIT.ok;
}
