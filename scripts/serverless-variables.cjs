'use strict';
/**
 * Values serverless.yml reads with `${file(./scripts/serverless-variables.cjs):<name>}`: the ones
 * its own variable syntax cannot express. Plain CommonJS: the framework require()s it.
 */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const VIEWER_REQUEST = join(__dirname, '..', 'edge', 'viewer-request.js');

/**
 * The CloudFront Function's code, exactly the bytes of edge/viewer-request.js. `${file(x.js)}`
 * would run that file as a module instead of reading it, and the framework parses a returned
 * string for `${…}` variables again, which would rewrite the code's template literals. So every
 * `${` is split between two parts of an Fn::Join: no part holds one, and CloudFormation joins the
 * parts back into the original text.
 */
function viewerRequestCode() {
  let code;
  try {
    code = readFileSync(VIEWER_REQUEST, 'utf8');
  } catch (error) {
    throw new Error(`edge/viewer-request.js (the CloudFront Function) cannot be read: ${error.message}`);
  }
  return literalWithoutVariables(code);
}

/** `text` as is when it holds no `${`, else an Fn::Join of parts none of which holds one. */
function literalWithoutVariables(text) {
  const parts = text.split('${');
  if (parts.length === 1) return text;
  return { 'Fn::Join': ['', parts.map((part, i) => (i > 0 ? '{' : '') + part + (i < parts.length - 1 ? '$' : ''))] };
}

/**
 * The originals prefix as the framework's S3 event `rules` (for an existing bucket): none when the
 * prefix is empty, since S3 has no use for an empty prefix filter.
 */
async function originalsPrefixRules({ resolveVariable }) {
  const prefix = await resolveVariable('param:originalsPrefix');
  return prefix ? [{ prefix }] : [];
}

/**
 * The playground function (custom.playground) when param playground is 'true'; null (no function,
 * no routes) when 'false'; any other value fails packaging. serverless.yml falls back to null for
 * the null, which the framework then drops from its functions.
 */
async function playgroundFunction({ resolveVariable }) {
  const value = String(await resolveVariable('param:playground'));
  if (value === 'false') return null;
  if (value === 'true') return resolveVariable('self:custom.playground');
  throw new Error(`param playground must be 'true' or 'false', not '${value}'`);
}

/**
 * CloudFront's origin-facing managed prefix list (com.amazonaws.global.cloudfront.origin-facing)
 * by region: what the engine's load balancer takes CloudFront's VPC-origin traffic from, as
 * CloudFront's VPC origin guide says to allow. Its id differs per region and CloudFormation
 * cannot look it up by name. Elsewhere,
 * or to be sure: aws ec2 describe-managed-prefix-lists --filters
 * Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing (param engineOriginPrefixList).
 */
const CLOUDFRONT_ORIGIN_PREFIX_LISTS = Object.freeze({
  'us-east-1': 'pl-3b927c52',
  'us-east-2': 'pl-b6a144df',
  'us-west-1': 'pl-4ea04527',
  'us-west-2': 'pl-82a045eb',
  'eu-west-1': 'pl-4fa04526',
  'eu-west-2': 'pl-93a247fa',
  'eu-central-1': 'pl-a3a144ca',
  'ap-southeast-1': 'pl-31a34658',
  'ap-southeast-2': 'pl-b8a742d1',
  'ap-northeast-1': 'pl-58a04531',
});

/** The prefix list for `region`: the param when set, else the table's; undefined when neither. */
function cloudfrontOriginPrefixList(region, param = '') {
  return String(param).trim() || CLOUDFRONT_ORIGIN_PREFIX_LISTS[region];
}

/** The engine's port in its container, behind the target group and in its health check. */
const ENGINE_PORT = 3000;
/** Fargate waits at most this long between SIGTERM and SIGKILL. */
const MAX_STOP_TIMEOUT = 120;
/** After the drain: the last responses' grace (src/engine/server.ts, 2 s), logs, exit. */
const STOP_MARGIN = 10;

const text = async (resolveVariable, name) => {
  const value = await resolveVariable(`param:${name}`);
  return value === null || value === undefined ? '' : String(value).trim();
};
const ids = (value) => value.split(',').map((v) => v.trim()).filter(Boolean);

function integerParam(name, value, min, max) {
  const n = Number(value);
  if (value === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`param ${name} must be an integer from ${min} to ${max}, not '${value}'`);
  }
  return n;
}

/**
 * custom.engine: the engine switch (param engine, 'true' or 'false'; any other value fails
 * packaging) and the values serverless.yml cannot compute itself: the container's stop timeout
 * from the drain time, the target group's deregistration delay, CloudFront's prefix list. With
 * the engine on, the network params it cannot run without are checked here, so a mistake fails
 * `sls package` with the param's name rather than a deploy halfway through. Who may reach the
 * internal load balancer is one source: CloudFront's prefix list with the CDN,
 * engineIngressCidr without it; both or neither fail.
 */
