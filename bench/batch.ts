import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Recipe } from './cases.js';
import { localS3Env, ROOT, runChild, runCommand, startServer, TSX } from './children.js';
import type { Corpus } from './corpus.js';
import { summarize, type Summary } from './stats.js';

/**
 * Section 6: the batch worker (the Fargate task's program) run as an operator runs it —
 * `node --import tsx src/batch/main.ts --prefix … --spec … --concurrency N` in a process of its
 * own, against the local S3 in another, from a cold variants bucket each time — next to raw sharp
 * doing the same transforms on the same originals from local disk at the same concurrency, in a
 * process of its own too, and next to the worker's S3 calls made directly around raw sharp (what
 * S3 itself costs). Runs alternate; medians are reported. Then the same variants once more
 * through the real HTTP handler, one invocation at a time, for the Lambda side of the cost table.
 */
export interface BatchSpec {
  /** The worker's --spec (the URL query). */
  readonly query: string;
  /** The same transform for raw sharp (see cases.ts). */
  readonly recipe: Recipe;
}

export const BATCH_SPECS: readonly BatchSpec[] = [
  { query: 'w=320&fm=webp', recipe: { width: 320, format: 'webp', quality: 80 } },
  { query: 'w=800&fm=jpeg', recipe: { width: 800, format: 'jpeg', quality: 80 } },
];

/** One run of one contender. */
export interface BatchRun {
  readonly variants: number;
  /** Worker: the summary's durationSeconds (listing to last PUT, process start excluded); raw sharp: first read to last write. */
  readonly seconds: number;
  /** Worker: the summary's imagesPerSecond; raw sharp: outputs / seconds. */
  readonly imagesPerSecond: number;
  /** Spawn to exit, measured here: node start, imports, config and (worker) the report upload included. */
  readonly wallSeconds: number;
  /** VmHWM of the process: worker from its summary (peakRssMb) when present, else polled here; raw sharp its own. */
  readonly peakRssMb: number;
  readonly peakRssSource: 'summary' | 'polled /proc' | 'self';
  /** Worker: VmHWM as polled here every 25 ms while it ran (a cross-check of its summary's figure). */
  readonly polledPeakRssMb?: number;
  /** CPU time of the process (all threads, user + system) during the timed part (`seconds`). */
  readonly cpuSeconds: number;
  /** The same for the whole process, start-up included. */
  readonly processCpuSeconds: number;
  /** CPU time the local S3 process spent during the run. */
  readonly s3CpuSeconds: number;
  readonly bytesOut: number;
}

export interface BatchContender {
  readonly runs: BatchRun[];
  readonly imagesPerSecond: Summary;
  readonly wallImagesPerSecond: Summary;
  readonly seconds: Summary;
  readonly wallSeconds: Summary;
  readonly peakRssMb: Summary;
  readonly cpuSeconds: Summary;
  readonly processCpuSeconds: Summary;
  readonly s3CpuSeconds: Summary;
}

export interface BatchResult {
  readonly originals: number;
  readonly original: { readonly description: string; readonly bytes: number };
  readonly specs: readonly string[];
  readonly concurrency: number;
  readonly cores: number;
  readonly worker: BatchContender;
  readonly rawSharp: BatchContender;
  /** The worker's S3 calls made directly around raw sharp (no target: shows what S3 itself costs). */
  readonly rawS3Sharp: BatchContender;
  /** Worker images/s / raw sharp images/s, medians. */
  readonly ratio: number;
  /** The handler, one miss at a time: per query, wall and CPU per invocation (ms). */
  readonly lambda: { readonly query: string; readonly ms: Summary; readonly cpuMs: Summary }[];
}

export interface BatchOptions {
  readonly corpus: Corpus;
  readonly tree: string;
  readonly work: string;
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

/** The worker's own default (src/batch/job.ts defaultConcurrency): 2 × CPUs, at least 2. */
export const workerConcurrency = () => Math.max(2, availableParallelism() * 2);

const TICK_SECONDS = 1 / 100;
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** utime + stime of a process, in seconds (USER_HZ is 100 on Linux); NaN once it is gone. */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_SECONDS;
  } catch {
    return Number.NaN;
  }
}

function peakRssMbOf(pid: number): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Polls a child's /proc entries while it runs (the last values read before it exits), and takes
 * its CPU time once more when `mark` is called: the start of the timed part of the run.
 */
function watch() {
  let timer: NodeJS.Timeout | undefined;
  let pid = 0;
  const seen = { peakRssMb: 0, cpuSeconds: 0, cpuAtMark: Number.NaN };
  const poll = () => {
    const rss = peakRssMbOf(pid);
    const cpu = cpuSecondsOf(pid);
    if (Number.isFinite(rss)) seen.peakRssMb = Math.max(seen.peakRssMb, rss);
    if (Number.isFinite(cpu)) seen.cpuSeconds = Math.max(seen.cpuSeconds, cpu);
    return cpu;
  };
  return {
    seen,
    onSpawn(spawned: number) {
      pid = spawned;
      poll();
      timer = setInterval(poll, 25);
    },
    mark: () => {
      seen.cpuAtMark = poll();
    },
    stop: () => clearInterval(timer),
  };
}

