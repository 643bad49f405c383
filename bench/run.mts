import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { killAllChildren, localS3Env, ROOT, runChild, startServer, TSX, type Server } from './children.js';
import { loadCorpus } from './corpus.js';
import { batchSection, type BatchResult } from './batch.js';
import { batchCosts, type BatchCostResult } from './batch-cost.js';
import { costs, type CostResult } from './cost.js';
import { freshSection, readMemorySize, type FreshResult } from './fresh.js';
import { heicSection, heicTables, type HeicResult } from './heic.js';
import { httpSection, type HttpResult } from './http.js';
import type { BudgetBenchResult } from './byte-budget.mjs';
import type { InProcessResult } from './in-process.mjs';
import { buildTables, collectTargets, machineLine, renderMarkdown, renderText, type Machine } from './report.js';

/**
 * `npm run bench`: builds (or finds) the corpus, then measures, each against its baseline from the
 * same run: 1–2 misses and hits in process, 4–5 fresh processes (memory, cold start, package
 * size), 3 the engine under load next to ipx (with a raw baseline server and the serverless-offline
 * emulator), 6 the batch worker next to raw sharp (with its
 * cost per million variants on Fargate and on Lambda), 7 what `maxbytes` costs next to plain sharp,
 * 8 an HEIC original next to heic-decode + sharp.
 * Prints the tables and writes the same figures
 * to .bench/results.json (and .bench/results.md). Everything stays on 127.0.0.1; every child
 * process is bounded; the whole run stops itself after 9.5 minutes.
 *
 *   npm run bench                  the full run (about 6 minutes on 2 cores)
 *   npm run bench -- --quick       a smoke run with few samples (figures not meaningful)
 *   npm run bench -- --only=inproc,fresh,http,batch,budget,heic
 */
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = new Set((args.find((a) => a.startsWith('--only='))?.slice(7) ?? 'inproc,fresh,http,batch,budget,heic').split(','));
const OUT = join(ROOT, '.bench');
const WORK = join(OUT, 'work');
const DEADLINE_MS = 570_000;
const BATCH_BUDGET_MS = 120_000;
// The HEIC section: about 40 s, and about 15 s more the first time (its original is generated).
const HEIC_BUDGET_MS = 75_000;

const t0 = performance.now();
// Every child inherits this: the SDK's notice about Node < 22 (Lambda runs 22) is only noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const log = (line: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`);

const machine: Machine = {
  cores: availableParallelism(),
  cpu: cpus()[0]?.model.trim() ?? 'unknown',
  node: process.versions.node,
  sharp: sharp.versions.sharp ?? 'unknown',
  libvips: sharp.versions.vips,
  sharpConcurrency: sharp.concurrency(),
  date: new Date().toISOString().slice(0, 10),
  load: { start: loadavg()[0]! },
};

const results: {
  machine: Machine;
  quick: boolean;
  memoryMb: number;
  inProcess?: InProcessResult;
  fresh?: FreshResult;
  http?: HttpResult;
  cost?: CostResult;
  batch?: BatchResult;
  batchCost?: BatchCostResult;
  budget?: BudgetBenchResult;
  heic?: HeicResult;
  errors: string[];
  seconds?: number;
} = { machine, quick, memoryMb: readMemorySize(), errors: [] };

let tree: string | undefined;
const servers: Server<unknown>[] = [];

function write(): void {
  results.machine = { ...machine, load: { ...machine.load, end: loadavg()[0]! } };
  results.seconds = Math.round((performance.now() - t0) / 1000);
  const targets = collectTargets(results.inProcess, results.http, results.fresh, results.batch);
  const tables = [
    ...buildTables(results.machine, targets, results.inProcess, results.http, results.fresh, results.cost, results.batch, results.batchCost, results.budget),
    ...(results.heic ? heicTables(results.heic) : []),
  ];
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'results.json'), `${JSON.stringify({ ...results, targets }, null, 2)}\n`);
  writeFileSync(
    join(OUT, 'results.md'),
    [`Machine: ${machineLine(results.machine)}. Run: ${results.seconds} s${quick ? ' (--quick: too few samples to mean anything)' : ''}.`, ...tables.map(renderMarkdown)].join('\n\n') + '\n',
  );
  console.log(`\nMachine: ${machineLine(results.machine)}${quick ? '  [--quick run]' : ''}\n`);
  console.log(tables.map(renderText).join('\n\n'));
  if (results.errors.length) console.log(`\nErrors:\n${results.errors.map((e) => `  ${e}`).join('\n')}`);
  console.log(`\nWritten: .bench/results.json, .bench/results.md (${results.seconds} s)`);
}

async function cleanup(): Promise<void> {
  for (const server of servers.splice(0)) await server.stop().catch(() => undefined);
  killAllChildren();
  if (tree) rmSync(tree, { recursive: true, force: true });
}

const watchdog = setTimeout(() => {
  results.errors.push(`stopped by the ${DEADLINE_MS / 1000} s deadline; sections not finished are missing`);
  killAllChildren();
  write();
  if (tree) rmSync(tree, { recursive: true, force: true });
  process.exit(1);
}, DEADLINE_MS);

