import { SingleBar } from 'cli-progress';
import type { ServiceLogger } from '../observability/logger.js';
import type { Counts } from './run-batch.js';

/**
 * Progress for people and for logs: on a terminal a bar with count, rate and ETA; elsewhere
 * (CloudWatch) one structured line every few seconds with the same figures. The only module
 * that imports cli-progress.
 */
export interface Progress {
  update(counts: Readonly<Counts>): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Variants the job will make, when the source is counted up front (manifests). */
  readonly totalVariants?: number;
  readonly terminal: NodeJS.WriteStream | undefined;
  readonly log: ServiceLogger;
  readonly intervalMs?: number;
}

export interface ProgressFigures {
  readonly processed: number;
  readonly total?: number;
  readonly done: number;
  readonly skipped: number;
  readonly failed: number;
  readonly ratePerSecond: number;
  readonly etaSeconds?: number;
  readonly elapsedSeconds: number;
}

export function figures(counts: Readonly<Counts>, elapsedSeconds: number, total?: number): ProgressFigures {
  const processed = counts.done + counts.skipped + counts.failed + counts.wouldRender;
  const rate = elapsedSeconds > 0 ? processed / elapsedSeconds : 0;
  const eta = total !== undefined && rate > 0 ? Math.max(0, Math.round((total - processed) / rate)) : undefined;
  return {
    processed,
    total,
    done: counts.done + counts.wouldRender,
    skipped: counts.skipped,
    failed: counts.failed,
    ratePerSecond: Math.round(rate * 10) / 10,
    etaSeconds: eta,
    elapsedSeconds: Math.round(elapsedSeconds),
  };
}

export function createProgress(options: ProgressOptions): Progress {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  let latest: Readonly<Counts> | undefined;

  if (options.terminal?.isTTY) {
    const known = options.totalVariants !== undefined;
    const bar = new SingleBar({
      stream: options.terminal,
      format: known
        ? '{bar} {percentage}% | {value}/{total} variants | {rate}/s | failed {failed} | ETA {eta_formatted}'
        : '{value} variants | {rate}/s | done {done} skipped {skipped} failed {failed} | {elapsed}s',
      hideCursor: true,
      etaBuffer: 50,
    });
    bar.start(options.totalVariants ?? 0, 0, { rate: 0, failed: 0, done: 0, skipped: 0, elapsed: 0 });
    return {
      update(counts) {
        const f = figures(counts, elapsed(), options.totalVariants);
        bar.update(f.processed, { rate: f.ratePerSecond, failed: f.failed, done: f.done, skipped: f.skipped, elapsed: f.elapsedSeconds });
      },
      stop: () => bar.stop(),
    };
  }

  const timer = setInterval(() => {
    if (latest) options.log.info('batch progress', { ...figures(latest, elapsed(), options.totalVariants) });
  }, options.intervalMs ?? 5000);
  timer.unref();
  return {
    update(counts) {
      latest = counts;
    },
    stop: () => clearInterval(timer),
  };
}
