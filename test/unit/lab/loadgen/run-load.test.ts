import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../../../../lab/loadgen/run-load';

interface Seen {
  key: string;
  runId: string;
  apiKey: string | undefined;
  customerId: string;
  sequence: number;
}

/** A stand-in API for this module's test: checks per-customer order and answers like the producer. */
function fakeApi(options: { failFirst503?: number; inProgress409?: number } = {}) {
  const seen: Seen[] = [];
  const byKey = new Map<string, string>();
  const lastSeq = new Map<string, number>();
  const outOfOrder: string[] = [];
  let fails = options.failFirst503 ?? 0;
  let conflicts = options.inProgress409 ?? 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let raw = '';
    for await (const chunk of req) raw += chunk;
    await new Promise((r) => setTimeout(r, 2));
    inFlight--;
    if (conflicts > 0) {
      conflicts--;
      res
        .writeHead(409, { 'content-type': 'application/json', 'retry-after': '1' })
        .end('{"message":"still being sent"}');
      return;
    }
    if (fails > 0) {
      fails--;
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"try again"}');
      return;
    }
    const body = JSON.parse(raw) as { customerId: string; sequence: number };
    const key = String(req.headers['idempotency-key']);
    seen.push({
      key,
      runId: String(req.headers['x-run-id']),
      apiKey: req.headers['x-api-key'] as string | undefined,
      customerId: body.customerId,
      sequence: body.sequence,
    });
    let orderId = byKey.get(key);
    if (!orderId) {
      const prev = lastSeq.get(body.customerId) ?? 0;
      if (body.sequence !== prev + 1) outOfOrder.push(`${body.customerId}:${body.sequence}`);
      lastSeq.set(body.customerId, body.sequence);
      orderId = key;
      byKey.set(key, orderId);
    }
    res.writeHead(202, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        orderId,
        sequence: body.sequence,
        messageIds: { fifo: 'f', standard: 's' },
      }),
    );
  });
  return {
    seen,
    outOfOrder,
    byKey,
    maxInFlight: () => maxInFlight,
    start: () =>
      new Promise<string>((r) =>
        server.listen(0, '127.0.0.1', () =>
          r(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`),
        ),
      ),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('runLoad', () => {
  it('sends every order once per customer in sequence, plus client retries with the same key', async () => {
    const api = fakeApi();
    const url = await api.start();
    try {
      const s = await runLoad({
        apiUrl: url,
        apiKey: 'k1',
        orders: 60,
        customers: 6,
        concurrency: 8,
        rate: 0,
        retryRate: 0.25,
        seed: 123,
        runId: 'unit-run',
      });
      expect(s.accepted).toBe(60);
      expect(s.errors).toBe(0);
      expect(api.outOfOrder).toEqual([]);
      expect(api.byKey.size).toBe(60);
      expect(s.retries).toBeGreaterThan(0);
      expect(s.sent).toBe(60 + s.retries);
      expect(api.seen).toHaveLength(s.sent);
      expect(new Set(api.seen.map((x) => x.runId))).toEqual(new Set(['unit-run']));
      expect(new Set(api.seen.map((x) => x.apiKey))).toEqual(new Set(['k1']));
      expect(s.orderIds).toHaveLength(60);
      expect(api.maxInFlight()).toBeLessThanOrEqual(6);
      expect(s.seed).toBe(123);
    } finally {
      await api.stop();
    }
  });

  it('retries 503 answers with backoff and still accepts every order', async () => {
    const api = fakeApi({ failFirst503: 3 });
    const url = await api.start();
    try {
      const s = await runLoad({
        apiUrl: url,
        orders: 5,
        customers: 1,
        concurrency: 1,
        rate: 0,
        retryRate: 0,
        seed: 1,
        runId: 'r503',
      });
      expect(s.accepted).toBe(5);
      expect(s.backoffRetries).toBe(3);
      expect(s.sent).toBe(8);
      expect(api.seen.every((x) => x.apiKey === undefined)).toBe(true);
    } finally {
      await api.stop();
    }
  });

  it('retries a 409 that says Retry-After, after that many seconds', async () => {
    const api = fakeApi({ inProgress409: 1 });
    const url = await api.start();
    try {
      const started = Date.now();
      const s = await runLoad({
        apiUrl: url,
        orders: 1,
        customers: 1,
        concurrency: 1,
        rate: 0,
        retryRate: 0,
        seed: 1,
        runId: 'r409',
      });
      expect(s.accepted).toBe(1);
      expect(s.errors).toBe(0);
      expect(s.backoffRetries).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    } finally {
      await api.stop();
    }
  });

  it('keeps to the requested rate', async () => {
    const api = fakeApi();
    const url = await api.start();
    try {
      const s = await runLoad({
        apiUrl: url,
        orders: 10,
        customers: 10,
        concurrency: 10,
        rate: 50,
        retryRate: 0,
        seed: 1,
        runId: 'rate',
      });
      // 10 starts at 50/s: the last starts 180 ms after the first.
      expect(s.elapsedMs).toBeGreaterThanOrEqual(180);
      expect(s.accepted).toBe(10);
    } finally {
      await api.stop();
    }
  });

  it('counts network errors as errors after the attempts run out', async () => {
    const api = fakeApi();
    const url = await api.start();
    await api.stop();
    const s = await runLoad({
      apiUrl: url,
      orders: 2,
      customers: 1,
      concurrency: 1,
      rate: 0,
      retryRate: 0,
      seed: 1,
      runId: 'down',
      maxAttempts: 2,
    });
    expect(s.accepted).toBe(0);
    expect(s.errors).toBe(2);
    expect(s.sent).toBe(4);
    expect(s.errorSamples[0]).toMatch(/^o-\w+-0-1: network error ECONNREFUSED$/);
  });
});
