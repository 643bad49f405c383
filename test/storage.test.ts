import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photoLikeJpeg } from '../scripts/samples.js';
import { loadConfig } from '../src/config.js';
import { StorageUnavailableError } from '../src/errors.js';
import type { ImageStore } from '../src/storage/image-store.js';
import { createS3Client, createS3Store } from '../src/storage/s3-store.js';
import { ORIGINALS, VARIANTS, freePort, startStack, testEnv, uniqueKey, type Stack } from './support/stack.js';

const write = { contentType: 'image/webp', cacheControl: 'public, max-age=60, immutable', metadata: { spec: 'w=1' } };

describe('S3 store against a local S3', () => {
  let stack: Stack;
  let store: ImageStore;
  let photo: Buffer;

  beforeAll(async () => {
    stack = await startStack();
    store = stack.store;
    photo = await photoLikeJpeg(120, 80);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('heads an original: its ETag and size; undefined when there is none', async () => {
    const key = uniqueKey('a/b c/ünïcödé.jpg');
    const etag = await stack.seed(key, photo);
    expect(await store.headOriginal(key)).toEqual({ etag, size: photo.length, lastModified: expect.any(Date) });
    expect(await store.headOriginal(uniqueKey('missing.jpg'))).toBeUndefined();
  });

  it('gets an original only while it still has the ETag asked for', async () => {
    const key = uniqueKey('photos/versioned.jpg');
    const oldEtag = await stack.seed(key, photo);
    expect((await store.getOriginal(key, oldEtag))?.equals(photo)).toBe(true);

    const replacement = await photoLikeJpeg(120, 80, { seed: 2 });
    const newEtag = await stack.seed(key, replacement);
    // s3rver ignores If-Match, so this also proves the store's own ETag check.
    expect(await store.getOriginal(key, oldEtag)).toBeUndefined();
    expect((await store.getOriginal(key, newEtag))?.equals(replacement)).toBe(true);
    expect(await store.getOriginal(uniqueKey('missing.jpg'), newEtag)).toBeUndefined();
  });

  it('opens an original: ETag and size from its headers, the body on demand, abandoned without harm', async () => {
    const key = uniqueKey('photos/opened.jpg');
    const etag = await stack.seed(key, photo);
    const opened = await store.openOriginal(key);
    if (!opened || 'unchanged' in opened) throw new Error('expected a read');
    expect(opened).toMatchObject({ etag, size: photo.length, lastModified: expect.any(Date) });
    expect((await opened.bytes()).equals(photo)).toBe(true);

    // Abandoned reads, small (drained) and large (cut off), leave the client working.
    const large = Buffer.concat(Array.from({ length: 12 }, () => photo), 12 * photo.length + 600_000);
    const largeKey = uniqueKey('photos/abandoned-large.jpg');
    await stack.seed(largeKey, large);
    for (const k of [key, largeKey, key, largeKey]) {
      const read = await store.openOriginal(k);
      if (!read || 'unchanged' in read) throw new Error('expected a read');
      read.abandon();
    }
    const again = await store.openOriginal(largeKey);
    if (!again || 'unchanged' in again) throw new Error('expected a read');
    expect((await again.bytes()).equals(large)).toBe(true);

    // Offered the ETag it holds, S3 sends no body; another ETag gets the whole original.
    expect(await store.openOriginal(key, etag)).toEqual({ unchanged: true, etag });
    const other = await store.openOriginal(key, '"0123"');
    expect(other && !('unchanged' in other) && (await other.bytes()).equals(photo)).toBe(true);
    expect(await store.openOriginal(uniqueKey('missing.jpg'))).toBeUndefined();
  });

  it('heads a variant: its metadata without its body', async () => {
    const key = `v3/${uniqueKey('headed')}`;
    expect(await store.headVariant(key)).toBeUndefined();
    await store.putVariant(key, Buffer.from('x'), write);
    expect(await store.headVariant(key)).toEqual({ metadata: { spec: 'w=1' } });
  });

  it('reads back a variant it wrote, with its content type, cache control and metadata', async () => {
    const key = `v1/${uniqueKey('variant')}`;
    const body = Buffer.from('not really webp, but bytes are bytes');
    expect(await store.getVariant(key)).toBeUndefined();

    await store.putVariant(key, body, write);

    const stored = await store.getVariant(key);
    expect(stored?.contentType).toBe('image/webp');
    expect(stored?.body.equals(body)).toBe(true);
    expect(await stack.getObject(VARIANTS, key)).toMatchObject({
      contentType: 'image/webp',
      cacheControl: write.cacheControl,
      metadata: { spec: 'w=1' },
    });
    // Variants go to the variants bucket only.
    expect((await stack.listing(ORIGINALS)).map((o) => o.key)).not.toContain(key);
  });

  it('overwrites a variant in place: one object, the last bytes', async () => {
    const key = `v1/${uniqueKey('overwrite')}`;
    await store.putVariant(key, Buffer.from('first'), write);
    await store.putVariant(key, Buffer.from('second'), write);
    expect((await stack.listing(VARIANTS, key)).map((o) => o.key)).toEqual([key]);
    expect((await store.getVariant(key))?.body.toString()).toBe('second');
  });

  it('presigns a URL that serves the variant without credentials until it expires', async () => {
    const key = `v1/${uniqueKey('presigned')}`;
    await store.putVariant(key, photo, { ...write, contentType: 'image/jpeg' });

    const url = await store.variantUrl(key, 120);

    expect(url).toContain('X-Amz-Expires=120');
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await response.arrayBuffer()).equals(photo)).toBe(true);
  });
});

