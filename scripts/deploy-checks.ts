import { loadConfig } from '../src/config.js';
import { checkObservability } from './observability-checks.js';
import { effectiveTemplate, grantPairs, identityGrants, literalText, ofType, referencedIds, render, renderArn, roleOf, setDifference, type Cfn, type Template } from './cfn-template.js';
import { checkEngine, checkEngineOff, engineTaskRole, type EngineCheckOptions } from './engine-checks.js';

/**
 * What `npm run check:deploy` asserts about a packaged template (serverless.yml's output): the
 * production edge as docs/deploy.md describes it. Pure: the template and what is known about the
 * package in, one result per check out.
 */

export type Architecture = 'x86_64' | 'arm64';

export interface CheckOptions {
  /** The originals bucket the stack was packaged for (EXISTING_ORIGINALS_BUCKET), if it exists already. */
  readonly existingBucket?: string;
  readonly architecture: Architecture;
  readonly cdn: boolean;
  /** The region the stack deploys to (us-east-1 unless set): CloudFront's alarm exists only there. */
  readonly region?: string;
  /** The expected CloudFront price class (PriceClass_100 unless set). */
  readonly priceClass?: string;
  /** The upper bound for caching a 4xx, in seconds (60 unless set). */
  readonly maxErrorTtl?: number;
  /** edge/viewer-request.js as it is on disk, to compare with the deployed function code. */
  readonly viewerRequestCode?: string;
  /** The zip's file names, and the ELF machine (`x86-64`, `aarch64`) of its native binaries by name. */
  readonly zip?: { readonly entries: readonly string[]; readonly machines: Readonly<Record<string, string>> };
  /** Packaged with the engine on (param engine 'true'), and how; unset: off, none of it may exist. */
  readonly engine?: EngineCheckOptions;
}

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** What is wrong (failures only). */
  readonly detail?: string;
}

const MANAGED_ORIGIN_REQUEST_POLICIES: Record<string, { name: string; host: boolean }> = {
  'b689b0a8-53d0-40ab-baf2-68738e2966ac': { name: 'AllViewerExceptHostHeader', host: false },
  '216adef6-5c7f-47e4-b989-5492eafa07d3': { name: 'AllViewer', host: true },
  '33f36d7e-f396-46d9-90e0-52428a34d9dc': { name: 'AllViewerAndCloudFrontHeaders-2022-06', host: true },
};
const CLOUDFRONT_FUNCTION_MAX_BYTES = 10 * 1024;
const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;
const CACHED_4XX = [400, 404, 405, 414];
const NEVER_CACHED = [403, 500, 502, 503, 504];
const APP_FUNCTIONS = { resize: 'ResizeLambdaFunction', syncVariants: 'SyncVariantsLambdaFunction', startBatch: 'StartBatchLambdaFunction' };

