/**
 * `npm start` shows the metrics the functions print (CloudWatch EMF JSON, one line per invocation)
 * as one short line each, with a running hit ratio now and then, instead of the raw JSON. Pure
 * formatting of what the function printed: nothing here decides a metric.
 */

interface MetricDefinition {
  readonly Name: string;
  readonly Unit?: string;
}

/** An EMF document as Powertools prints it: `_aws` metadata, then dimensions and values as fields. */
export interface EmfLine {
  readonly _aws: { readonly CloudWatchMetrics: readonly { readonly Namespace: string; readonly Dimensions: readonly (readonly string[])[]; readonly Metrics: readonly MetricDefinition[] }[] };
  readonly [field: string]: unknown;
}

/** The EMF document in a line of output (after any prefix such as `[offline] `), if it is one. */
export function parseEmf(line: string): EmfLine | undefined {
  const start = line.indexOf('{"_aws"');
  if (start < 0) return undefined;
  try {
    const value = JSON.parse(line.slice(start)) as EmfLine;
    return Array.isArray(value?._aws?.CloudWatchMetrics) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A metric's values (EMF allows an array when one flush recorded it more than once). */
function values(emf: EmfLine, name: string): number[] {
  const value = emf[name];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v): v is number => typeof v === 'number');
}
const sum = (emf: EmfLine, name: string) => values(emf, name).reduce((a, b) => a + b, 0);
const has = (emf: EmfLine, name: string) => values(emf, name).length > 0;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
const formatMs = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`;

const CACHE_RESULTS = [
  ['Hit', 'hit'],
  ['Miss', 'miss'],
  ['NotModified', 'not-modified'],
] as const;

/** One line for one EMF document: `miss 1 · transform 42 ms · s3 read 6 ms · s3 write 5 ms · in 180 KB · out 23 KB`. */
export function formatEmf(emf: EmfLine): string {
  const parts: string[] = [];
  for (const [metric, label] of CACHE_RESULTS) if (has(emf, metric)) parts.push(`${label} ${sum(emf, metric)}`);
  if (has(emf, 'Redirect')) parts.push(`redirect ${sum(emf, 'Redirect')}`);
  if (has(emf, 'Errors')) parts.push(['error', typeof emf.code === 'string' ? emf.code : undefined, sum(emf, 'Errors')].filter((p) => p !== undefined).join(' '));
  const timings: [string, string][] = [
    ['TransformTime', 'transform'],
    ['S3ReadTime', 's3 read'],
    ['S3WriteTime', 's3 write'],
  ];
  for (const [metric, label] of timings) if (has(emf, metric)) parts.push(`${label} ${formatMs(sum(emf, metric))}`);
  if (has(emf, 'OriginalBytes')) parts.push(`in ${formatBytes(sum(emf, 'OriginalBytes'))}`);
  if (has(emf, 'OutputBytes')) parts.push(`out ${formatBytes(sum(emf, 'OutputBytes'))}`);
  const counts: [string, string][] = [
    ['VariantsDeleted', 'variants deleted'],
    ['Invalidations', 'invalidated'],
    ['EagerRendered', 'eager rendered'],
    ['EagerFailed', 'eager failed'],
    ['BatchDone', 'done'],
    ['BatchSkipped', 'skipped'],
    ['BatchFailed', 'failed'],
  ];
  for (const [metric, label] of counts) if (has(emf, metric)) parts.push(`${label} ${sum(emf, metric)}`);
  // Anything added later still shows, by its own name.
  const known = new Set(['Hit', 'Miss', 'NotModified', 'Redirect', 'Errors', 'OriginalBytes', 'OutputBytes', ...timings.map(([m]) => m), ...counts.map(([m]) => m)]);
  for (const { Name } of emf._aws.CloudWatchMetrics.flatMap((d) => d.Metrics)) if (!known.has(Name)) parts.push(`${Name} ${sum(emf, Name)}`);
  return parts.join(' · ');
}

export interface MetricsPrinterOptions {
  /** A hit-ratio line after every this many requests (hits, misses, 304s and errors); 0: never. */
  readonly ratioEvery?: number;
  /** Also print the raw EMF JSON (DEBUG_METRICS=1). */
  readonly raw?: boolean;
}

/**
 * Lines to print for one line of output: a compact line (and now and then the running hit ratio)
 * for an EMF line, `undefined` for any other line, which is then printed as it is.
 */
export function createMetricsPrinter({ ratioEvery = 10, raw = false }: MetricsPrinterOptions = {}) {
  let requests = 0;
  let nextRatioAt = ratioEvery;
  let hits = 0;
  let misses = 0;
  return (line: string): string[] | undefined => {
    const emf = parseEmf(line);
    if (!emf) return undefined;
    const out = raw ? [line] : [];
    out.push(`metrics: ${formatEmf(emf) || '(none)'}`);
    const answered = ['Hit', 'Miss', 'NotModified', 'Errors'].reduce((n, m) => n + (has(emf, m) ? sum(emf, m) : 0), 0);
    if (answered === 0) return out;
    requests += answered;
    hits += sum(emf, 'Hit');
    misses += sum(emf, 'Miss');
    if (ratioEvery > 0 && requests >= nextRatioAt) {
      nextRatioAt = requests + ratioEvery;
      const ratio = hits + misses === 0 ? '–' : `${Math.round((100 * hits) / (hits + misses))} %`;
      out.push(`metrics: hit ratio ${ratio} (${hits} hits / ${hits + misses} hits+misses) over ${requests} requests`);
    }
    return out;
  };
}
