import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';

/**
 * Child processes of the bench: every one is bounded by a timeout, stopped by its own pid, and
 * reports through one line `BENCH {json}` on stdout (everything else it prints is ignored or
 * forwarded to the log).
 */
export const ROOT = resolve(import.meta.dirname, '..');
export const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MARK = 'BENCH ';

const live = new Set<ChildProcess>();

/** The child's environment: ours plus `extra`, where an `undefined` value removes the variable. */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Stops every child still running (on the watchdog or an error): each by its own pid. */
export function killAllChildren(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

export interface ChildOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly timeoutMs: number;
  /** Lines other than the report go here (progress, errors); dropped when absent. */
  readonly log?: (line: string) => void;
  /** Called with the child's pid once it is spawned (to watch it in /proc while it runs). */
  readonly onSpawn?: (pid: number) => void;
}

function track(child: ChildProcess, timeoutMs: number, what: string) {
  live.add(child);
  const timer = setTimeout(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  }, timeoutMs);
  child.once('exit', () => {
    clearTimeout(timer);
    live.delete(child);
  });
  return { timer, what };
}

function lines(child: ChildProcess, onReport: (value: unknown) => void, log?: (line: string) => void) {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (line.startsWith(MARK)) onReport(JSON.parse(line.slice(MARK.length)));
      else if (log && line.trim()) log(line);
    });
  }
}

/** A line handler that keeps the last 30 lines (for error messages) and passes each one on. */
function keepTail(tail: string[], log?: (line: string) => void): (line: string) => void {
  return (line) => {
    tail.push(line);
    if (tail.length > 30) tail.shift();
    log?.(line);
  };
}

/** Runs a child to completion; resolves with its last report, rejects on a non-zero exit or timeout. */
export function runChild<T>(command: string, args: readonly string[], options: ChildOptions): Promise<{ report: T; wallMs: number; firstReportMs: number }> {
  return new Promise((res, rej) => {
    const started = performance.now();
    let firstReportMs = Number.NaN;
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child, options.timeoutMs, command);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let report: T | undefined;
    const tail: string[] = [];
    lines(
      child,
      (value) => {
        if (Number.isNaN(firstReportMs)) firstReportMs = performance.now() - started;
        report = value as T;
      },
      keepTail(tail, options.log),
    );
    child.once('error', rej);
    child.once('exit', (code, signal) => {
      const wallMs = performance.now() - started;
      if (code === 0 && report !== undefined) res({ report, wallMs, firstReportMs });
      else rej(new Error(`${command} ${args.join(' ')} ended with ${signal ?? `code ${code}`}${signal === 'SIGKILL' ? ' (timeout?)' : ''}\n${tail.join('\n')}`));
    });
  });
}

export interface Server<T> {
  readonly info: T;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts a long-running child and resolves once it reports that it is ready (its first report). */
export function startServer<T>(command: string, args: readonly string[], options: ChildOptions & { readyTimeoutMs: number }): Promise<Server<T>> {
  return new Promise((res, rej) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: childEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    track(child, options.timeoutMs, command);
    const tail: string[] = [];
    let ready = false;
    const readyTimer = setTimeout(() => {
      if (!ready) {
        child.kill('SIGKILL');
        rej(new Error(`${command} ${args.join(' ')} not ready within ${options.readyTimeoutMs} ms\n${tail.join('\n')}`));
      }
    }, options.readyTimeoutMs);
    lines(
      child,
      (value) => {
        if (ready) return;
        ready = true;
        clearTimeout(readyTimer);
        res({
          info: value as T,
          pid: child.pid!,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              const hard = setTimeout(() => child.kill('SIGKILL'), 15_000);
              child.once('exit', () => {
                clearTimeout(hard);
                done();
              });
              // Closing stdin asks the child to shut down cleanly (it closes its servers and temp files).
              child.stdin?.end();
              child.kill('SIGTERM');
            }),
        });
      },
      keepTail(tail, options.log),
    );
    child.once('error', rej);
    child.once('exit', (code, signal) => {
      clearTimeout(readyTimer);
      if (!ready) rej(new Error(`${command} ${args.join(' ')} exited (${signal ?? code}) before it was ready\n${tail.join('\n')}`));
    });
  });
}

/** Runs a command to completion (no report expected); resolves with its pid, exit code and output tail. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: ChildOptions,
): Promise<{ code: number | null; pid: number; wallMs: number; tail: string }> {
  return new Promise((res, rej) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    track(child, options.timeoutMs, command);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    const tail: string[] = [];
    lines(child, () => undefined, (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      options.log?.(line);
    });
    child.once('error', rej);
    child.once('exit', (code) => res({ code, pid: child.pid!, wallMs: performance.now() - started, tail: tail.join('\n') }));
  });
}

/** For children: the one report line. */
export function report(value: unknown): void {
  process.stdout.write(`${MARK}${JSON.stringify(value)}\n`);
}

/** For server children: run `close` and exit on SIGTERM, SIGINT or when the parent closes stdin. */
export function onShutdown(close: () => Promise<void>): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    close()
      .catch((error) => console.error(error))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

/** The environment a process needs to use the bench's local S3, as the service's config reads it. */
export function localS3Env(endpoint: string): Record<string, string> {
  return {
    S3_ENDPOINT: endpoint,
    ORIGINALS_BUCKET: 'originals',
    VARIANTS_BUCKET: 'variants',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/**
 * For server children: listens on a free loopback port, closes every connection on shutdown
 * (then `alsoClose`), and reports `{ baseUrl, pid }`: this process's own pid (tsx runs the file
 * in a child of the process the bench spawned), for its CPU and RSS.
 */
export async function serveOnLoopback(server: import('node:http').Server, alsoClose: () => void = () => undefined): Promise<void> {
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as { port: number };
  onShutdown(
    () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
        alsoClose();
      }),
  );
  report({ baseUrl: `http://127.0.0.1:${port}`, pid: process.pid });
}
