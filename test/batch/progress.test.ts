import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, figures } from '../../src/batch/progress.js';
import { emptyCounts } from '../../src/batch/run-batch.js';
import { recordingLog } from '../support/stack.js';

/** A stream that says it is a terminal, as process.stderr does on one. */
function fakeTerminal() {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let text = '';
  stream.on('data', (chunk) => (text += chunk));
  Object.assign(stream, { isTTY: true, columns: 120 });
  return { stream, text: () => text };
}

describe('progress', () => {
  it('computes count, rate and ETA from the counts', () => {
    const counts = { ...emptyCounts(), done: 30, skipped: 10, failed: 10 };
    expect(figures(counts, 10, 200)).toMatchObject({ processed: 50, total: 200, ratePerSecond: 5, etaSeconds: 30, failed: 10 });
    expect(figures(counts, 10)).toMatchObject({ processed: 50, total: undefined, etaSeconds: undefined });
  });

  it('draws a bar with count, rate and ETA on a terminal when the total is known', async () => {
    const terminal = fakeTerminal();
    const log = recordingLog();
    const progress = createProgress({ totalVariants: 100, terminal: terminal.stream, log });
    progress.update({ ...emptyCounts(), done: 40, skipped: 10 });
    progress.stop();
    await new Promise((r) => setImmediate(r));
    expect(terminal.text()).toMatch(/50\/100 variants \| [\d.]+\/s \| failed 0 \| ETA/);
    expect(log.entries).toEqual([]);
  });

  it('shows count and rate for a listing, whose total is unknown', async () => {
    const terminal = fakeTerminal();
    const progress = createProgress({ terminal: terminal.stream, log: recordingLog() });
    progress.update({ ...emptyCounts(), done: 7, failed: 1 });
    progress.stop();
    await new Promise((r) => setImmediate(r));
    expect(terminal.text()).toMatch(/8 variants \| [\d.]+\/s \| done 7 skipped 0 failed 1/);
  });

  it('logs one structured line every interval off a terminal', async () => {
    const log = recordingLog();
    const progress = createProgress({ totalVariants: 10, terminal: undefined, log, intervalMs: 50 });
    progress.update({ ...emptyCounts(), done: 4 });
    await new Promise((r) => setTimeout(r, 180));
    progress.stop();
    const lines = log.entries.filter((e) => e.message === 'batch progress');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]!.details[0]).toMatchObject({ processed: 4, total: 10, done: 4, ratePerSecond: expect.any(Number), etaSeconds: expect.any(Number) });
  });
});
