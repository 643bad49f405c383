import { readFileSync } from 'node:fs';

/**
 * Peak RSS of this process, in KiB: /proc's VmHWM, which starts afresh when the process image is
 * exec'd. getrusage's maxRSS does not: on Linux it keeps the RSS the child had right after fork,
 * i.e. the parent's size, so every child of a large parent would report at least that.
 */
export function peakRssKb(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : process.resourceUsage().maxRSS;
}
