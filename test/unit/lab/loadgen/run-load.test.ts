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

/**
 * What the stand-in API does with one POST of a key (its `attempt`th, from 1): answers it as the
 * producer would (`accept`), resets the connection with no answer (`reset`), never answers
 * (`hang`: the client's request timeout ends the try), or answers `status`
 * (with Retry-After when given), having recorded the order first when `recorded` (a producer whose
 * answer failed after the order's record was written: GET /orders/{key} finds it).
 */
type Scripted =
  | 'accept'
  | 'reset'
  | 'hang'
  | { status: number; retryAfter?: string; recorded?: boolean; message?: unknown; body?: string };

/** A stand-in API for this module's test: checks per-customer order and answers like the producer. */
function fakeApi(
  options: {
    failFirst503?: number;
    inProgress409?: number;
    script?: (key: string, attempt: number) => Scripted;
    /** GET /orders/{key} is answered only once this many GETs are waiting (all at once). */
    getsTogether?: number;
  } = {},
) {
  const seen: Seen[] = [];
  /** Every POST's Idempotency-Key, answered or not, in arrival order. */
  const keys: string[] = [];
  const attempts = new Map<string, number>();
  const byKey = new Map<string, string>();
  const lastSeq = new Map<string, number>();
  const outOfOrder: string[] = [];
  let fails = options.failFirst503 ?? 0;
  let conflicts = options.inProgress409 ?? 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let gets = 0;
  const heldGets: (() => void)[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let raw = '';
    for await (const chunk of req) raw += chunk;
    await new Promise((r) => setTimeout(r, 2));
    inFlight--;
    if (req.method === 'GET') {
      gets++;
      if (options.getsTogether !== undefined) {
        const waiting = new Promise<void>((r) => heldGets.push(r));
        if (heldGets.length >= options.getsTogether) for (const go of heldGets.splice(0)) go();
        await waiting;
      }
      // GET /v1/orders/{key}: the order's record, as the producer's status query reads it.
      const id = decodeURIComponent(String(req.url).split('/').pop() ?? '');
      if (byKey.has(id)) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ orderId: id }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
      }
      return;
    }
    const key = String(req.headers['idempotency-key']);
    keys.push(key);
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const scripted = options.script?.(key, attempt) ?? 'accept';
    if (scripted === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (scripted === 'hang') return;
    if (scripted !== 'accept') {
      if (scripted.recorded) byKey.set(key, key);
      res
        .writeHead(scripted.status, {
          'content-type': 'application/json',
          ...(scripted.retryAfter !== undefined ? { 'retry-after': scripted.retryAfter } : {}),
        })
        .end(scripted.body ?? JSON.stringify({ message: scripted.message ?? 'scripted failure' }));
      return;
    }
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
    keys,
    outOfOrder,
    byKey,
    maxInFlight: () => maxInFlight,
    gets: () => gets,
    start: () =>
      new Promise<string>((r) =>
        server.listen(0, '127.0.0.1', () =>
          r(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`),
        ),
      ),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

type FakeApi = ReturnType<typeof fakeApi>;

/** Starts a fakeApi(`options`), gives `fn` it and its URL, and stops it whatever `fn` does. */
async function withFakeApi(
  options: Parameters<typeof fakeApi>[0],
  fn: (api: FakeApi, url: string) => Promise<void>,
): Promise<void> {
  const api = fakeApi(options);
  const url = await api.start();
  try {
    await fn(api, url);
  } finally {
    await api.stop();
  }
}

/** One customer's orders sent one at a time, unthrottled, with no client retries, seed 1. */
const oneAtATime = { customers: 1, concurrency: 1, rate: 0, retryRate: 0, seed: 1 };

describe('runLoad', () => {
  it('sends every order once per customer in sequence, plus client retries with the same key', async () => {
    await withFakeApi({}, async (api, url) => {
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
    });
  });

  it('retries 503 answers with backoff and still accepts every order', async () => {
    await withFakeApi({ failFirst503: 3 }, async (api, url) => {
      const s = await runLoad({
        apiUrl: url,
        orders: 5,
        ...oneAtATime,
        runId: 'r503',
      });
      expect(s.accepted).toBe(5);
      expect(s.backoffRetries).toBe(3);
      expect(s.sent).toBe(8);
      expect(api.seen.every((x) => x.apiKey === undefined)).toBe(true);
    });
  });

  it('retries a 409 that says Retry-After, after that many seconds', async () => {
    await withFakeApi({ inProgress409: 1 }, async (_api, url) => {
      const started = Date.now();
      const s = await runLoad({
        apiUrl: url,
        orders: 1,
        ...oneAtATime,
        runId: 'r409',
      });
      expect(s.accepted).toBe(1);
      expect(s.errors).toBe(0);
      expect(s.backoffRetries).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    });
  });

  it('keeps to the requested rate', async () => {
    await withFakeApi({}, async (_api, url) => {
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
    });
  });

  it('counts network errors as errors after the attempts run out', async () => {
    const api = fakeApi();
    const url = await api.start();
    await api.stop();
    const s = await runLoad({
      apiUrl: url,
      orders: 2,
      ...oneAtATime,
      runId: 'down',
      maxAttempts: 2,
    });
    expect(s.accepted).toBe(0);
    expect(s.errors).toBe(2);
    // Every try's connection was refused: no request sent, the 4 tries counted apart.
    expect(s.sent).toBe(0);
    expect(s.refused).toBe(4);
    expect(s.errorSamples[0]).toMatch(
      /^o-\w+-0-1: given up after 2 tries \(last network error ECONNREFUSED\); the API's record could not be read \(network error ECONNREFUSED\)$/,
    );
    expect(s.givenUp.map((g) => [g.why, g.atApi])).toEqual([
      ['retries ran out', 'unknown'],
      ['retries ran out', 'unknown'],
    ]);
  });

  /** A quick backoff, so that many retries take milliseconds. */
  const quick = { backoff: { baseMs: 1, capMs: 4 } };

  it('retries a 500 with the same Idempotency-Key: the order was recorded, and only a retry sends it', async () => {
    // The producer's 500 is a DynamoDB call that failed or ran out of time, possibly after the
    // order's record was written: the first order gets two of them.
    await withFakeApi(
      {
        script: (key, attempt) =>
          key.endsWith('-0-1') && attempt <= 2
            ? { status: 500, recorded: true, message: 'internal error' }
            : 'accept',
      },
      async (api, url) => {
        const s = await runLoad({
          apiUrl: url,
          orders: 3,
          ...oneAtATime,
          runId: 'r500',
          ...quick,
        });
        expect(s.accepted).toBe(3);
        expect(s.errors).toBe(0);
        expect(s.givenUp).toEqual([]);
        expect(s.backoffRetries).toBe(2);
        expect(api.keys.filter((k) => k.endsWith('-0-1'))).toHaveLength(3);
      },
    );
  });

  it('keeps retrying 503, 429 and reset connections past eight tries while its deadline lasts, every try with the same key', async () => {
    // 20 failures before the first order is accepted: 503s (Retry-After 0), 429s, and resets.
    const failures = 20;
    await withFakeApi(
      {
        script: (key, attempt) => {
          if (!key.endsWith('-0-1') || attempt > failures) return 'accept';
          if (attempt % 3 === 0) return 'reset';
          return attempt % 3 === 1 ? { status: 503, retryAfter: '0' } : { status: 429 };
        },
      },
      async (api, url) => {
        const s = await runLoad({
          apiUrl: url,
          orders: 2,
          ...oneAtATime,
          runId: 'rmany',
          ...quick,
        });
        expect(s.accepted).toBe(2);
        expect(s.errors).toBe(0);
        expect(s.givenUp).toEqual([]);
        expect(s.backoffRetries).toBe(failures);
        const first = api.keys[0]!;
        expect(api.keys.slice(0, failures + 1)).toEqual(Array(failures + 1).fill(first));
        expect(s.orderIds).toEqual([first, api.keys.at(-1)]);
      },
    );
  });

  it('names every order it gives up on, and counts as accepted one the API holds though no 202 came', async () => {
    // The first order is recorded and then answered 503 every time (its sends failing); the
    // second is never recorded; the third goes through; the fourth is refused (422).
    await withFakeApi(
      {
        script: (key) => {
          if (key.endsWith('-0-1')) return { status: 503, recorded: true };
          if (key.endsWith('-0-2')) return { status: 503 };
          if (key.endsWith('-0-4')) return { status: 422, message: 'key reused' };
          return 'accept';
        },
      },
      async (api, url) => {
        const s = await runLoad({
          apiUrl: url,
          orders: 4,
          ...oneAtATime,
          runId: 'rgiveup',
          maxAttempts: 3,
          ...quick,
        });
        const [k1, k2, k3, k4] = [1, 2, 3, 4].map(
          (n) => api.keys.find((k) => k.endsWith(`-0-${n}`))!,
        );
        expect(s.givenUp).toEqual([
          {
            idempotencyKey: k1,
            attempts: 3,
            why: 'retries ran out',
            last: 'HTTP 503: scripted failure',
            atApi: 'accepted',
          },
          {
            idempotencyKey: k2,
            attempts: 3,
            why: 'retries ran out',
            last: 'HTTP 503: scripted failure',
            atApi: 'not found',
          },
          { idempotencyKey: k4, attempts: 1, why: 'refused', last: 'HTTP 422: key reused' },
        ]);
        expect(s.accepted).toBe(2);
        expect(s.orderIds).toEqual([k1, k3]);
        expect(s.errors).toBe(2);
        expect(s.errorSamples).toEqual([
          `${k4}: refused, HTTP 422: key reused`,
          `${k2}: given up after 3 tries (last HTTP 503: scripted failure); the API does not have it`,
        ]);
      },
    );
  });

  it('gives an order up once its retry deadline has passed, and says so', async () => {
    await withFakeApi({ script: () => ({ status: 502 }) }, async (_api, url) => {
      const s = await runLoad({
        apiUrl: url,
        orders: 1,
        ...oneAtATime,
        runId: 'rdeadline',
        retryDeadlineMs: 200,
        ...quick,
      });
      expect(s.accepted).toBe(0);
      expect(s.errors).toBe(1);
      expect(s.givenUp).toHaveLength(1);
      expect(s.givenUp[0]).toMatchObject({ why: 'retries ran out', atApi: 'not found' });
      expect(s.givenUp[0]!.attempts).toBe(s.sent);
      expect(s.sent).toBeGreaterThan(1);
    });
  });

  it('gives up an order whose 202 names no order (no body, null, text, no orderId string), asks the API, and goes on', async () => {
    // An empty 202 threw a TypeError out of the load (a stack trace, no summary); text or an
    // orderId that is no string counted as accepted with no order id.
    const bodies = ['', 'null', 'ok', '{"orderId":{"x":1}}'];
    await withFakeApi(
      {
        script: (key) => {
          const n = Number(key.split('-').pop());
          return n <= bodies.length
            ? { status: 202, body: bodies[n - 1]!, recorded: n % 2 === 1 }
            : 'accept';
        },
      },
      async (api, url) => {
        const s = await runLoad({
          apiUrl: url,
          orders: 5,
          ...oneAtATime,
          runId: 'r202',
          ...quick,
        });
        const keys = [1, 2, 3, 4, 5].map((n) => api.keys.find((k) => k.endsWith(`-0-${n}`))!);
        expect(s.givenUp.map((g) => [g.idempotencyKey, g.why, g.atApi])).toEqual([
          [keys[0], 'unreadable answer', 'accepted'],
          [keys[1], 'unreadable answer', 'not found'],
          [keys[2], 'unreadable answer', 'accepted'],
          [keys[3], 'unreadable answer', 'not found'],
        ]);
        expect(s.accepted).toBe(3);
        expect(s.orderIds).toEqual([keys[0], keys[2], keys[4]]);
        expect(s.errors).toBe(2);
      },
    );
  });

  it("quotes an answer's message on one line, control characters escaped, at most 200 characters", async () => {
    const message = `\x1b[2J\x1b]0;title\x07 line\nforged line ${'x'.repeat(1000)}`;
    await withFakeApi({ script: () => ({ status: 400, message }) }, async (_api, url) => {
      const s = await runLoad({ apiUrl: url, orders: 1, ...oneAtATime, runId: 'rmsg' });
      const line = s.errorSamples[0]!;
      expect(line).not.toMatch(/\p{Cc}/u);
      expect(line).toContain(
        'HTTP 400: \\u001b[2J\\u001b]0;title\\u0007 line\\u000aforged line xxx',
      );
      expect(line.endsWith('x...')).toBe(true);
      expect(s.givenUp[0]!.last.length).toBeLessThan(300);
    });
  });

  it('waits the backoff after a Retry-After: 0, never less', async () => {
    // Retry-After: 0 on every answer was retried with no wait at all (1,271 POSTs of one order
    // in 3 s). With a backoff of 100 s, seed 1's first wait (0.28 x 100 s) is past the 1 s
    // deadline: one try, given up, no wait made.
    await withFakeApi({ script: () => ({ status: 503, retryAfter: '0' }) }, async (_api, url) => {
      const s = await runLoad({
        apiUrl: url,
        orders: 1,
        ...oneAtATime,
        runId: 'rra0',
        retryDeadlineMs: 1000,
        backoff: { baseMs: 100_000, capMs: 100_000 },
      });
      expect(s.sent).toBe(1);
      expect(s.backoffRetries).toBe(0);
      expect(s.givenUp[0]).toMatchObject({ why: 'retries ran out', attempts: 1 });
    });
  });

  it('asks the API about the orders it gave up on together, as many at once as the load sent', async () => {
    // One at a time, each for up to 30 s: an API that stopped answering held the load 30 s per
    // given-up order after it ended. The stand-in answers no GET before four are waiting.
    await withFakeApi({ script: () => ({ status: 503 }), getsTogether: 4 }, async (api, url) => {
      const s = await runLoad({
        apiUrl: url,
        orders: 4,
        customers: 4,
        concurrency: 4,
        rate: 0,
        retryRate: 0,
        seed: 1,
        runId: 'rlookups',
        maxAttempts: 1,
      });
      expect(s.givenUp.map((g) => g.atApi)).toEqual(Array(4).fill('not found'));
      expect(api.gets()).toBe(4);
    });
  });

  it("never takes the soak's faults for an API gone: lost answers, timeouts, 500s and 409s with Retry-After are retried until accepted", async () => {
    // Each order's tries: two answers lost (the connection reset), one never answered (its
    // timeout), a 500, a 409 with Retry-After, one more lost, then accepted. With a window of
    // 1 ms, anything but a refused connection taken for one would stop the load.
    const script = (_key: string, attempt: number): Scripted =>
      attempt <= 2 || attempt === 6
        ? 'reset'
        : attempt === 3
          ? 'hang'
          : attempt === 4
            ? { status: 500 }
            : attempt === 5
              ? { status: 409, retryAfter: '0' }
              : 'accept';
    await withFakeApi({ script }, async (api, url) => {
      const s = await runLoad({
        apiUrl: url,
        orders: 8,
        customers: 4,
        concurrency: 4,
        rate: 0,
        retryRate: 0,
        seed: 1,
        runId: 'rnotgone',
        ...quick,
        requestTimeoutMs: 500,
        unreachableWindowMs: 1,
      });
      expect(s.unreachable).toBeUndefined();
      expect(s.givenUp).toEqual([]);
      expect(s.accepted).toBe(8);
      // Every try reached the stand-in: 7 for each order at least (more if a try of the
      // busy machine timed out as well).
      expect(s.sent).toBe(api.keys.length);
      expect(s.sent).toBeGreaterThanOrEqual(56);
    });
  });

  it('asks nothing once the look-ups have no time left, and says so', async () => {
    await withFakeApi({ script: () => ({ status: 503 }) }, async (api, url) => {
      const s = await runLoad({
        apiUrl: url,
        orders: 2,
        ...oneAtATime,
        runId: 'rnolookup',
        maxAttempts: 1,
        lookupDeadlineMs: 0,
      });
      expect(api.gets()).toBe(0);
      // Not asked, not unanswered: the headline says so (lab/given-up.ts).
      expect(s.givenUp.map((g) => g.atApi)).toEqual(['not asked', 'not asked']);
      expect(s.errorSamples[0]).toMatch(/not asked: the look-ups' 0 s had run out\)$/);
    });
  });
});
