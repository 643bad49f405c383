'use strict';
/**
 * The CloudWatch dashboard's body, for serverless.yml (`${file(./scripts/dashboard.cjs):dashboardBody}`).
 * Written as data here rather than as JSON text in YAML: widgets are built by a few helpers, and the
 * names CloudFormation knows only at deploy time (function names, the API id, the distribution,
 * alarm ARNs) become `Ref` / `Fn::GetAtt` parts of an `Fn::Join`. The CDN widgets sit in an `Fn::If`
 * on CdnEnabled. No part holds `${`, which the framework would take for one of its variables.
 * Metric names and dimensions: docs/observability.md and src/observability/metrics.ts.
 */

class Ref {
  constructor(id, attribute) {
    this.id = id;
    this.attribute = attribute;
  }
  toCfn() {
    return this.attribute ? { 'Fn::GetAtt': [this.id, this.attribute] } : { Ref: this.id };
  }
}
/** An array item present only when a template condition holds. */
class When {
  constructor(condition, value) {
    this.condition = condition;
    this.value = value;
  }
}

const ref = (id) => new Ref(id);
const getAtt = (id, attribute) => new Ref(id, attribute);
const when = (condition, value) => new When(condition, value);

/** JSON text as a list of strings and intrinsics (Ref/GetAtt as whole string values, Fn::If for `When` items). */
function parts(value) {
  if (value instanceof Ref) return ['"', value.toCfn(), '"'];
  if (Array.isArray(value)) {
    const out = ['['];
    value.forEach((item, i) => {
      if (item instanceof When) {
        if (i === 0) throw new Error('a conditional item cannot come first');
        out.push({ 'Fn::If': [item.condition, join([',', ...parts(item.value)]), ''] });
      } else {
        if (i > 0) out.push(',');
        out.push(...parts(item));
      }
    });
    out.push(']');
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out = ['{'];
    Object.entries(value).forEach(([k, v], i) => out.push(...(i > 0 ? [','] : []), JSON.stringify(k), ':', ...parts(v)));
    out.push('}');
    return out;
  }
  return [JSON.stringify(value)];
}

/** Adjacent strings merged; `Fn::Join` of the rest. */
function join(list) {
  const merged = [];
  for (const part of list) {
    if (typeof part === 'string' && typeof merged[merged.length - 1] === 'string') merged[merged.length - 1] += part;
    else merged.push(part);
  }
  if (merged.some((p) => typeof p === 'string' && p.includes('${'))) throw new Error('the dashboard must not contain "${"');
  return { 'Fn::Join': ['', merged] };
}

/**
 * The dashboard as data. `s`: namespace, stage, region, service names, alarm thresholds; the
 * resources it names are this template's logical ids.
 */
