import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_ANSWER_BYTES, OrdersApi } from '../../../../lab/loadgen/adapters/orders-api';

const order = { customerId: 'c-1', sequence: 1, amount: 100, currency: 'EUR', items: [] };

async function serve(
  handler: Parameters<typeof createServer>[1],
): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

describe('OrdersApi', () => {
  it('posts the order with its headers on a kept-alive connection and reads the JSON answer', async () => {
    const seen: Array<{
      path: string;
      headers: Record<string, unknown>;
      body: string;
      socket: unknown;
    }> = [];
    const { url, server } = await serve(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ path: String(req.url), headers: req.headers, body, socket: req.socket });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"orderId":"o-1"}');
    });
    const api = new OrdersApi({ apiUrl: `${url}/`, runId: 'r-1', apiKey: 'k' });
    try {
      expect(await api.post(order, 'key-1')).toEqual({ status: 202, body: { orderId: 'o-1' } });
      expect(await api.post(order, 'key-2')).toEqual({ status: 202, body: { orderId: 'o-1' } });
    } finally {
      api.close();
      await stop(server);
    }
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({
      path: '/orders',
      body: JSON.stringify(order),
      headers: {
        'content-type': 'application/json',
        'idempotency-key': 'key-1',
        'x-run-id': 'r-1',
        'x-api-key': 'k',
      },
    });
    // The second order reused the first one's connection.
    expect(seen[1]!.socket).toBe(seen[0]!.socket);
  });

  it('keeps an answer that is not JSON as text', async () => {
    const { url, server } = await serve((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>');
    });
    const api = new OrdersApi({ apiUrl: url, runId: 'r' });
    try {
      expect(await api.post(order, 'k')).toEqual({ status: 502, body: '<h1>bad gateway</h1>' });
    } finally {
      api.close();
      await stop(server);
    }
  });

  it('ends a try the server never answers after timeoutMs, as a network error', async () => {
    const { url, server } = await serve(() => {
      // Accepts the request and never answers.
    });
    const api = new OrdersApi({ apiUrl: url, runId: 'r', timeoutMs: 100 });
    try {
      expect(await api.post(order, 'k')).toEqual({
        status: 0,
        body: undefined,
        networkError: 'TimeoutError',
      });
    } finally {
      api.close();
      await stop(server);
    }
  });

  it('takes a 101 Switching Protocols nobody asked for as an answer (HTTP 101), not a try that never ends', async () => {
    // Node destroys the socket of an upgrade with no 'upgrade' listener and emits no 'response'
    // and no 'error': the try's promise never settled (under the CLI, the process exited 0).
    const { url, server } = await serve((req, res) => {
      req.resume();
      res.socket?.end(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n',
      );
    });
    const api = new OrdersApi({ apiUrl: url, runId: 'r' });
    try {
      expect(await api.post(order, 'k')).toEqual({ status: 101, body: undefined });
    } finally {
      api.close();
      await stop(server);
    }
  });

  it('keeps MAX_ANSWER_BYTES of an answer and reads no more of it', async () => {
    // 16 MiB of body, written as the client takes it: the client reads a 64 KiB prefix, and
    // the server sees its connection closed long before it has written the rest.
    const total = 16 * 1024 * 1024;
    let written = 0;
    let serverDone!: () => void;
    const closed = new Promise<void>((resolve) => {
      serverDone = resolve;
    });
    const { url, server } = await serve((req, res) => {
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain', 'content-length': total });
      const chunk = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return;
        }
        if (written >= total) res.end();
      };
      res.on('drain', pump);
      res.on('close', serverDone);
      pump();
    });
    const api = new OrdersApi({ apiUrl: url, runId: 'r' });
    try {
      const r = await api.post(order, 'k');
      expect(r.status).toBe(500);
      expect(r.body).toBe('x'.repeat(MAX_ANSWER_BYTES));
      await closed;
      expect(written).toBeLessThan(total);
    } finally {
      api.close();
      await stop(server);
    }
  });
});
