import type { BatchResult } from './batch.js';
import type { BatchCostResult } from './batch-cost.js';
import { BATCH_TARGET, batchTables } from './batch-report.js';
import type { BudgetBenchResult, Contender } from './byte-budget.mjs';
import type { CostResult } from './cost.js';
import type { FreshResult, FreshStats } from './fresh.js';
import type { HttpResult, LoadRun } from './http.js';
import type { InProcessResult } from './in-process.mjs';
import { ms, ratio, times } from './stats.js';

/**
 * The figures as tables (aligned text for the terminal, Markdown for the README draft) and the
 * list of targets with PASS/MISS. Every ratio compares two medians from the same run.
 */
export interface Target {
  readonly section: string;
  readonly name: string;
  readonly value: number;
  readonly limit: number;
  /** `max`: value ≤ limit passes; `min`: value ≥ limit passes. */
  readonly kind: 'max' | 'min';
  readonly pass: boolean;
}

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly node: string;
  readonly sharp: string;
  readonly libvips: string;
  readonly sharpConcurrency: number;
  readonly date: string;
  /** 1-minute load averages at the start and the end of the run: other work on the machine. */
  readonly load: { start: number; end?: number };
}

export interface Table {
  readonly title: string;
  readonly head: string[];
  readonly rows: string[][];
  readonly notes?: string[];
}

const verdict = (pass: boolean) => (pass ? 'PASS' : 'MISS');

function target(section: string, name: string, value: number, limit: number, kind: 'max' | 'min'): Target {
  const pass = Number.isFinite(value) && (kind === 'max' ? value <= limit : value >= limit);
  return { section, name, value, limit, kind, pass };
}

