import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { onShutdown, report } from './children.js';

/**
 * The `npm start` stack (local S3 + serverless-offline running the resize function) in a process
 * of its own, on free loopback ports, so the load generator never shares its event loop.
 * Started from a snapshot of the service's files (argv[2]): serverless-esbuild's build folder is
 * then the snapshot's own, not the one a test run in the work tree may be using at the same time.
 * Usage: tsx bench/stack-child.mts <tree>  →  BENCH {"baseUrl": …, "s3Endpoint": …}
 */
const tree = process.argv[2];
if (!tree) throw new Error('usage: stack-child.ts <tree>');
const { startStack, freePort } = (await import(pathToFileURL(join(tree, 'scripts/stack.mts')).href)) as typeof import('../scripts/stack.mjs');
const stack = await startStack({
  s3Port: await freePort(),
  httpPort: await freePort(),
  lambdaPort: await freePort(),
  originalsBucket: 'originals',
  variantsBucket: 'variants',
  // The function's own log line per request goes to serverless-offline's output, which is dropped.
  log: (line) => {
    if (/error|warn/i.test(line) && !/"level":"INFO"/.test(line)) console.error(line);
  },
  startTimeoutMs: 240_000,
});
onShutdown(() => stack.close());
report({ baseUrl: stack.baseUrl, s3Endpoint: stack.s3.endpoint });
