import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OrdersApi } from '../../../../lab/loadgen/adapters/orders-api';

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
});
