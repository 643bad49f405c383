import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { literalText, type Cfn } from '../scripts/cfn-template.js';
import { checkTemplate, type CheckOptions } from '../scripts/deploy-checks.js';

/**
 * `npm run check:deploy`, as an operator runs it before a deploy: the prod stage packaged offline
 * in each supported shape, every check passing; and the checks themselves, against deliberately
 * broken copies of a real packaged template. Packaging runs serverless-esbuild's `npm ci`, which
 * needs the registry: each run is bounded (the script stops its own packaging at 240 s).
 */

const ROOT = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const { literalWithoutVariables, engineSettings } = createRequire(import.meta.url)('../scripts/serverless-variables.cjs');

// Settings a contributor may have exported for a deploy of their own; the checks below are for the defaults.
const SETTINGS = [
  'ORIGINALS_BUCKET', 'VARIANTS_BUCKET', 'ORIGINALS_PREFIX', 'VARIANTS_PREFIX', 'WATERMARKS_PREFIX', 'EXISTING_ORIGINALS_BUCKET', 'CDN_ENABLED', 'CDN_PRICE_CLASS',
  'CDN_MAX_AGE', 'CACHE_MAX_AGE', 'ERROR_MAX_AGE', 'LAMBDA_ARCHITECTURE', 'PRESETS', 'EAGER_PRESETS', 'CORS_ORIGINS', 'ALLOWLIST',
  'AWS_REGION', 'METRICS_NAMESPACE', 'ALARM_TOPIC_ARN', 'ALARM_5XX_RATE_PERCENT', 'ALARM_EDGE_5XX_RATE_PERCENT', 'ALARM_MIN_REQUESTS', 'ALARM_DURATION_P99_MS', 'ALARM_THROTTLES',
  'BATCH_SUBNETS', 'BATCH_ASSIGN_PUBLIC_IP', 'BATCH_CPU_ARCHITECTURE', 'BATCH_IMAGE', 'ENGINE', 'ENGINE_VPC', 'ENGINE_SUBNETS', 'ENGINE_LOAD_BALANCER_SUBNETS', 'ENGINE_ASSIGN_PUBLIC_IP',
  'ENGINE_INGRESS_CIDR', 'ENGINE_ORIGIN_PREFIX_LIST', 'ENGINE_CPU', 'ENGINE_MEMORY_MB', 'ENGINE_MIN_TASKS', 'ENGINE_MAX_TASKS', 'ENGINE_CPU_TARGET', 'ENGINE_CONCURRENCY', 'ENGINE_QUEUE',
  'ENGINE_DRAIN_SECONDS',
];
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SETTINGS.includes(name)));