/**
 * The service's files as they are now, in a temporary folder with the project's node_modules
 * linked: `sls package` and `sls offline` there use their own .esbuild/.serverless folders, so a
 * test run in the work tree at the same time cannot collide with the bench's builds.
 */
function snapshotTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tree-'));
  for (const name of ['serverless.yml', 'package.json', 'package-lock.json', 'tsconfig.json', 'handlers', 'src', 'scripts', 'types', 'events', 'edge', 'playground']) {
    cpSync(join(ROOT, name), join(dir, name), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

async function section<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  const started = performance.now();
  try {
    const value = await run();
    log(`${name}: done in ${Math.round((performance.now() - started) / 1000)} s`);
    return value;
  } catch (error) {
    const message = `${name}: ${(error as Error).message}`;
    results.errors.push(message.slice(0, 2000));
    log(message);
    return undefined;
  }
}

try {
  log(`machine: ${machineLine(machine)}`);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const corpus = await loadCorpus(join(OUT, 'corpus'), log);
  for (const image of Object.values(corpus)) log(`corpus: ${image.key} — ${image.description}, ${(image.bytes / 1e6).toFixed(2)} MB`);
  tree = snapshotTree();

  if (only.has('inproc') || only.has('fresh')) {
    const s3 = await startServer<{ endpoint: string; pid: number }>(TSX, ['bench/s3-child.mts', 'originals', 'variants'], {
      readyTimeoutMs: 60_000,
      timeoutMs: DEADLINE_MS,
      log: (line) => log(`  [s3] ${line}`),
    });
    servers.push(s3);
    const s3Env = localS3Env(s3.info.endpoint);
    // Sections 1–2 upload the originals this section's fresh processes read, so they run first.
    results.inProcess = await section('in process (1, 2)', async () => {
      log('in process: misses and hits (handler vs raw GET+sharp+PUT / raw GetObject; FRESHNESS strict and events), then libvips threads 1 vs 2 …');
      const { report } = await runChild<InProcessResult>(TSX, ['bench/in-process.mts', JSON.stringify({ corpus, quick })], {
        env: { ...s3Env, BENCH_S3_PID: String(s3.info.pid) },
        timeoutMs: 420_000,
        // The child's stdout also carries the function's JSON log lines: only its progress is shown.
        log: (line) => {
          if (!line.startsWith('{')) log(line);
        },
      });
      return report;
    });
    if (only.has('fresh')) {
      results.fresh = await section('fresh processes (4, 5)', () =>
        freshSection({ corpus, tree: tree!, work: WORK, s3Endpoint: s3.info.endpoint, quick, log }),
      );
    }
    await s3.stop();
    servers.splice(servers.indexOf(s3), 1);
  }

  if (only.has('budget')) {
    results.budget = await section('maxbytes (7)', async () => {
      log('maxbytes: the service\'s quality search vs plain sharp, one encode and the same search by hand …');
      const { report } = await runChild<BudgetBenchResult>(TSX, ['bench/byte-budget.mts', JSON.stringify({ corpus, quick })], {
        timeoutMs: 120_000,
        log,
      });
      return report;
    });
  }

  if (only.has('http')) {
    const median = (id: string, fallback: number) => results.inProcess?.misses.find((m) => m.id === id)?.handler.median ?? fallback;
    results.http = await section('over HTTP (3)', () =>
      httpSection({ corpus, tree: tree!, work: WORK, quick, missMs: { large: median('p16-webp800', 200), small: median('p3-jpeg320', 25) }, log }),
    );
  }
  // The batch section takes about a minute (30 s with --quick): started only if it can finish.
  if (only.has('batch') && performance.now() - t0 > DEADLINE_MS - BATCH_BUDGET_MS) {
    results.errors.push(`batch worker (6): skipped, less than ${BATCH_BUDGET_MS / 1000} s left before the deadline`);
  } else if (only.has('batch')) {
    results.batch = await section('batch worker (6)', () => batchSection({ corpus, tree: tree!, work: WORK, quick, log }));
    if (results.batch) results.batchCost = batchCosts(results.batch, results.memoryMb);
  }
  if (only.has('heic') && performance.now() - t0 > DEADLINE_MS - HEIC_BUDGET_MS) {
    results.errors.push(`HEIC (8): skipped, less than ${HEIC_BUDGET_MS / 1000} s left before the deadline`);
  } else if (only.has('heic')) {
    results.heic = await section('HEIC (8)', () => heicSection({ corpusDir: join(OUT, 'corpus'), quick, log }));
  }
  if (results.inProcess) results.cost = costs(results.memoryMb, results.inProcess, results.fresh);
} catch (error) {
  results.errors.push(String((error as Error).stack ?? error));
} finally {
  clearTimeout(watchdog);
  await cleanup();
  // The copies ipx served are hard links to the corpus: no space to reclaim, but no reason to keep them.
  rmSync(join(WORK, 'ipx-root'), { recursive: true, force: true });
  write();
}
process.exit(results.errors.length ? 1 : 0);
