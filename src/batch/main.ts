import { runCli } from './cli.js';

/**
 * `npm run batch -- …` and, bundled as worker.cjs, the container's entry point. SIGTERM (a
 * Fargate stop, a Spot reclaim) and Ctrl-C stop the intake; a second one exits at once.
 */
const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stop.signal.aborted) process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
    stop.abort(signal);
  });
}

// No top-level await: the container runs this bundled as CommonJS.
void runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, stop: stop.signal }).then((summary) => {
  if (summary.error) process.stderr.write(`batch: ${summary.error}\n`);
  // The last line of stdout, for scripts and the task's log.
  process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(summary.exitCode));
});