/** `npm run check:deploy -- …args`: its exit code and output; a failing run resolves too. */
async function checkDeploy(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', 'check:deploy', '--', ...args], {
      cwd: ROOT,
      env: { ...env, ...extraEnv },
      timeout: 280_000,
      killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const lines = (output: string, verdict: 'PASS' | 'FAIL') => output.split('\n').filter((l) => l.startsWith(`${verdict}  `));

const out = mkdtempSync(join(tmpdir(), 'deploy-check-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run check:deploy', () => {
  let defaults: { code: number; output: string };
  beforeAll(async () => {
    defaults = await checkDeploy(['--out', out]);
  }, 300_000);

  it('passes every check for the prod stage as it deploys by default: new buckets, x86_64, CDN', () => {
    expect(lines(defaults.output, 'FAIL')).toEqual([]);
    expect(defaults.code).toBe(0);
    expect(lines(defaults.output, 'PASS')).toEqual(
      expect.arrayContaining([
        'PASS  originals bucket: image-resizer-prod-originals created, retained on stack removal and replacement',
        'PASS  notifications: image-resizer-prod-originals → syncVariants on s3:ObjectCreated:*, s3:ObjectRemoved:*, no prefix filter',
        'PASS  iam: s3:DeleteObject only by syncVariants, only on arn:aws:s3:::image-resizer-prod-variants/*',
        'PASS  cdn: viewer-request CloudFront Function, cloudfront-js-2.0, published, code = edge/viewer-request.js, under 10240 bytes',
        'PASS  cdn: errors cached: 400, 404, 405, 414 at most 60 s (= ERROR_MAX_AGE); 403, 500, 502, 503, 504 never',
        'PASS  cdn: CloudFront sends X-Origin-Verify, a Secrets Manager dynamic reference to a generated secret (≥ 32 characters, no punctuation)',
        "PASS  zip: sharp's linux-x64 binaries (x86-64) and no others",
        'PASS  alarms: the HTTP API’s 5xx rate (metric math over AWS/ApiGateway 5xx and Count of this API)',
        'PASS  alarms: the resize function’s p99 Duration, above a threshold below its timeout',
        'PASS  alarms: CloudFront’s 5xxErrorRate of this distribution (Region Global)',
        'PASS  dashboard: hit ratio, resize Duration p50/p90/p99, TransformTime, errors by code, OutputBytes (namespace ImageResizer, stage prod)',
        'PASS  cdn: the origin is the HTTP API, HTTPS only, TLSv1.2',
        'PASS  engine off: no ECS service, load balancer, target group, scaling, security group, VPC origin or task definition but the batch worker’s',
      ]),
    );
    expect(defaults.output).toMatch(/^\d+ passed, 0 failed/m);
  });

  it.each([
    [
      ['--existing-bucket', 'my-team-photos'],
      [
        'PASS  originals bucket: the existing my-team-photos, none created',
        "PASS  notifications: the framework's custom resource subscribes syncVariants to my-team-photos on s3:ObjectCreated:*, s3:ObjectRemoved:*, no prefix filter",
        'PASS  iam: that custom resource may configure my-team-photos and invoke-permissions of syncVariants only',
      ],
    ],
    [
      ['--arch', 'arm64'],
      ['PASS  architecture: arm64 for every function', "PASS  zip: sharp's linux-arm64 binaries (aarch64) and no others"],
    ],
    [
      ['--no-cdn'],
      [
        'PASS  no cdn: no CloudFront resources, no origin-verify secret',
        'PASS  no cdn: the resize function requires no X-Origin-Verify; syncVariants invalidates nothing; no s-maxage',
        'PASS  alarms: none on CloudFront (no CDN)',
      ],
    ],
  ])('%j passes every check', async (args, expected) => {
    const result = await checkDeploy(args);
    expect(lines(result.output, 'FAIL')).toEqual([]);
    expect(result.code).toBe(0);
    expect(lines(result.output, 'PASS')).toEqual(expect.arrayContaining(expected));
  }, 300_000);

  it('refuses an unknown architecture without packaging', async () => {
    const result = await checkDeploy(['--arch', 'sparc']);
    expect(result.code).toBe(2);
    expect(result.output).toContain('--arch: x86_64 or arm64');
  });
});

describe('the checks, against broken copies of the packaged template', () => {
  let template: Cfn;
  const options: CheckOptions = { architecture: 'x86_64', cdn: true, viewerRequestCode: readFileSync(join(ROOT, 'edge/viewer-request.js'), 'utf8') };
  beforeAll(() => {
    template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
  });
  const failures = (t: Cfn, o: CheckOptions = options) => checkTemplate(t, o).filter((r) => !r.ok).map((r) => r.name);
  const SYNC_ROLE = 'iam: syncVariants may read originals, list both buckets, read/write/delete variants, report to its queue, invalidate this CDN, and nothing else';
  const ERRORS = 'cdn: errors cached: 400, 404, 405, 414 at most 60 s (= ERROR_MAX_AGE); 403, 500, 502, 503, 504 never';
  const statementsOf = (t: Cfn, role: string): Cfn[] => t.Resources[role].Properties.Policies[0].PolicyDocument.Statement;
  const distribution = (t: Cfn) => t.Resources.CdnDistribution.Properties.DistributionConfig;

  it('finds nothing wrong with the template as packaged', () => {
    expect(failures(template)).toEqual([]);
  });

  const breakages: [string, (t: Cfn) => void, string[]][] = [
    [
      'an s3:* grant on every resource',
      (t) => statementsOf(t, 'SyncVariantsRole').push({ Effect: 'Allow', Action: 's3:*', Resource: '*' }),
      ['iam: no wildcard action and no NotAction in any Allow statement', 'iam: every S3 grant names its bucket (none on * or on every bucket)', SYNC_ROLE],
    ],
    [
      'no error caching rule for 503 (CloudFront would keep it 10 s)',
      (t) => (distribution(t).CustomErrorResponses = distribution(t).CustomErrorResponses.filter((r: Cfn) => r.ErrorCode !== 503)),
      [ERRORS],
    ],
    [
      'a 404 cached for ten minutes',
      (t) => (distribution(t).CustomErrorResponses.find((r: Cfn) => r.ErrorCode === 404).ErrorCachingMinTTL = 600),
      [ERRORS],
    ],
    [
      'a delete on the originals',
      (t) => statementsOf(t, 'SyncVariantsRole').push({ Effect: 'Allow', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::image-resizer-prod-originals/*' }),
      ['iam: s3:DeleteObject only by syncVariants, only on arn:aws:s3:::image-resizer-prod-variants/*', 'iam: no object write or delete on the originals (image-resizer-prod-originals)', SYNC_ROLE],
    ],
    [
      'the originals bucket not retained',
      (t) => delete t.Resources.OriginalsBucket.DeletionPolicy,
      ['originals bucket: image-resizer-prod-originals created, retained on stack removal and replacement'],
    ],
    [
      'Host forwarded to API Gateway (managed AllViewer)',
      (t) => (distribution(t).DefaultCacheBehavior.OriginRequestPolicyId = '216adef6-5c7f-47e4-b989-5492eafa07d3'),
      ['cdn: origin requests carry all query parameters and Accept, but not Host'],
    ],
    [
      'cookies in the cache key',
      (t) => (t.Resources.CdnCachePolicy.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.CookiesConfig.CookieBehavior = 'all'),
      ['cdn: cache key = path, all query parameters, accept; no cookies; gzip and brotli; MinTTL 0 ≤ DefaultTTL ≤ MaxTTL ≥ s-maxage'],
    ],
    [
      'a viewer-request function that is not edge/viewer-request.js',
      (t) => (t.Resources.ViewerRequestFunction.Properties.FunctionCode += '\n// edited in the console\n'),
      ['cdn: viewer-request CloudFront Function, cloudfront-js-2.0, published, code = edge/viewer-request.js, under 10240 bytes'],
    ],
    [
      'the origin-verify value written into the template',
      (t) => (distribution(t).Origins[0].OriginCustomHeaders[0].HeaderValue = 'hunter2hunter2hunter2hunter2hunter2'),
      ['cdn: CloudFront sends X-Origin-Verify, a Secrets Manager dynamic reference to a generated secret (≥ 32 characters, no punctuation)', 'cdn: the resize function checks X-Origin-Verify against that secret, the only one it is granted by ARN'],
    ],
    [
      'a bucket that allows public policies',
      (t) => (t.Resources.VariantsBucket.Properties.PublicAccessBlockConfiguration.BlockPublicPolicy = false),
      ['buckets: all 3 block every kind of public access'],
    ],
    [
      'a log group kept forever',
      (t) => delete t.Resources.SyncVariantsLogGroup.Properties.RetentionInDays,
      ['logs: all 4 log groups expire (RetentionInDays)'],
    ],
    [
      'failed events retried forever instead of reaching the dead-letter queue',
      (t) => {
        t.Resources.SyncVariantsLambdaEvConf.Properties.MaximumRetryAttempts = 0;
        delete t.Resources.SyncVariantsLambdaEvConf.Properties.DestinationConfig;
      },
      [SYNC_ROLE, 'syncVariants: 2 retries, then an SQS dead-letter queue (14 days, encrypted) named in the outputs'],
    ],
    [
      'no alarm on resize throttles',
      (t) => delete t.Resources.ResizeThrottlesAlarm,
      // The dashboard's alarm widget still names it.
      ['template: every Ref, GetAtt and DependsOn names a resource that exists under its conditions', 'alarms: the resize function’s Throttles'],
    ],
    [
      'a p99 Duration alarm that cannot fire before the timeout',
      (t) => (t.Resources.ResizeDurationAlarm.Properties.Threshold = 29_000),
      ['alarms: the resize function’s p99 Duration, above a threshold below its timeout'],
    ],
    [
      'an alarm that notifies a topic the others do not',
      (t) => (t.Resources.Api5xxRateAlarm.Properties.AlarmActions = ['arn:aws:sns:us-east-1:123456789012:someone-else']),
      ['alarms: all notify the same SNS topic (alarmTopicArn), or none does'],
    ],
    [
      'a dashboard without the hit ratio',
      (t) => {
        const parts: Cfn[] = t.Resources.Dashboard.Properties.DashboardBody['Fn::Join'][1];
        t.Resources.Dashboard.Properties.DashboardBody['Fn::Join'][1] = parts.map((p) => (typeof p === 'string' ? p.replace('FILL(hit, 0) /', 'FILL(miss, 0) /') : p));
      },
      ['dashboard: hit ratio, resize Duration p50/p90/p99, TransformTime, errors by code, OutputBytes (namespace ImageResizer, stage prod)'],
    ],
    [
      'no notification for removed originals',
      (t) => t.Resources.OriginalsBucket.Properties.NotificationConfiguration.LambdaConfigurations.pop(),
      ['notifications: image-resizer-prod-originals → syncVariants on s3:ObjectCreated:*, s3:ObjectRemoved:*, no prefix filter'],
    ],
  ];

  it.each(breakages)('FAILs %s', (_, breakIt, expected) => {
    const broken = structuredClone(template);
    breakIt(broken);
    expect(failures(broken)).toEqual(expected);
  });

  it('FAILs an x64 zip checked as arm64, and arm64 functions checked as x86_64', () => {
    const zip = {
      entries: ['node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64-0.35.5.node', 'node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.8.18.7'],
      machines: {
        'node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64-0.35.5.node': 'x86-64',
        'node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.8.18.7': 'x86-64',
      },
    };
    expect(failures(template, { ...options, zip })).toEqual([]);
    expect(failures(template, { ...options, architecture: 'arm64', zip })).toEqual(['architecture: arm64 for every function', "zip: sharp's linux-arm64 binaries (aarch64) and no others"]);
  });

  it('judges the template CloudFormation will see: a false condition removes its resources', () => {
    const noCdn = structuredClone(template);
    noCdn.Conditions.CdnEnabled = { 'Fn::Equals': ['false', 'true'] };
    // The distribution, its function, policy and secret, and syncVariants' CreateInvalidation are
    // gone; the functions' environment still names them: CloudFormation would refuse the template.
    const results = checkTemplate(noCdn, { ...options, cdn: false });
    expect(results.filter((r) => !r.ok)).toEqual([
      {
        name: 'template: every Ref, GetAtt and DependsOn names a resource that exists under its conditions',
        ok: false,
        detail: 'ResizeLambdaFunction → OriginVerifySecret; SyncVariantsLambdaFunction → CdnDistribution',
      },
      expect.objectContaining({ name: 'no cdn: the resize function requires no X-Origin-Verify; syncVariants invalidates nothing; no s-maxage' }),
    ]);
  });
});

describe('npm run check:deploy -- --engine, and its checks against broken copies', () => {
  const engineOut = mkdtempSync(join(tmpdir(), 'deploy-check-engine-'));
  afterAll(() => rmSync(engineOut, { recursive: true, force: true }));
  let packaged: { code: number; output: string };
  let template: Cfn;
  const options: CheckOptions = {
    architecture: 'x86_64',
    cdn: true,
    viewerRequestCode: readFileSync(join(ROOT, 'edge/viewer-request.js'), 'utf8'),
    engine: { originPrefixList: 'pl-3b927c52' },
  };
  beforeAll(async () => {
    packaged = await checkDeploy(['--engine', '--out', engineOut]);
    template = JSON.parse(readFileSync(join(engineOut, 'cloudformation-template-update-stack.json'), 'utf8'));
  }, 300_000);
  const failures = (t: Cfn, o: CheckOptions = options) => checkTemplate(t, o).filter((r) => !r.ok).map((r) => r.name);

  const SERVICE = 'engine: one ECS service on Fargate in the batch cluster, running the batch image’s serve command (node serve.cjs)';
  const LISTENS = 'engine: listens on 0.0.0.0 at PORT, the port of its mapping, of the target group (ip targets, HTTP) and of the service’s load balancer entry';
  const STOP = 'engine: stop timeout ≥ ENGINE_DRAIN_SECONDS + 5 s and ≤ 120 s; the target group’s deregistration delay below it';
  const BALANCER = 'engine: an internal Application Load Balancer (no public address), its one listener HTTP on 80 forwarding to the target group, health check GET /_health → 200';
  const INGRESS = 'engine: the load balancer takes tcp 80 only, from CloudFront’s VPC origin (origin-facing prefix list pl-3b927c52) only';
  const TASKS = 'engine: the tasks take tcp 3000 from the load balancer’s security group only, which sends to nothing else';
  const SCALING = 'engine: scales between its minimum and maximum task count by CPU (target tracking)';
  const TASK_ROLE = 'engine: task role: read originals and watermarks, list both buckets, read/write variants (the batch task role’s grants on them, nothing more); the resize function’s secrets';
  const VPC_ORIGIN = 'cdn: one CloudFront VPC origin, its endpoint the engine’s load balancer, on the listener’s protocol and port (http-only, 80)';
  const ORIGIN = 'cdn: the default origin is the engine’s load balancer through that VPC origin (VpcOriginConfig, never over the internet), with X-Origin-Verify from the origin-verify secret';
  // The packaged origin sits in its Fn::If [EngineEnabled, origin, NoValue].
  const engineOrigin = (t: Cfn) => t.Resources.CdnDistribution.Properties.DistributionConfig.Origins.map((o: Cfn) => o['Fn::If']?.[1] ?? o).find((o: Cfn) => o.Id === 'engine');
  const vpcOriginEndpoint = (t: Cfn) => t.Resources.EngineVpcOrigin.Properties.VpcOriginEndpointConfig;
  const container = (t: Cfn) => t.Resources.EngineTaskDefinition.Properties.ContainerDefinitions[0];
  const engineStatements = (t: Cfn): Cfn[] => t.Resources.EngineTaskRole.Properties.Policies[0].PolicyDocument.Statement;

  it('passes every check: the service, its internal load balancer, scaling, security groups, roles, CloudFront’s VPC origin and origin', () => {
    expect(lines(packaged.output, 'FAIL')).toEqual([]);
    expect(packaged.code).toBe(0);
    expect(lines(packaged.output, 'PASS')).toEqual(
      expect.arrayContaining([SERVICE, LISTENS, STOP, BALANCER, INGRESS, TASKS, SCALING, TASK_ROLE, VPC_ORIGIN, ORIGIN].map((name) => `PASS  ${name}`)),
    );
    expect(lines(packaged.output, 'PASS')).toEqual(
      expect.arrayContaining([
        'PASS  engine: container health check runs node against /_health on its port (the slim image has no curl)',
        'PASS  engine: the resize function’s environment (buckets, prefixes, limits, secrets, origin verify) and the engine’s settings, accepted by src/config.ts',
        'PASS  cdn: the resize function and the engine check X-Origin-Verify against that secret, the only one they are granted by ARN',
      ]),
    );
    expect(packaged.output).not.toContain('PASS  engine off');
    expect(failures(template)).toEqual([]);
  });

  it('refuses the engine without the CDN unless engineIngressCidr says who may reach it, when packaging', async () => {
    const refused = await checkDeploy(['--engine', '--no-cdn']);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain("the engine without the CDN (param cdn 'false') needs param engineIngressCidr");
  }, 300_000);

  const breakages: [string, (t: Cfn) => void, string[]][] = [
    [
      'an s3:* grant in the engine’s task role',
      (t) => engineStatements(t).push({ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::image-resizer-prod-variants/*' }),
      ['iam: no wildcard action and no NotAction in any Allow statement', TASK_ROLE],
    ],
    [
      'the batch task’s manifests grant copied into the engine’s task role',
      (t) => engineStatements(t).push({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::image-resizer-prod-variants/batch-manifests/*' }),
      [TASK_ROLE],
    ],
    ['the health check on / instead of /_health', (t) => (t.Resources.EngineTargetGroup.Properties.HealthCheckPath = '/'), [BALANCER]],
    ['no scaling policy', (t) => delete t.Resources.EngineCpuScalingPolicy, [SCALING]],
    [
      'the load balancer open to 0.0.0.0/0',
      (t) => (t.Resources.EngineLoadBalancerSecurityGroup.Properties.SecurityGroupIngress = [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, CidrIp: '0.0.0.0/0' }]),
      [INGRESS],
    ],
    ['the ALB internet-facing', (t) => (t.Resources.EngineLoadBalancer.Properties.Scheme = 'internet-facing'), [BALANCER]],
    ['the ALB with no Scheme (internet-facing by default)', (t) => delete t.Resources.EngineLoadBalancer.Properties.Scheme, [BALANCER]],
    [
      'a second listener on the load balancer',
      (t) =>
        (t.Resources.EngineListenerDirect = {
          Type: 'AWS::ElasticLoadBalancingV2::Listener',
          Properties: { LoadBalancerArn: { Ref: 'EngineLoadBalancer' }, Protocol: 'HTTP', Port: 8080, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200' } }] },
        }),
      [BALANCER],
    ],
    [
      'the engine origin uses CustomOriginConfig over http (the secret across the internet in clear)',
      (t) => {
        delete engineOrigin(t).VpcOriginConfig;
        engineOrigin(t).CustomOriginConfig = { OriginProtocolPolicy: 'http-only', HTTPPort: 80, OriginSSLProtocols: ['TLSv1.2'], OriginReadTimeout: 60 };
      },
      [ORIGIN],
    ],
    [
      'the engine origin naming the VPC origin by Ref instead of its Id',
      (t) => (engineOrigin(t).VpcOriginConfig.VpcOriginId = { Ref: 'EngineVpcOrigin' }),
      [ORIGIN],
    ],
    ['the VPC origin asking HTTPS of the HTTP listener (match-viewer)', (t) => (vpcOriginEndpoint(t).OriginProtocolPolicy = 'match-viewer'), [VPC_ORIGIN]],
    [
      'the VPC origin of another load balancer',
      (t) => (vpcOriginEndpoint(t).Arn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/someone-else/0123456789abcdef'),
      [VPC_ORIGIN, ORIGIN],
    ],
    [
      'the tasks open to the whole VPC',
      (t) => {
        const rule = t.Resources.EngineTaskIngressFromLoadBalancer.Properties;
        delete rule.SourceSecurityGroupId;
        rule.CidrIp = '10.0.0.0/8';
      },
      [TASKS],
    ],
    ['a stop timeout shorter than the drain', (t) => (container(t).StopTimeout = 10), [STOP]],
    [
      'the image’s default command (the batch worker) instead of serve.cjs',
      (t) => {
        delete container(t).EntryPoint;
        delete container(t).Command;
      },
      [SERVICE],
    ],
    ['the engine listening on 127.0.0.1', (t) => (container(t).Environment = container(t).Environment.filter((v: Cfn) => v.Name !== 'HOST')), [LISTENS]],
    [
      'CloudFront still sending everything to the HTTP API',
      (t) => (t.Resources.CdnDistribution.Properties.DistributionConfig.DefaultCacheBehavior.TargetOriginId = 'http-api'),
      [ORIGIN],
    ],
  ];

  it.each(breakages)('FAILs %s', (_, breakIt, expected) => {
    const broken = structuredClone(template);
    breakIt(broken);
    expect(failures(broken)).toEqual(expected);
  });

  it('FAILs a template with the engine checked as one packaged without it', () => {
    const results = checkTemplate(template, { ...options, engine: undefined }).filter((r) => !r.ok);
    expect(results.map((r) => r.name)).toEqual([
      'cdn: the origin is the HTTP API, HTTPS only, TLSv1.2',
      'cdn: the resize function checks X-Origin-Verify against that secret, the only one it is granted by ARN',
      'engine off: no ECS service, load balancer, target group, scaling, security group, VPC origin or task definition but the batch worker’s',
    ]);
    expect(results.at(-1)!.detail).toContain('EngineService (AWS::ECS::Service)');
    expect(results.at(-1)!.detail).toContain('EngineVpcOrigin (AWS::CloudFront::VpcOrigin)');
  });
});

describe('the engine’s params when packaging (scripts/serverless-variables.cjs engineSettings)', () => {
  const PARAMS: Record<string, string> = {
    engine: 'true',
    cdn: 'true',
    engineVpc: 'vpc-0123456789abcdef0',
    engineSubnets: 'subnet-0aaaa,subnet-0bbbb',
    engineLoadBalancerSubnets: 'subnet-0aaaa,subnet-0bbbb',
    engineIngressCidr: '',
    engineOriginPrefixList: '',
    engineMinTasks: '2',
    engineMaxTasks: '10',
    engineCpuTarget: '60',
    engineDrainSeconds: '25',
    engineHotVariantSeconds: '5',
    freshness: 'events',
  };
  const settings = (params: Record<string, string>, region = 'us-east-1') =>
    engineSettings({ resolveVariable: async (name: string) => (name === 'self:provider.region' ? region : { ...PARAMS, ...params }[name.replace(/^param:/, '')]) });

  it.each([
    ['with the CDN: CloudFront’s prefix list of the region', {}, { enabled: 'true', originPrefixList: 'pl-3b927c52' }],
    ['without the CDN: the range of engineIngressCidr', { cdn: 'false', engineIngressCidr: '10.0.0.0/16' }, { enabled: 'true' }],
    ['with strict freshness and no hot window', { freshness: 'strict', engineHotVariantSeconds: '0' }, { enabled: 'true' }],
  ])('accepts the engine %s', async (_, params, expected) => {
    await expect(settings(params)).resolves.toMatchObject(expected);
  });

  it.each([
    ['an ingress CIDR with the CDN (only the VPC origin reaches the load balancer)', { engineIngressCidr: '0.0.0.0/0' }, 'param engineIngressCidr must be empty with the CDN'],
    ['no ingress CIDR without the CDN', { cdn: 'false' }, "the engine without the CDN (param cdn 'false') needs param engineIngressCidr"],
    ['one load balancer subnet', { engineLoadBalancerSubnets: 'subnet-0aaaa' }, 'param engineLoadBalancerSubnets must list at least 2 subnet ids'],
    ['a hot window with strict freshness (it would answer from memory without asking S3)', { freshness: 'strict' }, "param engineHotVariantSeconds must be 0 with param freshness 'strict'"],
  ])('refuses %s', async (_, params, message) => {
    await expect(settings(params)).rejects.toThrow(message);
  });

  it('asks for the prefix list in a region it does not know, with the CDN', async () => {
    await expect(settings({}, 'me-central-1')).rejects.toThrow('no CloudFront prefix list known for me-central-1: set param engineOriginPrefixList');
    await expect(settings({ engineOriginPrefixList: 'pl-0123' }, 'me-central-1')).resolves.toMatchObject({ originPrefixList: 'pl-0123' });
  });
});

describe('the CloudFront Function code as serverless.yml passes it', () => {
  it.each([
    'function handler(event) { return event.request; }\n',
    'var a = `${event.x}:${self:service}`; // ${env:HOME} \\${x} \\\\${y} $${z}\n// ${',
  ])('keeps %j byte for byte, with no ${ for the framework to resolve', (code) => {
    const value = literalWithoutVariables(code);
    expect(literalText(value)).toBe(code);
    expect(JSON.stringify(value).includes('${')).toBe(false);
  });
});
