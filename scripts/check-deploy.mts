import { spawn, execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { checkTemplate, type Architecture, type CheckOptions } from './deploy-checks.js';

/**
 * `npm run check:deploy [-- --existing-bucket <name>] [--arch arm64] [--no-cdn] [--engine] [--out <dir>]`:
 * packages a stage (prod unless --stage) as `npx sls deploy` would, without AWS credentials or
 * network calls to AWS, and checks the template and the zip (scripts/deploy-checks.ts,
 * scripts/engine-checks.ts). Prints one PASS/FAIL line per check; exits 1 on any failure, 2 when
 * packaging itself fails.
 */

const ROOT = resolve(import.meta.dirname, '..');
const SLS = join(ROOT, 'node_modules/.bin/sls');
const run = promisify(execFile);
// serverless-esbuild runs `npm ci` against the registry and hangs without one.
const PACKAGE_TIMEOUT_MS = 240_000;
const ELF_MACHINES: Record<number, string> = { 0x3e: 'x86-64', 0xb7: 'aarch64' };
const { cloudfrontOriginPrefixList } = createRequire(import.meta.url)('./serverless-variables.cjs') as {
  cloudfrontOriginPrefixList(region: string, param?: string): string | undefined;
};
/**
 * With --engine, the network the engine's params name unless the environment names one
 * (ENGINE_VPC, …): packaging only checks their shape, and nothing here reaches AWS. The internal
 * load balancer's subnets default to the tasks' (ENGINE_LOAD_BALANCER_SUBNETS names others).
 */
const ENGINE_NETWORK_PLACEHOLDERS: Record<string, [param: string, value: string]> = {
  ENGINE_VPC: ['engineVpc', 'vpc-0123456789abcdef0'],
  ENGINE_SUBNETS: ['engineSubnets', 'subnet-0123456789abcdef0,subnet-0fedcba9876543210'],
};

const usage = 'usage: npm run check:deploy -- [--stage prod] [--existing-bucket <name>] [--arch x86_64|arm64] [--no-cdn] [--engine] [--out <dir>]';

function options() {
  try {
    const { values } = parseArgs({
      options: {
        stage: { type: 'string', default: 'prod' },
        'existing-bucket': { type: 'string' },
        arch: { type: 'string', default: 'x86_64' },
        'no-cdn': { type: 'boolean', default: false },
        engine: { type: 'boolean', default: false },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    if (values.arch !== 'x86_64' && values.arch !== 'arm64') throw new Error(`--arch: x86_64 or arm64, not "${values.arch}"`);
    return { ...values, arch: values.arch as Architecture };
  } catch (error) {
    console.error(`check:deploy: ${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

const NOT_SOURCES = new Set(['node_modules', '.git', '.serverless', '.esbuild', 'dist', '.local-s3', '.bench', 'coverage', '.scratch']);

/**
 * The project as a deploy from this working tree sees it (the files git tracks or would add), in
 * a folder of its own, with node_modules linked: every `sls package` deletes and rewrites
 * <service>/.serverless, and serverless-esbuild builds in <service>/.esbuild, so packagings in one
 * folder (a test run, a contributor's own sls) would break each other.
 */
async function serviceCopy(into: string): Promise<void> {
  let files: string[] | undefined;
  try {
    const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    files = stdout.split('\0').filter((f) => f && existsSync(join(ROOT, f)));
  } catch {
    // Not a git checkout: everything but dependencies and build output.
  }
  if (files) {
    for (const file of files) {
      mkdirSync(dirname(join(into, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(into, file));
    }
  } else {
    cpSync(ROOT, into, { recursive: true, filter: (source) => source === ROOT || !NOT_SOURCES.has(basename(source)) || dirname(source) !== ROOT });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(into, 'node_modules'), 'dir');
}

/** `sls package` in a process group of its own, killed whole (npm included) past the timeout. */
function slsPackage(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(SLS, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      output += `\n(check:deploy: packaging took over ${PACKAGE_TIMEOUT_MS / 1000} s: stopped)`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, PACKAGE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

/** The zip's file names, and the ELF machine of each sharp binary in it. */
async function zipContents(zip: string): Promise<NonNullable<CheckOptions['zip']>> {
  const { stdout } = await run('unzip', ['-Z1', zip], { maxBuffer: 16 * 1024 * 1024 });
  const entries = stdout.split('\n').filter(Boolean);
  const machines: Record<string, string> = {};
  for (const entry of entries.filter((e) => /@img\/sharp-.*(\.node|libvips-cpp\.so[.\d]*)$/.test(e))) {
    const { stdout: bytes } = await run('unzip', ['-p', zip, entry], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
    const elf = bytes.subarray(0, 4).toString('latin1') === '\x7fELF';
    machines[entry] = elf ? (ELF_MACHINES[bytes.readUInt16LE(18)] ?? `machine 0x${bytes.readUInt16LE(18).toString(16)}`) : 'not ELF';
  }
  return { entries, machines };
}

async function main(): Promise<number> {
  const opts = options();
  const cdn = !opts['no-cdn'];
  const work = mkdtempSync(join(tmpdir(), 'check-deploy-'));
  const out = opts.out ? resolve(opts.out) : join(work, 'package');
  const service = join(work, 'service');
  // Everything the framework and npm leave in the temp dir stays in ours, removed at the end.
  const temp = join(work, 'tmp');
  mkdirSync(temp);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'check-deploy',
    AWS_SECRET_ACCESS_KEY: 'check-deploy',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TMPDIR: temp,
  };
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'EXISTING_ORIGINALS_BUCKET']) delete env[name];
  if (opts['existing-bucket']) env.EXISTING_ORIGINALS_BUCKET = opts['existing-bucket'];
  const args = ['package', '--stage', opts.stage, '--package', out, `--param=cdn=${cdn}`, `--param=architecture=${opts.arch}`, `--param=engine=${opts.engine}`];
  const placeholders = opts.engine ? Object.entries(ENGINE_NETWORK_PLACEHOLDERS).filter(([name]) => !env[name]) : [];
  for (const [, [param, value]] of placeholders) args.push(`--param=${param}=${value}`);
  const described = [
    `stage ${opts.stage}`,
    opts['existing-bucket'] ? `existing bucket ${opts['existing-bucket']}` : 'new buckets',
    opts.arch,
    cdn ? 'CDN' : 'no CDN',
    ...(opts.engine ? [`engine${placeholders.length ? ` (placeholder ${placeholders.map(([, [param]]) => param).join(', ')})` : ''}`] : []),
  ];
  console.log(`check:deploy: packaging (${described.join(', ')}) …`);
  try {
    await serviceCopy(service);
    const packaged = await slsPackage(service, args, env);
    const templateFile = join(out, 'cloudformation-template-update-stack.json');
    if (packaged.code !== 0 || !existsSync(templateFile)) {
      console.error(packaged.output.trim().split('\n').slice(-40).join('\n'));
      console.error(`check:deploy: sls ${args.join(' ')} failed (exit ${packaged.code})`);
      return 2;
    }
    const viewerRequest = join(ROOT, 'edge/viewer-request.js');
    // The region serverless.yml resolves (provider.region): --region is not an option here.
    const region = env.AWS_REGION || 'us-east-1';
    const results = checkTemplate(JSON.parse(readFileSync(templateFile, 'utf8')), {
      existingBucket: opts['existing-bucket'],
      architecture: opts.arch,
      cdn,
      region,
      // What the engine's params say, read as serverless.yml reads them: who may reach its load
      // balancer is CloudFront's prefix list with the CDN, ENGINE_INGRESS_CIDR without it.
      engine: opts.engine
        ? { ingressCidr: env.ENGINE_INGRESS_CIDR?.trim() || undefined, originPrefixList: cloudfrontOriginPrefixList(region, env.ENGINE_ORIGIN_PREFIX_LIST) }
        : undefined,
      viewerRequestCode: existsSync(viewerRequest) ? readFileSync(viewerRequest, 'utf8') : undefined,
      zip: await zipContents(join(out, 'image-resizer.zip')),
    });
    for (const r of results) console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name}${r.detail ? `\n      ${r.detail}` : ''}`);
    const failed = results.filter((r) => !r.ok).length;
    console.log(`\n${results.length - failed} passed, ${failed} failed${opts.out ? ` (package in ${out})` : ''}`);
    return failed === 0 ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
