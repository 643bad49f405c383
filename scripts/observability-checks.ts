import { SERVICES } from '../src/observability/metrics.js';
import { ofType, render, type Cfn, type Template } from './cfn-template.js';

/**
 * The alarms and the dashboard of a packaged template (docs/observability.md), for
 * `npm run check:deploy` (scripts/deploy-checks.ts calls these). Pure: the effective template in,
 * named checks out through the caller's `check`.
 */

export interface ObservabilityContext {
  readonly cdn: boolean;
  /** The region the stack deploys to: CloudFront's alarm can only live in us-east-1. */
  readonly region: string;
  /** The resize function's environment (namespace and stage of the metrics). */
  readonly resizeEnv: Record<string, Cfn>;
  /** Logical ids. */
  readonly resize: string;
  readonly deadLetterQueue?: string;
  readonly distribution?: string;
}

type Check = (name: string, body: () => string[] | string | undefined) => void;

/** One metric an alarm or a widget reads. */
interface MetricRef {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat?: string;
  readonly id?: string;
  readonly region?: string;
}

const list = (value: Cfn): Cfn[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const problems = (...found: (string | false | undefined)[]) => found.filter((x): x is string => typeof x === 'string');
const same = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

function alarmMetrics(alarm: Cfn): { metrics: MetricRef[]; expressions: { id: string; expression: string; returned: boolean }[] } {
  const p = alarm.Properties ?? {};
  const dims = (d: Cfn) => Object.fromEntries(list(d).map((x) => [String(x.Name), render(x.Value)]));
  if (p.MetricName !== undefined) {
    return { metrics: [{ namespace: p.Namespace, name: p.MetricName, dimensions: dims(p.Dimensions), stat: p.ExtendedStatistic ?? p.Statistic }], expressions: [] };
  }
  const queries = list(p.Metrics);
  return {
    metrics: queries
      .filter((q) => q.MetricStat)
      .map((q) => ({ namespace: q.MetricStat.Metric.Namespace, name: q.MetricStat.Metric.MetricName, dimensions: dims(q.MetricStat.Metric.Dimensions), stat: q.MetricStat.Stat, id: q.Id })),
    expressions: queries.filter((q) => q.Expression).map((q) => ({ id: q.Id, expression: String(q.Expression), returned: q.ReturnData !== false })),
  };
}

/** The rows of a dashboard's metric widgets, metrics and expressions apart. */
function dashboardRows(body: Cfn): { metrics: MetricRef[]; expressions: { expression: string; region?: string }[] } {
  const metrics: MetricRef[] = [];
  const expressions: { expression: string; region?: string }[] = [];
  for (const widget of list(body?.widgets)) {
    const props = widget?.properties ?? {};
    for (const row of list(props.metrics)) {
      if (!Array.isArray(row)) continue;
      const options = typeof row[row.length - 1] === 'object' ? row[row.length - 1] : {};
      if (typeof row[0] === 'object') {
        expressions.push({ expression: String(row[0].expression ?? ''), region: props.region });
        continue;
      }
      const fields = typeof row[row.length - 1] === 'object' ? row.slice(0, -1) : row;
      const dimensions: Record<string, string> = {};
      for (let i = 2; i + 1 < fields.length; i += 2) dimensions[String(fields[i])] = String(fields[i + 1]);
      metrics.push({ namespace: fields[0], name: fields[1], dimensions, stat: options.stat ?? props.stat, id: options.id, region: props.region });
    }
  }
  return { metrics, expressions };
}

export function checkObservability(template: Template, ctx: ObservabilityContext, check: Check): void {
  const alarms = ofType(template, 'AWS::CloudWatch::Alarm').map(([id, alarm]) => ({ id, alarm, ...alarmMetrics(alarm) }));
  const find = (namespace: string, name: string, dimensions: Record<string, string>) =>
    alarms.filter((a) => a.metrics.some((m) => m.namespace === namespace && m.name === name && same(m.dimensions, dimensions)));
  const resizeFn = { FunctionName: `\${${ctx.resize}}` };
  const timeoutMs = Number(template.Resources[ctx.resize]?.Properties?.Timeout) * 1000;

  check('alarms: the HTTP API’s 5xx rate (metric math over AWS/ApiGateway 5xx and Count of this API)', () => {
    const api = { ApiId: '${HttpApi}' };
    const found = find('AWS/ApiGateway', '5xx', api).filter((a) => a.metrics.some((m) => m.name === 'Count' && same(m.dimensions, api)));
    if (found.length !== 1) return `${found.length} such alarms`;
    const a = found[0]!;
    const ids = Object.fromEntries(a.metrics.map((m) => [m.name, m.id]));
    const returned = a.expressions.filter((e) => e.returned);
    const p = a.alarm.Properties;
    return problems(
      a.metrics.some((m) => m.stat !== 'Sum') && 'not Sums',
      !(returned.length === 1 && returned[0]!.expression.includes(`${ids['5xx']}`) && returned[0]!.expression.includes(`/ ${ids.Count}`)) && 'no expression 5xx / Count',
      !(Number(p.Threshold) > 0 && Number(p.Threshold) <= 100) && `threshold ${p.Threshold} is not a percentage`,
      !String(p.ComparisonOperator).startsWith('GreaterThan') && `${p.ComparisonOperator}`,
    );
  });
  check('alarms: the resize function’s p99 Duration, above a threshold below its timeout', () => {
    const found = find('AWS/Lambda', 'Duration', resizeFn);
    if (found.length !== 1) return `${found.length} such alarms`;
    const p = found[0]!.alarm.Properties;
    return problems(
      p.ExtendedStatistic !== 'p99' && `statistic ${p.ExtendedStatistic ?? p.Statistic}`,
      !(Number(p.Threshold) > 0 && Number(p.Threshold) < timeoutMs) && `threshold ${p.Threshold} ms with a timeout of ${timeoutMs} ms`,
      p.ComparisonOperator !== 'GreaterThanThreshold' && `${p.ComparisonOperator}`,
    );
  });
  check('alarms: the resize function’s Throttles', () => {
    const found = find('AWS/Lambda', 'Throttles', resizeFn);
    if (found.length !== 1) return `${found.length} such alarms`;
    const p = found[0]!.alarm.Properties;
    return problems(p.Statistic !== 'Sum' && `statistic ${p.Statistic}`, !(Number(p.Threshold) >= 1) && `threshold ${p.Threshold}`);
  });
  // Without a dead-letter queue, the syncVariants check of deploy-checks.ts says so already.
  if (ctx.deadLetterQueue) {
    check('alarms: a message in syncVariants’ dead-letter queue', () => {
      const found = find('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: `\${${ctx.deadLetterQueue}.QueueName}` });
      if (found.length !== 1) return `${found.length} such alarms`;
      const p = found[0]!.alarm.Properties;
      return problems(!(p.ComparisonOperator === 'GreaterThanThreshold' && Number(p.Threshold) === 0) && `${p.ComparisonOperator} ${p.Threshold}`);
    });
  }
  const edge = { DistributionId: `\${${ctx.distribution}}`, Region: 'Global' };
  if (ctx.cdn && ctx.region === 'us-east-1') {
    check('alarms: CloudFront’s 5xxErrorRate of this distribution (Region Global)', () => {
      const found = find('AWS/CloudFront', '5xxErrorRate', edge);
      if (found.length !== 1) return `${found.length} such alarms`;
      const p = found[0]!.alarm.Properties;
      return problems(!(Number(p.Threshold) > 0 && Number(p.Threshold) <= 100) && `threshold ${p.Threshold} is not a percentage`);
    });
  } else {
    check(`alarms: none on CloudFront (${ctx.cdn ? `its metrics are in us-east-1, not ${ctx.region}` : 'no CDN'})`, () =>
      alarms.filter((a) => a.metrics.some((m) => m.namespace === 'AWS/CloudFront')).map((a) => a.id),
    );
  }
  check('alarms: all notify the same SNS topic (alarmTopicArn), or none does', () => {
    const actions = alarms.map((a) => ({ id: a.id, alarm: list(a.alarm.Properties?.AlarmActions).map(render), ok: list(a.alarm.Properties?.OKActions).map(render) }));
    const first = JSON.stringify(actions[0]?.alarm ?? []);
    return [
      ...actions.filter((a) => JSON.stringify(a.alarm) !== first || JSON.stringify(a.ok) !== first).map((a) => `${a.id}: ${JSON.stringify(a.alarm)} / ${JSON.stringify(a.ok)}`),
      ...actions.flatMap((a) => a.alarm).filter((arn) => !/^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+$/.test(arn)).map((arn) => `not an SNS topic ARN: ${arn}`),
    ].filter((v, i, all) => all.indexOf(v) === i);
  });

  const dashboards = ofType(template, 'AWS::CloudWatch::Dashboard');
  const namespace = render(ctx.resizeEnv.POWERTOOLS_METRICS_NAMESPACE ?? '');
  const stage = render(ctx.resizeEnv.STAGE ?? '');
  const ours = (service: string) => ({ service, stage });
  check(`dashboard: hit ratio, resize Duration p50/p90/p99, TransformTime, errors by code, OutputBytes (namespace ${namespace}, stage ${stage})`, () => {
    if (dashboards.length !== 1) return `${dashboards.length} dashboards`;
    let body: Cfn;
    try {
      body = JSON.parse(render(dashboards[0]![1].Properties?.DashboardBody));
    } catch (error) {
      return `DashboardBody is not JSON once its names resolve: ${(error as Error).message}`;
    }
    const { metrics, expressions } = dashboardRows(body);
    const mine = (name: string) => metrics.filter((m) => m.namespace === namespace && m.name === name && same(m.dimensions, ours(SERVICES.resize)));
    const hit = mine('Hit').find((m) => m.id);
    const miss = mine('Miss').find((m) => m.id);
    const ratio = hit && miss && expressions.find((e) => new RegExp(`\\b${hit.id}\\b.*/.*\\b${hit.id}\\b.*\\b${miss.id}\\b`).test(e.expression));
    const duration = metrics.filter((m) => m.namespace === 'AWS/Lambda' && m.name === 'Duration' && same(m.dimensions, resizeFn)).map((m) => m.stat);
    const search = expressions.find(
      (e) => e.expression.startsWith('SEARCH(') && e.expression.includes(`{${namespace},code,service,stage}`) && e.expression.includes('MetricName="Errors"') && e.expression.includes(`stage="${stage}"`),
    );
    const edge = metrics.filter((m) => m.namespace === 'AWS/CloudFront' && same(m.dimensions, { DistributionId: `\${${ctx.distribution}}`, Region: 'Global' }));
    return problems(
      !ratio && 'no hit ratio (an expression hit / (hit + miss) over Hit and Miss of the resize service)',
      ...['p50', 'p90', 'p99'].filter((p) => !duration.includes(p)).map((p) => `no resize Duration ${p}`),
      mine('TransformTime').length === 0 && 'no TransformTime',
      !search && 'no SEARCH over Errors by code',
      !mine('OutputBytes').some((m) => m.stat === 'Sum') && 'no OutputBytes Sum',
      ctx.cdn && edge.length === 0 && 'no CloudFront metrics of this distribution',
      ctx.cdn && edge.some((m) => m.region !== 'us-east-1') && 'CloudFront metrics outside us-east-1',
      !ctx.cdn && metrics.some((m) => m.namespace === 'AWS/CloudFront') && 'CloudFront metrics without a CDN',
    );
  });
}
