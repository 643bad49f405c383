import { describe, expect, it } from 'vitest';
import { BatchUsageError } from '../../src/batch/errors.js';
import { jobRequestToArgs, parseBatchArgs } from '../../src/batch/job.js';
import { loadConfig } from '../../src/config.js';
import { thrownBy } from '../support/thrown.js';

const config = loadConfig({ PRESETS: '{"thumb":"w=160&h=160&fm=auto","card":"w=480&h=320&fm=webp"}' });
const now = new Date('2026-12-01T10:20:30.456Z');
const parse = (...args: string[]) => parseBatchArgs(args, config, now);

describe('parseBatchArgs', () => {
  it('builds canonical specs from presets and queries, fm=auto as its three variants, duplicates once', () => {
    const job = parse('--prefix', 'photos/', '--preset', 'thumb,card', '--spec', 'width=480&height=320&format=webp', '--spec', 'w=100&q=80');
    expect(job.source).toEqual({ kind: 'prefix', prefix: 'photos/' });
    expect(job.variants.map((v) => [v.request, v.canonical])).toEqual([
      ['preset=thumb', 'w=160&h=160&fm=avif'],
      ['preset=thumb', 'w=160&h=160&fm=webp'],
      ['preset=thumb', 'w=160&h=160&fm=auto'],
      ['preset=card', 'w=480&h=320&fm=webp'],
      // q=80 is the default quality: the same variant as no q at all, as in the URL API.
      ['w=100&q=80', 'w=100'],
    ]);
    expect(job.jobId).toMatch(/^20261201T102030Z-[a-z0-9]+$/);
    expect(job.report).toEqual({ bucket: 'variants', reportKey: `batch-reports/${job.jobId}/report.jsonl`, summaryKey: `batch-reports/${job.jobId}/summary.json` });
    expect(job.concurrency).toBeGreaterThanOrEqual(2);
    expect(job.dryRun).toBe(false);
  });

  it.each([
    [['--report', 's3://ops/reports/'], { bucket: 'ops', reportKey: 'reports/j1/report.jsonl', summaryKey: 'reports/j1/summary.json' }],
    [['--report', 's3://ops/reports'], { bucket: 'ops', reportKey: 'reports/j1/report.jsonl', summaryKey: 'reports/j1/summary.json' }],
    [['--report', 's3://ops/run.jsonl'], { bucket: 'ops', reportKey: 'run.jsonl', summaryKey: 'run.summary.json' }],
  ])('--report %j', (args, report) => {
    expect(parse('--prefix', '', '--spec', 'w=1', '--job-id', 'j1', ...args).report).toEqual(report);
  });

  it('reads a manifest location and format', () => {
    expect(parse('--manifest', 's3://lists/a b.csv', '--manifest-format', 'text', '--spec', 'w=1').source).toEqual({
      kind: 'manifest',
      location: { bucket: 'lists', key: 'a b.csv' },
      format: 'text',
    });
  });

  it.each([
    [['--prefix', 'p/', '--preset', 'hero'], /unknown preset "hero". Available presets: thumb, card/],
    [['--prefix', 'p/', '--spec', 'w=0'], /"w=0": .*"w"/],
    [['--prefix', 'p/', '--spec', 'w=100&dpr=9'], /dpr/],
    [['--prefix', 'p/', '--spec', 'w=100&w=200'], /more than once/],
    [['--prefix', 'p/', '--spec', ''], /empty query/],
    [['--prefix', 'p/', '--spec', 'w=1', '--concurrency', 'lots'], /--concurrency: expected an integer/],
    [['--prefix', 'p/', '--spec', 'w=1', '--job-id', '../x'], /--job-id/],
    [['--prefix', 'p/', '--spec', 'w=1', '--report', 'ops/reports'], /--report: .*not an S3 URI/],
    [['--manifest', 's3://lists/', '--spec', 'w=1'], /names no object/],
    [['--manifest', 's3://lists/k.csv', '--manifest-format', 'xml', '--spec', 'w=1'], /--manifest-format/],
    [['--prefix', 'p/', '--manifest-format', 'csv', '--spec', 'w=1'], /goes with --manifest/],
    [['--prefix', 'p/', '--spec', 'w=1', 'stray'], /positional|Unexpected argument/],
  ])('refuses %j', (args, message) => {
    const error = thrownBy(() => parse(...args));
    expect(error).toBeInstanceOf(BatchUsageError);
    expect((error as Error).message).toMatch(message);
  });

  it('applies the allowlist, so a job can only make variants a URL could ask for', () => {
    const strict = loadConfig({ ALLOWLIST: 'widths', ALLOWED_WIDTHS: '320,640' });
    expect(parseBatchArgs(['--prefix', '', '--spec', 'w=640&fm=webp'], strict).variants[0]!.canonical).toBe('w=640&fm=webp');
    expect(() => parseBatchArgs(['--prefix', '', '--spec', 'w=500'], strict)).toThrow(/Width 500 is not served/);
  });
});

describe('jobRequestToArgs (the JSON form startBatch takes)', () => {
  it('maps every field to the CLI option', () => {
    expect(
      jobRequestToArgs({ prefix: 'photos/', presets: ['thumb', 'card'], specs: 'w=1', concurrency: 3, dryRun: true, report: 's3://r/x/', jobId: 'j', graceSeconds: 10 }),
    ).toEqual(['--prefix', 'photos/', '--preset', 'thumb', '--preset', 'card', '--spec', 'w=1', '--concurrency', '3', '--report', 's3://r/x/', '--job-id', 'j', '--grace-seconds', '10', '--dry-run']);
    expect(jobRequestToArgs({ manifest: 's3://m/k.csv', manifestFormat: 'csv', specs: ['w=1', 'w=2'] })).toEqual([
      '--manifest', 's3://m/k.csv', '--manifest-format', 'csv', '--spec', 'w=1', '--spec', 'w=2',
    ]);
  });

  it.each([
    [{ prefix: 'p/', presets: 'thumb', colour: 'red' }, /unknown job field\(s\): colour/],
    [{ prefix: 3 }, /"prefix" must be a string/],
    [{ prefix: 'p/', presets: [1] }, /"presets" must be a string or an array of strings/],
    [{ prefix: 'p/', specs: ['w=1'], dryRun: 'yes' }, /"dryRun" must be true or false/],
    [[], /JSON object/],
  ])('refuses %j', (request, message) => {
    expect(() => jobRequestToArgs(request as never)).toThrow(message);
  });
});