async function engineSettings({ resolveVariable }) {
  const enabled = await text(resolveVariable, 'engine');
  if (enabled !== 'true' && enabled !== 'false') throw new Error(`param engine must be 'true' or 'false', not '${enabled}'`);
  const drainSeconds = integerParam('engineDrainSeconds', await text(resolveVariable, 'engineDrainSeconds'), 0, MAX_STOP_TIMEOUT - STOP_MARGIN);
  const region = String(await resolveVariable('self:provider.region'));
  const settings = {
    enabled,
    port: ENGINE_PORT,
    drainSeconds,
    stopTimeout: drainSeconds + STOP_MARGIN,
    // ECS deregisters a task from the target group and waits this long before its SIGTERM: the
    // load balancer's requests in flight finish first (a render is bounded by PROCESSING_TIMEOUT_MS).
    deregistrationDelay: String(drainSeconds),
    originPrefixList: cloudfrontOriginPrefixList(region, await text(resolveVariable, 'engineOriginPrefixList')) ?? '',
  };
  if (enabled === 'false') return settings;

  const problems = [];
  const vpc = await text(resolveVariable, 'engineVpc');
  if (!/^vpc-[0-9a-f]+$/.test(vpc)) problems.push(`param engineVpc must name the VPC (vpc-…), not '${vpc}'`);
  for (const [name, least] of [['engineSubnets', 1], ['engineLoadBalancerSubnets', 2]]) {
    const value = await text(resolveVariable, name);
    const list = ids(value);
    if (list.length < least || list.some((id) => !/^subnet-[0-9a-f]+$/.test(id))) {
      problems.push(`param ${name} must list at least ${least} subnet id${least > 1 ? 's (in different Availability Zones)' : ''} (subnet-…,subnet-…), not '${value}'`);
    }
  }
  const min = integerParam('engineMinTasks', await text(resolveVariable, 'engineMinTasks'), 1, 1000);
  const max = integerParam('engineMaxTasks', await text(resolveVariable, 'engineMaxTasks'), 1, 1000);
  if (max < min) problems.push(`param engineMaxTasks (${max}) must not be below engineMinTasks (${min})`);
  integerParam('engineCpuTarget', await text(resolveVariable, 'engineCpuTarget'), 10, 90);
  const cidr = await text(resolveVariable, 'engineIngressCidr');
  if (cidr !== '' && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr)) problems.push(`param engineIngressCidr must be an IPv4 CIDR (10.0.0.0/16), not '${cidr}'`);
  // The security group takes one source: CloudFront's VPC origin with the CDN, the range without.
  const cdn = await text(resolveVariable, 'cdn');
  if (cdn === 'true' && cidr !== '') {
    problems.push(`param engineIngressCidr must be empty with the CDN: only CloudFront's VPC origin reaches the load balancer, not '${cidr}'`);
  }
  if (cdn !== 'true' && cidr === '') {
    problems.push("the engine without the CDN (param cdn 'false') needs param engineIngressCidr: who in your network may reach its internal load balancer");
  }
  if (cdn === 'true' && !settings.originPrefixList) {
    problems.push(`no CloudFront prefix list known for ${region}: set param engineOriginPrefixList (aws ec2 describe-managed-prefix-lists --filters Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing)`);
  }
  // The hot window answers from memory without asking S3: only events keep that fresh (src/config.ts refuses it otherwise).
  const hotSeconds = integerParam('engineHotVariantSeconds', await text(resolveVariable, 'engineHotVariantSeconds'), 0, 300);
  const freshness = await text(resolveVariable, 'freshness');
  if (hotSeconds > 0 && freshness !== 'events') {
    problems.push(`param engineHotVariantSeconds must be 0 with param freshness '${freshness}' (only 'events' keeps variants fresh without asking S3), not ${hotSeconds}`);
  }
  if (problems.length > 0) throw new Error(`the engine (param engine 'true'): ${problems.join('; ')}`);
  return settings;
}

/**
 * The engine container's environment: exactly the resize function's (provider.environment and
 * its own, ORIGIN_VERIFY_SECRET_ID included), so both answer every URL alike, plus `extra`
 * (custom.engineEnvironment: HOST, PORT, ENGINE_*). ECS takes a list of {Name, Value}; a value
 * that is a CloudFormation function (a Ref) stays one.
 */
async function engineEnvironment({ resolveConfigurationProperty }) {
  const variables = {
    ...((await resolveConfigurationProperty(['provider', 'environment'])) ?? {}),
    ...((await resolveConfigurationProperty(['functions', 'resize', 'environment'])) ?? {}),
    ...((await resolveConfigurationProperty(['custom', 'engineEnvironment'])) ?? {}),
  };
  return Object.entries(variables).map(([Name, Value]) => ({ Name, Value: typeof Value === 'object' && Value !== null ? Value : String(Value ?? '') }));
}

module.exports = {
  viewerRequestCode,
  originalsPrefixRules,
  literalWithoutVariables,
  playgroundFunction,
  engineSettings,
  engineEnvironment,
  cloudfrontOriginPrefixList,
  CLOUDFRONT_ORIGIN_PREFIX_LISTS,
};
