import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';

/**
 * `npm run build:batch [-- --arch x64|arm64]` lays out dist/batch/, everything the container image
 * holds: its two commands, each bundled as one CommonJS file (the S3 client inside, as for the
 * Lambda bundle) — worker.cjs, the batch worker (the image's default), and serve.cjs, the engine
 * (docs/engine.md) — and a node_modules/ with only sharp and what sharp needs at run time on
 * linux-<arch> (glibc: the image is Debian). sharp is never bundled: it loads native binaries
 * that npm installs per platform.
 */

type Arch = 'x64' | 'arm64';
interface Target {
  readonly os: 'linux';
  readonly cpu: Arch;
  readonly libc: 'glibc';
}
interface PackageJson {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
  readonly libc?: readonly string[];
}

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'dist/batch');
const run = promisify(execFile);
// A cold npm cache and a slow registry take tens of seconds; a hang must not stall a release.
const INSTALL_TIMEOUT_MS = 180_000;

function fail(message: string): never {
  console.error(`build:batch: ${message}`);
  process.exit(1);
}

const readPackage = (dir: string): PackageJson => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

/** npm's own platform filter: an empty list means any; `!x` excludes x. */
function fits(allowed: readonly string[] | undefined, value: string): boolean {
  if (!allowed?.length) return true;
  if (allowed.includes(`!${value}`)) return false;
  const positive = allowed.filter((a) => !a.startsWith('!'));
  return positive.length === 0 || positive.includes(value);
}
const runsOn = (pkg: PackageJson, target: Target) => fits(pkg.os, target.os) && fits(pkg.cpu, target.cpu) && fits(pkg.libc, target.libc);

/** Node's lookup: the package's own node_modules, then each enclosing one up to the root's. */
function findPackage(name: string, fromDir: string, nodeModules: string): string | undefined {
  const top = dirname(nodeModules);
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (basename(dir) !== 'node_modules' && existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === top || dir === dirname(dir)) return undefined;
  }
}

/**
 * sharp and its dependencies, recursively: every `dependencies` entry, and the optional ones
 * (the per-platform @img binaries) that are installed and run on the target.
 */
function runtimePackages(nodeModules: string, target: Target): string[] {
  const sharp = join(nodeModules, 'sharp');
  if (!existsSync(join(sharp, 'package.json'))) fail(`no sharp in ${nodeModules}`);
  const found = new Set<string>([sharp]);
  const queue = [sharp];
  for (let dir = queue.shift(); dir; dir = queue.shift()) {
    const pkg = readPackage(dir);
    const wanted = [
      ...Object.keys(pkg.dependencies ?? {}).map((name) => ({ name, optional: false })),
      ...Object.keys(pkg.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ];
    for (const { name, optional } of wanted) {
      const location = findPackage(name, dir, nodeModules);
      if (!location) {
        if (optional) continue;
        fail(`${pkg.name} needs ${name}, which is not installed in ${nodeModules}`);
      }
      if (found.has(location) || (optional && !runsOn(readPackage(location), target))) continue;
      found.add(location);
      queue.push(location);
    }
  }
  return [...found].map((dir) => relative(nodeModules, dir)).sort();
}

const binaryPackages = (arch: Arch) => [`@img/sharp-linux-${arch}`, `@img/sharp-libvips-linux-${arch}`];

/**
 * Where sharp for the target comes from: this project's node_modules when npm installed the
 * target's binaries here (an x64 Linux machine building for x64), else a throwaway install of
 * the project's exact sharp version for that platform.
 */
async function sharpSource(target: Target): Promise<{ nodeModules: string; cleanup(): void }> {
  const projectModules = join(ROOT, 'node_modules');
  const version = readPackage(join(projectModules, 'sharp')).version;
  if (binaryPackages(target.cpu).every((name) => existsSync(join(projectModules, name, 'package.json')))) {
    return { nodeModules: projectModules, cleanup: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), `sharp-${target.os}-${target.cpu}-`));
  writeFileSync(join(dir, 'package.json'), '{"private":true}\n');
  console.log(`Installing sharp@${version} for ${target.os}-${target.cpu} (${target.libc}) …`);
  try {
    await run(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund',
        `--os=${target.os}`, `--cpu=${target.cpu}`, `--libc=${target.libc}`, `sharp@${version}`],
      { cwd: dir, timeout: INSTALL_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    fail(`npm install of sharp@${version} for ${target.cpu} failed: ${(error as Error).message}`);
  }
  return { nodeModules: join(dir, 'node_modules'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The image's commands: file in /app → entry point. */
const COMMANDS = { worker: 'src/batch/main.ts', serve: 'src/engine/main.ts' } as const;

async function bundleCommands(outdir: string): Promise<void> {
  // The same settings as the Lambda bundle (serverless.yml, custom.esbuild). One bundle per
  // command, nothing shared between them (no splitting): each file runs alone.
  await build({
    entryPoints: Object.fromEntries(Object.entries(COMMANDS).map(([name, source]) => [name, join(ROOT, source)])),
    outdir,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    minify: true,
    sourcemap: false,
    target: 'node22',
    platform: 'node',
    format: 'cjs',
    external: ['sharp'],
    logLevel: 'warning',
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { arch: { type: 'string', default: 'x64' } } });
  if (values.arch !== 'x64' && values.arch !== 'arm64') fail(`--arch takes x64 or arm64, not "${values.arch}"`);
  const target: Target = { os: 'linux', cpu: values.arch, libc: 'glibc' };

  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  await bundleCommands(OUT);
  writeFileSync(join(OUT, 'package.json'), `${JSON.stringify({ name: 'image-resizer-batch', private: true, type: 'commonjs' }, null, 2)}\n`);

  const source = await sharpSource(target);
  try {
    const packages = runtimePackages(source.nodeModules, target);
    const missing = binaryPackages(target.cpu).filter((name) => !packages.includes(name));
    if (missing.length) fail(`sharp's binaries for linux-${target.cpu} are missing: ${missing.join(', ')}`);
    for (const name of packages) {
      const from = join(source.nodeModules, name);
      // Nested node_modules are packages of their own, copied only if they are in the list.
      cpSync(from, join(OUT, 'node_modules', name), {
        recursive: true,
        verbatimSymlinks: true,
        filter: (path) => !relative(from, path).split(sep).includes('node_modules'),
      });
    }
    const bundles = Object.keys(COMMANDS).map((name) => `${name}.cjs (${Math.round(statSync(join(OUT, `${name}.cjs`)).size / 1024)} KiB)`);
    console.log(`dist/batch/ for linux-${target.cpu}: ${bundles.join(', ')}, node_modules/ ${packages.join(' ')}`);
  } finally {
    source.cleanup();
  }
}

await main();
