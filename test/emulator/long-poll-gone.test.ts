import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createSqsEmulator, type SqsEmulator } from '../../local/sqs';

/**
 * A long poll whose client has gone leaves its queue's waiters when the connection closes, not
 * when its wait next ends (up to a second later, its next look): until then a send woke it
 * rather than a poll whose client still waits. Counted as the queue's waiters right after the
 * server saw the connection close, not timed.
 */
describe('a long poll whose connection closes', () => {
  let emulator: SqsEmulator;
  let server: Server;
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await emulator.close();
  });

  it('leaves the queue waiters as soon as the server sees the connection close', async () => {
    // Arrange: the emulator's handler on a server of the test's own, so the test sees the
    // server's side of each connection.
    emulator = createSqsEmulator({ seed: 1, faults: 'none' });
    const serverSockets: Socket[] = [];
    server = createServer(emulator.handle);
    server.on('connection', (s) => serverSockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const { QueueUrl } = (await emulator.call('CreateQueue', { QueueName: 'q' })) as {
      QueueUrl: string;
    };
    const body = JSON.stringify({ QueueUrl, WaitTimeSeconds: 20 });
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.ReceiveMessage',
        'content-length': Buffer.byteLength(body),
      },
    });
    req.on('error', () => {});
    req.end(body);
    for (let i = 0; i < 1000 && emulator.queueWaiters('q') !== 1; i++) {
      await new Promise((r) => setImmediate(r));
    }
    expect(emulator.queueWaiters('q')).toBe(1);
    const serverSide = serverSockets[0]!;
    const closed = new Promise<void>((r) => serverSide.once('close', () => r()));

    // Act: the client goes.
    req.destroy();
    await closed;
    await new Promise((r) => setImmediate(r));

    // Assess: no waiter left (it had stayed until the poll's next look, up to a second).
    expect(emulator.queueWaiters('q')).toBe(0);
  });
});
