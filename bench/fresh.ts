import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { build, type BuildOptions } from 'esbuild';
import { MISS_CASES } from './cases.js';
import { localS3Env, ROOT, runChild, runCommand } from './children.js';
import type { Corpus } from './corpus.js';
import { summarize, type Summary } from './stats.js';

/**
 * Sections 4 and 5: fresh processes, one miss each. The handler side is the deployment artifact
 * itself — `handlers/resize.js` from the zip `npx sls package` builds — run with plain node; the
 * baselines are bundled by esbuild with serverless.yml's custom.esbuild options (minified CJS,
 * sharp external) into the same unpacked package, so every process loads the same sharp.
 */
export interface FreshRun {
  /** Spawn to the report line, measured by this process (node's own start-up included). */
  readonly wallMs: number;
  /** In the child: module loading and init done, and the response ready (ms since its start). */
  readonly initMs: number;
  readonly responseMs: number;
  readonly maxRssMb: number;
  readonly rssAfterInitMb: number;
}

export interface FreshCase {
  readonly id: string;
  readonly label: string;
  readonly handler: FreshStats;
  readonly rawSharp: FreshStats;
  readonly bare: FreshStats;
}

export interface FreshStats {
  readonly wallMs: Summary;
  readonly initMs: Summary;
  /** From init done to the response (the first request's own work, first-use costs included). */
  readonly afterInitMs: Summary;
  readonly maxRssMb: Summary;
  readonly rssAfterInitMb: Summary;
}

export interface FreshResult {
  readonly artifact: {
    readonly source: 'sls package' | 'esbuild bundle (sls package failed)';
    readonly zipBytes?: number;
    readonly handlerBundleBytes: number;
    /** Unpacked bytes by part of the package. */
    readonly contents: Record<string, number>;
    readonly packageMs: number;
    readonly error?: string;
  };
  readonly cases: FreshCase[];
}

export interface FreshOptions {
  readonly corpus: Corpus;
  readonly tree: string;
  readonly work: string;
  readonly s3Endpoint: string;
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

// serverless-esbuild's work folders: <service>-<pid>-<time>-<random> (see scripts/stack.mts).
const esbuildTemp = (pid: number) => new RegExp(`^image-resizer-${pid}-\\d+-`);

const ESBUILD_OPTIONS: BuildOptions = {
  bundle: true,
  minify: true,
  sourcemap: false,
  target: 'node22',
  platform: 'node',
  format: 'cjs',
  external: ['sharp'],
  logLevel: 'error',
};

/** Unpacked size by part: the handler bundle, each package under node_modules (scoped as one). */
function contents(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (path: string, group: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full, group);
      else out[group] = (out[group] ?? 0) + statSync(full).size;
    }
  };
  for (const top of readdirSync(dir, { withFileTypes: true })) {
    if (!top.isDirectory()) continue;
    if (top.name !== 'node_modules') {
      walk(join(dir, top.name), `${top.name}/`);
      continue;
    }
    for (const pkg of readdirSync(join(dir, 'node_modules'), { withFileTypes: true })) {
      if (!pkg.isDirectory()) continue;
      const scoped = pkg.name.startsWith('@') ? readdirSync(join(dir, 'node_modules', pkg.name)).map((p) => `${pkg.name}/${p}`) : [pkg.name];
      for (const name of scoped) walk(join(dir, 'node_modules', name), name);
    }
  }
  return out;
}

