import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describeImage, photoLikeJpeg } from '../scripts/samples.js';
import { originalVariantsPrefix } from '../src/transform/variant-key.js';
import { parseBatchArgs } from '../src/batch/job.js';
import { runTaskInput } from '../src/batch/launch-task.js';
import { planJob } from '../src/batch/start-job.js';
import { loadConfig } from '../src/config.js';
import { freePort, startStack, type Stack } from '../scripts/stack.mjs';
import { startEcsStub, TASK_ARN } from './support/ecs-stub.js';

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

const startBatchEvent = JSON.parse(readFileSync(join(ROOT, 'events/start-batch.json'), 'utf8'));
/** A statement list as `action resource` lines, one per pair. */
const grantsOf = (statements: any[]) =>
  statements.flatMap((s) => [s.Action].flat().flatMap((a: string) => [s.Resource].flat().map((r: unknown) => `${a} ${JSON.stringify(r)}`)));
const statementsOf = (role: any): any[] => role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
const arnJoin = (tail: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, tail]] });

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

  it('decodes an HEIC original in the packaged handler (libheif-js shipped beside it, loaded on demand)', async () => {
    expect(files).toContain('node_modules/libheif-js/libheif-wasm/libheif-bundle.js');
    const dir = mkdtempSync(join(tmpdir(), 'package-run-'));
    const stack = await startLocalS3Only();
    try {
      await run('unzip', ['-q', join(out, 'image-resizer.zip'), '-d', dir]);
      // The bundle leaves the decoder (its WebAssembly inlined as base64) out: no cold start parses its 2 MB.
      expect(readFileSync(join(dir, 'handlers/resize.js'), 'utf8').includes('data:application/octet-stream;base64')).toBe(false);
      const s3 = new S3Client({ endpoint: stack.s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
      await s3.send(new PutObjectCommand({ Bucket: 'originals', Key: 'photos/IMG_0001.HEIC', Body: readFileSync(join(ROOT, 'test/fixtures/heic/portrait-p3.heic')) }));
      s3.destroy();
      const script = `
        const { handler } = require(${JSON.stringify(join(dir, 'handlers/resize.js'))});
        const sample = require(${JSON.stringify(join(ROOT, 'events/resize-query.json'))});
        const path = '/photos/IMG_0001.HEIC';
        const event = { ...sample, rawPath: path, rawQueryString: 'w=32', queryStringParameters: { w: '32' }, pathParameters: { proxy: path.slice(1) },
          requestContext: { ...sample.requestContext, http: { ...sample.requestContext.http, path } } };
        handler(event).then((r) => console.log(JSON.stringify({ status: r.statusCode, type: r.headers['Content-Type'], body: r.body })));
      `;
      const env = { ...baseEnv, S3_ENDPOINT: stack.s3.endpoint, ORIGINALS_BUCKET: 'originals', VARIANTS_BUCKET: 'variants' };
      const { stdout } = await run(process.execPath, ['-e', script], { cwd: dir, env, timeout: 60_000 });
      const result = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(result).toMatchObject({ status: 200, type: 'image/jpeg' });
      expect(await describeImage(Buffer.from(result.body, 'base64'))).toMatchObject({ format: 'jpeg', width: 32, height: 48 });
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
        's3:GetObject "arn:aws:s3:::image-resizer-prod-originals/watermarks/*"',
        's3:ListBucket "arn:aws:s3:::image-resizer-prod-originals"',
        's3:GetObject "arn:aws:s3:::image-resizer-prod-variants/*"',
        's3:PutObject "arn:aws:s3:::image-resizer-prod-variants/*"',
        's3:ListBucket "arn:aws:s3:::image-resizer-prod-variants"',
      ].sort(),
    );
  });

  it('deploys an environment the function accepts as its configuration', () => {
    const env = template.Resources.ResizeLambdaFunction.Properties.Environment.Variables;
    // With the CDN (on by default) the origin-verify secret is this stack's own, named by its ARN.
    expect(env.ORIGIN_VERIFY_SECRET_ID).toEqual({ Ref: 'OriginVerifySecret' });
    const config = loadConfig({ ...env, ORIGIN_VERIFY_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:origin-verify' });
    expect(config).toMatchObject({
      originalsBucket: 'image-resizer-prod-originals',
      variantsBucket: 'image-resizer-prod-variants',
      // Browsers a day, CloudFront a year (syncVariants invalidates it when an original changes).
      cacheMaxAge: 86_400,
      edge: { cdnMaxAge: 31_536_000, errorMaxAge: 60, originVerify: { kind: 'secrets-manager' } },
      allowSvg: false,
      signingSecrets: { kind: 'none' },
    });
    expect(config.s3.endpoint).toBeUndefined();
    expect(template.Resources.VariantsBucket.Condition).toBe('SeparateVariantsBucket');

    const batch = loadConfig(template.Resources.StartBatchLambdaFunction.Properties.Environment.Variables).batch;
    expect(batch).toMatchObject({
      cluster: 'image-resizer-prod-batch',
      taskDefinition: 'image-resizer-prod-batch',
      containerName: 'worker',
      subnets: [],
      securityGroups: [],
      assignPublicIp: false,
      reportsPrefix: 'batch-reports/',
      launchDryRun: false,
    });
    expect(batch.ecsEndpoint).toBeUndefined();
  });

  it('declares the batch worker: scanned image repository with a lifecycle, Fargate cluster, task definition, logs', () => {
    const resources = template.Resources;
    const repository = resources.BatchRepository;
    expect(repository.Type).toBe('AWS::ECR::Repository');
    expect(repository.Properties.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
    const rules = JSON.parse(repository.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
    expect(rules.map((r: any) => [r.rulePriority, r.selection.tagStatus, r.selection.countType, r.selection.countNumber, r.action.type])).toEqual([
      [1, 'untagged', 'sinceImagePushed', 7, 'expire'],
      [2, 'any', 'imageCountMoreThan', 10, 'expire'],
    ]);

    expect(resources.BatchCluster).toMatchObject({
      Type: 'AWS::ECS::Cluster',
      Properties: {
        ClusterName: 'image-resizer-prod-batch',
        CapacityProviders: ['FARGATE', 'FARGATE_SPOT'],
        DefaultCapacityProviderStrategy: [{ CapacityProvider: 'FARGATE', Weight: 1 }],
      },
    });

    const task = resources.BatchTaskDefinition;
    expect(task.Type).toBe('AWS::ECS::TaskDefinition');
    expect(task.Properties).toMatchObject({
      Family: 'image-resizer-prod-batch',
      NetworkMode: 'awsvpc',
      RequiresCompatibilities: ['FARGATE'],
      Cpu: '2048',
      Memory: '4096',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      ExecutionRoleArn: { 'Fn::GetAtt': ['BatchExecutionRole', 'Arn'] },
      TaskRoleArn: { 'Fn::GetAtt': ['BatchTaskRole', 'Arn'] },
    });
    expect(task.Properties.ContainerDefinitions).toHaveLength(1);
    const [container] = task.Properties.ContainerDefinitions;
    expect(container).toMatchObject({
      Name: 'worker',
      Essential: true,
      StopTimeout: 120,
      // Packaging needs no Docker: the image is this stack's repository unless a param names another.
      Image: { 'Fn::If': ['UseStackBatchImage', { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['BatchRepository', 'RepositoryUri'] }, ':latest']] }, ''] },
      LogConfiguration: {
        LogDriver: 'awslogs',
        Options: { 'awslogs-group': { Ref: 'BatchLogGroup' }, 'awslogs-region': { Ref: 'AWS::Region' }, 'awslogs-stream-prefix': 'batch' },
      },
    });
    expect(template.Conditions.UseStackBatchImage).toEqual({ 'Fn::Equals': ['', ''] });
    expect(resources.BatchLogGroup).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } });

    // What decides a variant's key, bytes and metadata is the resize function's own value.
    const workerEnv = Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]));
    const resizeEnv = resources.ResizeLambdaFunction.Properties.Environment.Variables;
    const shared = Object.keys(workerEnv).filter((name) => !['POWERTOOLS_SERVICE_NAME', 'AWS_REGION', 'BATCH_REPORTS_PREFIX'].includes(name));
    expect(shared.sort()).toEqual(
      ['ORIGINALS_BUCKET', 'VARIANTS_BUCKET', 'ORIGINALS_PREFIX', 'VARIANTS_PREFIX', 'WATERMARKS_PREFIX', 'PRESETS', 'DEFAULT_QUALITY', 'CACHE_MAX_AGE', 'MAX_ORIGINAL_BYTES',
        'MAX_INPUT_PIXELS', 'MAX_OUTPUT_PIXELS', 'MAX_FRAMES', 'PROCESSING_TIMEOUT_MS', 'ALLOW_SVG', 'ALLOWLIST', 'ALLOWED_WIDTHS', 'ALLOWED_HEIGHTS',
        'SNAP_WIDTHS', 'POWERTOOLS_LOG_LEVEL', 'CDN_MAX_AGE', 'POWERTOOLS_METRICS_NAMESPACE', 'STAGE'].sort(),
    );
    for (const name of shared) expect([name, workerEnv[name]]).toEqual([name, resizeEnv[name]]);
    expect(workerEnv.AWS_REGION).toEqual({ Ref: 'AWS::Region' });
    expect(workerEnv.BATCH_REPORTS_PREFIX).toBe(resources.StartBatchLambdaFunction.Properties.Environment.Variables.BATCH_REPORTS_PREFIX);

    expect(Object.keys(template.Outputs)).toEqual(expect.arrayContaining(['BatchRepositoryUri', 'BatchClusterName', 'BatchTaskDefinitionArn']));
    expect(template.Outputs.BatchRepositoryUri.Value).toEqual({ 'Fn::GetAtt': ['BatchRepository', 'RepositoryUri'] });
    expect(template.Outputs.BatchClusterName.Value).toEqual({ Ref: 'BatchCluster' });
    expect(template.Outputs.BatchTaskDefinitionArn.Value).toEqual({ Ref: 'BatchTaskDefinition' });
  });

  it('lets the worker read originals and manifests and write only variants and reports; ECS only pull and log', () => {
    const resources = template.Resources;
    const trust = (role: any) => role.Properties.AssumeRolePolicyDocument.Statement.map((s: any) => s.Principal.Service);
    expect(trust(resources.BatchTaskRole)).toEqual(['ecs-tasks.amazonaws.com']);
    expect(trust(resources.BatchExecutionRole)).toEqual(['ecs-tasks.amazonaws.com']);

    const worker = statementsOf(resources.BatchTaskRole);
    expect(worker.every((s) => s.Effect === 'Allow' && s.Condition === undefined)).toBe(true);
    expect(grantsOf(worker).sort()).toEqual(
      [
        's3:GetObject "arn:aws:s3:::image-resizer-prod-originals/*"',
        's3:GetObject "arn:aws:s3:::image-resizer-prod-originals/watermarks/*"',
        's3:ListBucket "arn:aws:s3:::image-resizer-prod-originals"',
        's3:GetObject "arn:aws:s3:::image-resizer-prod-variants/*"',
        's3:PutObject "arn:aws:s3:::image-resizer-prod-variants/*"',
        's3:GetObject "arn:aws:s3:::image-resizer-prod-variants/batch-reports/*"',
        's3:PutObject "arn:aws:s3:::image-resizer-prod-variants/batch-reports/*"',
        's3:GetObject "arn:aws:s3:::image-resizer-prod-variants/batch-manifests/*"',
        's3:ListBucket "arn:aws:s3:::image-resizer-prod-variants"',
        's3:ListBucket "arn:aws:s3:::image-resizer-prod-variants"',
      ].sort(),
    );
    // Never a delete, never a write anywhere in the originals bucket.
    expect(new Set(worker.flatMap((s) => [s.Action].flat()))).toEqual(new Set(['s3:GetObject', 's3:PutObject', 's3:ListBucket']));
    expect(grantsOf(worker).filter((g) => g.includes('-originals') && !/^s3:(GetObject|ListBucket) /.test(g))).toEqual([]);

    expect(grantsOf(statementsOf(resources.BatchExecutionRole)).sort()).toEqual(
      [
        'ecr:GetAuthorizationToken "*"',
        'ecr:BatchCheckLayerAvailability {"Fn::GetAtt":["BatchRepository","Arn"]}',
        'ecr:GetDownloadUrlForLayer {"Fn::GetAtt":["BatchRepository","Arn"]}',
        'ecr:BatchGetImage {"Fn::GetAtt":["BatchRepository","Arn"]}',
        'logs:CreateLogStream {"Fn::GetAtt":["BatchLogGroup","Arn"]}',
        'logs:PutLogEvents {"Fn::GetAtt":["BatchLogGroup","Arn"]}',
      ].sort(),
    );
  });

  it('gives startBatch a role of its own that may only start the worker task and hand it its roles', () => {
    const resources = template.Resources;
    const fn = resources.StartBatchLambdaFunction.Properties;
    expect(fn).toMatchObject({ Handler: 'handlers/start-batch.handler', Runtime: 'nodejs22.x', Role: { 'Fn::GetAtt': ['StartBatchRole', 'Arn'] } });
    // An asynchronous invocation that failed is not retried: a retry could start the job twice.
    expect(resources.StartBatchLambdaEvConf.Properties.MaximumRetryAttempts).toBe(0);
    expect(resources.StartBatchRole.Properties.AssumeRolePolicyDocument.Statement.map((s: any) => s.Principal.Service)).toEqual(['lambda.amazonaws.com']);
    expect(statementsOf(resources.StartBatchRole)).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': ['StartBatchLogGroup', 'Arn'] } },
      {
        Effect: 'Allow',
        Action: 'ecs:RunTask',
        Resource: arnJoin(':task-definition/image-resizer-prod-batch:*'),
        Condition: { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': ['BatchCluster', 'Arn'] } } },
      },
      {
        Effect: 'Allow',
        Action: 'ecs:TagResource',
        Resource: arnJoin(':task/image-resizer-prod-batch/*'),
        Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      },
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: [{ 'Fn::GetAtt': ['BatchTaskRole', 'Arn'] }, { 'Fn::GetAtt': ['BatchExecutionRole', 'Arn'] }],
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
    ]);
    // And the resize function's role gained nothing from it.
    const resize = grantsOf(statementsOf(resources.IamRoleLambdaExecution));
    expect(resize.filter((g) => /^(ecs|iam|ecr):/.test(g))).toEqual([]);
  });

  it('starts the task definition’s container with the job’s options as its command, as the worker there reads them', () => {
    const resources = template.Resources;
    const config = loadConfig(resources.StartBatchLambdaFunction.Properties.Environment.Variables);
    const plan = planJob(startBatchEvent, config);
    const input = runTaskInput(plan, config.batch);
    const task = resources.BatchTaskDefinition.Properties;
    const [container] = task.ContainerDefinitions;
    expect(input.cluster).toBe(resources.BatchCluster.Properties.ClusterName);
    expect(input.taskDefinition).toBe(task.Family);
    expect(input.overrides!.containerOverrides).toEqual([{ name: container.Name, command: plan.args }]);
    // The image's ENTRYPOINT (node worker.cjs) stays; the override replaces only its CMD (--help).
    expect(container.Command).toBeUndefined();
    expect(container.EntryPoint).toBeUndefined();
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^ENTRYPOINT \["node", "worker\.cjs"\]$/m);
    expect(plan.args).toEqual(['--prefix', 'photos/', '--preset', 'thumb', '--preset', 'card', '--job-id', plan.jobId]);

    const workerEnv = Object.fromEntries(container.Environment.filter((e: any) => typeof e.Value === 'string').map((e: any) => [e.Name, e.Value]));
    const job = parseBatchArgs(input.overrides!.containerOverrides![0]!.command!, loadConfig(workerEnv));
    expect(job.jobId).toBe(plan.jobId);
    expect(`s3://${job.report.bucket}/${job.report.reportKey}`).toBe(plan.report);
  });

  it('runs the packaged startBatch under plain Node against an ECS stand-in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'package-run-'));
    const ecs = await startEcsStub();
    try {
      await run('unzip', ['-q', join(out, 'image-resizer.zip'), 'handlers/start-batch.js', '-d', dir]);
      const script = `
        const { handler } = require(${JSON.stringify(join(dir, 'handlers/start-batch.js'))});
        handler(${JSON.stringify(startBatchEvent)}).then((r) => console.log(JSON.stringify(r)), (e) => { console.log(JSON.stringify({ error: e.message })); });
      `;
      const env = {
        ...baseEnv,
        ...template.Resources.StartBatchLambdaFunction.Properties.Environment.Variables,
        BATCH_SUBNETS: 'subnet-0123',
        ECS_ENDPOINT: ecs.endpoint,
      };
      const { stdout } = await run(process.execPath, ['-e', script], { cwd: dir, env, timeout: 60_000 });
      const result = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(result).toMatchObject({ taskArn: TASK_ARN, report: `s3://image-resizer-prod-variants/batch-reports/${result.jobId}/report.jsonl` });
      expect(ecs.requests.map((r) => [r.target, r.body.cluster, r.body.taskDefinition, r.body.networkConfiguration.awsvpcConfiguration.subnets])).toEqual([
        ['AmazonEC2ContainerServiceV20141113.RunTask', 'image-resizer-prod-batch', 'image-resizer-prod-batch', ['subnet-0123']],
      ]);
    } finally {
      await ecs.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('stage params of the batch worker', () => {
  let resolved: any;
  beforeAll(async () => {
    const { stdout } = await run(
      SLS,
      ['print', '--stage', 'prod', '--format', 'json', '--param=batchSubnets=subnet-a,subnet-b', '--param=batchSecurityGroups=sg-1', '--param=batchAssignPublicIp=true'],
      { cwd: ROOT, env: { ...baseEnv, BATCH_IMAGE: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/resizer:v7', BATCH_CPU: '4096', BATCH_MEMORY_MB: '8192' }, timeout: 60_000 },
    );
    resolved = JSON.parse(stdout);
  }, 70_000);

  it('reach startBatch’s environment and the task definition', () => {
    const batch = loadConfig({ ...resolved.provider.environment, ...resolved.functions.startBatch.environment }).batch;
    expect(batch).toMatchObject({ subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-1'], assignPublicIp: true });
    const task = resolved.resources.Resources.BatchTaskDefinition.Properties;
    expect([task.Cpu, task.Memory]).toEqual(['4096', '8192']);
    expect(resolved.resources.Conditions.UseStackBatchImage).toEqual({ 'Fn::Equals': ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/resizer:v7', ''] });
    expect(task.ContainerDefinitions[0].Image['Fn::If'][2]).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/resizer:v7');
  });
});

describe('sls invoke local with every sample event', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startLocalS3Only();
  });
  afterAll(() => stack?.close());

  const resizeEvents: Record<string, { status: number; type?: string; cache?: string }> = {
    'resize-query.json': { status: 200, type: 'image/webp' },
    'classic-path.json': { status: 200, type: 'image/jpeg' },
    'auto-format.json': { status: 200, type: 'image/avif' },
    'cache-hit.json': { status: 200, type: 'image/jpeg', cache: 'hit' },
    'exif-rotated.json': { status: 200, type: 'image/jpeg' },
    'missing-original.json': { status: 404, type: 'application/json; charset=utf-8' },
    'invalid-param.json': { status: 400, type: 'application/json; charset=utf-8' },
  };

  const startBatchEvents = ['start-batch.json'];
  const syncEvents = ['original-created.json', 'original-removed.json'];

  it('has an expectation for each file in events/', () => {
    expect(readdirSync(join(ROOT, 'events')).sort()).toEqual([...Object.keys(resizeEvents), ...startBatchEvents, ...syncEvents].sort());
  });

  it.each(Object.entries(resizeEvents))('resize: %s', async (file, want) => {
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

  it.each(syncEvents)('syncVariants: %s, against the local S3 of npm run s3', async (file) => {
    const { stdout } = await run(SLS, ['invoke', 'local', '-f', 'syncVariants', '-p', `events/${file}`], {
      cwd: ROOT,
      env: { ...baseEnv, S3_ENDPOINT: stack.s3.endpoint },
      timeout: 120_000,
    });
    const result = JSON.parse(stdout.slice(stdout.indexOf('{\n')));
    // original-created names a seeded original (its key has a space, sent as `+`); original-removed one that is not there.
    const expected = file === 'original-created.json' ? { key: 'graphics/logo alpha.png', state: 'current' } : { key: 'photos/old photo.jpg', state: 'removed' };
    expect(result).toMatchObject({ originals: [{ ...expected, deleted: 0 }], ignored: [], invalidated: [] });
  }, 130_000);

  const invokeStartBatch = async (env: Record<string, string>) => {
    const { stdout } = await run(SLS, ['invoke', 'local', '-f', 'startBatch', '-p', 'events/start-batch.json'], {
      cwd: ROOT,
      env: { ...baseEnv, ...env },
      timeout: 120_000,
    });
    return JSON.parse(stdout.slice(stdout.indexOf('{\n')));
  };

  it('startBatch: start-batch.json without ECS_ENDPOINT is a dry run that shows the RunTask input', async () => {
    const result = await invokeStartBatch({});
    const args = ['--prefix', 'photos/', '--preset', 'thumb', '--preset', 'card', '--job-id', result.jobId];
    expect(result).toMatchObject({
      dryRun: true,
      report: `s3://variants/batch-reports/${result.jobId}/report.jsonl`,
      args,
      runTaskInput: {
        cluster: 'image-resizer-local-batch',
        taskDefinition: 'image-resizer-local-batch',
        count: 1,
        capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
        overrides: { containerOverrides: [{ name: 'worker', command: args }] },
      },
    });
  }, 130_000);

  it('startBatch: start-batch.json with ECS_ENDPOINT starts the task there', async () => {
    const ecs = await startEcsStub();
    try {
      const result = await invokeStartBatch({ ECS_ENDPOINT: ecs.endpoint, BATCH_SUBNETS: 'subnet-local' });
      expect(result).toMatchObject({ taskArn: TASK_ARN, jobId: expect.any(String) });
      expect(ecs.requests).toHaveLength(1);
      expect(ecs.requests[0]!.body).toMatchObject({
        cluster: 'image-resizer-local-batch',
        networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-local'] } },
        overrides: { containerOverrides: [{ name: 'worker', command: result.args }] },
      });
    } finally {
      await ecs.close();
    }
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

  it('forwards the local S3’s object events to syncVariants: a replaced or deleted original loses its variants within seconds', async () => {
    const s3 = new S3Client({ endpoint: stack.s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const key = 'photos/sync local é.jpg';
    const folder = originalVariantsPrefix('', key);
    const variants = async () =>
      ((await s3.send(new ListObjectsV2Command({ Bucket: 'variants', Prefix: folder }))).Contents ?? []).map((o) => o.Key!).sort();
    /** Polls (bounded) until the variants of `key` are exactly `expected`. */
    const settle = async (expected: (keys: string[]) => boolean) => {
      for (let i = 0; i < 100; i++) {
        const keys = await variants();
        if (expected(keys)) return keys;
        await new Promise((r) => setTimeout(r, 200));
      }
      return variants();
    };
    const url = `/${key.split('/').map(encodeURIComponent).join('/')}?w=50`;
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: await photoLikeJpeg(80, 60, { seed: 1 }) }));
      expect((await get(url)).headers.get('x-cache')).toBe('miss');
      const first = await variants();
      expect(first).toHaveLength(1);

      await s3.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: await photoLikeJpeg(80, 60, { seed: 2 }) }));
      expect(await settle((keys) => !keys.includes(first[0]!))).toEqual([]);
      expect((await get(url)).headers.get('x-cache')).toBe('miss');
      expect(await variants()).toHaveLength(1);

      await s3.send(new DeleteObjectCommand({ Bucket: 'originals', Key: key }));
      expect(await settle((keys) => keys.length === 0)).toEqual([]);
      expect((await get(url)).status).toBe(404);
    } finally {
      s3.destroy();
    }
  }, 60_000);

  it('npm run batch pre-generates into this stack’s S3, and the API then answers hits', async () => {
    // `npm run batch` is `tsx scripts/batch.mts`; S3_ENDPOINT names this stack's S3 (on a free
    // port) where a contributor's `npm start` would be on 4569, the script's default.
    const { stdout } = await run(join(ROOT, 'node_modules/.bin/tsx'), ['scripts/batch.mts', '--prefix', 'photos/', '--preset', 'card', '--spec', 'w=333&fm=webp'], {
      cwd: ROOT,
      env: { ...baseEnv, S3_ENDPOINT: stack.s3.endpoint, ORIGINALS_BUCKET: 'originals', VARIANTS_BUCKET: 'variants', BATCH_PROGRESS_SECONDS: '1' },
      timeout: 120_000,
    });
    const summary = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(summary).toMatchObject({ status: 'complete', exitCode: 0, failed: 0 });
    // card is fm=auto: AVIF, WebP and the fallback per original, plus the one WebP spec.
    expect(summary.done + summary.skipped).toBe(summary.originals * 4);
    expect(summary.report).toMatch(/^s3:\/\/variants\/.*report\.jsonl$/);
    const hit = await get('/photos/landscape.jpg?fm=webp&w=333');
    expect(hit.headers.get('x-cache')).toBe('hit');
    for (const accept of ['image/avif,image/webp,*/*', 'image/webp,*/*', '*/*']) {
      expect((await get('/photos/landscape.jpg?preset=card', { accept })).headers.get('x-cache')).toBe('hit');
    }
  }, 130_000);
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
