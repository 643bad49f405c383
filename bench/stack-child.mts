import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { onShutdown, report } from './children.js';

/**
 * The `npm start` stack (local S3 + serverless-offline running the resize function) in a process
 * of its own, on free loopback ports, so the load generator never shares its event loop.
 * Started from a snapshot of the service's files (argv[2]): serverless-esbuild's build folder is
 * then the snapshot's own, not the one a test run in the work tree may be using at the same time.
 * The local S3 runs in this process, serverless-offline in a child of it: this pid's CPU time is
 * the local S3's (and the forwarding of the emulator's output), its descendants' the emulator's.
 * Objects may be placed in its local S3's folder (argv[3]) from outside, at any time: the local S3
 * reads its files per request, and files placed that way notify no function (S3 requests would).
 * Usage: tsx bench/stack-child.mts <tree> [<s3 data dir>]  →  BENCH {"baseUrl": …, "s3Endpoint": …, "pid": …}
 */
const [tree, dataDirectory] = process.argv.slice(2);
if (!tree) throw new Error('usage: stack-child.ts <tree> [<s3 data dir>]');
const { startStack, freePort } = (await import(pathToFileURL(join(tree, 'scripts/stack.mts')).href)) as typeof import('../scripts/stack.mjs');
const stack = await startStack({
  s3Port: await freePort(),
  httpPort: await freePort(),
  lambdaPort: await freePort(),
  originalsBucket: 'originals',
  variantsBucket: 'variants',
  dataDirectory,
  // The function's own log line per request goes to serverless-offline's output, which is dropped.
  log: (line) => {
    if (/error|warn/i.test(line) && !/"level":"INFO"/.test(line)) console.error(line);
  },
  startTimeoutMs: 110_000,
});
onShutdown(() => stack.close());
report({ baseUrl: stack.baseUrl, s3Endpoint: stack.s3.endpoint, pid: process.pid });
