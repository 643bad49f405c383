/**
 * `npm run serve`: the engine, the resize Lambda's URL API as a long-running HTTP server on
 * 127.0.0.1:${PORT:-3000} (HOST=0.0.0.0 in a container). Like `npm run batch`, it talks to the
 * project's local S3 (`npm run s3`: 127.0.0.1:4569) unless S3_ENDPOINT names another;
 * IS_LOCAL=false runs it against AWS with the usual credentials. SIGTERM or Ctrl-C drains
 * (ENGINE_DRAIN_SECONDS, default 25) and exits 0; a second signal exits at once.
 */
process.env.IS_LOCAL ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { loadConfig, loadEngineSettings } = await import('../src/config.js');
const { createLogger } = await import('../src/observability/logger.js');
const { createMetrics, SERVICES } = await import('../src/observability/metrics.js');
const { startEngine } = await import('../src/engine/server.js');

const config = loadConfig(process.env);
const settings = loadEngineSettings(process.env);
const log = createLogger(SERVICES.resize);
const engine = await startEngine({
  config,
  ...settings,
  log,
  metrics: createMetrics(SERVICES.resize, config.metrics, log),
});
log.info('engine listening', { url: engine.url, concurrency: settings.concurrency, queue: settings.queue });
process.stdout.write(`engine: ${engine.url} (GET ${engine.url}/_health)\n`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
    stopping = true;
    log.info('engine draining', { signal, ...engine.load(), seconds: settings.drainSeconds });
    void engine.drain(settings.drainSeconds).then(
      (inTime) => {
        log.info('engine stopped', { drained: inTime });
        process.exit(0);
      },
      (error: unknown) => {
        log.error('engine drain failed', { error: error as Error });
        process.exit(1);
      },
    );
  });
}
