import type { BatchContender, BatchResult } from './batch.js';
import type { BatchCostResult } from './batch-cost.js';
import { VCPU_MB } from './cost.js';
import type { Table } from './report.js';
import { ms, times } from './stats.js';

/** Section 6's tables: the worker against raw sharp, and the cost per million variants. */

/** Worker images/s over raw sharp's must reach this (issue 12). */
export const BATCH_TARGET = 0.9;

const rate = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');
const sec = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '—');
const usd = (v: number) => (v >= 10 ? `$${v.toFixed(2)}` : `$${v.toFixed(3)}`);

export function batchTables(batch: BatchResult, verdict: string, cost?: BatchCostResult): Table[] {
  const variants = batch.originals * batch.specs.length;
  const row = (name: string, c: BatchContender, ratio: string, target: string, pass: string) => [
    name,
    rate(c.imagesPerSecond.median),
    `${rate(c.imagesPerSecond.min)}–${rate(c.imagesPerSecond.max)}`,
    sec(c.seconds.median),
    rate(c.wallImagesPerSecond.median),
    sec(c.wallSeconds.median),
    ms(c.peakRssMb.median),
    ms((c.cpuSeconds.median / variants) * 1000),
    sec(c.cpuSeconds.median / c.seconds.median),
    ms((c.s3CpuSeconds.median / variants) * 1000),
    ratio,
    target,
    pass,
  ];
  const w = batch.worker;
  const r = batch.rawSharp;
  const s3 = batch.rawS3Sharp;
  const rssSources = [...new Set(w.runs.map((x) => x.peakRssSource))].join(', ');
  const tables: Table[] = [
    {
      title: `6. Batch worker (the Fargate task's program): ${batch.originals} originals × ${batch.specs.length} specs = ${variants} variants, concurrency ${batch.concurrency} (the worker's default, 2 × ${batch.cores} CPUs), median of ${w.runs.length} runs each, alternating: worker vs raw sharp from local disk (and vs the same S3 calls made directly around raw sharp)`,
      head: ['process', 'images/s', 'range', 'seconds', 'images/s incl. start', 'wall s incl. start', 'peak RSS MB', 'CPU ms / variant', 'cores busy', 'local S3 CPU ms / variant', 'ratio', 'target', ''],
      rows: [
        row('worker (node --import tsx src/batch/main.ts --prefix … --spec … --concurrency N; local S3)', w, times(batch.ratio), `≥ ${BATCH_TARGET.toFixed(2)}×`, verdict),
        row('raw sharp (same transforms, originals read from disk, outputs written to disk)', r, '1.00×', '', ''),
        row('raw S3 calls + sharp (the worker\'s S3 calls, made directly with the service\'s S3 client; local S3)', batch.rawS3Sharp, times(s3.imagesPerSecond.median / r.imagesPerSecond.median), '', ''),
      ],
      notes: [
        `Originals: ${batch.originals} copies under distinct keys of the ${batch.original.description} (${(batch.original.bytes / 1e6).toFixed(2)} MB each); specs ${batch.specs.map((s) => `\`${s}\``).join(' and ')}; a cold variants bucket for every worker run (every variant rendered, none skipped).`,
        'images/s: worker — its summary\'s imagesPerSecond (done / durationSeconds: from the open source to the last PUT; process start, imports and the report upload excluded); raw sharp — outputs / time from its first read to its last write. "incl. start": variants / spawn-to-exit time measured by the bench.',
        `Peak RSS: the process's VmHWM (worker: ${rssSources}; polled by the bench every 25 ms: ${w.runs.map((x) => ms(x.polledPeakRssMb ?? Number.NaN)).join(', ')} MB). CPU ms / variant: the process's CPU time (all threads) over the timed part, per variant; cores busy: that CPU time / the timed part's wall time. Local S3 CPU: the s3rver process's, which here comes out of the same ${batch.cores} cores and on AWS does not.`,
        `Whole-process CPU incl. start-up: worker ${sec(w.processCpuSeconds.median)} s, raw sharp ${sec(r.processCpuSeconds.median)} s. Outputs: worker ${(w.runs[0]!.bytesOut / 1e6).toFixed(2)} MB, raw sharp ${(r.runs[0]!.bytesOut / 1e6).toFixed(2)} MB.`,
        whereTimeGoes(batch),
        `Lambda side (for the cost table): the real handler, one miss at a time — ${batch.lambda.map((l) => `\`${l.query}\` ${ms(l.ms.median)} ms (CPU ${ms(l.cpuMs.median)} ms)`).join(', ')}, medians over ${batch.lambda[0]!.ms.n} originals.`,
      ],
    },
  ];
  if (cost) {
    tables.push({
      title: `6b. Cost per million variants (${cost.prices.note}): the worker on Fargate at the rate measured above vs the Lambda function`,
      head: ['option', 'compute', 'S3 requests', 'total', 'basis'],
      rows: cost.lines.map((l) => [l.option, usd(l.computeUsd), usd(l.s3Usd), usd(l.totalUsd), l.basis]),
      notes: [
        `The worker's ${rate(cost.imagesPerSecond)} images/s on this machine's ${batch.cores} cores is taken as what a ${cost.task.vcpu}-vCPU task does (here the local S3 shares those cores; on AWS it does not, so this is if anything pessimistic for Fargate). Fargate bills from image pull to task stop, at least one minute: a task's start-up (≈ 30–60 s) is not in these figures.`,
        `S3 requests per million variants — worker: ${fmtRequests(cost.requests.worker)} (one LIST per 1000 originals, one GET per original, a HEAD per variant for the skip check, a PUT per variant); Lambda: ${fmtRequests(cost.requests.lambda)} (per variant HEAD of the original ‖ GET of the variant → 404, and a PUT; the original's GET once per original). At $${cost.prices.s3.putPer1000} per 1000 PUT/LIST and $${cost.prices.s3.getPer1000} per 1000 GET/HEAD.`,
        `Lambda: cost.ts's model (CPU-bound share slowed below 1 vCPU = ${VCPU_MB} MB), each invocation rounded up to the millisecond; API Gateway ($1.00 per million HTTP API requests), if the variants are requested through it, comes on top.`,
      ],
    });
  }
  return tables;
}

