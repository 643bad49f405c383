/**
 * `npm run serve`: the engine (src/engine/main.ts, the container's serving command) from a clone,
 * on 127.0.0.1:${PORT:-3000} unless HOST says otherwise. Like `npm run batch`, it talks to the
 * project's local S3 (`npm run s3`: 127.0.0.1:4569) unless S3_ENDPOINT names another;
 * IS_LOCAL=false runs it against AWS with the usual credentials. SIGTERM or Ctrl-C drains
 * (ENGINE_DRAIN_SECONDS, default 25) and exits 0; a second signal exits at once. docs/engine.md.
 */
process.env.IS_LOCAL ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// The container listens on all interfaces; a laptop only on loopback.
process.env.HOST ||= '127.0.0.1';

const { running } = await import('../src/engine/main.js');
// A failed start is reported, and exits 1, by main.ts itself.
const engine = await running.catch(() => undefined);
if (engine) process.stdout.write(`engine: ${engine.url} (GET ${engine.url}/_health)\n`);
