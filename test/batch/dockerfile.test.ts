import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DockerfileParser } from 'dockerfile-ast';
import sharp from 'sharp';
import { validate } from 'dockerfile-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_CMD, IMAGE_ENTRYPOINT } from '../../scripts/engine-checks.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3 } from '../../scripts/local-s3.js';
import { photoLikeJpeg } from '../../scripts/samples.js';
import { dockerignoreFilter, layOutImage, type ImageLayout } from '../support/image-layout.js';

/**
 * The container image without a Docker engine: the Dockerfile is checked as text, then
 * `npm run build:batch` runs and exactly what the COPY instructions take from the build context
 * is laid out in a folder standing for the image, where plain Node runs its two commands against
 * a local S3, far from this repository's node_modules: the ENTRYPOINT (the batch worker) and
 * serve.cjs (the engine, as its ECS task definition runs it).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
// DiagnosticSeverity.Error in the language-server protocol that dockerfile-utils speaks.
const ERROR = 1;

describe('the Dockerfile', () => {
  it('has no errors', () => {
    expect(validate(text).filter((d) => d.severity === ERROR).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('starts from an exact Node.js 22 release on Debian (glibc, for sharp’s binaries)', () => {
    const froms = dockerfile.getFROMs();
    expect(froms).toHaveLength(1);
    const from = froms[0]!;
    expect(from.getImageName()).toBe('node');
    expect(from.getImageTag()).toMatch(/^22\.\d+\.\d+-(bookworm|trixie)(-slim)?$/);
    const digest = from.getImageDigest();
    if (digest !== null) expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('runs node worker.cjs from /app as a user that is not root', () => {
    const entrypoints = dockerfile.getENTRYPOINTs();
    expect(entrypoints).toHaveLength(1);
    expect(entrypoints[0]!.getJSONStrings().map((s) => s.getJSONValue())).toEqual(['node', 'worker.cjs']);
    // check:deploy judges what the engine's task definition runs from these.
    expect(entrypoints[0]!.getJSONStrings().map((s) => s.getJSONValue())).toEqual(IMAGE_ENTRYPOINT);
    expect(dockerfile.getCMDs().map((c) => c.getJSONStrings().map((s) => s.getJSONValue()))).toEqual([IMAGE_CMD]);
    const users = dockerfile.getInstructions().filter((i) => i.getKeyword() === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const last = users.at(-1)!;
    expect(last.getRange().start.line).toBeLessThan(entrypoints[0]!.getRange().start.line);
    expect(last.getArguments().map((a) => a.getValue())).toEqual([expect.not.stringMatching(/^(root|0)(:|$)/)]);
    const workdirs = dockerfile.getInstructions().filter((i) => i.getKeyword() === 'WORKDIR');
    expect(workdirs.map((w) => w.getArguments().map((a) => a.getValue()))).toEqual([['/app']]);
  });

  it('exposes the engine’s port 3000 and has no HEALTHCHECK (the default command, the worker, serves no HTTP)', () => {
    expect(dockerfile.getInstructions().filter((i) => i.getKeyword() === 'EXPOSE').map((i) => i.getArguments().map((a) => a.getValue()))).toEqual([['3000']]);
    // ECS ignores an image's HEALTHCHECK: the engine's task definition has its own (check:deploy).
    expect(dockerfile.getHEALTHCHECKs()).toEqual([]);
  });

  it('copies nothing but dist/batch/ from the build context, which holds nothing else', () => {
    expect(dockerfile.getInstructions().filter((i) => ['ADD', 'RUN'].includes(i.getKeyword()))).toEqual([]);
    const copies = dockerfile.getCOPYs();
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      expect(copy.getFlags().map((f) => f.getName())).not.toContain('from');
      const args = copy.getJSONStrings().length ? copy.getJSONStrings().map((s) => s.getJSONValue()) : copy.getArguments().map((a) => a.getValue());
      for (const source of args.slice(0, -1)) expect(source).toMatch(/^(\.\/)?dist\/batch(\/|$)/);
    }
    const sent = dockerignoreFilter(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    expect(['dist/batch/worker.cjs', 'dist/batch/serve.cjs', 'dist/batch/node_modules/sharp/package.json'].filter(sent)).toHaveLength(3);
    expect(['src/batch/main.ts', 'node_modules/sharp/package.json', '.env', 'dist/other.js', 'Dockerfile'].filter(sent)).toEqual([]);
  });
});

describe.runIf(process.platform === 'linux')('the image’s files, run with plain Node', () => {
  let imageRoot: string;
  let probeDir: string;
  let layout: ImageLayout;
  let s3: LocalS3;

  beforeAll(async () => {
    imageRoot = mkdtempSync(join(tmpdir(), 'batch-image-'));
    probeDir = mkdtempSync(join(tmpdir(), 'batch-image-probe-'));
    await promisify(execFile)(TSX, ['scripts/build-batch.mts', '--arch', arch], { cwd: ROOT, timeout: 120_000 });
    layout = layOutImage(dockerfile, ROOT, imageRoot);
    s3 = await startLocalS3({ buckets: ['originals', 'variants'] });
    const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: LOCAL_S3_CREDENTIALS });
    for (const [key, seed] of [['photos/a.jpg', 1], ['photos/b.jpg', 2]] as const) {
      await client.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: await photoLikeJpeg(96, 72, { seed }), ContentType: 'image/jpeg' }));
    }
    client.destroy();
  }, 150_000);

  afterAll(async () => {
    await s3?.close();
    for (const dir of [imageRoot, probeDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The environment a task passes to reach the local S3. */
  const s3Env = () => ({
    S3_ENDPOINT: s3.endpoint,
    ORIGINALS_BUCKET: 'originals',
    VARIANTS_BUCKET: 'variants',
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
  });

  /**
   * `argv` (a command line starting with the image's `node`) with this machine's node, in the
   * WORKDIR, with the image's ENV and no other; `exited` also lists the modules it loaded.
   */
  function startContainer(argv: readonly string[], env: Record<string, string> = {}) {
    const loadedFile = join(probeDir, `loaded-${Date.now()}.json`);
    const preload = join(probeDir, 'record-loaded.cjs');
    writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(loadedFile)}, JSON.stringify(Object.keys(require.cache))));\n`);
    const [command, ...args] = argv;
    expect(command).toBe('node');
    const child = spawn(process.execPath, ['--require', preload, ...args], {
      cwd: join(imageRoot, layout.workdir),
      env: { HOME: join(imageRoot, 'home/node'), ...layout.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk) => (output.stdout += chunk));
    child.stderr.on('data', (chunk) => (output.stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    const exited = new Promise<{ code: number | null; stdout: string; stderr: string; loaded: string[] }>((done) => {
      child.once('close', (code) => {
        clearTimeout(timer);
        const loaded = existsSync(loadedFile) ? (JSON.parse(readFileSync(loadedFile, 'utf8')) as string[]) : [];
        done({ code, ...output, loaded });
      });
    });
    return { child, output, exited };
  }

  /** The ENTRYPOINT with `args` (the command a task passes), run to its end. */
  const runContainer = (args: readonly string[], env: Record<string, string> = {}) => startContainer([...layout.entrypoint, ...args], env).exited;

  it('holds the bundled worker and, in node_modules, only sharp and its linux-' + arch + ' runtime', () => {
    expect(layout.copied.every((p) => p.startsWith('dist/batch/'))).toBe(true);
    const app = join(imageRoot, layout.workdir);
    expect(readdirSync(app).sort()).toEqual(['node_modules', 'package.json', 'serve.cjs', 'worker.cjs']);
    expect(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'))).toEqual({ name: 'image-resizer-batch', private: true, type: 'commonjs' });
    const sharp = JSON.parse(readFileSync(join(app, 'node_modules/sharp/package.json'), 'utf8'));
    expect(sharp.version).toBe(JSON.parse(readFileSync(join(ROOT, 'node_modules/sharp/package.json'), 'utf8')).version);
    const packages = readdirSync(join(app, 'node_modules')).flatMap((name) =>
      name.startsWith('@') ? readdirSync(join(app, 'node_modules', name)).map((sub) => `${name}/${sub}`) : [name],
    );
    expect(packages.sort()).toEqual(['sharp', ...Object.keys(sharp.dependencies), `@img/sharp-linux-${arch}`, `@img/sharp-libvips-linux-${arch}`].sort());

    for (const command of ['worker.cjs', 'serve.cjs']) {
      const bundle = readFileSync(join(app, command), 'utf8');
      // sharp is required, not bundled (its loader names the @img packages); the S3 client is
      // bundled, which the runs below prove: the image has no @aws-sdk in node_modules.
      expect(bundle.includes('require("sharp")'), command).toBe(true);
      expect(bundle.includes('@img/sharp-'), command).toBe(false);
    }
  });

  it('renders every original under a prefix, with the sharp inside the image', async () => {
    const run = await runContainer(['--prefix', 'photos/', '--spec', 'w=64&fm=webp'], s3Env());
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1)!)).toMatchObject({ status: 'complete', originals: 2, done: 2, failed: 0, exitCode: 0 });

    const app = join(imageRoot, layout.workdir) + sep;
    // Node looks for packages in each folder above the script: none of those is this repository.
    expect(app.startsWith(ROOT + sep)).toBe(false);
    expect(run.loaded.filter((path) => path.startsWith(ROOT + sep))).toEqual([]);
    expect(run.loaded).toContain(join(app, 'worker.cjs'));
    expect(run.loaded.some((path) => path.startsWith(join(app, 'node_modules/sharp') + sep))).toBe(true);
    expect(run.loaded.some((path) => path.startsWith(join(app, `node_modules/@img/sharp-linux-${arch}`) + sep) && path.endsWith('.node'))).toBe(true);

    const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: LOCAL_S3_CREDENTIALS });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'variants' }));
    client.destroy();
    // Two variants, next to the run's report and summary (under batch-reports/ by default).
    expect(listed.Contents?.filter((o) => !o.Key?.startsWith('batch-reports/'))).toHaveLength(2);
  });

  it('serves the URL API with node serve.cjs (the engine’s task command): on all interfaces, /_health, an image, SIGTERM exits 0', async () => {
    const app = join(imageRoot, layout.workdir) + sep;
    // PORT=0: a free port, which the engine logs. No HOST: the container's default, 0.0.0.0.
    const engine = startContainer([layout.entrypoint[0]!, 'serve.cjs'], { ...s3Env(), PORT: '0', ENGINE_DRAIN_SECONDS: '5' });
    const deadline = Date.now() + 30_000;
    let listening: { url?: string } | undefined;
    while (!listening && Date.now() < deadline && engine.child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const line = engine.output.stdout.split('\n').find((l) => l.includes('"engine listening"'));
      if (line) listening = JSON.parse(line);
    }
    expect(listening, engine.output.stderr).toBeDefined();
    const { hostname, port } = new URL(listening!.url!);
    expect(hostname).toBe('0.0.0.0');
    const base = `http://127.0.0.1:${port}`;

    const health = await fetch(`${base}/_health`, { signal: AbortSignal.timeout(10_000) });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const image = await fetch(`${base}/photos/a.jpg?w=48&fm=webp`, { signal: AbortSignal.timeout(20_000) });
    expect(image.status, await image.clone().text()).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/webp');
    expect(await sharp(Buffer.from(await image.arrayBuffer())).metadata()).toMatchObject({ format: 'webp', width: 48 });
    const missing = await fetch(`${base}/photos/none.jpg?w=48`, { signal: AbortSignal.timeout(10_000) });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: expect.any(String) } });

    engine.child.kill('SIGTERM');
    const run = await engine.exited;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('"engine stopped"');
    expect(run.loaded.filter((path) => path.startsWith(ROOT + sep))).toEqual([]);
    expect(run.loaded).toContain(join(app, 'serve.cjs'));
    expect(run.loaded.some((path) => path.startsWith(join(app, `node_modules/@img/sharp-linux-${arch}`) + sep) && path.endsWith('.node'))).toBe(true);
  }, 60_000);

  it('prints the usage and exits 0 with --help (the image’s CMD)', async () => {
    expect(layout.cmd).toEqual(['--help']);
    const run = await runContainer(layout.cmd);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('Usage:');
  });
});
