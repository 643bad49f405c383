import { createServer } from 'node:http';
import { createIPX, createIPXNodeServer, ipxFSStorage } from 'ipx';
import { serveOnLoopback } from './children.js';

/**
 * The peer: ipx (sharp-based, unjs) serving the same originals from a folder on disk, as shipped
 * (its own sharp defaults: libvips cache on, progressive JPEG), on a free loopback port.
 * No result cache: every request reads its file and renders (its fs storage only stats and reads).
 * Usage: tsx bench/ipx-child.mts <dir>  →  BENCH {"baseUrl": …, "pid": …}
 * URLs: /w_800,f_webp,q_80/<key>
 */
const dir = process.argv[2];
if (!dir) throw new Error('usage: ipx-child.ts <dir>');
const ipx = createIPX({ storage: ipxFSStorage({ dir }) });
const server = createServer(createIPXNodeServer(ipx));
await serveOnLoopback(server);
