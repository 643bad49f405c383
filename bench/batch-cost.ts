import type { BatchResult } from './batch.js';
import { modelledMs, USD_PER_GB_SECOND, VCPU_MB } from './cost.js';

/**
 * What a million variants cost, from section 6's measured rates: the worker on a Fargate task of
 * 2 vCPU / 4 GB (on-demand and Spot), next to the same variants rendered by the Lambda function
 * one request each, with the S3 requests each way makes. The worker's rate measured on this
 * machine's 2 cores is taken as what a 2-vCPU task does (the local S3 shares those cores here; on
 * AWS it does not, so the task should do at least as well). Prices are for orientation only.
 */
export const PRICES = {
  asOf: '2026-12',
  region: 'us-east-1',
  note: 'prices as of 2026-12, us-east-1, check the AWS pricing page',
  fargate: { vcpuHour: 0.04048, gbHour: 0.004445 },
  fargateSpot: { vcpuHour: 0.01269568, gbHour: 0.00139412 },
  lambda: { gbSecond: USD_PER_GB_SECOND, perMillionRequests: 0.2 },
  s3: { putPer1000: 0.005, getPer1000: 0.0004, listPer1000: 0.005 },
} as const;

export const TASK = { vcpu: 2, memoryGb: 4 } as const;

const MILLION = 1_000_000;

export interface CostLine {
  readonly option: string;
  /** Compute (task hours, or GB-seconds plus the per-request charge), USD per million variants. */
  readonly computeUsd: number;
  readonly s3Usd: number;
  readonly totalUsd: number;
  readonly basis: string;
}

export interface BatchCostResult {
  readonly prices: typeof PRICES;
  readonly task: typeof TASK;
  readonly imagesPerSecond: number;
  readonly taskHoursPerMillion: number;
  readonly lambda: { readonly memoryMb: number; readonly msPerVariant: number; readonly gbSecondsPerVariant: number };
  /** S3 requests per million variants, by kind, for the worker and for Lambda. */
  readonly requests: { readonly worker: Requests; readonly lambda: Requests };
  readonly lines: CostLine[];
}

export interface Requests {
  readonly put: number;
  readonly get: number;
  readonly head: number;
  readonly list: number;
}

const s3Usd = (r: Requests) =>
  ((r.put + r.list) / 1000) * PRICES.s3.putPer1000 + ((r.get + r.head) / 1000) * PRICES.s3.getPer1000;

export function batchCosts(batch: BatchResult, memoryMb: number): BatchCostResult {
  const specs = batch.specs.length;
  const originals = MILLION / specs;
  // The worker: a listing page per 1000 originals, one GET per original, one HEAD (is it stored?)
  // and one PUT per variant.
  const worker: Requests = { list: Math.ceil(originals / 1000), get: originals, head: MILLION, put: MILLION };
  // The function, one request per variant: HEAD of the original ‖ GET of the variant (404), the
  // original's GET (once per original: its second variant finds it in the instance's memory, as
  // measured), one PUT.
  const lambdaRequests: Requests = { list: 0, get: MILLION + originals, head: MILLION, put: MILLION };

  const rate = batch.worker.imagesPerSecond.median;
  const taskHoursPerMillion = MILLION / rate / 3600;
  const hourly = (p: { vcpuHour: number; gbHour: number }) => TASK.vcpu * p.vcpuHour + TASK.memoryGb * p.gbHour;

  // Each query's median at the configured memory, with cost.ts's model (CPU share slows below one
  // vCPU); billing rounds each invocation up to the millisecond.
  const perQuery = batch.lambda.map((l) => {
    const cpuShare = Math.min(1, l.cpuMs.median / l.ms.median);
    const ms = modelledMs(l.ms.median, cpuShare, memoryMb);
    return { ms, gbSeconds: (memoryMb / 1024) * (Math.ceil(ms) / 1000) };
  });
  const msPerVariant = perQuery.reduce((sum, q) => sum + q.ms, 0) / perQuery.length;
  const gbSecondsPerVariant = perQuery.reduce((sum, q) => sum + q.gbSeconds, 0) / perQuery.length;
  const lambdaCompute = MILLION * gbSecondsPerVariant * PRICES.lambda.gbSecond + PRICES.lambda.perMillionRequests;

  const line = (option: string, computeUsd: number, requests: Requests, basis: string): CostLine => ({
    option,
    computeUsd,
    s3Usd: s3Usd(requests),
    totalUsd: computeUsd + s3Usd(requests),
    basis,
  });
  const taskBasis = (p: { vcpuHour: number; gbHour: number }) =>
    `${taskHoursPerMillion.toFixed(2)} task-hours at $${hourly(p).toFixed(5)}/h (${TASK.vcpu} × $${p.vcpuHour} per vCPU-h + ${TASK.memoryGb} × $${p.gbHour} per GB-h)`;
  return {
    prices: PRICES,
    task: TASK,
    imagesPerSecond: rate,
    taskHoursPerMillion,
    lambda: { memoryMb, msPerVariant, gbSecondsPerVariant },
    requests: { worker, lambda: lambdaRequests },
    lines: [
      line(`Fargate on-demand, ${TASK.vcpu} vCPU / ${TASK.memoryGb} GB`, taskHoursPerMillion * hourly(PRICES.fargate), worker, taskBasis(PRICES.fargate)),
      line(`Fargate Spot, ${TASK.vcpu} vCPU / ${TASK.memoryGb} GB`, taskHoursPerMillion * hourly(PRICES.fargateSpot), worker, taskBasis(PRICES.fargateSpot)),
      line(
        `Lambda, ${memoryMb} MB (one request per variant)`,
        lambdaCompute,
        lambdaRequests,
        `${msPerVariant.toFixed(1)} ms per variant modelled at ${memoryMb} MB (${(Math.min(memoryMb, VCPU_MB) / VCPU_MB).toFixed(2)} vCPU) = ${gbSecondsPerVariant.toFixed(4)} GB-s, at $${PRICES.lambda.gbSecond} per GB-s + $${PRICES.lambda.perMillionRequests.toFixed(2)} per million requests`,
      ),
    ],
  };
}
