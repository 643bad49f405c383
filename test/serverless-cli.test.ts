import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImage } from '../scripts/samples.js';
import { loadConfig } from '../src/config.js';
import { freePort, startStack, type Stack } from '../scripts/stack.mjs';

/**
 * The Serverless Framework paths, as a contributor and an operator use them: `sls package`,
 * `sls invoke local` with every sample event, and HTTP through the `npm start` stack.
 * These share serverless-esbuild's build folder, so they run one after another in this file.
 * serverless-esbuild installs sharp with npm and hangs without a registry: every call is bounded.
 */

const ROOT = resolve(import.meta.dirname, '..');
const SLS = join(ROOT, 'node_modules/.bin/sls');
const run = promisify(execFile);
// serverless-esbuild's work folders: <service>-<pid>-<time>-<random>.
const ESBUILD_TEMP = /^image-resizer-\d+-\d+-/;
const tempBefore = new Set(readdirSync(tmpdir()).filter((n) => ESBUILD_TEMP.test(n)));

const baseEnv = {
  ...process.env,
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
};

/** The seeded local S3 of `npm run s3`, on a free port. */
const startLocalS3Only = () =>
  startStack({ s3Port: 0, httpPort: 0, lambdaPort: 0, originalsBucket: 'originals', variantsBucket: 'variants', s3Only: true, log: () => {} });