interface WorkerSummary {
  readonly done: number;
  readonly failed: number;
  readonly skipped: number;
  readonly durationSeconds: number;
  readonly imagesPerSecond: number;
  readonly bytesOut: number;
  readonly peakRssMb?: number;
  readonly exitCode: number;
}

/** The worker's last stdout line: its summary (JSON log lines come before it). */
function parseSummary(tail: string): WorkerSummary | undefined {
  for (const line of tail.split('\n').reverse()) {
    if (!line.startsWith('{') || !line.includes('"exitCode"')) continue;
    try {
      return JSON.parse(line) as WorkerSummary;
    } catch {
      continue;
    }
  }
  return undefined;
}

function contender(runs: BatchRun[]): BatchContender {
  const of = (pick: (r: BatchRun) => number) => summarize(runs.map(pick));
  return {
    runs,
    imagesPerSecond: of((r) => r.imagesPerSecond),
    wallImagesPerSecond: of((r) => r.variants / r.wallSeconds),
    seconds: of((r) => r.seconds),
    wallSeconds: of((r) => r.wallSeconds),
    peakRssMb: of((r) => r.peakRssMb),
    cpuSeconds: of((r) => r.cpuSeconds),
    processCpuSeconds: of((r) => r.processCpuSeconds),
    s3CpuSeconds: of((r) => r.s3CpuSeconds),
  };
}

