import { loadConfig, loadEngineSettings } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics, SERVICES } from '../observability/metrics.js';
import { startEngine, type Engine } from './server.js';

/**
 * The engine's entry point: bundled as serve.cjs, the container's serving command (the ECS
 * service runs `node serve.cjs`); `npm run serve` runs it from a clone. Config, store and service
 * are built once, from the environment. In a container it listens on all interfaces
 * (HOST=0.0.0.0) at PORT (3000): the load balancer reaches the task on its own address.
 *
 * SIGTERM (an ECS stop: a deployment, a scale-in, a Spot reclaim) and Ctrl-C drain: /_health
 * answers 503, no new connection is taken, in-flight and queued requests finish (at most
 * ENGINE_DRAIN_SECONDS), then the process exits 0. A second signal exits at once.
 */

/** All interfaces unless HOST says otherwise; `npm run serve` sets 127.0.0.1 before this runs. */
const CONTAINER_HOST = '0.0.0.0';

const log = createLogger(SERVICES.resize);

async function start(env: Record<string, string | undefined>): Promise<Engine> {
  const config = loadConfig(env);
  const settings = loadEngineSettings({ ...env, HOST: env.HOST?.trim() || CONTAINER_HOST });
  const engine = await startEngine({
    config,
    ...settings,
    log,
    metrics: createMetrics(SERVICES.resize, config.metrics, log),
  });
  log.info('engine listening', { url: engine.url, concurrency: settings.concurrency, queue: settings.queue, drainSeconds: settings.drainSeconds });

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
  return engine;
}

/**
 * The running engine. No top-level await: the container runs this bundled as CommonJS. A start
 * that fails (an invalid setting, a port in use) exits 1 with the reason, before any request.
 */
export const running: Promise<Engine> = start(process.env);
running.catch((error: unknown) => {
  process.stderr.write(`engine: ${(error as Error).message}\n`, () => process.exit(1));
});
