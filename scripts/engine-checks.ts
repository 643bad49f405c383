import { loadConfig, loadEngineSettings } from '../src/config.js';
import { grantPairs, ofType, refId, render, setDifference, type Cfn, type Grant, type Template } from './cfn-template.js';

/**
 * The engine's resources in a packaged template (docs/engine.md): the ECS service on Fargate
 * running the image's serve command, its internal load balancer, scaling, security groups,
 * roles, and CloudFront's VPC origin and origin; or, with the engine off, none of them. For
 * `npm run check:deploy` (scripts/deploy-checks.ts calls these). Pure: the effective template
 * in, named checks out through the caller's `check`.
 */

/** How the stack was packaged, for `--engine`. */
export interface EngineCheckOptions {
  /** Without the CDN: the range of your network the load balancer takes (param engineIngressCidr). */
  readonly ingressCidr?: string;
  /** With the CDN: CloudFront's origin-facing managed prefix list in the stack's region. */
  readonly originPrefixList?: string;
}

export interface EngineContext {
  readonly cdn: boolean;
  readonly resizeEnv: Record<string, Cfn>;
  /** startBatch's environment: the batch cluster and task definition family. */
  readonly startBatchEnv: Record<string, Cfn>;
  /** The resize function's role (logical id). */
  readonly resizeRole?: string;
  /** Every Allow statement of the template's identity policies. */
  readonly allows: readonly Grant[];
  /** The CloudFront distribution (logical id), with the CDN on. */
  readonly distribution?: string;
}

type Check = (name: string, body: () => string[] | string | undefined) => void;

/**
 * The Dockerfile's ENTRYPOINT and CMD: what a container runs unless its task definition says
 * otherwise (test/batch/dockerfile.test.ts holds the Dockerfile to these).
 */
export const IMAGE_ENTRYPOINT: readonly string[] = ['node', 'worker.cjs'];
export const IMAGE_CMD: readonly string[] = ['--help'];
const SERVE_COMMAND = ['node', 'serve.cjs'];
const HEALTH_PATH = '/_health';
/** Fargate's longest wait between SIGTERM and SIGKILL. */
const MAX_STOP_TIMEOUT = 120;
/** At least this after the drain: the last responses' grace (src/engine/server.ts, 2 s), logs, exit. */
const MIN_STOP_MARGIN = 5;
const ENGINE_TYPES = /^AWS::(ECS::Service|ElasticLoadBalancingV2::|ApplicationAutoScaling::|EC2::SecurityGroup|CloudFront::VpcOrigin)/;
/** CloudFront's longest wait for a VPC origin's response. */
const MAX_VPC_ORIGIN_READ_TIMEOUT = 120;

