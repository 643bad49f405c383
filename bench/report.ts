import type { BatchResult } from './batch.js';
import type { BatchCostResult } from './batch-cost.js';
import { BATCH_TARGET, batchTables } from './batch-report.js';
import type { BudgetBenchResult, Contender } from './byte-budget.mjs';
import type { CostResult } from './cost.js';
import type { FreshResult, FreshStats } from './fresh.js';
import { HIT_TARGET } from './cases.js';
import type { HttpResult, LoadRun, ServerId } from './http.js';
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

/** Issue 16 over HTTP: the engine's misses ≥ 1.0× ipx's, its 3 MP hits ≥ 20× its 3 MP misses. */
export const HTTP_MISS_TARGET = 1;
export const HTTP_HIT_TARGET = 20;
const HIT_WORKLOAD = 'p3-jpeg320';

const findRun = (http: HttpResult | undefined, server: ServerId, kind: LoadRun['kind'], workload: string, c: number) =>
  http?.runs.find((r) => r.server === server && r.kind === kind && r.workload === workload && r.connections === c);

export function collectTargets(inProcess?: InProcessResult, http?: HttpResult, fresh?: FreshResult, batch?: BatchResult): Target[] {
  const out: Target[] = [];
  for (const m of inProcess?.misses ?? []) {
    out.push(target('1 miss', `${m.label}: handler / raw GET+sharp+PUT`, ratio(m.handler.median, m.baseline.median), m.target, 'max'));
  }
  for (const h of inProcess?.hits ?? []) {
    out.push(target('2 hit', `${h.label}, FRESHNESS=strict: handler / raw GetObject`, ratio(h.handler.median, h.rawGet.median), HIT_TARGET, 'max'));
    out.push(target('2 hit', `${h.label}, FRESHNESS=events: handler / raw GetObject`, ratio(h.handlerEvents.median, h.rawGet.median), HIT_TARGET, 'max'));
  }
  for (const w of http?.workloads ?? []) {
    for (const c of [1, 2]) {
      const engine = findRun(http, 'engine', 'miss', w.id, c);
      const ipx = findRun(http, 'ipx', 'miss', w.id, c);
      if (engine && ipx) out.push(target('3 http', `${w.id} c=${c}: engine miss req/s / ipx req/s`, ratio(engine.rps, ipx.rps), HTTP_MISS_TARGET, 'min'));
    }
  }
  for (const c of [1, 2]) {
    const miss = findRun(http, 'engine', 'miss', HIT_WORKLOAD, c);
    for (const [server, mode] of [['engine', 'strict'], ['engine-events', 'events'], ['engine-hot', 'events + HOT_VARIANT_SECONDS=5']] as const) {
      const hit = findRun(http, server, 'hit', HIT_WORKLOAD, c);
      if (miss && hit) out.push(target('3 http', `${HIT_WORKLOAD} c=${c}, FRESHNESS=${mode}: engine hit req/s / engine miss req/s`, ratio(hit.rps, miss.rps), HTTP_HIT_TARGET, 'min'));
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
    const mode = inProcess.freshness.misses;
    tables.push({
      title: '1. Miss, in process (ms, median / p90): the handler against raw GET of the original + raw sharp + raw PUT of the result, in the same process',
      head: ['case', 'handler', 'raw GET+sharp+PUT', 'ratio', 'target', '', 'handler, known original', 'ratio', 'raw sharp', 'handler S3 read / transform / S3 write'],
      rows: inProcess.misses.map((m) => [
        m.label,
        medP90(m.handler),
        medP90(m.baseline),
        times(ratio(m.handler.median, m.baseline.median)),
        `≤ ${m.target.toFixed(2)}×`,
        verdictOf(`${m.label}: handler / raw GET+sharp+PUT`),
        medP90(m.handlerKnown),
        times(ratio(m.handlerKnown.median, m.baseline.median)),
        medP90(m.rawSharp),
        `${ms(m.serverTiming.s3Read)} / ${ms(m.serverTiming.transform)} / ${ms(m.serverTiming.s3Write)}`,
      ]),
      notes: [
        `handler: every miss names an original this instance has never seen (a fresh copy: same bytes, another key, made untimed), so it is downloaded as the baseline downloads it; FRESHNESS=${mode}. ` +
          `handler, known original: the same original every time, so the instance's in-memory original (ORIGINAL_CACHE_BYTES=${inProcess.originalCacheBytes}) and remembered ETag can help, as when a page asks for several sizes of one image. ` +
          'raw sharp: the transform alone, from a buffer. S3 read / transform / S3 write: the handler\'s own Server-Timing, medians.',
        `Original sizes: ${[...new Map(inProcess.misses.map((m) => [m.label.split(' →')[0], m.originalBytes])).entries()].map(([k, v]) => `${k} ${mb(v)}`).join(', ')}.`,
        `CPU time of this process per call, median (handler / baseline): ${inProcess.misses.map((m) => `${m.id} ${ms(m.cpu.handler)} / ${ms(m.cpu.baseline)}`).join(', ')} ms.`,
        `CPU time of the local S3 process per call, on the same two cores (on AWS this is not the function's; handler / known original / baseline): ${inProcess.misses
          .map((m) => `${m.id} ${ms(m.s3ServerCpu.handler)} / ${ms(m.s3ServerCpu.handlerKnown)} / ${ms(m.s3ServerCpu.baseline)}`)
          .join(', ')} ms.`,
        `Outputs byte-identical to raw sharp's in ${inProcess.misses.filter((m) => m.outputBytes.identical).length} of ${inProcess.misses.length} cases (same transform, same encoder options).`,
      ],
    });
    tables.push({
      title: '2. Hit, in process (ms, median / p90): the handler serving a stored variant against one raw GetObject of the same object, FRESHNESS=strict and =events',
      head: ['case', 'object', 'raw GetObject', 'strict', 'ratio', 'target', '', 'events', 'ratio', 'target', '', 'raw GET ‖ HEAD'],
      rows: inProcess.hits.map((h) => [
        h.label,
        kb(h.bytes),
        medP90(h.rawGet),
        medP90(h.handler),
        times(ratio(h.handler.median, h.rawGet.median)),
        `≤ ${HIT_TARGET.toFixed(2)}×`,
        verdictOf(`${h.label}, FRESHNESS=strict`),
        medP90(h.handlerEvents),
        times(ratio(h.handlerEvents.median, h.rawGet.median)),
        `≤ ${HIT_TARGET.toFixed(2)}×`,
        verdictOf(`${h.label}, FRESHNESS=events`),
        medP90(h.rawGetHead),
      ]),
      notes: [
        inProcess.freshness.recognised
          ? 'strict and events: two handler instances in the same process, each warmed by a miss and a hit, measured in the same rounds as the raw calls.'
          : 'FRESHNESS is not read by this config.ts yet: the strict and events columns are two instances of the same service (the difference between them is noise).',
        'raw GET ‖ HEAD: a GET of the variant and a HEAD of the original in parallel: two requests in one round trip.',
        `The handler's own Server-Timing s3-read, median (strict / events): ${inProcess.hits.map((h) => `${h.id} ${ms(h.s3Read.handler)} / ${ms(h.s3Read.handlerEvents)}`).join(', ')} ms; the rest of its time is its own work (parsing, key, response, base64, log line, metrics).`,
        `CPU time of this process per call, median (strict / events / raw GET): ${inProcess.hits.map((h) => `${h.id} ${ms(h.cpu.handler)} / ${ms(h.cpu.handlerEvents)} / ${ms(h.cpu.rawGet)}`).join(', ')} ms.`,
        `CPU time of the local S3 process per call (strict / events / raw GET): ${inProcess.hits
          .map((h) => `${h.id} ${ms(h.s3ServerCpu.handler)} / ${ms(h.s3ServerCpu.handlerEvents)} / ${ms(h.s3ServerCpu.rawGet)}`)
          .join(', ')} ms.`,
      ],
    });
  }
  if (http) tables.push(...httpTables(http, verdictOf));
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

const SERVER_LABEL: Record<ServerId, string> = {
  engine: 'engine (FRESHNESS=strict)',
  'engine-events': 'engine (FRESHNESS=events)',
  'engine-hot': 'engine (FRESHNESS=events, HOT_VARIANT_SECONDS=5, as deployed)',
  ipx: 'ipx 3 (from disk)',
  raw: 'raw GET+sharp+PUT (node:http)',
  emulator: 'serverless-offline (emulator)',
};

/** Section 3: one row per server, kind and concurrency; the ratio column compares with the engine's run. */
function httpTables(http: HttpResult, verdictOf: (name: string) => string): Table[] {
  const rows: string[][] = [];
  const cpu = (r: LoadRun) => `${ms(r.cpu.server)} / ${ms(r.cpu.s3)} / ${ms(r.cpu.client)} / ${ms(r.cpu.other)}`;
  for (const w of http.workloads) {
    for (const kind of ['miss', 'hit'] as const) {
      for (const c of [1, 2]) {
        const engineMiss = findRun(http, 'engine', 'miss', w.id, c);
        for (const r of http.runs.filter((x) => x.workload === w.id && x.kind === kind && x.connections === c)) {
          let compared = '';
          let limit = '';
          let verdict = '';
          if (kind === 'miss' && r.server === 'ipx') {
            compared = `engine/ipx ${times(ratio(engineMiss?.rps, r.rps))}`;
            limit = `≥ ${HTTP_MISS_TARGET.toFixed(2)}×`;
            verdict = verdictOf(`${w.id} c=${c}: engine miss req/s / ipx`);
          } else if (kind === 'miss' && r.server !== 'engine') {
            compared = `engine/this ${times(ratio(engineMiss?.rps, r.rps))}`;
          } else if (kind === 'hit' && r.server !== 'emulator') {
            const mode = r.server === 'engine' ? 'strict' : r.server === 'engine-hot' ? 'events + HOT_VARIANT_SECONDS=5' : 'events';
            compared = `hit/engine miss ${times(ratio(r.rps, engineMiss?.rps))}`;
            limit = `≥ ${HTTP_HIT_TARGET.toFixed(2)}×`;
            verdict = verdictOf(`${w.id} c=${c}, FRESHNESS=${mode}: engine hit`);
          } else if (kind === 'hit') {
            compared = `hit/own miss ${times(ratio(r.rps, findRun(http, 'emulator', 'miss', w.id, c)?.rps))}`;
          }
          rows.push([w.label, kind, String(c), SERVER_LABEL[r.server], r.rps.toFixed(1), ms(r.p50), ms(r.p99), cpu(r), compared, limit, verdict]);
        }
      }
    }
  }
  const contaminated = http.runs.filter((r) => r.server !== 'ipx' && Object.keys(r.xCache).some((k) => k !== r.kind));
  const failed = http.runs.filter((r) => r.non2xx > 0 || r.errors > 0);
  const timing = http.runs
    .filter((r) => r.serverTiming && (r.server === 'engine' || r.server === 'emulator') && r.kind === 'miss')
    .map((r) => `${r.server} ${r.workload} c=${r.connections} ${ms(r.serverTiming!.s3Read)} / ${ms(r.serverTiming!.transform)} / ${ms(r.serverTiming!.s3Write)}`);
  const shapes = Object.entries(http.outputs).map(
    ([id, byServer]) => `${id}: ${Object.entries(byServer).map(([server, o]) => `${server} ${o!.format} ${o!.width}×${o!.height} ${(o!.bytes / 1e3).toFixed(1)} kB`).join(', ')}`,
  );
  const tables: Table[] = [
    {
      title: `3. Over HTTP on 127.0.0.1 (autocannon; per server, kind and concurrency ${Object.entries(http.seconds).map(([id, t]) => `${id} ${t.miss} s of misses${t.hit ? ` and ${t.hit} s of hits` : ''}`).join(', ')}, in alternating chunks): the engine vs ipx, with the raw baseline and the emulator for reference`,
      head: ['workload', 'kind', 'c', 'server', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req server / S3 / load gen. / other', 'ratio', 'target', ''],
      rows,
      notes: [
        `Engine: src/engine/server.ts started as \`npm run serve\` starts it (concurrency ${http.engine.concurrency}, queue ${http.engine.queue}), with the raw baseline against a local S3 (s3rver) in a process of its own.` +
          (http.engine.freshnessRecognised ? '' : ' FRESHNESS is not read by this config.ts yet: the strict and events engines are the same service.'),
        'Every miss names a fresh copy of the original (same bytes, another key), so nothing is served from memory; ipx keeps no result cache and reads its file per request. req/s: (responses − 1) / (last − first response) per chunk.',
        `Outputs, one response each: ${shapes.join('; ')}.`,
        'CPU ms per request started, from /proc: the server process (the emulator: the processes below the stack\'s), its local S3 (s3rver; the emulator\'s runs in the stack\'s process, which also forwards the emulator\'s output), the load generator (autocannon in the bench\'s process, which also reads the children\'s log output), and everything else the machine ran meanwhile (/proc/stat less the three: idle servers, other users of the machine) — all on the same two cores.',
        ...(http.emulatorError ? [`serverless-offline did not start, so it is missing: ${http.emulatorError}`] : []),
        `Server-Timing medians under load (S3 read / transform / S3 write, ms): ${timing.join('; ')}.`,
        contaminated.length === 0
          ? 'Every response in a miss run was X-Cache: miss, and every one in a hit run X-Cache: hit.'
          : `X-Cache not as expected in: ${contaminated.map((r) => `${r.server} ${r.kind} ${r.workload} c=${r.connections} ${JSON.stringify(r.xCache)}`).join('; ')}`,
        failed.length === 0 ? 'No errors, no non-2xx responses.' : `Errors: ${failed.map((r) => `${r.server} ${r.kind} ${r.workload} c=${r.connections}: ${r.non2xx} non-2xx, ${r.errors} errors`).join('; ')}`,
      ],
    },
  ];
  if (http.rss.length > 0) {
    tables.push({
      title: '3b. Peak RSS (MB) of the engine under the c=2 miss load of section 3, against the raw baseline server doing the same work at the same concurrency',
      head: ['workload', 'process', 'idle after start', 'when the load began', 'peak during the load', 'peak / raw baseline'],
      rows: http.rss.map((r) => {
        const raw = http.rss.find((x) => x.server === 'raw' && x.workload === r.workload);
        return [
          http.workloads.find((w) => w.id === r.workload)?.label ?? r.workload,
          SERVER_LABEL[r.server],
          ms(r.startMb),
          ms(r.beforeMb),
          ms(r.peakMb),
          times(ratio(r.peakMb, raw?.peakMb)),
        ];
      }),
      notes: [
        `Each process's VmHWM from /proc, reset (clear_refs) when its c=2 miss chunks began (${[...new Set(http.rss.map((r) => r.method))].join(', ')}). Each runs under tsx, as the engine and the baseline both do here. The 3 MP load runs first; what it left resident is in "when the load began" of the 16 MP rows.`,
        'Raw baseline: node:http, per request a plain GetObject of the original, raw sharp (cache off, as the service sets it) and a plain PutObject, the same S3 client settings; no handler, no logging, no admission.',
      ],
    });
  }
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