async function packageArtifact(options: FreshOptions, pkgDir: string): Promise<FreshResult['artifact']> {
  const out = join(options.work, 'sls-package');
  const started = performance.now();
  let error: string | undefined;
  try {
    const run = await runCommand(join(options.tree, 'node_modules/.bin/sls'), ['package', '--stage', 'prod', '--package', out], {
      cwd: options.tree,
      timeoutMs: 300_000,
      env: { AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    // serverless-esbuild leaves its npm work folder in the system temp folder.
    for (const name of readdirSync(tmpdir())) {
      if (esbuildTemp(run.pid).test(name)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
    const zip = join(out, 'image-resizer.zip');
    if (run.code !== 0 || !existsSync(zip)) throw new Error(`sls package exited ${run.code}: ${run.tail}`);
    const unzip = await runCommand('unzip', ['-q', '-o', zip, '-d', pkgDir], { timeoutMs: 60_000 });
    if (unzip.code !== 0) throw new Error(`unzip failed: ${unzip.tail}`);
    return {
      source: 'sls package',
      zipBytes: statSync(zip).size,
      handlerBundleBytes: statSync(join(pkgDir, 'handlers/resize.js')).size,
      contents: contents(pkgDir),
      packageMs: performance.now() - started,
    };
  } catch (caught) {
    error = (caught as Error).message.slice(0, 500);
    options.log(`fresh: sls package failed, bundling the handler with esbuild instead: ${error}`);
  }
  // Fallback: the same esbuild options; sharp then resolves from the project's node_modules.
  await build({ ...ESBUILD_OPTIONS, entryPoints: [join(options.tree, 'handlers/resize.ts')], outfile: join(pkgDir, 'handlers/resize.js') });
  return {
    source: 'esbuild bundle (sls package failed)',
    handlerBundleBytes: statSync(join(pkgDir, 'handlers/resize.js')).size,
    contents: contents(pkgDir),
    packageMs: performance.now() - started,
    error,
  };
}

export async function freshSection(options: FreshOptions): Promise<FreshResult> {
  const { corpus, log } = options;
  const pkgDir = join(options.work, 'package');
  rmSync(pkgDir, { recursive: true, force: true });
  mkdirSync(pkgDir, { recursive: true });
  const artifact = await packageArtifact(options, pkgDir);
  log(
    `fresh: artifact from ${artifact.source}${artifact.zipBytes ? `, zip ${(artifact.zipBytes / 1e6).toFixed(2)} MB` : ''}, handler bundle ${(artifact.handlerBundleBytes / 1e6).toFixed(2)} MB`,
  );
  await build({
    ...ESBUILD_OPTIONS,
    entryPoints: ['handler-miss', 'raw-sharp', 'raw-s3-sharp'].map((name) => join(ROOT, 'bench/fresh', `${name}.ts`)),
    outdir: pkgDir,
  });

  // Plain node, as in Lambda: no loader inherited from the tsx process running the bench.
  const s3Env = { ...localS3Env(options.s3Endpoint), NODE_OPTIONS: undefined };
  const client = new S3Client({
    endpoint: options.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const clearVariants = async () => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'variants', MaxKeys: 1000 }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: 'variants', Delete: { Objects: keys } }));
  };

  type Report = { status: number; xCache?: string; initMs: number; responseMs: number; maxRssKb: number; rssAfterInitKb: number };
  const spawnOnce = async (args: string[]): Promise<FreshRun> => {
    const { report, firstReportMs } = await runChild<Report>(process.execPath, args, { cwd: pkgDir, env: s3Env, timeoutMs: 60_000 });
    if (report.status !== 200) throw new Error(`${args[0]}: status ${report.status}`);
    return {
      wallMs: firstReportMs,
      initMs: report.initMs,
      responseMs: report.responseMs,
      maxRssMb: report.maxRssKb / 1024,
      rssAfterInitMb: report.rssAfterInitKb / 1024,
    };
  };

  const cases: FreshCase[] = [];
  const rounds = options.quick ? 2 : 5;
  for (const id of ['p16-webp800', 'p3-jpeg320']) {
    const c = MISS_CASES.find((m) => m.id === id)!;
    const image = corpus[c.image];
    const recipe = JSON.stringify({ ...c.recipe, icc: image.icc });
    const runs = { handler: [] as FreshRun[], rawSharp: [] as FreshRun[], bare: [] as FreshRun[] };
    const contenders = {
      handler: async () => {
        await clearVariants();
        return spawnOnce([join(pkgDir, 'handler-miss.js'), image.key, c.query]);
      },
      rawSharp: () => spawnOnce([join(pkgDir, 'raw-sharp.js'), image.file, recipe]),
      bare: () => spawnOnce([join(pkgDir, 'raw-s3-sharp.js'), 'originals', image.key, recipe]),
    };
    const names = Object.keys(contenders) as (keyof typeof contenders)[];
    // One untimed round first: the page cache then holds node, sharp and the bundles for everyone.
    for (let round = 0; round < rounds + 1; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length]!;
        const run = await contenders[name]();
        if (round > 0) runs[name].push(run);
      }
    }
    const stats = (list: FreshRun[]): FreshStats => ({
      wallMs: summarize(list.map((r) => r.wallMs)),
      initMs: summarize(list.map((r) => r.initMs)),
      afterInitMs: summarize(list.map((r) => r.responseMs - r.initMs)),
      maxRssMb: summarize(list.map((r) => r.maxRssMb)),
      rssAfterInitMb: summarize(list.map((r) => r.rssAfterInitMb)),
    });
    const result: FreshCase = { id, label: c.label, handler: stats(runs.handler), rawSharp: stats(runs.rawSharp), bare: stats(runs.bare) };
    cases.push(result);
    log(
      `fresh ${id}: start→response handler ${result.handler.wallMs.median.toFixed(0)} ms, bare ${result.bare.wallMs.median.toFixed(0)} ms; ` +
        `peak RSS handler ${result.handler.maxRssMb.median.toFixed(0)} MB, raw sharp ${result.rawSharp.maxRssMb.median.toFixed(0)} MB, bare ${result.bare.maxRssMb.median.toFixed(0)} MB`,
    );
  }
  await clearVariants();
  client.destroy();
  return { artifact, cases };
}

export function readMemorySize(): number {
  const yml = readFileSync(join(ROOT, 'serverless.yml'), 'utf8');
  const match = /^\s*memorySize:\s*(?:\$\{env:\w+,\s*)?(\d+)/m.exec(yml);
  return match ? Number(match[1]) : 1536;
}
