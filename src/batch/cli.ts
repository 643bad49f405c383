import { loadConfig, type Config } from '../config.js';
import { createLogger, type ServiceLogger } from '../observability/logger.js';
import { createMetrics, SERVICES, type ServiceMetrics } from '../observability/metrics.js';
import { createS3Client, createS3ObjectStore, createS3Store } from '../storage/s3-store.js';
import { describeFailure, EXIT } from './errors.js';
import { parseBatchArgs, USAGE, type BatchJob } from './job.js';
import { peakRssMb } from './peak-rss.js';
import { createProgress } from './progress.js';
import { createFailureReport } from './report.js';
import { exitCodeFor, runBatch, type RunOutcome } from './run-batch.js';
import { s3Uri } from './s3-uri.js';
import { openSource } from './sources.js';

/**
 * The worker's one entry point, for `npm run batch -- …` and the container's command alike:
 * config and clients built once, then the core; exit codes from one place (errors.ts).
 */

export interface CliIo {
  readonly env: Record<string, string | undefined>;
  /** Receives the JSON log lines, the metrics (EMF) lines and, last, the summary. */
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream;
  /** Aborted with "SIGTERM" or "SIGINT" by the process's signal handlers. */
  readonly stop: AbortSignal;
}

export interface BatchSummary {
  readonly jobId?: string;
  readonly status: 'complete' | 'stopped' | 'invalid' | 'failed';
  readonly stopped?: string;
  readonly error?: string;
  readonly dryRun?: boolean;
  readonly source?: string;
  readonly variants?: readonly string[];
  readonly originals: number;
  readonly totalVariants?: number;
  readonly done: number;
  readonly skipped: number;
  readonly failed: number;
  readonly abandoned: number;
  readonly wouldRender?: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationSeconds: number;
  readonly imagesPerSecond: number;
  readonly peakRssMb?: number;
  readonly report: string | null;
  readonly summary?: string | null;
  readonly exitCode: number;
}

function sourceName(job: BatchJob, config: Config): string {
  return job.source.kind === 'prefix'
    ? s3Uri(config.originalsBucket, config.originalsPrefix + job.source.prefix)
    : s3Uri(job.source.location.bucket, job.source.location.key);
}

function notStarted(error: unknown, job?: BatchJob): BatchSummary {
  return {
    jobId: job?.jobId,
    status: 'invalid',
    error: describeFailure(error),
    originals: 0,
    done: 0,
    skipped: 0,
    failed: 0,
    abandoned: 0,
    bytesIn: 0,
    bytesOut: 0,
    durationSeconds: 0,
    imagesPerSecond: 0,
    report: null,
    exitCode: EXIT.cannotRun,
  };
}

/** How often a long run publishes what it did since the last time (CloudWatch's standard resolution). */
const METRICS_INTERVAL_MS = 60_000;

type Done = Pick<RunOutcome['counts'], 'done' | 'skipped' | 'failed'>;

/**
 * Variants done, skipped and failed as metrics: every minute during the run and once at its end,
 * each time what happened since the previous time, so a sum over any period is right.
 */
function batchMetrics(metrics: ServiceMetrics) {
  let sent: Done = { done: 0, skipped: 0, failed: 0 };
  let sentAt = performance.now();
  const send = (c: Done) => {
    metrics.batch({ done: c.done - sent.done, skipped: c.skipped - sent.skipped, failed: c.failed - sent.failed });
    metrics.flush();
    sent = { done: c.done, skipped: c.skipped, failed: c.failed };
    sentAt = performance.now();
  };
  return {
    update(c: Done) {
      if (performance.now() - sentAt >= METRICS_INTERVAL_MS) send(c);
    },
    final: send,
  };
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<BatchSummary> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stderr.write(`${USAGE}\n`);
    return { ...notStarted(undefined), status: 'complete', error: undefined, exitCode: EXIT.ok };
  }
  let config: Config;
  let job: BatchJob;
  try {
    config = loadConfig(io.env);
    job = parseBatchArgs(argv, config);
  } catch (error) {
    return notStarted(error);
  }

  const log = createLogger(SERVICES.batch);
  const client = createS3Client(config.s3);
  try {
    return await run(job, config, log, io, client);
  } finally {
    client.destroy();
  }
}

async function run(job: BatchJob, config: Config, log: ServiceLogger, io: CliIo, client: ReturnType<typeof createS3Client>): Promise<BatchSummary> {
  const store = createS3Store(config, client);
  const objects = createS3ObjectStore(client);
  let source;
  try {
    source = await openSource(job, objects, config);
  } catch (error) {
    return notStarted(error, job);
  }

  const totalVariants = source.totalOriginals === undefined ? undefined : source.totalOriginals * job.variants.length;
  log.info('batch started', {
    jobId: job.jobId,
    source: sourceName(job, config),
    variants: job.variants.map((v) => v.canonical),
    concurrency: job.concurrency,
    dryRun: job.dryRun,
    totalOriginals: source.totalOriginals,
  });
  const progress = createProgress({ totalVariants, terminal: io.stderr, log, intervalMs: config.batch.progressSeconds * 1000 });
  const metrics = job.dryRun ? undefined : batchMetrics(createMetrics(SERVICES.batch, config.metrics, log));
  const report = createFailureReport();
  let outcome: RunOutcome;
  try {
    outcome = await runBatch(job, source, {
      config,
      store,
      report,
      stop: io.stop,
      onProgress: (c) => {
        progress.update(c);
        metrics?.update(c);
      },
    });
  } finally {
    progress.stop();
  }
  // Before the summary, which must stay the last line of stdout.
  metrics?.final(outcome.counts);
  let failure = outcome.error === undefined ? undefined : describeFailure(outcome.error);

  const { counts } = outcome;
  let exitCode = exitCodeFor(outcome);
  let reportUri: string | null = null;
  let summaryUri: string | null = null;
  const summary = (): BatchSummary => ({
    jobId: job.jobId,
    status: outcome.stopped ? 'stopped' : 'complete',
    stopped: outcome.stopped,
    error: failure,
    dryRun: job.dryRun,
    source: sourceName(job, config),
    variants: job.variants.map((v) => v.canonical),
    originals: counts.originals,
    totalVariants,
    done: counts.done,
    skipped: counts.skipped,
    failed: counts.failed,
    abandoned: counts.abandoned,
    wouldRender: job.dryRun ? counts.wouldRender : undefined,
    bytesIn: counts.bytesIn,
    bytesOut: counts.bytesOut,
    durationSeconds: Math.round(outcome.durationSeconds * 1000) / 1000,
    imagesPerSecond: outcome.durationSeconds > 0 ? Math.round((counts.done / outcome.durationSeconds) * 100) / 100 : 0,
    peakRssMb: peakRssMb(),
    report: reportUri,
    summary: summaryUri,
    exitCode,
  });

  if (job.dryRun) {
    report.discard();
    return summary();
  }
  try {
    await report.upload(objects, job.report.bucket, job.report.reportKey);
    reportUri = s3Uri(job.report.bucket, job.report.reportKey);
    summaryUri = s3Uri(job.report.bucket, job.report.summaryKey);
    const body = Buffer.from(`${JSON.stringify(summary(), null, 2)}\n`);
    await objects.writeObject(job.report.bucket, job.report.summaryKey, body, body.length, 'application/json');
  } catch (error) {
    failure ??= `the report could not be written: ${describeFailure(error)}`;
    exitCode = EXIT.cannotRun;
    summaryUri = null;
  } finally {
    report.discard();
  }
  return summary();
}
