import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { RefusalWatch } from '../../../../lab/loadgen/domain/unreachable';
import { runLoad } from '../../../../lab/loadgen/run-load';

/**
 * The cut-off's hold-back rule (RefusalWatch, lab/loadgen/domain/unreachable.ts): a try that
 * started before the current run of refusals and is still in flight holds the verdict back, however
 * long the refusals last: it may have its connection, its answer on its way (an API that stopped
 * listening still answers the requests it holds). Its end decides: refused, the run goes on (and
 * the verdict may come at once); anything else, the run starts again. A try that started after
 * the first refusal holds nothing back.
 */
describe('the unreachable cut-off and the tries in flight', () => {
  const WINDOW = 100;

  it('waits for a try that started before the refusals, however long they last', () => {
    const w = new RefusalWatch(WINDOW);
    const held = w.start(0);
    expect(w.end(w.start(1), true, 2)).toBe(false);
    // Refusals for ten windows: the held try is still in flight.
    for (let t = 10; t <= 10 * WINDOW; t += 10) expect(w.end(w.start(t - 1), true, t)).toBe(false);
    expect(w.gone).toBeUndefined();
    // It is answered: the API is there, the run of refusals starts again.
    expect(w.end(held, false, 10 * WINDOW + 5)).toBe(false);
    expect(w.end(w.start(10 * WINDOW + 6), true, 10 * WINDOW + 10)).toBe(false);
    expect(w.end(w.start(11 * WINDOW), true, 11 * WINDOW + 10)).toBe(true);
    expect(w.gone).toEqual({ since: 10 * WINDOW + 10, at: 11 * WINDOW + 10, refusals: 2 });
  });

  it('takes the API as gone when the held try ends refused after the window', () => {
    const w = new RefusalWatch(WINDOW);
    const held = w.start(0);
    expect(w.end(w.start(1), true, 2)).toBe(false);
    expect(w.end(w.start(3), true, 2 + WINDOW)).toBe(false);
    expect(w.end(held, true, 2 + 2 * WINDOW)).toBe(true);
    expect(w.gone).toEqual({ since: 2, at: 2 + 2 * WINDOW, refusals: 3 });
  });

  it('is not held back by a try that started as the first refusal came, or after it', () => {
    const w = new RefusalWatch(WINDOW);
    expect(w.end(w.start(0), true, 2)).toBe(false);
    // In flight, started as the first refusal came and after it: neither started before.
    w.start(2);
    w.start(3);
    expect(w.end(w.start(4), true, 2 + WINDOW)).toBe(true);
    expect(w.gone).toEqual({ since: 2, at: 2 + WINDOW, refusals: 2 });
  });

  it('lets the load client accept an order whose POST the API held while it refused every other connection, before it stops', async () => {
    // The stand-in holds the first POST, stops listening (every later try refused) and answers
    // the held one 202 a second later, ten windows on. With the rule, no order is done (given
    // up) before that answer; the cut-off comes after it.
    let held: { res: ServerResponse; key: string } | undefined;
    let doneBeforeAnswer: number | undefined;
    let done = 0;
    const sockets = new Set<Socket>();
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = String(req.headers['idempotency-key']);
        // A request that came in beside the held one, before the close: cut (a lost answer).
        if (held !== undefined) {
          req.socket.destroy();
          return;
        }
        held = { res, key };
        server.close();
        for (const s of sockets) if (s !== req.socket) s.destroy();
        setTimeout(() => {
          doneBeforeAnswer = done;
          res.writeHead(202, { 'content-type': 'application/json', connection: 'close' });
          res.end(JSON.stringify({ orderId: key }));
        }, 10 * WINDOW);
      });
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const s = await runLoad({
        apiUrl: url,
        orders: 6,
        customers: 2,
        concurrency: 2,
        rate: 0,
        retryRate: 0,
        seed: 2,
        runId: 'held',
        backoff: { baseMs: 1, capMs: 4 },
        // Far past the held answer: no order's retries run out before it.
        retryDeadlineMs: 20_000,
        lookupDeadlineMs: 500,
        unreachableWindowMs: WINDOW,
        onProgress: (p) => {
          done = p.done;
        },
      });
      expect(held).toBeDefined();
      // Nothing given up while the held POST was in flight: the other worker's order was still
      // being retried, refused every time.
      expect(doneBeforeAnswer).toBe(0);
      expect(s.orderIds).toContain(held!.key);
      expect(s.accepted).toBe(1);
      expect(s.unreachable).toBeDefined();
      expect(s.givenUp.map((g) => g.why)).toEqual(Array(5).fill('API unreachable'));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 60_000);
});
