import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

/** The batch worker as an operator runs it: `npm run batch -- …`, a separate process. */

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/batch/main.ts');

export interface BatchRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The last line of stdout, parsed. */
  readonly summary: any;
}

export interface BatchProcess {
  readonly child: ChildProcess;
  readonly done: Promise<BatchRun>;
  output(): string;
}

export function spawnBatch(args: readonly string[], env: Record<string, string>, timeoutMs = 120_000): BatchProcess {
  // tsx's loader inside this very process (not the tsx command, which runs the script in a
  // child of its own): a signal sent to `child` reaches the worker itself, SIGKILL included.
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<BatchRun>((resolvePromise) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      let summary: unknown;
      try {
        summary = JSON.parse(last);
      } catch {
        summary = undefined;
      }
      resolvePromise({ code, signal, stdout, stderr, summary });
    });
  });
  return { child, done, output: () => stdout + stderr };
}

export const runBatchCli = (args: readonly string[], env: Record<string, string>, timeoutMs?: number) =>
  spawnBatch(args, env, timeoutMs).done;
