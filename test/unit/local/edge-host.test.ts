import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHost } from '../../../local/address';
import { createEdgeHandler, type RequestListener } from '../../../local/edge';

/**
 * The edge reads a request's Host once: its own check (400) and the browser guard decide on the
 * same reading, which the edge hands the guard. Over HTTP on 127.0.0.1, a port the test picked.
 */
describe('the edge’s Host, read once', () => {
  let server: Server;
  let port: number;
  const seen: { host: RequestHost; headerHost: string | undefined }[] = [];

  beforeAll(async () => {
    const answer: RequestListener = (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    };
    server = createServer(
      createEdgeHandler(
        { sqs: answer, dynamodb: answer },
        {
          guard: (req: IncomingMessage, host: RequestHost) => {
            seen.push({ host, headerHost: req.headers.host });
            return { ok: true };
          },
        },
      ),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  /** A DynamoDB-shaped POST with this Host line; resolves to the status answered. */
  const post = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          headers: {
            Host: host,
            'X-Amz-Target': 'DynamoDB_20120810.ListTables',
            'Content-Type': 'application/x-amz-json-1.0',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });

  it('hands the guard the Host it read, as parseHostHeader reads it', async () => {
    // Act
    const status = await post('LocalHost.:4566');

    // Assess: one guard decision, on the edge's reading of that Host.
    expect(status).toBe(200);
    expect(seen).toEqual([
      {
        host: { ok: true, parts: { name: 'localhost', port: 4566, bareIPv6: false } },
        headerHost: 'LocalHost.:4566',
      },
    ]);
  });

  it('refuses a Host that is no host with a 400 before the guard is asked', async () => {
    expect(await post('[::1]junk')).toBe(400);
    expect(seen).toEqual([]);
  });
});
