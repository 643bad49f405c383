import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';

/** How the engine listens and how much it takes on; read from the environment by the entry point. */
export interface EngineSettings {
  readonly port: number;
  readonly host: string;
  /** Requests in the handler at once (ENGINE_CONCURRENCY; default 2 × CPUs). */
  readonly concurrency: number;
  /** Requests waiting for a turn before 503 (ENGINE_QUEUE; default 4 × concurrency). */
  readonly queue: number;
  /** How long SIGTERM waits for in-flight and queued requests (ENGINE_DRAIN_SECONDS; default 25). */
  readonly drainSeconds: number;
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}; got "${raw}".`);
  }
  return value;
}

export function loadEngineSettings(env: Record<string, string | undefined>): EngineSettings {
  const concurrency = integer(env, 'ENGINE_CONCURRENCY', 2 * availableParallelism(), 1, 1024);
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    concurrency,
    queue: integer(env, 'ENGINE_QUEUE', 4 * concurrency, 0, 100_000),
    drainSeconds: integer(env, 'ENGINE_DRAIN_SECONDS', 25, 0, 3600),
  };
}
