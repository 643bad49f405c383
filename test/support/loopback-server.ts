import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Starts a test stand-in on a free 127.0.0.1 port, bounded so that a client that stalls cannot
 * keep the test (or its `close`) waiting; `close` drops every connection, idle or not.
 */
export async function listenOnLoopback(server: Server): Promise<{ endpoint: string; close(): Promise<void> }> {
  server.requestTimeout = 5_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
