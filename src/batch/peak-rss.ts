import { readFileSync } from 'node:fs';

/**
 * This process's peak resident memory in MB, for the summary: Linux's VmHWM, which starts afresh
 * at exec (getrusage's maxRSS keeps the size the process had when it was forked from its parent).
 */
export function peakRssMb(): number {
  let kb: number;
  try {
    kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? process.resourceUsage().maxRSS);
  } catch {
    kb = process.resourceUsage().maxRSS;
  }
  return Math.round(kb / 1024);
}
