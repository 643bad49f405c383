import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsSettings } from '../config.js';
import type { ServiceLogger } from './logger.js';

/**
 * The only module that imports the metrics library. Metrics leave as CloudWatch Embedded Metric
 * Format: one JSON line on stdout per flush, which CloudWatch Logs turns into metrics (in Lambda
 * and in the Fargate task's awslogs stream alike); nothing is sent anywhere from here.
 *
 * Dimensions are few on purpose: each distinct combination is a billed custom metric. Every metric
 * carries `service` and `stage`; `Errors` also its `code` (a fixed vocabulary, src/errors.ts).
 * Never a key, a URL, a spec or anything a client chooses. Names, units, dimensions:
 * docs/observability.md.
 */

export const SERVICES = { resize: 'image-resizer', sync: 'image-resizer-sync', batch: 'image-resizer-batch' } as const;

/** What one answered request adds: exactly one of Hit, Miss, NotModified or Errors (Redirect on top). */
export type RequestOutcome =
  | {
      readonly cache: 'hit' | 'miss' | 'not-modified';
      /** Answered with a 302 to the stored copy (over MAX_INLINE_BYTES). */
      readonly redirect?: boolean;
      readonly timings?: { readonly s3Read: number; readonly transform: number; readonly s3Write: number };
      /** Size of the original a miss was rendered from. */
      readonly originalBytes?: number;
      /** Size of the variant answered (hits and misses). */
      readonly outputBytes?: number;
    }
  | { readonly errorCode: string };

export interface SyncCounts {
  readonly deleted: number;
  readonly invalidated: number;
  readonly rendered: number;
  readonly failed: number;
}

export interface BatchCounts {
  readonly done: number;
  readonly skipped: number;
  readonly failed: number;
}

export interface ServiceMetrics {
  request(outcome: RequestOutcome): void;
  sync(counts: SyncCounts): void;
  /** Variants handled since the previous call (deltas: a sum over any period is right). */
  batch(counts: BatchCounts): void;
  /** Prints what was recorded as one EMF line; nothing when nothing was. */
  flush(): void;
}

const CACHE_METRIC = { hit: 'Hit', miss: 'Miss', 'not-modified': 'NotModified' } as const;

/** Codes come from our own error classes; anything else is folded so it cannot grow the dimension. */
const codeDimension = (code: string) => (/^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : 'other');

export function createMetrics(service: string, settings: MetricsSettings, log?: ServiceLogger): ServiceMetrics {
  const metrics = new Metrics({
    namespace: settings.namespace,
    serviceName: service,
    defaultDimensions: { stage: settings.stage },
    // The library's own warnings as our log lines (they would otherwise be bare text on stdout).
    logger: log && {
      debug: () => {},
      info: (message: unknown) => log.info(String(message)),
      warn: (message: unknown) => log.warn(String(message)),
      error: (message: unknown) => log.error(String(message)),
    },
  });
  const count = (name: string, value = 1) => metrics.addMetric(name, MetricUnit.Count, value);
  const ms = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Milliseconds, Math.round(value * 10) / 10);
  const bytes = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Bytes, value);

  return {
    request(outcome) {
      if ('errorCode' in outcome) {
        metrics.addDimension('code', codeDimension(outcome.errorCode));
        count('Errors');
        return;
      }
      count(CACHE_METRIC[outcome.cache]);
      if (outcome.redirect) count('Redirect');
      const t = outcome.timings;
      if (t) {
        ms('S3ReadTime', t.s3Read);
        if (outcome.cache === 'miss') ms('TransformTime', t.transform);
        if (t.s3Write > 0) ms('S3WriteTime', t.s3Write);
      }
      if (outcome.originalBytes !== undefined) bytes('OriginalBytes', outcome.originalBytes);
      if (outcome.outputBytes !== undefined) bytes('OutputBytes', outcome.outputBytes);
    },
    sync(counts) {
      count('VariantsDeleted', counts.deleted);
      count('Invalidations', counts.invalidated);
      count('EagerRendered', counts.rendered);
      count('EagerFailed', counts.failed);
    },
    batch(counts) {
      count('BatchDone', counts.done);
      count('BatchSkipped', counts.skipped);
      count('BatchFailed', counts.failed);
    },
    flush() {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      else metrics.clearDimensions();
    },
  };
}

/** Records nothing: for tools and tests that build a handler without wanting its EMF lines. */
export const noMetrics: ServiceMetrics = { request() {}, sync() {}, batch() {}, flush() {} };