export function collectTargets(inProcess?: InProcessResult, http?: HttpResult, fresh?: FreshResult, batch?: BatchResult): Target[] {
  const out: Target[] = [];
  for (const m of inProcess?.misses ?? []) {
    out.push(target('1 miss', `${m.label}: handler / raw sharp`, ratio(m.handler.median, m.rawSharp.median), m.target, 'max'));
  }
  for (const h of inProcess?.hits ?? []) {
    out.push(target('2 hit', `${h.label}: handler / raw GetObject`, ratio(h.handler.median, h.rawGet.median), 1.3, 'max'));
  }
  const find = (server: string, kind: string, workload: string, c: number) =>
    http?.runs.find((r) => r.server === server && r.kind === kind && r.workload === workload && r.connections === c);
  for (const workload of [...new Set(http?.runs.map((r) => r.workload) ?? [])]) {
    for (const c of [1, 2]) {
      const miss = find('service', 'miss', workload, c);
      const ipx = find('ipx', 'miss', workload, c);
      const hit = find('service', 'hit', workload, c);
      if (miss && ipx) out.push(target('3 http', `${workload} c=${c}: miss req/s / ipx req/s`, ratio(miss.rps, ipx.rps), 1, 'min'));
      if (miss && hit) out.push(target('3 http', `${workload} c=${c}: hit req/s / miss req/s`, ratio(hit.rps, miss.rps), 10, 'min'));
    }
  }
  const big = fresh?.cases.find((c) => c.id === 'p16-webp800');
  if (big) {
    out.push(target('4 memory', `${big.label}: peak RSS handler / raw sharp`, ratio(big.handler.maxRssMb.median, big.rawSharp.maxRssMb.median), 1.2, 'max'));
  }
  for (const c of fresh?.cases ?? []) {
    out.push(target('5 cold', `${c.label}: start→response handler / bare imports`, ratio(c.handler.wallMs.median, c.bare.wallMs.median), 1.2, 'max'));
  }
  if (batch) {
    out.push(target('6 batch', `${batch.originals} × ${batch.specs.length} variants, c=${batch.concurrency}: worker images/s / raw sharp images/s`, batch.ratio, BATCH_TARGET, 'min'));
  }
  return out;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const kb = (bytes: number) => (bytes >= 1e6 ? mb(bytes) : `${(bytes / 1e3).toFixed(1)} kB`);
const medP90 = (s: { median: number; p90: number }) => `${ms(s.median)} / ${ms(s.p90)}`;
const gbs = (v: number) => (v >= 100 ? v.toFixed(1) : v.toFixed(2));

export function buildTables(
  machine: Machine,
  targets: Target[],
  inProcess?: InProcessResult,
  http?: HttpResult,
  fresh?: FreshResult,
  cost?: CostResult,
  batch?: BatchResult,
  batchCost?: BatchCostResult,
  budget?: BudgetBenchResult,
): Table[] {
  const tables: Table[] = [];
  const verdictOf = (name: string) => {
    const t = targets.find((x) => x.name.startsWith(name));
    return t ? verdict(t.pass) : '—';
  };
  if (inProcess) {
    tables.push({
      title: '1. Miss, in process (ms, median / p90): handler with an API Gateway v2 event vs raw sharp on the same process',
      head: ['case', 'handler', 'raw sharp', 'ratio', 'target', '', 'raw GET+sharp', 'ratio', 'raw same S3 calls+sharp', 'ratio', 'handler S3 read / transform / S3 write'],
      rows: inProcess.misses.map((m) => [
        m.label,
        medP90(m.handler),
        medP90(m.rawSharp),
        times(ratio(m.handler.median, m.rawSharp.median)),
        `≤ ${m.target.toFixed(2)}×`,
        verdictOf(`${m.label}: handler / raw sharp`),
        medP90(m.rawGetSharp),
        times(ratio(m.handler.median, m.rawGetSharp.median)),
        medP90(m.rawSameCalls),
        times(ratio(m.handler.median, m.rawSameCalls.median)),
        `${ms(m.serverTiming.s3Read)} / ${ms(m.serverTiming.transform)} / ${ms(m.serverTiming.s3Write)}`,
      ]),
      notes: [
        'raw GET+sharp: GetObject of the original, then sharp. raw same S3 calls+sharp: the calls a miss makes, in its order (HEAD of the original ‖ GET of the variant → 404, GET of the original, sharp, PUT of the variant). Handler S3 read/transform/S3 write: its own Server-Timing header, medians.',
        `Original sizes: ${[...new Map(inProcess.misses.map((m) => [m.label.split(' →')[0], m.originalBytes])).entries()].map(([k, v]) => `${k} ${mb(v)}`).join(', ')}.`,
        `CPU time of the local S3 process per call, on the same two cores (on AWS this is not the function's): ${inProcess.misses
          .map((m) => `${m.id} ${ms(m.s3ServerCpu.handler)} (raw GET ${ms(m.s3ServerCpu.rawGetSharp)})`)
          .join(', ')} ms.`,
        `Outputs byte-identical to raw sharp's in ${inProcess.misses.filter((m) => m.outputBytes.identical).length} of ${inProcess.misses.length} cases (same transform, same encoder options).`,
      ],
    });
    tables.push({
      title: '2. Hit, in process (ms, median / p90): handler serving a stored variant vs raw S3 GetObject of the same object',
      head: ['case', 'object', 'handler', 'raw GetObject', 'ratio', 'target', '', 'raw HEAD ‖ GET', 'ratio'],
      rows: inProcess.hits.map((h) => [
        h.label,
        kb(h.bytes),
        medP90(h.handler),
        medP90(h.rawGet),
        times(ratio(h.handler.median, h.rawGet.median)),
        '≤ 1.30×',
        verdictOf(`${h.label}: handler / raw GetObject`),
        medP90(h.rawHeadGet),
        times(ratio(h.handler.median, h.rawHeadGet.median)),
      ]),
      notes: [
        'raw HEAD ‖ GET: the two calls a hit makes (HEAD of the original for its current ETag, GET of the variant), in parallel as the service makes them.',
        `CPU time of the local S3 process per call: ${inProcess.hits.map((h) => `${h.id} ${ms(h.s3ServerCpu.handler)} (raw GET ${ms(h.s3ServerCpu.rawGet)})`).join(', ')} ms.`,
      ],
    });
  }
  if (http) {
    const fmt = (r: LoadRun | undefined) => (r ? [r.rps.toFixed(1), ms(r.p50), ms(r.p99)] : ['—', '—', '—']);
    const rows: string[][] = [];
    for (const workload of [...new Set(http.runs.map((r) => r.workload))]) {
      for (const c of [1, 2]) {
        const get = (server: string, kind: string) =>
          http.runs.find((r) => r.server === server && r.kind === kind && r.workload === workload && r.connections === c);
        const miss = get('service', 'miss');
        const ipx = get('ipx', 'miss');
        const hit = get('service', 'hit');
        rows.push([
          workload,
          String(c),
          ...fmt(miss),
          ...fmt(ipx),
          times(ratio(miss?.rps, ipx?.rps)),
          verdictOf(`${workload} c=${c}: miss req/s / ipx`),
          ...fmt(hit),
          times(ratio(hit?.rps, miss?.rps)),
          verdictOf(`${workload} c=${c}: hit req/s / miss`),
        ]);
      }
    }
    const contaminated = http.runs.filter((r) => r.server === 'service' && Object.keys(r.xCache).some((k) => k !== r.kind));
    const failed = http.runs.filter((r) => r.non2xx > 0 || r.errors > 0);
    tables.push({
      title: `3. Over HTTP on 127.0.0.1 (autocannon, ${http.durationSeconds} s per server and concurrency in alternating chunks): npm start stack (serverless-offline) vs ipx from disk`,
      head: ['workload', 'c', 'miss req/s', 'p50 ms', 'p99 ms', 'ipx req/s', 'p50 ms', 'p99 ms', 'miss/ipx', '≥ 1×', 'hit req/s', 'p50 ms', 'p99 ms', 'hit/miss', '≥ 10×'],
      rows,
      notes: [
        contaminated.length === 0
          ? 'Every service response in a miss run was X-Cache: miss, and every one in a hit run X-Cache: hit.'
          : `X-Cache not as expected in: ${contaminated.map((r) => `${r.kind} ${r.workload} c=${r.connections} ${JSON.stringify(r.xCache)}`).join('; ')}`,
        failed.length === 0 ? 'No errors, no non-2xx responses.' : `Errors: ${failed.map((r) => `${r.server} ${r.kind} ${r.workload} c=${r.connections}: ${r.non2xx} non-2xx, ${r.errors} errors`).join('; ')}`,
      ],
    });
  }
  if (fresh) {
    const big = fresh.cases.find((c) => c.id === 'p16-webp800');
    if (big) {
      tables.push({
        title: `4. Memory: peak RSS (MB, median / p90) of a fresh process doing one ${big.label} miss`,
        head: ['process', 'peak RSS', 'RSS after imports', 'peak − imports', 'ratio to raw sharp', 'target', ''],
        rows: [
          ['handler (packaged handlers/resize.js, S3 → sharp → S3)', big.handler, times(ratio(big.handler.maxRssMb.median, big.rawSharp.maxRssMb.median)), '≤ 1.20×', verdictOf(`${big.label}: peak RSS`)],
          ['raw sharp (imports sharp only, original from disk)', big.rawSharp, '1.00×', '', ''],
          ['bare imports (sharp + S3 client, one GetObject)', big.bare, times(ratio(big.bare.maxRssMb.median, big.rawSharp.maxRssMb.median)), '', ''],
        ].map(([name, st, r, t, v]) => {
          const x = st as FreshStats;
          return [name as string, medP90(x.maxRssMb), medP90(x.rssAfterInitMb), ms(x.maxRssMb.median - x.rssAfterInitMb.median), r as string, t as string, v as string];
        }),
      });
    }
    tables.push({
      title: '5. Cold start (ms, median / p90): spawn of a fresh node process → first miss response',
      head: ['case', 'handler (packaged)', 'init', 'first request', 'bare imports', 'init', 'first request', 'ratio', 'target', ''],
      rows: fresh.cases.map((c) => [
        c.label,
        medP90(c.handler.wallMs),
        ms(c.handler.initMs.median),
        ms(c.handler.afterInitMs.median),
        medP90(c.bare.wallMs),
        ms(c.bare.initMs.median),
        ms(c.bare.afterInitMs.median),
        times(ratio(c.handler.wallMs.median, c.bare.wallMs.median)),
        '≤ 1.20×',
        verdictOf(`${c.label}: start→response`),
      ]),
      notes: [
        `Handler: handlers/resize.js from the ${fresh.artifact.source === 'sls package' ? '`npx sls package` zip' : 'esbuild fallback bundle'} (${mb(fresh.artifact.handlerBundleBytes)} minified CJS), run with plain node from the unpacked package; bare imports: sharp + @aws-sdk/client-s3 bundled with the same esbuild options.`,
        'init: ms from process start until the module scope has run (handler: the packaged bundle required; bare: sharp and the S3 client imported); first request: from there to the response.',
        fresh.artifact.zipBytes !== undefined
          ? `Deployment zip (npx sls package --stage prod): ${mb(fresh.artifact.zipBytes)}; unpacked: ${Object.entries(fresh.artifact.contents)
              .sort((a, b) => b[1] - a[1])
              .map(([k, v]) => `${k} ${mb(v)}`)
              .join(', ')}.`
          : `Deployment zip: not built (${fresh.artifact.error ?? 'sls package failed'}).`,
      ],
    });
  }
  if (cost) {
    tables.push({
      title: `Cost at ${cost.memoryMb} MB (serverless.yml): Lambda GB-seconds per 1 000 requests, from the in-process medians`,
      head: ['case', 'kind', 'median ms', 'CPU share', 'GB-s / 1000', 'USD / 1000', `modelled ms at ${cost.memoryMb} MB`, 'GB-s / 1000 (modelled)'],
      rows: cost.rows.map((r) => [
        r.label,
        r.kind,
        ms(r.ms),
        `${(r.cpuShare * 100).toFixed(0)} %`,
        gbs(r.gbSecondsPer1000),
        `$${r.usdPer1000.toFixed(5)}`,
        ms(r.modelledMs),
        gbs(r.modelledGbSecondsPer1000),
      ]),
      notes: ['USD at $0.0000166667 per GB-s (x86, us-east-1); the request charge ($0.20 per million) comes on top.'],
    });
    tables.push({
      title: 'Memory size: modelled 16 MP → 800w WebP miss and hit (CPU share scales with memory; 1 vCPU at 1769 MB)',
      head: ['memory MB', 'miss ms', 'GB-s / 1000 misses', 'hit ms', 'GB-s / 1000 hits'],
      rows: cost.sizes.map((s) => [
        `${s.memoryMb}${s.memoryMb === cost.recommendation.memoryMb ? ' (recommended)' : s.memoryMb === cost.memoryMb ? ' (configured)' : ''}`,
        ms(s.missMs),
        gbs(s.missGbSecondsPer1000),
        ms(s.hitMs),
        gbs(s.hitGbSecondsPer1000),
      ]),
      notes: [`Recommended: ${cost.recommendation.memoryMb} MB.`, ...cost.recommendation.reasons],
    });
  }
  if (batch) tables.push(...batchTables(batch, verdictOf(`${batch.originals} × ${batch.specs.length} variants`), batchCost));
  if (budget) tables.push(budgetTable(budget));
  tables.push({
    title: 'Targets',
    head: ['section', 'ratio', 'value', 'target', ''],
    rows: targets.map((t) => [t.section, t.name, times(t.value), `${t.kind === 'max' ? '≤' : '≥'} ${t.limit.toFixed(2)}×`, verdict(t.pass)]),
    notes: [`${targets.filter((t) => t.pass).length} of ${targets.length} targets pass.`],
  });
  void machine;
  return tables;
}

/** Section 7: no target (the issue asks only to show the cost), every ratio against one plain sharp encode. */
function budgetTable(budget: BudgetBenchResult): Table {
  const rows: string[][] = [];
  for (const c of budget.cases) {
    const row = (name: string, x: Contender) => [
      c.label,
      name,
      medP90(x.time),
      times(ratio(x.time.median, c.rawOnce.time.median)),
      String(x.encodes),
      String(x.quality),
      `${kb(x.bytes)}${x.fits ? '' : ' (over)'}`,
    ];
    rows.push(
      row('service, maxbytes', c.service),
      row('service, no maxbytes (q=80)', c.servicePlain),
      row('plain sharp, one encode (q=80)', c.rawOnce),
      row('plain sharp, same search, whole pipeline per attempt', c.rawSearchFull),
      row('plain sharp, same search, decoded once', c.rawSearchReuse),
    );
  }
  return {
    title: '7. maxbytes (ms, median / p90): the service\'s render with a byte budget vs plain sharp in the same process (transform only, no S3)',
    head: ['case', 'contender', 'time', 'vs one plain encode', 'encodes', 'quality', 'output'],
    rows,
    notes: [
      'The search: the requested quality (80) first, then a binary search of 10, 15, … below it; at most 6 encodes. The service renders the pixels once and encodes them per attempt; "decoded once" is that, written in plain sharp.',
    ],
  };
}

const width = (s: string) => [...s].length;

export function renderText(table: Table): string {
  const cols = table.head.map((h, i) => Math.max(width(h), ...table.rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(cols[i]! - width(c))).join('  ').trimEnd();
  return [
    table.title,
    line(table.head),
    cols.map((w) => '─'.repeat(w)).join('  '),
    ...table.rows.map(line),
    ...(table.notes ?? []).map((n) => `  ${n}`),
  ].join('\n');
}

export function renderMarkdown(table: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `**${table.title}**`,
    '',
    `| ${table.head.map(esc).join(' | ')} |`,
    `| ${table.head.map(() => '---').join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
    ...(table.notes?.length ? ['', ...table.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

export function machineLine(m: Machine): string {
  const load = `load average ${m.load.start.toFixed(1)}${m.load.end !== undefined ? ` → ${m.load.end.toFixed(1)}` : ''}`;
  return `${m.cores} cores (${m.cpu}), Node.js ${m.node}, sharp ${m.sharp} / libvips ${m.libvips}, sharp.concurrency() ${m.sharpConcurrency}, ${m.date}, ${load}`;
}