afterAll(() => {
  for (const name of readdirSync(tmpdir())) {
    if (ESBUILD_TEMP.test(name) && !tempBefore.has(name)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
});

describe('sls package', () => {
  const out = mkdtempSync(join(tmpdir(), 'package-test-'));
  let template: any;
  let files: string[] = [];

  beforeAll(async () => {
    await run(SLS, ['package', '--stage', 'prod', '--package', out], { cwd: ROOT, env: baseEnv, timeout: 300_000 });
    template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
    const { stdout } = await run('unzip', ['-Z1', join(out, 'image-resizer.zip')], { maxBuffer: 16 * 1024 * 1024 });
    files = stdout.split('\n').filter(Boolean);
  }, 320_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('zips the bundled handler with sharp’s Linux binaries for the function’s architecture', () => {
    const fn = template.Resources.ResizeLambdaFunction.Properties;
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Architectures).toEqual(['x86_64']);
    expect(files).toContain('handlers/resize.js');
    expect(files.some((f) => /node_modules\/@img\/sharp-linux-x64\/lib\/sharp-linux-x64-[\d.]+\.node$/.test(f))).toBe(true);
    expect(files.some((f) => /node_modules\/@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/.test(f))).toBe(true);
    // Only what runs: no sources, tests or dev tooling.
    expect(files.filter((f) => /^(src|test|scripts)\//.test(f) || f.includes('serverless-offline'))).toEqual([]);
  });

  it('runs the packaged handler under plain Node (CommonJS, its own sharp)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'package-run-'));
    const stack = await startLocalS3Only();
    try {
      await run('unzip', ['-q', join(out, 'image-resizer.zip'), '-d', dir]);
      const script = `
        const { handler } = require(${JSON.stringify(join(dir, 'handlers/resize.js'))});
        const event = require(${JSON.stringify(join(ROOT, 'events/resize-query.json'))});
        handler(event).then((r) => console.log(JSON.stringify({ status: r.statusCode, type: r.headers['Content-Type'], sharp: require.resolve('sharp', { paths: [${JSON.stringify(dir)}] }) })));
      `;
      const env = { ...baseEnv, S3_ENDPOINT: stack.s3.endpoint, ORIGINALS_BUCKET: 'originals', VARIANTS_BUCKET: 'variants' };
      const { stdout } = await run(process.execPath, ['-e', script], { cwd: dir, env, timeout: 60_000 });
      const result = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(result).toMatchObject({ status: 200, type: 'image/webp' });
      expect(result.sharp.startsWith(dir)).toBe(true);
    } finally {
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('declares the HTTP API route, private encrypted buckets and a least-privilege role', () => {
    const resources = template.Resources;
    const route = Object.values<any>(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    expect(route.Properties.RouteKey).toBe('GET /{proxy+}');
    const integration = Object.values<any>(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Integration');
    expect(integration.Properties.PayloadFormatVersion).toBe('2.0');

    const buckets = [resources.OriginalsBucket, resources.VariantsBucket];
    expect(buckets.map((b) => b.Properties.BucketName).sort()).toEqual([
      'image-resizer-prod-originals',
      'image-resizer-prod-variants',
    ]);
    for (const bucket of buckets) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    }

    const statements = resources.IamRoleLambdaExecution.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
    const namespaced = statements.filter((s: any) => /^(ssm|secretsmanager):/.test([s.Action].flat()[0]));
    expect(namespaced.map((s: any) => [[s.Action].flat(), JSON.stringify(s.Resource).match(/(parameter\/|secret:)image-resizer\/\*/)?.[0]])).toEqual([
      [['ssm:GetParameter'], 'parameter/image-resizer/*'],
      [['secretsmanager:GetSecretValue'], 'secret:image-resizer/*'],
    ]);
    const s3Statements = statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('s3:')));
    const grants = s3Statements.flatMap((s: any) =>
      [s.Action].flat().flatMap((a: string) => [s.Resource].flat().map((r: unknown) => `${a} ${JSON.stringify(r)}`)),
    );
    expect(grants.sort()).toEqual(
      [
        's3:GetObject "arn:aws:s3:::image-resizer-prod-originals/*"',
        's3:ListBucket "arn:aws:s3:::image-resizer-prod-originals"',
        's3:GetObject "arn:aws:s3:::image-resizer-prod-variants/*"',
        's3:PutObject "arn:aws:s3:::image-resizer-prod-variants/*"',
        's3:ListBucket "arn:aws:s3:::image-resizer-prod-variants"',
      ].sort(),
    );
  });

  it('deploys an environment the function accepts as its configuration', () => {
    const env = template.Resources.ResizeLambdaFunction.Properties.Environment.Variables;
    const config = loadConfig(env);
    expect(config).toMatchObject({
      originalsBucket: 'image-resizer-prod-originals',
      variantsBucket: 'image-resizer-prod-variants',
      cacheMaxAge: 31_536_000,
      allowSvg: false,
      signingSecrets: { kind: 'none' },
    });
    expect(config.s3.endpoint).toBeUndefined();
    expect(template.Resources.VariantsBucket.Condition).toBe('SeparateVariantsBucket');
  });
});

describe('sls invoke local with every sample event', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startLocalS3Only();
  });
  afterAll(() => stack?.close());

  const expected: Record<string, { status: number; type?: string; cache?: string }> = {
    'resize-query.json': { status: 200, type: 'image/webp' },
    'classic-path.json': { status: 200, type: 'image/jpeg' },
    'auto-format.json': { status: 200, type: 'image/avif' },
    'cache-hit.json': { status: 200, type: 'image/jpeg', cache: 'hit' },
    'exif-rotated.json': { status: 200, type: 'image/jpeg' },
    'missing-original.json': { status: 404, type: 'application/json; charset=utf-8' },
    'invalid-param.json': { status: 400, type: 'application/json; charset=utf-8' },
  };

  it('has an expectation for each file in events/', () => {
    expect(readdirSync(join(ROOT, 'events')).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s', async (file, want) => {
    const { stdout } = await run(SLS, ['invoke', 'local', '-f', 'resize', '-p', `events/${file}`], {
      cwd: ROOT,
      env: { ...baseEnv, S3_ENDPOINT: stack.s3.endpoint },
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    // The function's log lines come first, then the response as indented JSON.
    const response = JSON.parse(stdout.slice(stdout.indexOf('{\n')));
    expect(response.statusCode).toBe(want.status);
    expect(response.headers['Content-Type']).toBe(want.type);
    if (want.cache) expect(response.headers['X-Cache']).toBe(want.cache);
    if (want.status === 200) expect(response.isBase64Encoded).toBe(true);
    else expect(JSON.parse(response.body).error.code).toMatch(/^[a-z_]+$/);
  }, 130_000);
});

describe('over HTTP through the npm start stack', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      s3Port: 0,
      httpPort: await freePort(),
      lambdaPort: await freePort(),
      originalsBucket: 'originals',
      variantsBucket: 'variants',
      log: () => {},
      startTimeoutMs: 240_000,
    });
  }, 260_000);
  afterAll(() => stack?.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.baseUrl}${path}`, { headers, signal: AbortSignal.timeout(30_000), redirect: 'manual' });

  it('serves a miss, then the same variant as a hit', async () => {
    const first = await get('/photos/landscape.jpg?w=640&fm=webp');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/webp');
    expect(first.headers.get('x-cache')).toBe('miss');
    expect(await describeImage(Buffer.from(await first.arrayBuffer()))).toMatchObject({ format: 'webp', width: 640, height: 480 });

    const second = await get('/photos/landscape.jpg?fm=webp&width=640');
    expect(second.headers.get('x-cache')).toBe('hit');
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(second.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('reads the classic /WxH/ path, percent-encoded keys and EXIF orientation', async () => {
    const classic = await get('/300x200/photos/landscape.jpg');
    expect(await describeImage(Buffer.from(await classic.arrayBuffer()))).toMatchObject({ format: 'jpeg', width: 300, height: 200 });
    const spaced = await get('/graphics/logo%20alpha.png?w=128');
    expect(await describeImage(Buffer.from(await spaced.arrayBuffer()))).toMatchObject({ format: 'png', width: 128, hasAlpha: true });
    const rotated = await get('/photos/rotated-exif.jpg?w=200');
    expect(await describeImage(Buffer.from(await rotated.arrayBuffer()))).toMatchObject({ width: 200, height: 300 });
  });

  it('answers errors as JSON with the right status', async () => {
    const missing = await get('/photos/nope.jpg?w=100');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'original_not_found' } });
    const bad = await get('/photos/landscape.jpg?w=0');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_param', message: expect.stringContaining('"w"') } });
  });

  it('negotiates fm=auto from Accept and says so in Vary', async () => {
    const webp = await get('/photos/landscape.jpg?w=200&fm=auto', { accept: 'image/webp,*/*' });
    expect(webp.headers.get('content-type')).toBe('image/webp');
    expect(webp.headers.get('vary')).toBe('Accept');
    const legacy = await get('/photos/landscape.jpg?w=200&fm=auto', { accept: '*/*' });
    expect(legacy.headers.get('content-type')).toBe('image/jpeg');
  });
});

/**
 * `npm start` as a contributor runs it: the script itself (not the stack function above), on free
 * ports, until it prints its example URLs; one of them is fetched; then Ctrl-C (SIGINT) must stop
 * the HTTP API and the local S3 and end the process cleanly.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'npm-start-test-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch {
    return true;
  }
}

describe('npm start, the script itself', () => {
  it('serves the printed example URLs and stops on Ctrl-C', async () => {
    const [s3Port, httpPort, lambdaPort] = [await freePort(), await freePort(), await freePort()];
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['scripts/start.mts'], {
      cwd: ROOT,
      env: { ...process.env, S3_PORT: String(s3Port), PORT: String(httpPort), LAMBDA_PORT: String(lambdaPort), LOCAL_S3_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    try {
      const deadline = Date.now() + 240_000;
      while (!output.includes('Ctrl-C stops everything') && child.exitCode === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(output).toContain('Ctrl-C stops everything');
      const example = output.match(/http:\/\/127\.0\.0\.1:\d+\/photos\/landscape\.jpg\?w=800&fm=webp/)?.[0];
      expect(example).toBe(`http://127.0.0.1:${httpPort}/photos/landscape.jpg?w=800&fm=webp`);
      const response = await fetch(example!, { signal: AbortSignal.timeout(30_000) });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/webp');
    } finally {
      child.kill('SIGINT');
    }
    expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))])).toBe(0);
    expect(await refused(`http://127.0.0.1:${httpPort}/`)).toBe(true);
    expect(await refused(`http://127.0.0.1:${s3Port}/`)).toBe(true);
  }, 300_000);
});
