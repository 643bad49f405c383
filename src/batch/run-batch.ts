import type { Config } from '../config.js';
import type { ImageStore } from '../storage/image-store.js';
import { EXIT, StorageLostError } from './errors.js';
import type { BatchJob } from './job.js';
import { createChannel } from './channel.js';
import { checkOriginal, renderMissing, type OriginalTask, type PendingOriginal, type VariantOutcome } from './pregenerate.js';
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
 * Two pools joined by a bounded queue. Checkers (many: they only wait on S3) take the next
 * original from the source and ask which of its variants exist; renderers (`job.concurrency`,
 * a few per CPU) read, render and store what is missing. Originals whose variants all exist
 * never hold a render slot, so a resumed run races through what is done, and while one
 * renderer waits on S3 another renders, so the CPU stays busy. The source is pulled, never
 * buffered: memory is that of the originals in flight, whatever the job's size.
 * After `stop`, no new original is taken and nothing queued is started; in-flight renders get
 * `graceSeconds` to finish, then nothing more is written and the run returns.
 */
export async function runBatch(job: BatchJob, source: JobSourceStream, deps: RunDeps): Promise<RunOutcome> {
  const started = performance.now();
  const counts = emptyCounts();
  const abandon = new AbortController();
  const tasks = source.tasks()[Symbol.asyncIterator]();
  const queue = createChannel<PendingOriginal>(job.concurrency * 2);
  const work = { config: deps.config, store: deps.store, variants: job.variants, dryRun: job.dryRun, abandon: abandon.signal };
  let storageFailures = 0;
  let lost: StorageLostError | undefined;
  let sourceError: unknown;
  /** Variants being rendered right now: abandoned if the grace period ends first. */
  let rendering = 0;
  const halted = () => deps.stop.aborted || lost !== undefined || sourceError !== undefined;

  const next = async (): Promise<OriginalTask | undefined> => {
    if (halted()) return undefined;
    try {
      const item = await tasks.next();
      return item.done || halted() ? undefined : item.value;
    } catch (error) {
      sourceError ??= error;
      return undefined;
    }
  };

  const record = async (outcomes: readonly VariantOutcome[], key: string) => {
    counts.originals++;
    for (const outcome of outcomes) {
      if (outcome.status === 'done') counts.done++;
      else if (outcome.status === 'skipped') counts.skipped++;
      else if (outcome.status === 'would-render') counts.wouldRender++;
      else if (outcome.status === 'abandoned') counts.abandoned++;
      else counts.failed++;
      counts.bytesIn += outcome.bytesIn ?? 0;
      counts.bytesOut += outcome.bytesOut ?? 0;
      if (outcome.status === 'failed') await deps.report.add(key, outcome);
    }
    const storageDown = outcomes.length > 0 && outcomes.every((o) => o.error?.code === 'storage_unavailable');
    storageFailures = storageDown ? storageFailures + 1 : 0;
    if (storageFailures >= STORAGE_FAILURE_LIMIT) {
      lost ??= new StorageLostError(outcomes[0]!.error);
      queue.drop();
    }
    deps.onProgress?.(counts);
  };

  const checker = async () => {
    for (let task = await next(); task; task = await next()) {
      const checked = await checkOriginal(task, work);
      if ('outcomes' in checked) await record(checked.outcomes, task.key);
      else await queue.push(checked.pending);
    }
  };
  const renderer = async () => {
    for (let pending = await queue.pull(); pending && !halted(); pending = await queue.pull()) {
      const missing = pending.outcomes.filter((o) => o === undefined).length;
      rendering += missing;
      const outcomes = await renderMissing(pending, work);
      rendering -= missing;
      await record(outcomes, pending.key);
    }
  };

  const checkers = Promise.all(Array.from({ length: checkConcurrency(job) }, checker)).finally(() => queue.close());
  const renderers = Promise.all(Array.from({ length: job.concurrency }, renderer));
  // A stop leaves queued originals unstarted.
  deps.stop.addEventListener('abort', () => queue.drop(), { once: true });
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
    await Promise.race([Promise.all([checkers, renderers]), graceOver]);
  } finally {
    clearTimeout(graceTimer);
  }
  // Left behind at the end of the grace period: counted, never written.
  counts.abandoned += rendering;
  const durationSeconds = (performance.now() - started) / 1000;
  // A listing or manifest that breaks halfway ends the run; what was done so far still counts.
  if (sourceError) return { counts: { ...counts }, stopped: 'source-unreadable', error: sourceError, durationSeconds };
  if (lost) return { counts: { ...counts }, stopped: 'storage-unreachable', error: lost, durationSeconds };
  const stopped = deps.stop.aborted ? ((deps.stop.reason as RunOutcome['stopped']) ?? 'SIGTERM') : undefined;
  return { counts: { ...counts }, stopped, durationSeconds };
}

/** Existence checks are only S3 round trips: many more of them in flight than renders. */
function checkConcurrency(job: BatchJob): number {
  return Math.min(64, Math.max(8, job.concurrency * 4));
}

export function exitCodeFor(outcome: RunOutcome): number {
  if (outcome.stopped) return EXIT.cannotRun;
  return outcome.counts.failed > 0 ? EXIT.itemsFailed : EXIT.ok;
}
