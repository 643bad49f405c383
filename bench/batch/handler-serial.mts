import { pathToFileURL } from 'node:url';
import { apiEvent } from '../cases.js';

/**
 * The same work done the Lambda way, for the cost comparison: the real handler module invoked
 * with one API Gateway event per variant, one at a time (a Lambda instance serves one request at
 * a time), each a miss. Each original's variants are asked for one after the other, so the
 * second finds the original in the instance's memory, as the worker reads each original once.
 * Times and CPU per invocation, by query; the first original's requests are a warm-up.
 *
 * Usage: node --import tsx bench/batch/handler-serial.mts <handler module> '<json: {keys, queries}>'  →  BENCH {…}
 * (S3 settings, with a variants bucket of its own, come from the environment)
 */
interface Input {
  readonly keys: readonly string[];
  readonly queries: readonly string[];
}

type Handler = (event: unknown) => Promise<{ statusCode: number; headers: Record<string, string>; body?: string }>;

const [modulePath, inputJson] = process.argv.slice(2) as [string, string];
const input = JSON.parse(inputJson) as Input;
const { handler } = (await import(pathToFileURL(modulePath).href)) as { handler: Handler };

const samples: Record<string, { ms: number[]; cpuMs: number[] }> = Object.fromEntries(input.queries.map((q) => [q, { ms: [], cpuMs: [] }]));
for (const [k, key] of input.keys.entries()) {
  for (const query of input.queries) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const response = await handler(apiEvent(key, query, `batch-${k}`));
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (response.statusCode !== 200 || response.headers['X-Cache'] !== 'miss') {
      throw new Error(`${key}?${query}: expected 200 miss, got ${response.statusCode} ${response.headers['X-Cache']} ${response.body?.slice(0, 200)}`);
    }
    if (k === 0) continue;
    samples[query]!.ms.push(ms);
    samples[query]!.cpuMs.push((used.user + used.system) / 1000);
  }
}
process.stdout.write(`BENCH ${JSON.stringify({ samples })}\n`);
// The S3 client's keep-alive sockets would hold the process open.
process.exit(0);
