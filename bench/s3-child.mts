import { startLocalS3 } from '../scripts/local-s3.js';
import { onShutdown, report } from './children.js';

/**
 * The local S3 in a process of its own, as S3 is another machine for a Lambda: its request handling
 * must not share an event loop (or a core's time slices) with the process being measured.
 * Usage: tsx bench/s3-child.mts bucket…  →  BENCH {"endpoint": …, "pid": …, "directory": …}
 * (directory: where it keeps the objects, one file per object under <bucket>/<key>; read-only use)
 */
const buckets = process.argv.slice(2);
const s3 = await startLocalS3({ buckets });
onShutdown(() => s3.close());
// Its own pid: `tsx` runs this file in a child of the process the bench spawned.
report({ endpoint: s3.endpoint, port: s3.port, pid: process.pid, directory: s3.directory });