const list = (value: Cfn): Cfn[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const problems = (...found: (string | false | undefined)[]) => found.filter((x): x is string => typeof x === 'string');
const strings = (value: Cfn) => list(value).map(String);
const sameList = (a: readonly string[], b: readonly string[]) => JSON.stringify(a) === JSON.stringify(b);

/** What a container runs: Docker's rule, an entry point set in the task definition drops the image's CMD. */
function commandOf(container: Cfn): string[] {
  const entryPoint = container?.EntryPoint === undefined ? undefined : strings(container.EntryPoint);
  const command = container?.Command === undefined ? undefined : strings(container.Command);
  return [...(entryPoint ?? IMAGE_ENTRYPOINT), ...(command ?? (entryPoint ? [] : IMAGE_CMD))];
}

/** A task definition's container environment as name → value. */
const environmentOf = (container: Cfn): Record<string, Cfn> => Object.fromEntries(list(container?.Environment).map((v) => [String(v.Name), v.Value]));

/** One security group rule, flattened: where from (or to), which ports. */
interface Rule {
  readonly protocol: string;
  readonly from: number;
  readonly to: number;
  readonly peer: string;
}
const ruleText = (r: Rule) => `${r.protocol} ${r.from === r.to ? r.from : `${r.from}-${r.to}`} ${r.peer}`;
function rule(r: Cfn, direction: 'in' | 'out'): Rule {
  const peers =
    direction === 'in'
      ? [r.CidrIp, r.CidrIpv6, r.SourcePrefixListId && `prefix list ${render(r.SourcePrefixListId)}`, r.SourceSecurityGroupId && `group ${render(r.SourceSecurityGroupId)}`]
      : [r.CidrIp, r.CidrIpv6, r.DestinationPrefixListId && `prefix list ${render(r.DestinationPrefixListId)}`, r.DestinationSecurityGroupId && `group ${render(r.DestinationSecurityGroupId)}`];
  return {
    protocol: String(r.IpProtocol).toLowerCase() === '6' ? 'tcp' : String(r.IpProtocol).toLowerCase(),
    from: Number(r.FromPort),
    to: Number(r.ToPort),
    peer: peers.filter(Boolean).map((p) => (typeof p === 'string' ? p : render(p))).join(' + ') || 'nowhere',
  };
}

/** Inbound or outbound rules of a template security group: its own and the standalone ones naming it. */
function rulesOf(template: Template, group: string, direction: 'in' | 'out'): Rule[] {
  const inline = list(template.Resources[group]?.Properties?.[direction === 'in' ? 'SecurityGroupIngress' : 'SecurityGroupEgress']);
  const type = direction === 'in' ? 'AWS::EC2::SecurityGroupIngress' : 'AWS::EC2::SecurityGroupEgress';
  const standalone = ofType(template, type).filter(([, r]) => refId(r.Properties?.GroupId) === group).map(([, r]) => r.Properties);
  return [...inline, ...standalone].map((r) => rule(r, direction));
}

/** The engine task role's logical id (the one ECS service's task definition), if there is one. */
export function engineTaskRole(template: Template): string | undefined {
  const services = ofType(template, 'AWS::ECS::Service');
  if (services.length !== 1) return undefined;
  const definition = template.Resources[refId(services[0]![1].Properties?.TaskDefinition) ?? ''];
  return refId(definition?.Properties?.TaskRoleArn);
}

/** With the engine off (the default): none of its resources. */
export function checkEngineOff(template: Template, ctx: Pick<EngineContext, 'startBatchEnv'>, check: Check): void {
  check('engine off: no ECS service, load balancer, target group, scaling, security group, VPC origin or task definition but the batch worker’s', () => {
    const family = render(ctx.startBatchEnv.BATCH_TASK_DEFINITION ?? '');
    return Object.entries(template.Resources)
      .filter(([id, r]) => ENGINE_TYPES.test(String(r.Type)) || id.startsWith('Engine') || (r.Type === 'AWS::ECS::TaskDefinition' && render(r.Properties?.Family) !== family))
      .map(([id, r]) => `${id} (${r.Type})`);
  });
}

export function checkEngine(template: Template, options: EngineCheckOptions, ctx: EngineContext, check: Check): void {
  const resources = template.Resources;
  const services = ofType(template, 'AWS::ECS::Service');
  if (services.length !== 1) {
    check('engine: one ECS service', () => `${services.length} services`);
    return;
  }
  const [serviceId, serviceResource] = services[0]!;
  const service = serviceResource.Properties ?? {};
  const definitionId = refId(service.TaskDefinition) ?? '';
  const definition = resources[definitionId]?.Properties ?? {};
  const containers = list(definition.ContainerDefinitions);
  const container = containers.length === 1 ? containers[0] : containers.find((c) => c.Essential !== false);
  const engineEnv = environmentOf(container);
  const family = render(ctx.startBatchEnv.BATCH_TASK_DEFINITION ?? '');
  const batchDefinition = ofType(template, 'AWS::ECS::TaskDefinition').find(([, d]) => render(d.Properties?.Family) === family)?.[1]?.Properties;
  const batchContainer = list(batchDefinition?.ContainerDefinitions)[0];
  const serviceBalancers = list(service.LoadBalancers);
  const targetGroupId = refId(serviceBalancers[0]?.TargetGroupArn) ?? '';
  const targetGroup = resources[targetGroupId]?.Properties ?? {};
  const listeners = ofType(template, 'AWS::ElasticLoadBalancingV2::Listener').filter(([, l]) =>
    list(l.Properties?.DefaultActions).some((a) => refId(a.TargetGroupArn) === targetGroupId || list(a.ForwardConfig?.TargetGroups).some((t) => refId(t.TargetGroupArn) === targetGroupId)),
  );
  const loadBalancerId = refId(listeners[0]?.[1]?.Properties?.LoadBalancerArn) ?? '';
  const loadBalancer = resources[loadBalancerId]?.Properties ?? {};
  // Every listener of that load balancer, whatever it forwards to: each one is a way in.
  const balancerListeners = ofType(template, 'AWS::ElasticLoadBalancingV2::Listener').filter(([, l]) => refId(l.Properties?.LoadBalancerArn) === loadBalancerId);
  const listener = listeners[0]?.[1]?.Properties ?? {};
  const loadBalancerGroups = list(loadBalancer.SecurityGroups).map((g) => refId(g) ?? render(g));
  const taskGroups = list(service.NetworkConfiguration?.AwsvpcConfiguration?.SecurityGroups).map((g) => refId(g) ?? render(g));
  const port = Number(list(container?.PortMappings)[0]?.ContainerPort);
  const drainSeconds = render(engineEnv.ENGINE_DRAIN_SECONDS ?? '') === '' ? 25 : Number(render(engineEnv.ENGINE_DRAIN_SECONDS));

  check(`engine: one ECS service on Fargate in the batch cluster, running the batch image’s serve command (${SERVE_COMMAND.join(' ')})`, () => {
    const cluster = resources[refId(service.Cluster) ?? ''];
    const strategy = list(service.CapacityProviderStrategy).map((s) => String(s.CapacityProvider));
    const fargate = service.LaunchType === 'FARGATE' || (service.LaunchType === undefined && strategy.length > 0 && strategy.every((p) => /^FARGATE(_SPOT)?$/.test(p)));
    return problems(
      !fargate && `LaunchType ${service.LaunchType ?? 'unset'}, capacity providers [${strategy.join(', ')}]`,
      cluster?.Type !== 'AWS::ECS::Cluster' && `Cluster ${render(service.Cluster)} is not a cluster of the template`,
      cluster && render(cluster.Properties?.ClusterName) !== render(ctx.startBatchEnv.BATCH_CLUSTER ?? '') && `cluster ${render(cluster.Properties?.ClusterName)}, not the batch cluster ${render(ctx.startBatchEnv.BATCH_CLUSTER ?? '')}`,
      !strings(definition.RequiresCompatibilities).includes('FARGATE') && `task definition compatibilities [${strings(definition.RequiresCompatibilities).join(', ')}]`,
      definition.NetworkMode !== 'awsvpc' && `NetworkMode ${definition.NetworkMode}`,
      !container && 'no container',
      container && !sameList(commandOf(container), SERVE_COMMAND) && `runs ${commandOf(container).join(' ')}`,
      !batchContainer && `no batch task definition (family ${family})`,
      batchContainer && render(container?.Image) !== render(batchContainer.Image) && `image ${render(container?.Image)}, not the batch worker’s ${render(batchContainer.Image)}`,
      batchDefinition && definition.RuntimePlatform?.CpuArchitecture !== batchDefinition.RuntimePlatform?.CpuArchitecture &&
        `CpuArchitecture ${definition.RuntimePlatform?.CpuArchitecture}, the image’s is ${batchDefinition.RuntimePlatform?.CpuArchitecture}`,
    );
  });

  check('engine: listens on 0.0.0.0 at PORT, the port of its mapping, of the target group (ip targets, HTTP) and of the service’s load balancer entry', () =>
    problems(
      render(engineEnv.HOST ?? '') !== '0.0.0.0' && `HOST ${render(engineEnv.HOST ?? '') || 'unset (127.0.0.1: unreachable)'}`,
      !(port > 0) && 'no port mapping',
      Number(render(engineEnv.PORT ?? '3000')) !== port && `PORT ${render(engineEnv.PORT ?? '')} ≠ container port ${port}`,
      serviceBalancers.length !== 1 && `${serviceBalancers.length} load balancer entries`,
      Number(serviceBalancers[0]?.ContainerPort) !== port && `service's ContainerPort ${serviceBalancers[0]?.ContainerPort}`,
      serviceBalancers[0]?.ContainerName !== container?.Name && `service's ContainerName ${serviceBalancers[0]?.ContainerName} ≠ ${container?.Name}`,
      resources[targetGroupId]?.Type !== 'AWS::ElasticLoadBalancingV2::TargetGroup' && `TargetGroupArn ${render(serviceBalancers[0]?.TargetGroupArn)}`,
      Number(targetGroup.Port) !== port && `target group port ${targetGroup.Port}`,
      targetGroup.TargetType !== 'ip' && `TargetType ${targetGroup.TargetType} (awsvpc tasks are ip targets)`,
      targetGroup.Protocol !== 'HTTP' && `target group protocol ${targetGroup.Protocol}`,
    ),
  );

  check(`engine: container health check runs node against ${HEALTH_PATH} on its port (the slim image has no curl)`, () => {
    const health = container?.HealthCheck;
    if (!health) return 'no HealthCheck: ECS ignores the image’s HEALTHCHECK';
    const command = strings(health.Command);
    const text = command.slice(1).join(' ');
    return problems(
      !['CMD', 'CMD-SHELL'].includes(command[0] ?? '') && `Command starts with ${command[0]}`,
      !/(^|\s)node(\s|$)/.test(text) && `not node: ${text}`,
      /\b(curl|wget)\b/.test(text) && `${text.match(/\b(curl|wget)\b/)![0]} is not in the image`,
      !new RegExp(`(127\\.0\\.0\\.1|localhost):${port}${HEALTH_PATH}\\b`).test(text) && `does not ask 127.0.0.1:${port}${HEALTH_PATH}`,
      !(Number(health.Timeout ?? 5) < Number(health.Interval ?? 30)) && `Timeout ${health.Timeout} ≥ Interval ${health.Interval}`,
    );
  });

  check(`engine: stop timeout ≥ ENGINE_DRAIN_SECONDS + ${MIN_STOP_MARGIN} s and ≤ ${MAX_STOP_TIMEOUT} s; the target group’s deregistration delay below it`, () => {
    const stop = Number(container?.StopTimeout ?? 30);
    const delay = Number(list(targetGroup.TargetGroupAttributes).find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value ?? 300);
    return problems(
      !Number.isInteger(drainSeconds) && `ENGINE_DRAIN_SECONDS ${render(engineEnv.ENGINE_DRAIN_SECONDS)}`,
      !(stop >= drainSeconds + MIN_STOP_MARGIN) && `StopTimeout ${stop} s with ENGINE_DRAIN_SECONDS ${drainSeconds}: SIGKILL before the drain ends`,
      !(stop <= MAX_STOP_TIMEOUT) && `StopTimeout ${stop} s, Fargate's maximum is ${MAX_STOP_TIMEOUT}`,
      !(delay < stop) && `deregistration delay ${delay} s, not below StopTimeout ${stop} s`,
    );
  });

  check(`engine: an internal Application Load Balancer (no public address), its one listener HTTP on 80 forwarding to the target group, health check GET ${HEALTH_PATH} → 200`, () => {
    const action = list(listener.DefaultActions)[0];
    const matcher = String(targetGroup.Matcher?.HttpCode ?? '200');
    return problems(
      listeners.length !== 1 && `${listeners.length} listeners forward to the target group`,
      resources[loadBalancerId]?.Type !== 'AWS::ElasticLoadBalancingV2::LoadBalancer' && 'no load balancer',
      (loadBalancer.Type ?? 'application') !== 'application' && `Type ${loadBalancer.Type}`,
      loadBalancer.Scheme !== 'internal' &&
        `Scheme ${loadBalancer.Scheme ?? 'internet-facing (the default)'}: a public address, and ${ctx.cdn ? 'CloudFront would send X-Origin-Verify to it over the internet' : 'the engine open to the internet'}`,
      balancerListeners.length > 1 &&
        `${balancerListeners.length} listeners on the load balancer (${balancerListeners.map(([id, l]) => `${id} ${l.Properties?.Protocol} ${l.Properties?.Port}`).join(', ')})`,
      listeners[0] && Number(listener.Port) !== 80 && `listener port ${listener.Port}`,
      listeners[0] && listener.Protocol !== 'HTTP' && `listener protocol ${listener.Protocol}`,
      action && action.Type !== 'forward' && `listener action ${action.Type}`,
      targetGroup.HealthCheckEnabled === false && 'health checks disabled',
      (targetGroup.HealthCheckPath ?? '/') !== HEALTH_PATH && `health check path ${targetGroup.HealthCheckPath ?? '/ (the default)'}`,
      (targetGroup.HealthCheckProtocol ?? 'HTTP') !== 'HTTP' && `health check protocol ${targetGroup.HealthCheckProtocol}`,
      matcher !== '200' && `health check expects ${matcher} (the engine answers 503 while draining)`,
    );
  });

  // The one peer allowed, as rulesOf names it: CloudFront's VPC origin with the CDN, the range without.
  const source = ctx.cdn
    ? `prefix list ${options.originPrefixList ?? '(unknown: set ENGINE_ORIGIN_PREFIX_LIST)'}`
    : (options.ingressCidr ?? '(unset: set ENGINE_INGRESS_CIDR)');
  const sourceText = ctx.cdn ? `CloudFront’s VPC origin (origin-facing ${source})` : source;
  check(`engine: the load balancer takes tcp 80 only, from ${sourceText} only`, () => {
    if (loadBalancerGroups.length === 0) return 'no security group: the load balancer would take the VPC default group';
    return loadBalancerGroups.flatMap((group) => {
      if (resources[group]?.Type !== 'AWS::EC2::SecurityGroup') return [`security group ${group} is not one of the template`];
      const rules = rulesOf(template, group, 'in');
      if (rules.length === 0) return [`${group}: no inbound rule`];
      return rules.filter((r) => !(r.protocol === 'tcp' && r.from === 80 && r.to === 80 && r.peer === source)).map((r) => `${group}: ${ruleText(r)}`);
    });
  });

  check(`engine: the tasks take tcp ${port} from the load balancer’s security group only, which sends to nothing else`, () => {
    if (taskGroups.length === 0) return 'no security group: the tasks would take the VPC default group';
    const fromBalancer = (r: Rule) => r.protocol === 'tcp' && r.from === port && r.to === port && loadBalancerGroups.some((g) => r.peer === `group \${${g}}`);
    const toTasks = (r: Rule) => r.protocol === 'tcp' && r.from === port && r.to === port && taskGroups.some((g) => r.peer === `group \${${g}}`);
    return [
      ...taskGroups.flatMap((group) => {
        if (resources[group]?.Type !== 'AWS::EC2::SecurityGroup') return [`task security group ${group} is not one of the template`];
        const rules = rulesOf(template, group, 'in');
        return rules.length === 0 ? [`${group}: no inbound rule from the load balancer`] : rules.filter((r) => !fromBalancer(r)).map((r) => `${group}: in ${ruleText(r)}`);
      }),
      ...loadBalancerGroups
        .filter((g) => resources[g]?.Type === 'AWS::EC2::SecurityGroup')
        .flatMap((group) => {
          const rules = rulesOf(template, group, 'out');
          return rules.length === 0 ? [`${group}: sends anywhere (no egress rule)`] : rules.filter((r) => !toTasks(r)).map((r) => `${group}: out ${ruleText(r)}`);
        }),
    ];
  });

  check('engine: scales between its minimum and maximum task count by CPU (target tracking)', () => {
    const targets = ofType(template, 'AWS::ApplicationAutoScaling::ScalableTarget').filter(
      ([, t]) => render(t.Properties?.ResourceId) === `service/${render(service.Cluster)}/\${${serviceId}.Name}`,
    );
    if (targets.length !== 1) return `${targets.length} scalable targets for service/${render(service.Cluster)}/\${${serviceId}.Name}`;
    const [targetId, target] = targets[0]!;
    const t = target.Properties;
    const policies = ofType(template, 'AWS::ApplicationAutoScaling::ScalingPolicy').filter(([, p]) => refId(p.Properties?.ScalingTargetId) === targetId);
    const cpu = policies.filter(
      ([, p]) =>
        p.Properties?.PolicyType === 'TargetTrackingScaling' &&
        p.Properties?.TargetTrackingScalingPolicyConfiguration?.PredefinedMetricSpecification?.PredefinedMetricType === 'ECSServiceAverageCPUUtilization',
    );
    const value = Number(cpu[0]?.[1]?.Properties?.TargetTrackingScalingPolicyConfiguration?.TargetValue);
    return problems(
      t.ScalableDimension !== 'ecs:service:DesiredCount' && `ScalableDimension ${t.ScalableDimension}`,
      t.ServiceNamespace !== 'ecs' && `ServiceNamespace ${t.ServiceNamespace}`,
      !(Number(t.MinCapacity) >= 1) && `MinCapacity ${t.MinCapacity}`,
      !(Number(t.MaxCapacity) >= Number(t.MinCapacity)) && `MaxCapacity ${t.MaxCapacity} below MinCapacity ${t.MinCapacity}`,
      cpu.length === 0 && `no target-tracking policy on ECSServiceAverageCPUUtilization (${policies.length} other policies)`,
      cpu.length > 1 && `${cpu.length} CPU target-tracking policies`,
      cpu.length === 1 && !(value > 0 && value < 100) && `target ${value} % CPU`,
    );
  });

  check('engine: deployments keep full capacity and roll back tasks that never turn healthy', () => {
    const deployment = service.DeploymentConfiguration ?? {};
    return problems(
      !(Number(deployment.MinimumHealthyPercent ?? 100) >= 100) && `MinimumHealthyPercent ${deployment.MinimumHealthyPercent}`,
      !(deployment.DeploymentCircuitBreaker?.Enable === true && deployment.DeploymentCircuitBreaker?.Rollback === true) && 'no deployment circuit breaker with rollback',
      service.HealthCheckGracePeriodSeconds === undefined && 'no HealthCheckGracePeriodSeconds',
    );
  });

  // ---- IAM: the batch task's limits
  const taskRole = refId(definition.TaskRoleArn);
  const executionRole = refId(definition.ExecutionRoleArn);
  const batchTaskRole = refId(batchDefinition?.TaskRoleArn);
  const grantsOf = (role: string | undefined) => ctx.allows.filter((g) => role !== undefined && g.roles.includes(role));
  const originals = render(ctx.resizeEnv.ORIGINALS_BUCKET ?? '');
  const variants = render(ctx.resizeEnv.VARIANTS_BUCKET ?? '');
  const variantObjects = `arn:aws:s3:::${variants}/${render(ctx.resizeEnv.VARIANTS_PREFIX ?? '')}*`;
  check('engine: task role: read originals and watermarks, list both buckets, read/write variants (the batch task role’s grants on them, nothing more); the resize function’s secrets', () => {
    if (!taskRole || !resources[taskRole]) return `TaskRoleArn ${render(definition.TaskRoleArn)}`;
    const want = [
      `s3:GetObject arn:aws:s3:::${originals}/${render(ctx.resizeEnv.ORIGINALS_PREFIX ?? '')}*`,
      `s3:GetObject arn:aws:s3:::${originals}/${render(ctx.resizeEnv.WATERMARKS_PREFIX ?? '')}*`,
      `s3:ListBucket arn:aws:s3:::${originals}`,
      `s3:ListBucket arn:aws:s3:::${variants}`,
      `s3:GetObject ${variantObjects}`,
      `s3:PutObject ${variantObjects}`,
    ];
    const got = grantPairs(grantsOf(taskRole));
    const isS3 = (p: string) => p.startsWith('s3:');
    const batch = grantPairs(grantsOf(batchTaskRole));
    const secrets = grantPairs(grantsOf(ctx.resizeRole)).filter((p) => !isS3(p) && !p.startsWith('logs:'));
    const trust = list(resources[taskRole].Properties?.AssumeRolePolicyDocument?.Statement).flatMap((s) => strings(s.Principal?.Service ?? s.Principal));
    return [
      ...setDifference(want, got.filter(isS3)),
      ...got.filter(isS3).filter((p) => !batch.includes(p)).map((p) => `beyond the batch task role: ${p}`),
      ...setDifference(secrets, got.filter((p) => !isS3(p))),
      ...(sameList(trust, ['ecs-tasks.amazonaws.com']) ? [] : [`trusted by ${trust.join(', ')}`]),
      ...(taskRole === batchTaskRole ? ['shares the batch task role'] : []),
    ];
  });
  check('engine: execution role: pull the stack’s image, write the engine’s log group; nothing else', () => {
    if (!executionRole || !resources[executionRole]) return `ExecutionRoleArn ${render(definition.ExecutionRoleArn)}`;
    const logGroup = refId(container?.LogConfiguration?.Options?.['awslogs-group']);
    const repositories = new Set(ofType(template, 'AWS::ECR::Repository').map(([id]) => `\${${id}.Arn}`));
    return grantPairs(grantsOf(executionRole))
      .filter((p) => {
        const [action, resource] = p.split(' ') as [string, string];
        if (action === 'ecr:GetAuthorizationToken') return resource !== '*';
        if (/^ecr:(BatchCheckLayerAvailability|GetDownloadUrlForLayer|BatchGetImage)$/.test(action)) return !repositories.has(resource);
        if (/^logs:(CreateLogStream|PutLogEvents)$/.test(action)) return resource !== `\${${logGroup}.Arn}`;
        return true;
      })
      .map((p) => `unexpected ${p}`);
  });

  check('engine: the resize function’s environment (buckets, prefixes, limits, secrets, origin verify) and the engine’s settings, accepted by src/config.ts', () => {
    const variables = Object.fromEntries(Object.entries(engineEnv).map(([k, v]) => [k, render(v)]));
    const found = Object.keys(ctx.resizeEnv)
      .filter((k) => render(ctx.resizeEnv[k]) !== render(engineEnv[k] ?? '∅'))
      .map((k) => `${k}: ${engineEnv[k] === undefined ? 'unset' : render(engineEnv[k])} ≠ ${render(ctx.resizeEnv[k])}`);
    try {
      loadConfig(variables);
      loadEngineSettings(variables);
    } catch (error) {
      found.push((error as Error).message);
    }
    return found;
  });

  check('engine: logs to its own log group (awslogs), which expires', () => {
    const logging = container?.LogConfiguration;
    const groupId = refId(logging?.Options?.['awslogs-group']);
    const group = resources[groupId ?? ''];
    const batchGroup = refId(batchContainer?.LogConfiguration?.Options?.['awslogs-group']);
    return problems(
      logging?.LogDriver !== 'awslogs' && `LogDriver ${logging?.LogDriver ?? 'none'}`,
      group?.Type !== 'AWS::Logs::LogGroup' && `awslogs-group ${render(logging?.Options?.['awslogs-group'])} is not a log group of the template`,
      groupId !== undefined && groupId === batchGroup && 'the batch worker’s log group',
      group && !(Number(group.Properties?.RetentionInDays) > 0) && 'kept forever',
    );
  });

  if (ctx.cdn) {
    // CloudFront reaches the internal load balancer only through a VPC origin: its interfaces in
    // the load balancer's subnets, inside AWS's network. A CustomOriginConfig would mean the
    // internet, with X-Origin-Verify on it.
    const vpcOrigins = ofType(template, 'AWS::CloudFront::VpcOrigin');
    const vpcOriginId = vpcOrigins.find(([, v]) => refId(v.Properties?.VpcOriginEndpointConfig?.Arn) === loadBalancerId)?.[0];
    check('cdn: one CloudFront VPC origin, its endpoint the engine’s load balancer, on the listener’s protocol and port (http-only, 80)', () => {
      if (vpcOrigins.length !== 1) return `${vpcOrigins.length} VPC origins`;
      const endpoint = vpcOrigins[0]![1].Properties?.VpcOriginEndpointConfig ?? {};
      return problems(
        !vpcOriginId && `endpoint ${render(endpoint.Arn)}, not the engine’s load balancer ${loadBalancerId}`,
        endpoint.Name === undefined && 'no Name',
        endpoint.OriginProtocolPolicy !== 'http-only' && `OriginProtocolPolicy ${endpoint.OriginProtocolPolicy} (the listener is ${listener.Protocol} on ${listener.Port})`,
        Number(endpoint.HTTPPort ?? 80) !== Number(listener.Port) && `HTTPPort ${endpoint.HTTPPort ?? '80 (the default)'}, the listener’s is ${listener.Port}`,
      );
    });
    check('cdn: the default origin is the engine’s load balancer through that VPC origin (VpcOriginConfig, never over the internet), with X-Origin-Verify from the origin-verify secret', () => {
      const dist = resources[ctx.distribution ?? '']?.Properties?.DistributionConfig;
      const behavior = dist?.DefaultCacheBehavior;
      const origin = list(dist?.Origins).find((o) => o.Id === behavior?.TargetOriginId);
      if (!origin) return `no origin for the default behavior (${behavior?.TargetOriginId})`;
      const custom = origin.CustomOriginConfig;
      const cfg = origin.VpcOriginConfig;
      const header = list(origin.OriginCustomHeaders).find((h) => String(h.HeaderName).toLowerCase() === 'x-origin-verify');
      const secretRef = render(ctx.resizeEnv.ORIGIN_VERIFY_SECRET_ID ?? '');
      return problems(
        render(origin.DomainName) !== `\${${loadBalancerId}.DNSName}` && `DomainName ${render(origin.DomainName)}`,
        custom !== undefined && `CustomOriginConfig (${custom.OriginProtocolPolicy ?? 'match-viewer'}): CloudFront would reach the load balancer over the internet`,
        !cfg && 'no VpcOriginConfig',
        cfg && render(cfg.VpcOriginId) !== `\${${vpcOriginId ?? '(no VPC origin of the load balancer)'}.Id}` &&
          `VpcOriginId ${render(cfg.VpcOriginId)}, not the Id of the load balancer’s VPC origin ${vpcOriginId ?? '(none)'}`,
        cfg && !(Number(cfg.OriginReadTimeout ?? 30) <= MAX_VPC_ORIGIN_READ_TIMEOUT) && `OriginReadTimeout ${cfg.OriginReadTimeout}, CloudFront's maximum is ${MAX_VPC_ORIGIN_READ_TIMEOUT}`,
        !header && 'no X-Origin-Verify header: the engine would refuse every request (or, without its secret, take requests that bypass the CDN)',
        header && render(header.HeaderValue) !== `{{resolve:secretsmanager:${secretRef}:SecretString}}` && `X-Origin-Verify ${render(header.HeaderValue)}, not the secret ${secretRef}`,
      );
    });
  }

  const outputs = ['EngineLoadBalancerUrl', 'EngineServiceName', 'EngineLogGroupName'];
  check(`outputs: ${outputs.join(', ')}`, () => outputs.filter((o) => !(o in (template.Outputs ?? {}))).map((o) => `no ${o}`));
}