const sorted = (values: Iterable<string>) => [...values].sort();
const same = (a: Iterable<string>, b: Iterable<string>) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
const listOf = (value: Cfn): Cfn[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export function checkTemplate(packaged: Template, options: CheckOptions): CheckResult[] {
  const results: CheckResult[] = [];
  /** One check: its problems (none: PASS); a thrown error is a FAIL too. */
  const check = (name: string, body: () => string[] | string | undefined) => {
    try {
      const found = body();
      const problems = found === undefined ? [] : typeof found === 'string' ? [found] : found;
      results.push(problems.length === 0 ? { name, ok: true } : { name, ok: false, detail: problems.join('; ') });
    } catch (error) {
      results.push({ name, ok: false, detail: (error as Error).message });
    }
  };

  let template: Template;
  try {
    template = effectiveTemplate(packaged);
  } catch (error) {
    return [{ name: 'template: every condition decidable', ok: false, detail: (error as Error).message }];
  }
  const resources = template.Resources;
  check('template: every Ref, GetAtt and DependsOn names a resource that exists under its conditions', () => [
    ...Object.entries(resources).flatMap(([id, r]) =>
      [...referencedIds(r.Properties), ...listOf(r.DependsOn)].filter((target) => !(target in resources)).map((target) => `${id} → ${target}`),
    ),
    ...Object.entries(template.Outputs ?? {}).flatMap(([id, o]) => [...referencedIds(o.Value)].filter((t) => !(t in resources)).map((t) => `Outputs.${id} → ${t}`)),
  ]);
  const missing = Object.values(APP_FUNCTIONS).filter((id) => resources[id]?.Type !== 'AWS::Lambda::Function');
  if (missing.length > 0) return [{ name: 'functions: resize, startBatch, syncVariants', ok: false, detail: `missing ${missing.join(', ')}` }];
  const resource = (id: string) => {
    const r = resources[id];
    if (!r) throw new Error(`no ${id} in the template`);
    return r;
  };
  const env = (id: string): Record<string, Cfn> => resource(id).Properties?.Environment?.Variables ?? {};
  const grants = identityGrants(template);
  const allows = grants.filter((g) => g.effect === 'Allow');
  const grantsOfRole = (role: string | undefined) => allows.filter((g) => role !== undefined && g.roles.includes(role));

  const resizeEnv = env(APP_FUNCTIONS.resize);
  const syncEnv = env(APP_FUNCTIONS.syncVariants);
  const originals = String(resizeEnv.ORIGINALS_BUCKET ?? '');
  const originalsPrefix = String(resizeEnv.ORIGINALS_PREFIX ?? '');
  const variants = String(resizeEnv.VARIANTS_BUCKET ?? '');
  const variantsPrefix = String(resizeEnv.VARIANTS_PREFIX ?? '');
  const watermarksPrefix = String(resizeEnv.WATERMARKS_PREFIX ?? '');
  const sameBucket = originals === variants;
  const variantObjects = `arn:aws:s3:::${variants}/${variantsPrefix}*`;
  const syncRole = roleOf(resource(APP_FUNCTIONS.syncVariants));
  const resizeRole = roleOf(resource(APP_FUNCTIONS.resize));
  const buckets = ofType(template, 'AWS::S3::Bucket');

  // ---- Buckets
  check(`buckets: all ${buckets.length} encrypted at rest`, () =>
    buckets
      .filter(([, b]) => !['AES256', 'aws:kms', 'aws:kms:dsse'].includes(b.Properties?.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.SSEAlgorithm))
      .map(([id]) => `${id} has no default encryption`),
  );
  check(`buckets: all ${buckets.length} block every kind of public access`, () =>
    buckets
      .filter(([, b]) => {
        const block = b.Properties?.PublicAccessBlockConfiguration ?? {};
        return !(block.BlockPublicAcls === true && block.BlockPublicPolicy === true && block.IgnorePublicAcls === true && block.RestrictPublicBuckets === true);
      })
      .map(([id]) => `${id} does not block public access`),
  );
  if (options.existingBucket === undefined) {
    check(`originals bucket: ${originals} created, retained on stack removal and replacement`, () => {
      const bucket = buckets.find(([, b]) => b.Properties?.BucketName === originals)?.[1];
      if (!bucket) return `no bucket named ${originals}`;
      return [bucket.DeletionPolicy !== 'Retain' && 'DeletionPolicy is not Retain', bucket.UpdateReplacePolicy !== 'Retain' && 'UpdateReplacePolicy is not Retain'].filter(
        (p): p is string => typeof p === 'string',
      );
    });
  } else {
    const existing = options.existingBucket;
    check(`originals bucket: the existing ${existing}, none created`, () => [
      ...(originals !== existing ? [`the functions read ${originals}`] : []),
      ...buckets.filter(([id, b]) => id === 'OriginalsBucket' || b.Properties?.BucketName === existing).map(([id]) => `${id} would create it`),
    ]);
  }

  // ---- Logs
  const logGroups = ofType(template, 'AWS::Logs::LogGroup');
  check(`logs: all ${logGroups.length} log groups expire (RetentionInDays)`, () =>
    logGroups.filter(([, g]) => !(Number(g.Properties?.RetentionInDays) > 0)).map(([id]) => `${id} keeps logs forever`),
  );
  check('logs: every function writes to a log group of the template', () => {
    const names = new Set(logGroups.map(([, g]) => g.Properties?.LogGroupName));
    return ofType(template, 'AWS::Lambda::Function')
      .filter(([, f]) => !names.has(`/aws/lambda/${f.Properties?.FunctionName}`))
      .map(([id]) => `${id}: Lambda would create a log group without retention`);
  });

  // ---- IAM
  const bucketPolicyAllows = ofType(template, 'AWS::S3::BucketPolicy').flatMap(([id, p]) =>
    listOf(p.Properties?.PolicyDocument?.Statement)
      .filter((s) => s.Effect === 'Allow')
      .map((s) => ({ source: id, actions: listOf(s.Action ?? s.NotAction).map(String), notAction: s.NotAction !== undefined })),
  );
  check('iam: no wildcard action and no NotAction in any Allow statement', () =>
    [...allows, ...bucketPolicyAllows].flatMap((g) => [
      ...(g.notAction ? [`${g.source}: NotAction`] : []),
      ...g.actions.filter((a) => a.includes('*')).map((a) => `${g.source}: ${a}`),
    ]),
  );
  const s3Allows = allows.filter((g) => g.actions.some((a) => a.startsWith('s3:')));
  check('iam: every S3 grant names its bucket (none on * or on every bucket)', () =>
    s3Allows.flatMap((g) => g.resources.filter((r) => !/^arn:aws:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(r)).map((r) => `${g.source}: ${r}`)),
  );
  check(`iam: s3:DeleteObject only by syncVariants, only on ${variantObjects}`, () =>
    s3Allows
      .filter((g) => g.actions.some((a) => /^s3:DeleteObject/.test(a)))
      .flatMap((g) => [
        ...(g.roles.some((r) => r !== syncRole) ? [`${g.source} is not syncVariants' role`] : []),
        ...g.resources.filter((r) => r !== variantObjects).map((r) => `${g.source}: ${r}`),
      ]),
  );
  check(`iam: no object write or delete on the originals (${originals})`, () => {
    const writes = /^s3:(PutObject|DeleteObject|RestoreObject|ReplicateObject|PutObjectAcl|PutObjectTagging|DeleteObjectTagging|BypassGovernanceRetention)/;
    const insideVariants = (r: string) => sameBucket && variantsPrefix !== '' && r.startsWith(`arn:aws:s3:::${originals}/${variantsPrefix}`);
    return s3Allows.flatMap((g) =>
      g.actions
        .filter((a) => writes.test(a))
        .flatMap((a) => g.resources.filter((r) => r.startsWith(`arn:aws:s3:::${originals}/`) && !insideVariants(r)).map((r) => `${g.source}: ${a} ${r}`)),
    );
  });
  check('iam: syncVariants has a role of its own', () => {
    if (!syncRole) return 'no role';
    const sharedWith = ofType(template, 'AWS::Lambda::Function').filter(([id, f]) => id !== APP_FUNCTIONS.syncVariants && roleOf(f) === syncRole);
    return sharedWith.map(([id]) => `shared with ${id}`);
  });
  const distributions = ofType(template, 'AWS::CloudFront::Distribution');
  const distributionId = distributions[0]?.[0];
  const queues = ofType(template, 'AWS::SQS::Queue');
  const dlq = render(resources.SyncVariantsLambdaEvConf?.Properties?.DestinationConfig?.OnFailure?.Destination ?? '').match(/^\$\{(\w+)\.Arn\}$/)?.[1];
  check('iam: syncVariants may read originals, list both buckets, read/write/delete variants, report to its queue, invalidate this CDN, and nothing else', () => {
    const want = [
      `s3:GetObject arn:aws:s3:::${originals}/${originalsPrefix}*`,
      `s3:GetObject arn:aws:s3:::${originals}/${watermarksPrefix}*`,
      `s3:ListBucket arn:aws:s3:::${originals}`,
      `s3:ListBucket arn:aws:s3:::${variants}`,
      `s3:GetObject ${variantObjects}`,
      `s3:PutObject ${variantObjects}`,
      `s3:DeleteObject ${variantObjects}`,
      `sqs:SendMessage \${${dlq}.Arn}`,
      ...(options.cdn ? [`cloudfront:CreateInvalidation arn:aws:cloudfront::\${AWS::AccountId}:distribution/\${${distributionId}}`] : []),
    ];
    const got = grantPairs(grantsOfRole(syncRole)).filter((p) => !p.startsWith('logs:'));
    return setDifference(want, got);
  });

  // ---- syncVariants: function, retries, dead-letter queue, environment
  check('syncVariants: handlers/sync-variants.handler, timeout ≥ 240 s, 1769 MB or more', () => {
    const p = resource(APP_FUNCTIONS.syncVariants).Properties;
    return [
      p.Handler !== 'handlers/sync-variants.handler' && `handler ${p.Handler}`,
      !(p.Timeout >= 240 && p.Timeout <= 900) && `timeout ${p.Timeout}`,
      !(p.MemorySize >= 1769) && `memory ${p.MemorySize}`,
    ].filter((x): x is string => typeof x === 'string');
  });
  check('syncVariants: 2 retries, then an SQS dead-letter queue (14 days, encrypted) named in the outputs', () => {
    const config = resource('SyncVariantsLambdaEvConf').Properties;
    const queue = queues.find(([id]) => id === dlq)?.[1]?.Properties;
    if (!queue) return `onFailure is ${render(config?.DestinationConfig?.OnFailure?.Destination)}, not a queue of the template`;
    const outputs = Object.values(template.Outputs ?? {}).map((o) => render(o.Value));
    return [
      config.MaximumRetryAttempts !== 2 && `MaximumRetryAttempts ${config.MaximumRetryAttempts}`,
      Number(queue.MessageRetentionPeriod) !== DLQ_RETENTION_SECONDS && `retention ${queue.MessageRetentionPeriod}`,
      queue.SqsManagedSseEnabled !== true && queue.KmsMasterKeyId === undefined && 'not encrypted',
      !outputs.some((o) => o === `\${${dlq}}` || o === `\${${dlq}.QueueName}`) && 'no output names it',
    ].filter((x): x is string => typeof x === 'string');
  });
  check('syncVariants: the resize function’s buckets, prefixes, presets and cache settings', () =>
    Object.keys(resizeEnv)
      .filter((k) => k !== 'ORIGIN_VERIFY_SECRET_ID')
      .filter((k) => render(resizeEnv[k]) !== render(syncEnv[k]))
      .map((k) => `${k}: ${render(syncEnv[k])} ≠ ${render(resizeEnv[k])}`)
      .concat(typeof syncEnv.EAGER_PRESETS === 'string' ? [] : ['no EAGER_PRESETS']),
  );
  check('config: every function’s environment loads (src/config.ts)', () =>
    Object.entries(APP_FUNCTIONS).flatMap(([name, id]) => {
      const variables = Object.fromEntries(Object.entries(env(id)).map(([k, v]) => [k, render(v)]));
      try {
        loadConfig(variables);
        return [];
      } catch (error) {
        return [`${name}: ${(error as Error).message}`];
      }
    }),
  );

  // ---- S3 notifications → syncVariants
  const syncFunction = resource(APP_FUNCTIONS.syncVariants);
  const syncArn = `\${${APP_FUNCTIONS.syncVariants}.Arn}`;
  const events = ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'];
  const filterText = originalsPrefix === '' ? 'no prefix filter' : `prefix ${originalsPrefix}`;
  const customS3 = ofType(template, 'Custom::S3');
  if (options.existingBucket === undefined) {
    check(`notifications: ${originals} → syncVariants on ${events.join(', ')}, ${filterText}`, () => {
      const bucket = buckets.find(([, b]) => b.Properties?.BucketName === originals)?.[1];
      const configs = listOf(bucket?.Properties?.NotificationConfiguration?.LambdaConfigurations).filter((c) => render(c.Function) === syncArn);
      const problems = events.filter((e) => !configs.some((c) => c.Event === e)).map((e) => `no ${e}`);
      for (const c of configs) {
        const rules = listOf(c.Filter?.S3Key?.Rules).map((r) => `${String(r.Name).toLowerCase()}=${r.Value}`);
        const want = originalsPrefix === '' ? [] : [`prefix=${originalsPrefix}`];
        if (!same(rules, want)) problems.push(`${c.Event} filter [${rules.join(', ')}]`);
      }
      if (customS3.length > 0) problems.push('a notification custom resource too');
      return problems;
    });
    check(`notifications: S3 may invoke syncVariants for ${originals} only, before the bucket is configured`, () => {
      const permissions = ofType(template, 'AWS::Lambda::Permission').filter(([, p]) => p.Properties?.Principal === 's3.amazonaws.com');
      const names = [syncArn, `\${${APP_FUNCTIONS.syncVariants}}`, String(syncFunction.Properties?.FunctionName)];
      const ok = permissions.filter(([, p]) => names.includes(render(p.Properties.FunctionName)));
      if (ok.length !== 1) return `${ok.length} S3 permissions for syncVariants`;
      const [id, p] = ok[0]!;
      const bucket = buckets.find(([, b]) => b.Properties?.BucketName === originals)?.[1];
      return [
        renderArn(p.Properties.SourceArn) !== `arn:aws:s3:::${originals}` && `SourceArn ${renderArn(p.Properties.SourceArn)}`,
        render(p.Properties.SourceAccount) !== '${AWS::AccountId}' && 'no SourceAccount',
        !listOf(bucket?.DependsOn).includes(id) && `the bucket does not depend on ${id}`,
      ].filter((x): x is string => typeof x === 'string');
    });
  } else {
    const existing = options.existingBucket;
    check(`notifications: the framework's custom resource subscribes syncVariants to ${existing} on ${events.join(', ')}, ${filterText}`, () => {
      const mine = customS3.filter(([, c]) => c.Properties?.FunctionName === syncFunction.Properties?.FunctionName);
      if (mine.length !== 1) return `${mine.length} notification custom resources for syncVariants`;
      const p = mine[0]![1].Properties;
      const configs = listOf(p.BucketConfigs);
      const want = originalsPrefix === '' ? [] : [`prefix=${originalsPrefix}`];
      return [
        ...(p.BucketName !== existing ? [`bucket ${p.BucketName}`] : []),
        ...events.filter((e) => !configs.some((c) => c.Event === e)).map((e) => `no ${e}`),
        ...configs
          .map((c) => listOf(c.Rules).map((r) => Object.entries(r).map(([k, v]) => `${k.toLowerCase()}=${v}`).join()))
          .filter((rules) => !same(rules, want))
          .map((rules) => `rules [${rules.join(', ')}]`),
      ];
    });
    check(`iam: that custom resource may configure ${existing} and invoke-permissions of syncVariants only`, () => {
      const role = customS3[0] ? roleOf(resource(render(customS3[0][1].Properties?.ServiceToken).match(/^\$\{(\w+)\.Arn\}$/)?.[1] ?? '')) : undefined;
      const got = grantPairs(grantsOfRole(role)).filter((p) => !p.startsWith('logs:'));
      return setDifference(
        [
          `s3:GetBucketNotification arn:aws:s3:::${existing}`,
          `s3:PutBucketNotification arn:aws:s3:::${existing}`,
          `lambda:AddPermission ${syncArn}`,
          `lambda:RemovePermission ${syncArn}`,
        ],
        got,
      );
    });
  }

  // ---- The CDN
  const cloudfront = Object.entries(resources).filter(([, r]) => String(r.Type).startsWith('AWS::CloudFront::'));
  const secrets = ofType(template, 'AWS::SecretsManager::Secret');
  if (options.cdn) {
    const dist = distributions.length === 1 ? distributions[0]![1].Properties.DistributionConfig : undefined;
    const behavior = dist?.DefaultCacheBehavior;
    const origin = listOf(dist?.Origins).find((o) => o.Id === behavior?.TargetOriginId);
    const priceClass = options.priceClass ?? 'PriceClass_100';
    check(`cdn: one distribution, enabled, HTTP/2 and 3, IPv6, ${priceClass}, HTTPS (redirect), compressed`, () => {
      if (!dist) return `${distributions.length} distributions`;
      return [
        dist.Enabled !== true && 'not enabled',
        dist.HttpVersion !== 'http2and3' && `HttpVersion ${dist.HttpVersion}`,
        dist.IPV6Enabled !== true && 'no IPv6',
        dist.PriceClass !== priceClass && `PriceClass ${dist.PriceClass}`,
        behavior?.ViewerProtocolPolicy !== 'redirect-to-https' && `ViewerProtocolPolicy ${behavior?.ViewerProtocolPolicy}`,
        behavior?.Compress !== true && 'Compress is off',
        listOf(dist.CacheBehaviors).length > 0 && 'other cache behaviors',
      ].filter((x): x is string => typeof x === 'string');
    });
    // With the engine on, its load balancer is the origin instead (scripts/engine-checks.ts).
    if (!options.engine) {
      check('cdn: the origin is the HTTP API, HTTPS only, TLSv1.2', () => {
        if (!origin) return 'no origin for the default behavior';
        const cfg = origin.CustomOriginConfig ?? {};
        return [
          render(origin.DomainName) !== '${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}' && `DomainName ${render(origin.DomainName)}`,
          cfg.OriginProtocolPolicy !== 'https-only' && `OriginProtocolPolicy ${cfg.OriginProtocolPolicy}`,
          !same(listOf(cfg.OriginSSLProtocols), ['TLSv1.2']) && `OriginSSLProtocols ${JSON.stringify(cfg.OriginSSLProtocols)}`,
        ].filter((x): x is string => typeof x === 'string');
      });
    }
    check(`cdn: viewer-request CloudFront Function, cloudfront-js-2.0, published, code = edge/viewer-request.js, under ${CLOUDFRONT_FUNCTION_MAX_BYTES} bytes`, () => {
      const associations = listOf(behavior?.FunctionAssociations);
      if (associations.length !== 1 || associations[0].EventType !== 'viewer-request') return `associations ${JSON.stringify(associations)}`;
      const fnId = render(associations[0].FunctionARN).match(/^\$\{(\w+)\.FunctionARN\}$/)?.[1];
      const fn = fnId ? resources[fnId] : undefined;
      if (fn?.Type !== 'AWS::CloudFront::Function') return `FunctionARN ${render(associations[0].FunctionARN)}`;
      const code = literalText(fn.Properties?.FunctionCode);
      const size = code === undefined ? 0 : Buffer.byteLength(code, 'utf8');
      return [
        fn.Properties?.FunctionConfig?.Runtime !== 'cloudfront-js-2.0' && `runtime ${fn.Properties?.FunctionConfig?.Runtime}`,
        fn.Properties?.AutoPublish !== true && 'not AutoPublish',
        code === undefined && 'FunctionCode is not literal text',
        options.viewerRequestCode === undefined && 'no edge/viewer-request.js to compare with',
        code !== undefined && options.viewerRequestCode !== undefined && code !== options.viewerRequestCode && 'FunctionCode differs from edge/viewer-request.js',
        size >= CLOUDFRONT_FUNCTION_MAX_BYTES && `${size} bytes`,
      ].filter((x): x is string => typeof x === 'string');
    });
    const corsOrigins = String(resizeEnv.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
    const keyHeaders = corsOrigins.length > 0 && !corsOrigins.includes('*') ? ['accept', 'origin'] : ['accept'];
    check(`cdn: cache key = path, all query parameters, ${keyHeaders.join(' + ')}; no cookies; gzip and brotli; MinTTL 0 ≤ DefaultTTL ≤ MaxTTL ≥ s-maxage`, () => {
      const policyId = render(behavior?.CachePolicyId).match(/^\$\{(\w+)\}$/)?.[1];
      const policy = policyId ? resources[policyId] : undefined;
      if (policy?.Type !== 'AWS::CloudFront::CachePolicy') return `CachePolicyId ${render(behavior?.CachePolicyId)}`;
      const c = policy.Properties.CachePolicyConfig;
      const key = c.ParametersInCacheKeyAndForwardedToOrigin ?? {};
      const headers = listOf(key.HeadersConfig?.Headers).map((h) => String(h).toLowerCase());
      const [min, dflt, max] = [c.MinTTL, c.DefaultTTL, c.MaxTTL].map(Number) as [number, number, number];
      const sMaxAge = resizeEnv.CDN_MAX_AGE === '' ? 0 : Number(resizeEnv.CDN_MAX_AGE);
      return [
        key.QueryStringsConfig?.QueryStringBehavior !== 'all' && `query strings ${key.QueryStringsConfig?.QueryStringBehavior}`,
        (key.HeadersConfig?.HeaderBehavior !== 'whitelist' || !same(headers, keyHeaders)) && `headers ${key.HeadersConfig?.HeaderBehavior} [${headers.join(', ')}]`,
        key.CookiesConfig?.CookieBehavior !== 'none' && `cookies ${key.CookiesConfig?.CookieBehavior}`,
        !(key.EnableAcceptEncodingGzip === true && key.EnableAcceptEncodingBrotli === true) && 'gzip/brotli not both enabled',
        !(min === 0 && min <= dflt && dflt <= max) && `TTLs ${min}/${dflt}/${max}`,
        !(sMaxAge <= max) && `s-maxage ${sMaxAge} above MaxTTL ${max}`,
      ].filter((x): x is string => typeof x === 'string');
    });
    check('cdn: origin requests carry all query parameters and Accept, but not Host', () => {
      const id = render(behavior?.OriginRequestPolicyId);
      const managed = MANAGED_ORIGIN_REQUEST_POLICIES[id];
      if (managed) return managed.host ? `${managed.name} forwards Host` : [];
      const policyId = id.match(/^\$\{(\w+)\}$/)?.[1];
      const policy = policyId ? resources[policyId] : undefined;
      if (policy?.Type !== 'AWS::CloudFront::OriginRequestPolicy') return `unknown OriginRequestPolicyId ${id}`;
      const c = policy.Properties.OriginRequestPolicyConfig;
      const headers = listOf(c.HeadersConfig?.Headers).map((h) => String(h).toLowerCase());
      const behaviorName = c.HeadersConfig?.HeaderBehavior;
      const forwardsHost = behaviorName === 'allViewer' || behaviorName === 'allViewerAndWhitelistCloudFront' || (behaviorName === 'allExcept' ? !headers.includes('host') : headers.includes('host'));
      const forwardsAccept = behaviorName === 'allExcept' ? !headers.includes('accept') : behaviorName === 'whitelist' ? headers.includes('accept') : behaviorName !== 'none';
      return [
        c.QueryStringsConfig?.QueryStringBehavior !== 'all' && `query strings ${c.QueryStringsConfig?.QueryStringBehavior}`,
        forwardsHost && 'forwards Host',
        !forwardsAccept && 'does not forward Accept',
      ].filter((x): x is string => typeof x === 'string');
    });
    const maxErrorTtl = options.maxErrorTtl ?? 60;
    check(`cdn: errors cached: ${CACHED_4XX.join(', ')} at most ${maxErrorTtl} s (= ERROR_MAX_AGE); ${NEVER_CACHED.join(', ')} never`, () => {
      const byCode = new Map(listOf(dist?.CustomErrorResponses).map((r) => [Number(r.ErrorCode), r]));
      const ttl = (code: number) => (byCode.has(code) ? Number(byCode.get(code).ErrorCachingMinTTL) : undefined);
      const errorMaxAge = Number(resizeEnv.ERROR_MAX_AGE);
      return [
        ...CACHED_4XX.filter((c) => ttl(c) === undefined || ttl(c)! > maxErrorTtl || ttl(c) !== errorMaxAge).map((c) => `${c}: ${ttl(c) ?? 'default 10 s'} (ERROR_MAX_AGE ${errorMaxAge})`),
        ...NEVER_CACHED.filter((c) => ttl(c) !== 0).map((c) => `${c}: ${ttl(c) ?? 'default 10 s'}`),
        ...[...byCode].filter(([c]) => c >= 500 && ttl(c) !== 0).map(([c]) => `${c}: ${ttl(c)}`),
        ...[...byCode.values()].filter((r) => r.ResponseCode !== undefined || r.ResponsePagePath !== undefined).map((r) => `${r.ErrorCode} rewritten`),
      ];
    });
    const secretId = render(listOf(origin?.OriginCustomHeaders).find((h) => String(h.HeaderName).toLowerCase() === 'x-origin-verify')?.HeaderValue ?? '').match(
      /^\{\{resolve:secretsmanager:\$\{(\w+)\}:SecretString\}\}$/,
    )?.[1];
    check('cdn: CloudFront sends X-Origin-Verify, a Secrets Manager dynamic reference to a generated secret (≥ 32 characters, no punctuation)', () => {
      if (!secretId) return 'no X-Origin-Verify origin header of the form {{resolve:secretsmanager:${Secret}:SecretString}}';
      const secret = resources[secretId];
      if (secret?.Type !== 'AWS::SecretsManager::Secret') return `${secretId} is not a secret of the template`;
      const generate = secret.Properties?.GenerateSecretString ?? {};
      return [
        !(Number(generate.PasswordLength) >= 32) && `length ${generate.PasswordLength}`,
        generate.ExcludePunctuation !== true && 'punctuation allowed',
        secret.Properties?.SecretString !== undefined && 'a literal SecretString',
      ].filter((x): x is string => typeof x === 'string');
    });
    // The engine's task role reads it too, for the same check (its environment: engine-checks.ts).
    const engineRole = options.engine ? engineTaskRole(template) : undefined;
    const checkers = engineRole ? 'the resize function and the engine check' : 'the resize function checks';
    check(`cdn: ${checkers} X-Origin-Verify against that secret, the only one ${engineRole ? 'they are' : 'it is'} granted by ARN`, () => {
      const secretRef = `\${${secretId}}`;
      const readers = allows.filter((g) => g.actions.includes('secretsmanager:GetSecretValue') && g.resources.includes(secretRef));
      const allowed = [resizeRole, engineRole].filter((r): r is string => r !== undefined);
      return [
        render(resizeEnv.ORIGIN_VERIFY_SECRET_ID) !== secretRef && `ORIGIN_VERIFY_SECRET_ID ${render(resizeEnv.ORIGIN_VERIFY_SECRET_ID)}`,
        !readers.some((g) => g.roles.includes(resizeRole ?? '')) && 'no GetSecretValue on it for the resize role',
        engineRole && !readers.some((g) => g.roles.includes(engineRole)) && 'no GetSecretValue on it for the engine task role',
        readers.some((g) => g.roles.some((r) => !allowed.includes(r))) && 'other roles may read it',
        readers.some((g) => g.resources.length !== 1) && 'granted together with other resources',
      ].filter((x): x is string => typeof x === 'string');
    });
    check('cdn: syncVariants invalidates this distribution (CDN_DISTRIBUTION_ID); s-maxage set', () =>
      [
        render(syncEnv.CDN_DISTRIBUTION_ID) !== `\${${distributionId}}` && `CDN_DISTRIBUTION_ID ${render(syncEnv.CDN_DISTRIBUTION_ID)}`,
        !(Number(resizeEnv.CDN_MAX_AGE) > 0) && `CDN_MAX_AGE ${render(resizeEnv.CDN_MAX_AGE)}`,
      ].filter((x): x is string => typeof x === 'string'),
    );
  } else {
    check('no cdn: no CloudFront resources, no origin-verify secret', () => [
      ...cloudfront.map(([id, r]) => `${id} (${r.Type})`),
      ...secrets.filter(([, s]) => /origin-verify/.test(render(s.Properties?.Name))).map(([id]) => id),
    ]);
    check('no cdn: the resize function requires no X-Origin-Verify; syncVariants invalidates nothing; no s-maxage', () => [
      ...(render(resizeEnv.ORIGIN_VERIFY_SECRET_ID ?? '') !== '' ? [`ORIGIN_VERIFY_SECRET_ID ${render(resizeEnv.ORIGIN_VERIFY_SECRET_ID)}`] : []),
      ...(render(syncEnv.CDN_DISTRIBUTION_ID ?? '') !== '' ? [`CDN_DISTRIBUTION_ID ${render(syncEnv.CDN_DISTRIBUTION_ID)}`] : []),
      ...(render(resizeEnv.CDN_MAX_AGE ?? '') !== '' ? [`CDN_MAX_AGE ${render(resizeEnv.CDN_MAX_AGE)}`] : []),
      ...allows.filter((g) => g.actions.some((a) => a.startsWith('cloudfront:'))).map((g) => `${g.source} grants ${g.actions.join(', ')}`),
    ]);
  }

  // ---- Architecture and the zip's native binaries
  check(`architecture: ${options.architecture} for every function`, () =>
    ofType(template, 'AWS::Lambda::Function')
      .filter(([, f]) => !same(listOf(f.Properties?.Architectures ?? ['x86_64']), [options.architecture]))
      .map(([id, f]) => `${id}: ${JSON.stringify(f.Properties?.Architectures ?? ['x86_64'])}`),
  );
  if (options.zip) {
    const { entries, machines } = options.zip;
    const [cpu, other, machine] = options.architecture === 'arm64' ? ['arm64', 'x64', 'aarch64'] : ['x64', 'arm64', 'x86-64'];
    check(`zip: sharp's linux-${cpu} binaries (${machine}) and no others`, () => {
      const addon = entries.filter((e) => new RegExp(`node_modules/@img/sharp-linux-${cpu}/lib/sharp-linux-${cpu}-[\\d.]+\\.node$`).test(e));
      const libvips = entries.filter((e) => new RegExp(`node_modules/@img/sharp-libvips-linux-${cpu}/lib/libvips-cpp\\.so`).test(e));
      const foreign = entries.filter((e) => new RegExp(`@img/sharp-(libvips-)?(linux-${other}|linuxmusl|darwin|win32|wasm)`).test(e));
      return [
        ...(addon.length === 0 ? [`no @img/sharp-linux-${cpu} addon`] : []),
        ...(libvips.length === 0 ? [`no @img/sharp-libvips-linux-${cpu}`] : []),
        ...[...addon, ...libvips].filter((e) => machines[e] !== machine).map((e) => `${e} is ${machines[e] ?? 'not an ELF file'}`),
        ...(foreign.length > 0 ? [`also ${[...new Set(foreign.map((f) => f.match(/@img\/[^/]+/)![0]))].join(', ')}`] : []),
      ];
    });
  }

  // ---- Alarms and the dashboard (scripts/observability-checks.ts)
  checkObservability(
    template,
    { cdn: options.cdn, region: options.region ?? 'us-east-1', resizeEnv, resize: APP_FUNCTIONS.resize, deadLetterQueue: dlq, distribution: distributionId },
    check,
  );

  // ---- The engine (scripts/engine-checks.ts): its resources with --engine, none of them without
  const startBatchEnv = env(APP_FUNCTIONS.startBatch);
  if (options.engine) {
    checkEngine(template, options.engine, { cdn: options.cdn, resizeEnv, startBatchEnv, resizeRole, allows, distribution: distributionId }, check);
  } else {
    checkEngineOff(template, { startBatchEnv }, check);
  }

  // ---- Outputs (npx sls info)
  const outputNames = [
    ...(options.cdn ? ['CdnUrl', 'CdnDistributionId'] : []),
    'ApiUrl',
    'OriginalsBucketName',
    'VariantsBucketName',
    'SyncVariantsDeadLetterQueueName',
    'SyncVariantsDeadLetterQueueUrl',
    'BatchRepositoryUri',
    'BatchClusterName',
    'BatchTaskDefinitionArn',
  ];
  check(`outputs: ${outputNames.join(', ')}`, () => {
    const outputs = template.Outputs ?? {};
    return [
      ...outputNames.filter((n) => !(n in outputs)).map((n) => `no ${n}`),
      ...(options.cdn && outputs.CdnUrl && render(outputs.CdnUrl.Value) !== `https://\${${distributionId}.DomainName}` ? [`CdnUrl ${render(outputs.CdnUrl.Value)}`] : []),
      ...(outputs.OriginalsBucketName && render(outputs.OriginalsBucketName.Value) !== originals && render(outputs.OriginalsBucketName.Value) !== '${OriginalsBucket}'
        ? [`OriginalsBucketName ${render(outputs.OriginalsBucketName.Value)}`]
        : []),
    ];
  });
  return results;
}