/**
 * The worker is CPU-bound on this machine: its rate is about cores / (CPU per variant of its
 * process + of the local S3). Splits the worker's CPU per variant into the render (raw sharp's),
 * the S3 calls (raw S3 + sharp's extra) and the rest (the worker's own), and gives the ceiling
 * with the local S3's CPU off these cores, as on Fargate.
 */
function whereTimeGoes(batch: BatchResult): string {
  const variants = batch.originals * batch.specs.length;
  const perVariant = (c: BatchContender) => ({
    cpu: (c.cpuSeconds.median / variants) * 1000,
    s3: (c.s3CpuSeconds.median / variants) * 1000,
  });
  const w = perVariant(batch.worker);
  const r = perVariant(batch.rawSharp);
  const s = perVariant(batch.rawS3Sharp);
  const ceiling = (cpuMs: number) => (batch.cores * 1000) / cpuMs;
  return (
    `Where the worker's time goes (CPU ms per variant, medians): render ${ms(r.cpu)} (raw sharp), + S3 client ${ms(s.cpu - r.cpu)} (raw S3 calls + sharp − raw sharp), ` +
    `+ the worker's own ${ms(w.cpu - s.cpu)} (worker − raw S3 calls + sharp) = ${ms(w.cpu)}; the local S3 adds ${ms(w.s3)} on the same cores (raw S3 calls: ${ms(s.s3)}). ` +
    `CPU-bound ceilings at ${batch.cores} cores (cores / CPU per variant): raw sharp ${rate(ceiling(r.cpu + r.s3))} images/s; worker ${rate(ceiling(w.cpu + w.s3))} with the local S3 on the same cores ` +
    `(${times(ceiling(w.cpu + w.s3) / ceiling(r.cpu + r.s3))}; measured ${rate(batch.worker.imagesPerSecond.median)}), ${rate(ceiling(w.cpu))} without it, as on Fargate (${times(ceiling(w.cpu) / ceiling(r.cpu + r.s3))}); ` +
    `raw S3 calls + sharp without it ${rate(ceiling(s.cpu))} (${times(ceiling(s.cpu) / ceiling(r.cpu + r.s3))}).`
  );
}

function fmtRequests(r: { put: number; get: number; head: number; list: number }): string {
  const m = (n: number) => (n >= 1e5 ? `${(n / 1e6).toFixed(2)} M` : String(n));
  return `${m(r.put)} PUT, ${m(r.get)} GET, ${m(r.head)} HEAD, ${m(r.list)} LIST`;
}
