import { createServer, type Socket } from 'node:net';

/**
 * A TCP server on 127.0.0.1 that accepts connections, reads every request and never answers:
 * an endpoint on which an SDK call waits until its request timeout ends the try.
 */
export interface StalledServer {
  endpoint: string;
  /** Requests received: one per connection, since a client waits for an answer before reusing one. */
  requests(): number;
  close(): Promise<void>;
}

export async function startStalledServer(): Promise<StalledServer> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let counted = false;
    socket.on('data', (chunk: Buffer) => {
      if (!counted && /^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(chunk.toString('latin1'))) {
        counted = true;
        requests += 1;
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    requests: () => requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
