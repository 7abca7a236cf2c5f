import type { IncomingMessage, Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { createEdgeHandler, createLimitedServer, type RequestListener } from '../../../local/edge';

/**
 * Every server of the local cloud sees every header a request sends within Node's 16 KiB: the
 * checks of a header given twice (a second Host, Idempotency-Key, X-Run-Id or Content-Type) read
 * them all. Node's default `maxHeadersCount` (2,000) dropped each header after the 2,000th
 * without a word, and 2,000 short headers fit in 16 KiB: a second Host or Idempotency-Key
 * written after 2,000 others was never seen. Over HTTP on 127.0.0.1, a port the test picked.
 */
describe('createLimitedServer: headers past the 2,000th', () => {
  let server: Server;
  let port: number;
  let lastCount = 0;

  beforeAll(async () => {
    const answer: RequestListener = (req: IncomingMessage, res) => {
      lastCount = req.rawHeaders.length / 2;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    };
    server = createLimitedServer(createEdgeHandler({ sqs: answer, dynamodb: answer }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends `head` (a request without its final CRLF) and reads the status line. */
  function statusOf(head: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
        if (text.includes('\r\n')) {
          socket.destroy();
          resolve(text.slice(0, text.indexOf('\r\n')));
        }
      });
      socket.on('error', reject);
      socket.write(`${head}\r\n`);
    });
  }

  const filler = (n: number) => Array.from({ length: n }, (_, i) => `x${i % 10}: 1\r\n`).join('');
  const sqsGet = 'GET /?Action=ListQueues HTTP/1.1\r\n';

  it('hands the handler all 2,101 headers of a request (16 KiB of them)', async () => {
    const head = `${sqsGet}Host: 127.0.0.1:${port}\r\n${filler(2100)}`;
    expect(Buffer.byteLength(head)).toBeLessThan(16 * 1024);
    expect(await statusOf(head)).toBe('HTTP/1.1 200 OK');
    expect(lastCount).toBe(2101);
  });

  it('refuses a second Host written after 2,000 other headers, as one written before them', async () => {
    const second = `Host: 127.0.0.1:${port + 1}\r\n`;
    const first = `Host: 127.0.0.1:${port}\r\n`;
    expect(await statusOf(`${sqsGet}${first}${second}${filler(2000)}`)).toBe(
      'HTTP/1.1 400 Bad Request',
    );
    expect(await statusOf(`${sqsGet}${first}${filler(2000)}${second}`)).toBe(
      'HTTP/1.1 400 Bad Request',
    );
  });
});
