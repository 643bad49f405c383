import type { HitResult, InProcessResult, MissResult } from './in-process.mjs';
import type { FreshResult } from './fresh.js';

/**
 * Lambda cost from the measured times. Lambda bills memory × duration (GB-seconds, rounded up to
 * the millisecond) and gives CPU in proportion to memory: one full vCPU at 1 769 MB, two from
 * 3 538 MB. A request's duration there is modelled from what this machine measured:
 *
 *   t(M) = wall × (f × max(1, 1769 / M) + (1 − f)),   f = min(1, CPU time / wall time)
 *
 * i.e. the CPU-bound share slows down below one vCPU and the waiting share (S3) does not. Above
 * 1 769 MB nothing gets faster unless a request uses more than one thread (sharp's concurrency is
 * 1 on glibc Linux, as on Lambda; the bench measures what a second libvips thread would give).
 * Assumes one core here is worth one Lambda vCPU.
 */
export const VCPU_MB = 1769;
/** x86 Lambda price per GB-second (us-east-1, first pricing tier); for orientation only. */
export const USD_PER_GB_SECOND = 0.0000166667;

export interface CostRow {
  readonly id: string;
  readonly label: string;
  readonly kind: 'miss' | 'hit';
  /** Median duration measured here, in ms. */
  readonly ms: number;
  readonly cpuShare: number;
  readonly gbSecondsPer1000: number;
  readonly usdPer1000: number;
  /** The same with the modelled duration at the configured memory (CPU share M / 1769). */
  readonly modelledMs: number;
  readonly modelledGbSecondsPer1000: number;
}

export interface SizeOption {
  readonly memoryMb: number;
  readonly missMs: number;
  readonly missGbSecondsPer1000: number;
  readonly hitMs: number;
  readonly hitGbSecondsPer1000: number;
}

export interface CostResult {
  readonly memoryMb: number;
  readonly rows: CostRow[];
  readonly sizes: SizeOption[];
  readonly recommendation: { readonly memoryMb: number; readonly reasons: string[] };
}

const gbSeconds = (memoryMb: number, ms: number) => (memoryMb / 1024) * (Math.ceil(ms) / 1000) * 1000;

export function modelledMs(wallMs: number, cpuShare: number, memoryMb: number): number {
  return wallMs * (cpuShare * Math.max(1, VCPU_MB / memoryMb) + (1 - cpuShare));
}

function row(kind: 'miss' | 'hit', r: MissResult | HitResult, memoryMb: number): CostRow {
  const ms = r.handler.median;
  const cpuShare = Math.min(1, r.cpu.handler / ms);
  const modelled = modelledMs(ms, cpuShare, memoryMb);
  const gbs = gbSeconds(memoryMb, ms);
  return {
    id: r.id,
    label: r.label,
    kind,
    ms,
    cpuShare,
    gbSecondsPer1000: gbs,
    usdPer1000: gbs * USD_PER_GB_SECOND,
    modelledMs: modelled,
    modelledGbSecondsPer1000: gbSeconds(memoryMb, modelled),
  };
}

export function costs(memoryMb: number, inProcess: InProcessResult, fresh: FreshResult | undefined): CostResult {
  const rows = [...inProcess.misses.map((m) => row('miss', m, memoryMb)), ...inProcess.hits.map((h) => row('hit', h, memoryMb))];
  const miss = rows.find((r) => r.id === 'p16-webp800')!;
  const hit = rows.find((r) => r.id === 'hit-p16-webp800')!;
  const sizes = [1024, 1536, VCPU_MB, 2048, 3008, 2 * VCPU_MB].map((m) => {
    const missMs = modelledMs(miss.ms, miss.cpuShare, m);
    const hitMs = modelledMs(hit.ms, hit.cpuShare, m);
    return { memoryMb: m, missMs, missGbSecondsPer1000: gbSeconds(m, missMs), hitMs, hitGbSecondsPer1000: gbSeconds(m, hitMs) };
  });
  const at = (m: number) => sizes.find((s) => s.memoryMb === m)!;
  const threads = inProcess.concurrency.find((c) => c.id === 'p16-webp800');
  const speedup2 = threads ? threads.threads1.median / threads.threads2.median : Number.NaN;
  const peakRss = fresh?.cases.find((c) => c.id === 'p16-webp800')?.handler.maxRssMb.median;
  const pct = (a: number, b: number) => `${a >= b ? '+' : '−'}${Math.abs((a / b - 1) * 100).toFixed(0)} %`;
  const reasons = [
    `A 16 MP miss is CPU-bound: ${(miss.cpuShare * 100).toFixed(0)} % of its ${miss.ms.toFixed(0)} ms here is CPU time (hits: ${(hit.cpuShare * 100).toFixed(0)} %).`,
    `Modelled 16 MP miss: ${at(1536).missMs.toFixed(0)} ms at 1536 MB (${(1536 / VCPU_MB).toFixed(2)} vCPU) → ${at(VCPU_MB).missMs.toFixed(0)} ms at ${VCPU_MB} MB (${pct(at(VCPU_MB).missMs, at(1536).missMs)} latency, ${pct(at(VCPU_MB).missGbSecondsPer1000, at(1536).missGbSecondsPer1000)} GB-s per miss); no faster above.`,
    `A second libvips thread (what 3538 MB = 2 vCPU could offer) changes a 16 MP miss by ${Number.isFinite(speedup2) ? `${speedup2.toFixed(2)}×` : '—'}: not worth twice the price.`,
    `Hits are mostly waiting on S3 (${(hit.cpuShare * 100).toFixed(0)} % CPU) and barely change: ${at(1536).hitMs.toFixed(1)} → ${at(VCPU_MB).hitMs.toFixed(1)} ms, ${at(1536).hitGbSecondsPer1000.toFixed(2)} → ${at(VCPU_MB).hitGbSecondsPer1000.toFixed(2)} GB-s per 1000 hits (billing rounds up to whole ms).`,
    peakRss !== undefined
      ? `Peak RSS of a cold 16 MP miss is ${peakRss.toFixed(0)} MB: memory is not the constraint at any of these sizes.`
      : 'Peak RSS not measured in this run.',
  ];
  // Past one vCPU only a request that runs on two threads gets faster; below it, a CPU-bound miss
  // is slower by exactly what it saves per GB-second, so the knee is the cheapest fast size.
  const recommended = speedup2 >= 1.5 ? 2 * VCPU_MB : miss.cpuShare >= 0.5 ? VCPU_MB : memoryMb;
  return { memoryMb, rows, sizes, recommendation: { memoryMb: recommended, reasons } };
}