export async function batchSection(options: BatchOptions): Promise<BatchResult> {
  const { corpus, log } = options;
  const image = corpus.photo3;
  const originals = options.quick ? 50 : 60;
  const rounds = options.quick ? 1 : 3;
  const concurrency = workerConcurrency();
  const prefix = 'batch/';
  const names = Array.from({ length: originals }, (_, i) => `photo-3mp-${String(i).padStart(3, '0')}.jpg`);

  // The originals for raw sharp: copies, not links, so each is a file of its own as in S3.
  const diskDir = join(options.work, 'batch-originals');
  const outRoot = join(options.work, 'batch-out');
  rmSync(diskDir, { recursive: true, force: true });
  mkdirSync(diskDir, { recursive: true });
  for (const name of names) copyFileSync(image.file, join(diskDir, name));

  const s3 = await startServer<{ endpoint: string; pid: number }>(TSX, ['bench/s3-child.mts', 'originals'], {
    readyTimeoutMs: 60_000,
    timeoutMs: 300_000,
    log: (line) => log(`  [s3] ${line}`),
  });
  const client = new S3Client({ endpoint: s3.info.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
  try {
    const body = readFileSync(image.file);
    for (let i = 0; i < names.length; i += 8) {
      await Promise.all(
        names.slice(i, i + 8).map((name) =>
          client.send(new PutObjectCommand({ Bucket: 'originals', Key: `${prefix}${name}`, Body: body, ContentType: image.contentType })),
        ),
      );
    }
    let buckets = 0;
    // A cold variants bucket for every run: every variant is a miss, none is skipped.
    const freshBucket = async (kind: string) => {
      const bucket = `${kind}-${++buckets}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    };
    // Plain node with tsx's loader, as `npm run batch` runs it; nothing inherited from the bench's own loader.
    const nodeEnv = (bucket: string) => ({ ...localS3Env(s3.info.endpoint), VARIANTS_BUCKET: bucket, NODE_OPTIONS: undefined });

    const worker = async (): Promise<BatchRun> => {
      const bucket = await freshBucket('batch-variants');
      const watcher = watch();
      let s3Cpu = cpuSecondsOf(s3.info.pid);
      // The worker logs "batch started" once its source is open: its timed part starts there.
      const onLine = (line: string) => {
        if (!line.includes('"batch started"')) return;
        watcher.mark();
        s3Cpu = cpuSecondsOf(s3.info.pid);
      };
      const args = ['--import', 'tsx', 'src/batch/main.ts', '--prefix', prefix, ...BATCH_SPECS.flatMap((s) => ['--spec', s.query]), '--concurrency', String(concurrency)];
      const run = await runCommand(process.execPath, args, { cwd: options.tree, env: nodeEnv(bucket), timeoutMs: 180_000, onSpawn: watcher.onSpawn, log: onLine });
      watcher.stop();
      const summary = parseSummary(run.tail);
      if (run.code !== 0 || !summary || summary.done !== originals * BATCH_SPECS.length) {
        throw new Error(`batch worker: exit ${run.code}, ${summary ? `done ${summary.done}, failed ${summary.failed}, skipped ${summary.skipped}` : 'no summary'}\n${run.tail}`);
      }
      const fromSummary = summary.peakRssMb !== undefined && Number.isFinite(summary.peakRssMb);
      return {
        variants: summary.done,
        seconds: summary.durationSeconds,
        imagesPerSecond: summary.imagesPerSecond,
        wallSeconds: run.wallMs / 1000,
        peakRssMb: fromSummary ? summary.peakRssMb! : watcher.seen.peakRssMb,
        peakRssSource: fromSummary ? 'summary' : 'polled /proc',
        polledPeakRssMb: watcher.seen.peakRssMb,
        cpuSeconds: watcher.seen.cpuSeconds - watcher.seen.cpuAtMark,
        processCpuSeconds: watcher.seen.cpuSeconds,
        s3CpuSeconds: cpuSecondsOf(s3.info.pid) - s3Cpu,
        bytesOut: summary.bytesOut,
      };
    };

    type RawReport = { outputs: number; seconds: number; bytesOut: number; cpuSeconds: number; processCpuSeconds: number; peakRssKb: number };
    const rawRun = async (script: string, args: string[], env: Record<string, string | undefined>): Promise<BatchRun> => {
      const s3Cpu = cpuSecondsOf(s3.info.pid);
      const { report, wallMs } = await runChild<RawReport>(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { env, timeoutMs: 180_000 });
      if (report.outputs !== originals * BATCH_SPECS.length) throw new Error(`${script}: ${report.outputs} outputs`);
      return {
        variants: report.outputs,
        seconds: report.seconds,
        imagesPerSecond: report.outputs / report.seconds,
        wallSeconds: wallMs / 1000,
        peakRssMb: report.peakRssKb / 1024,
        peakRssSource: 'self',
        cpuSeconds: report.cpuSeconds,
        processCpuSeconds: report.processCpuSeconds,
        s3CpuSeconds: cpuSecondsOf(s3.info.pid) - s3Cpu,
        bytesOut: report.bytesOut,
      };
    };
    const rawInput = JSON.stringify({ recipes: BATCH_SPECS.map((s) => s.recipe), icc: image.icc, concurrency });
    const contenders = {
      worker,
      raw: async (round: number) => {
        const outDir = join(outRoot, String(round));
        rmSync(outDir, { recursive: true, force: true });
        mkdirSync(outDir, { recursive: true });
        const run = await rawRun('bench/batch/raw-sharp.mts', [diskDir, outDir, rawInput], { NODE_OPTIONS: undefined });
        rmSync(outDir, { recursive: true, force: true });
        return run;
      },
      rawS3: async () => rawRun('bench/batch/raw-s3-sharp.mts', [prefix, rawInput], nodeEnv(await freshBucket('raw-variants'))),
    };
    const label = { worker: 'worker', raw: 'raw sharp', rawS3: 'raw S3 calls + sharp' } as const;

    const runs = { worker: [] as BatchRun[], raw: [] as BatchRun[], rawS3: [] as BatchRun[] };
    const order = Object.keys(contenders) as (keyof typeof contenders)[];
    for (let round = 0; round < rounds; round++) {
      // Alternating, the order rotated each round, so drift on the machine spreads evenly.
      for (let i = 0; i < order.length; i++) {
        const name = order[(round + i) % order.length]!;
        const run = await contenders[name](round);
        runs[name].push(run);
        log(
          `batch ${label[name]} (round ${round + 1}/${rounds}): ${run.imagesPerSecond.toFixed(1)} images/s over ${run.seconds.toFixed(2)} s ` +
            `(${run.wallSeconds.toFixed(2)} s with process start), peak RSS ${run.peakRssMb.toFixed(0)} MB, CPU ${run.cpuSeconds.toFixed(2)} s, local S3 CPU ${run.s3CpuSeconds.toFixed(2)} s`,
        );
      }
    }

    // The Lambda side: the handler, one miss at a time, against a cold variants bucket of its own.
    const lambdaKeys = names.slice(0, options.quick ? 6 : 21).map((n) => `${prefix}${n}`);
    const lambdaBucket = await freshBucket('lambda-variants');
    const { report: serial } = await runChild<{ samples: Record<string, { ms: number[]; cpuMs: number[] }> }>(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench/batch/handler-serial.mts'), join(options.tree, 'handlers/resize.ts'), JSON.stringify({ keys: lambdaKeys, queries: BATCH_SPECS.map((s) => s.query) })],
      { cwd: options.tree, env: nodeEnv(lambdaBucket), timeoutMs: 120_000 },
    );
    const lambda = BATCH_SPECS.map((s) => ({ query: s.query, ms: summarize(serial.samples[s.query]!.ms), cpuMs: summarize(serial.samples[s.query]!.cpuMs) }));
    log(`batch lambda (handler, one miss at a time): ${lambda.map((l) => `${l.query} ${l.ms.median.toFixed(1)} ms (CPU ${l.cpuMs.median.toFixed(1)} ms)`).join(', ')}`);

    const workerStats = contender(runs.worker);
    const rawSharp = contender(runs.raw);
    return {
      originals,
      original: { description: `${image.description}, ${basename(image.key)}`, bytes: image.bytes },
      specs: BATCH_SPECS.map((s) => s.query),
      concurrency,
      cores: availableParallelism(),
      worker: workerStats,
      rawSharp,
      rawS3Sharp: contender(runs.rawS3),
      ratio: workerStats.imagesPerSecond.median / rawSharp.imagesPerSecond.median,
      lambda,
    };
  } finally {
    client.destroy();
    await s3.stop();
    rmSync(diskDir, { recursive: true, force: true });
    rmSync(outRoot, { recursive: true, force: true });
  }
}