/** A server that accepts connections and never answers: a hung S3 endpoint. */
async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A real HTTP endpoint answering every request with one S3 error. */
async function startErrorServer(status: number, code: string) {
  const seen: string[] = [];
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.method ?? '');
    req.resume();
    const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message><RequestId>test</RequestId></Error>`;
    res.writeHead(status, { 'Content-Type': 'application/xml', 'x-amz-request-id': 'test' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function storeAt(endpoint: string, env: Record<string, string> = {}) {
  const config = loadConfig(testEnv(endpoint, { S3_MAX_ATTEMPTS: '1', S3_REQUEST_TIMEOUT_MS: '300', ...env }));
  const client = createS3Client(config.s3);
  return { store: createS3Store(config, client), close: () => client.destroy() };
}

const unavailable = { statusCode: 503, code: 'storage_unavailable', headers: { 'Retry-After': '1' } };

/** Every store call that goes over the network. */
const calls: [string, (store: ImageStore) => Promise<unknown>][] = [
  ['headOriginal', (s) => s.headOriginal('photos/a.jpg')],
  ['getOriginal', (s) => s.getOriginal('photos/a.jpg', '"abc"')],
  ['getVariant', (s) => s.getVariant('v1/x/y')],
  ['openOriginal, then its body', async (s) => {
    const opened = await s.openOriginal('photos/a.jpg');
    return opened && !('unchanged' in opened) ? opened.bytes() : opened;
  }],
  ['putVariant', (s) => s.putVariant('v1/x/y', Buffer.from('x'), write)],
  ['headVariant', (s) => s.headVariant('v1/x/y')],
];

describe('S3 store when storage fails', () => {
  it.each(calls)('%s on a closed port rejects with StorageUnavailableError, quickly', async (_name, call) => {
    const { store, close } = storeAt(`http://127.0.0.1:${await freePort()}`);
    try {
      const started = performance.now();
      const failure = call(store);
      await expect(failure).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(failure).rejects.toMatchObject(unavailable);
      await expect(failure).rejects.toHaveProperty('cause');
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      close();
    }
  });

  it.each(calls)('%s against a hung endpoint times out into StorageUnavailableError', async (_name, call) => {
    const silent = await startSilentServer();
    const { store, close } = storeAt(`http://127.0.0.1:${silent.port}`);
    try {
      const started = performance.now();
      await expect(call(store)).rejects.toMatchObject(unavailable);
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      close();
      await silent.close();
    }
  });

  it.each(calls)('%s answered 503 SlowDown is retried S3_MAX_ATTEMPTS times, then StorageUnavailableError', async (_name, call) => {
    const server = await startErrorServer(503, 'SlowDown');
    const { store, close } = storeAt(server.endpoint, { S3_MAX_ATTEMPTS: '2' });
    try {
      await expect(call(store)).rejects.toMatchObject(unavailable);
      expect(server.seen).toHaveLength(2);
    } finally {
      close();
      await server.close();
    }
  });

  it.each(calls.slice(1, 4))('%s whose body stalls halfway fails with StorageUnavailableError', async (_name, call) => {
    const sockets = new Set<Socket>();
    const server = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': '100000', ETag: '"abc"' });
      res.write(Buffer.alloc(1000));
    });
    server.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { store, close } = storeAt(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
    try {
      const started = performance.now();
      await expect(call(store)).rejects.toMatchObject(unavailable);
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('getOriginal answered 412 Precondition Failed means the original changed: undefined', async () => {
    const server = await startErrorServer(412, 'PreconditionFailed');
    const { store, close } = storeAt(server.endpoint);
    try {
      expect(await store.getOriginal('photos/a.jpg', '"abc"')).toBeUndefined();
      expect(server.seen).toEqual(['GET']);
    } finally {
      close();
      await server.close();
    }
  });
});