function buildDashboard(s) {
  const PERIOD = 300;
  const ours = (name, service, options) => [s.namespace, name, 'service', service, 'stage', s.stage, ...(options ? [options] : [])];
  const resizeFn = ['FunctionName', ref('ResizeLambdaFunction')];
  const syncFn = ['FunctionName', ref('SyncVariantsLambdaFunction')];
  const api = ['ApiId', ref('HttpApi')];
  const widget = (x, y, width, title, properties, region = s.region) => ({
    type: 'metric',
    x,
    y,
    width,
    height: 6,
    properties: { title, region, view: 'timeSeries', stacked: false, period: PERIOD, stat: 'Sum', ...properties },
  });
  const percentiles = (metric, ...dims) => ['p50', 'p90', 'p99'].map((stat) => [...metric, ...dims, { stat, label: `${metric[1]} ${stat}` }]);

  const widgets = [
    widget(0, 0, 8, 'Hit ratio % (Hit / (Hit + Miss))', {
      metrics: [
        ours('Hit', s.services.resize, { id: 'hit', visible: false }),
        ours('Miss', s.services.resize, { id: 'miss', visible: false }),
        [{ id: 'ratio', expression: '100 * FILL(hit, 0) / (FILL(hit, 0) + FILL(miss, 0))', label: 'hit ratio %' }],
      ],
      yAxis: { left: { min: 0, max: 100 } },
    }),
    widget(8, 0, 8, 'Requests by cache result', {
      metrics: [
        ours('Hit', s.services.resize),
        ours('Miss', s.services.resize),
        ours('NotModified', s.services.resize),
        ours('Redirect', s.services.resize),
        ['AWS/ApiGateway', 'Count', ...api, { label: 'HTTP API requests' }],
      ],
    }),
    widget(16, 0, 8, 'Errors by code', {
      metrics: [
        [
          {
            id: 'errors',
            expression: `SEARCH('{${s.namespace},code,service,stage} MetricName="Errors" service="${s.services.resize}" stage="${s.stage}"', 'Sum', ${PERIOD})`,
            label: '',
          },
        ],
      ],
    }),
    widget(0, 6, 8, 'resize Duration (ms)', {
      metrics: percentiles(['AWS/Lambda', 'Duration'], ...resizeFn),
      annotations: {
        horizontal: [
          { label: 'p99 alarm', value: s.alarmDurationP99Ms },
          { label: 'timeout', value: s.resizeTimeoutMs },
        ],
      },
    }),
    widget(8, 6, 8, 'Transform time (ms, misses)', { metrics: percentiles([s.namespace, 'TransformTime'], 'service', s.services.resize, 'stage', s.stage) }),
    widget(16, 6, 8, 'S3 read / write time (ms)', {
      metrics: [
        ...percentiles([s.namespace, 'S3ReadTime'], 'service', s.services.resize, 'stage', s.stage),
        ...percentiles([s.namespace, 'S3WriteTime'], 'service', s.services.resize, 'stage', s.stage),
      ],
    }),
    widget(0, 12, 8, 'Bytes', {
      metrics: [ours('OutputBytes', s.services.resize, { label: 'bytes served (OutputBytes)' }), ours('OriginalBytes', s.services.resize, { label: 'originals rendered (OriginalBytes)' })],
    }),
    widget(8, 12, 8, 'HTTP API', {
      metrics: [
        ['AWS/ApiGateway', 'Count', ...api, { id: 'count', label: 'requests' }],
        ['AWS/ApiGateway', '4xx', ...api, { id: 'c4xx', label: '4xx' }],
        ['AWS/ApiGateway', '5xx', ...api, { id: 'c5xx', label: '5xx' }],
        [{ id: 'rate5xx', expression: '100 * FILL(c5xx, 0) / count', label: '5xx rate %', yAxis: 'right' }],
      ],
    }),
    widget(16, 12, 8, 'resize function', {
      metrics: [
        ['AWS/Lambda', 'Invocations', ...resizeFn],
        ['AWS/Lambda', 'Errors', ...resizeFn],
        ['AWS/Lambda', 'Throttles', ...resizeFn],
        ['AWS/Lambda', 'ConcurrentExecutions', ...resizeFn, { stat: 'Maximum', yAxis: 'right' }],
      ],
    }),
    widget(0, 18, 8, 'syncVariants', {
      metrics: [
        ours('VariantsDeleted', s.services.sync),
        ours('Invalidations', s.services.sync),
        ours('EagerRendered', s.services.sync),
        ours('EagerFailed', s.services.sync),
        ['AWS/Lambda', 'Errors', ...syncFn, { label: 'failed invocations' }],
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', getAtt('SyncVariantsDeadLetterQueue', 'QueueName'), { stat: 'Maximum', label: 'dead-letter queue', yAxis: 'right' }],
      ],
    }),
    widget(8, 18, 8, 'Batch runs (variants)', {
      metrics: [ours('BatchDone', s.services.batch), ours('BatchSkipped', s.services.batch), ours('BatchFailed', s.services.batch)],
    }),
    {
      type: 'alarm',
      x: 16,
      y: 18,
      width: 8,
      height: 6,
      properties: {
        title: 'Alarms',
        alarms: [
          getAtt('Api5xxRateAlarm', 'Arn'),
          getAtt('ResizeDurationAlarm', 'Arn'),
          getAtt('ResizeThrottlesAlarm', 'Arn'),
          getAtt('SyncVariantsDeadLetterAlarm', 'Arn'),
          when('EdgeAlarmHere', getAtt('Edge5xxRateAlarm', 'Arn')),
        ],
      },
    },
    // CloudFront's metrics exist only in us-east-1 (Region=Global), whatever region the stack is in.
    when(
      'CdnEnabled',
      widget(
        0,
        24,
        12,
        'CloudFront: requests and error rates',
        {
          metrics: [
            ['AWS/CloudFront', 'Requests', 'DistributionId', ref('CdnDistribution'), 'Region', 'Global'],
            ['AWS/CloudFront', '4xxErrorRate', 'DistributionId', ref('CdnDistribution'), 'Region', 'Global', { stat: 'Average', yAxis: 'right' }],
            ['AWS/CloudFront', '5xxErrorRate', 'DistributionId', ref('CdnDistribution'), 'Region', 'Global', { stat: 'Average', yAxis: 'right' }],
          ],
        },
        'us-east-1',
      ),
    ),
    when(
      'CdnEnabled',
      widget(12, 24, 12, 'CloudFront: bytes downloaded', { metrics: [['AWS/CloudFront', 'BytesDownloaded', 'DistributionId', ref('CdnDistribution'), 'Region', 'Global']] }, 'us-east-1'),
    ),
  ];
  return { widgets };
}

/** What the framework resolves: `Fn::Join` of the dashboard's JSON text. */
async function dashboardBody({ resolveVariable }) {
  const text = async (name) => String(await resolveVariable(name));
  const service = await text('self:service');
  const settings = {
    namespace: await text('param:metricsNamespace'),
    stage: await text('sls:stage'),
    region: await text('self:provider.region'),
    services: { resize: service, sync: `${service}-sync`, batch: `${service}-batch` },
    alarmDurationP99Ms: Number(await text('param:alarmDurationP99Ms')),
    resizeTimeoutMs: Number(await text('param:resizeTimeout')) * 1000,
  };
  return join(parts(buildDashboard(settings)));
}

module.exports = { dashboardBody, buildDashboard, parts, join };
