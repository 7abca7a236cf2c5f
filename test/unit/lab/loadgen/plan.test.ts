import fc from 'fast-check';
import { backoffMs, isRetryableStatus, planLoad } from '../../../../lab/loadgen/domain/plan';
import { CustomerScheduler, slotTime } from '../../../../lab/loadgen/domain/schedule';
import { orderIdSchema, validateOrder } from '../../../../shared/src/order';

const SEED = 99;
console.log(`fast-check seed ${SEED}`);

describe('planLoad', () => {
  it('gives each customer consecutive sequences starting at 1 and spreads orders evenly', () => {
    const plan = planLoad({ runId: 'r', orders: 23, customers: 5, retryRate: 0, seed: 1 });
    expect(plan.customers.map((l) => l.length)).toEqual([5, 5, 5, 4, 4]);
    for (const list of plan.customers) {
      expect(list.map((o) => o.body.sequence)).toEqual(list.map((_, i) => i + 1));
      expect(new Set(list.map((o) => o.body.customerId)).size).toBe(1);
    }
    expect(new Set(plan.customers.map((l) => l[0]!.body.customerId)).size).toBe(5);
  });

  it('is decided by the seed alone', () => {
    const a = planLoad({ runId: 'r', orders: 50, customers: 4, retryRate: 0.3, seed: 7 });
    const b = planLoad({ runId: 'r', orders: 50, customers: 4, retryRate: 0.3, seed: 7 });
    const c = planLoad({ runId: 'r', orders: 50, customers: 4, retryRate: 0.3, seed: 8 });
    expect(b).toEqual(a);
    expect(c.customers).not.toEqual(a.customers);
  });

  it('keeps the order contents when only the retry rate changes', () => {
    const a = planLoad({ runId: 'r', orders: 30, customers: 3, retryRate: 0, seed: 3 });
    const b = planLoad({ runId: 'r', orders: 30, customers: 3, retryRate: 1, seed: 3 });
    expect(b.customers.map((l) => l.map((o) => o.body))).toEqual(
      a.customers.map((l) => l.map((o) => o.body)),
    );
    expect(a.totalClientRetries).toBe(0);
    expect(b.totalClientRetries).toBe(30);
  });

  it('retries close to the requested share of orders', () => {
    const plan = planLoad({ runId: 'r', orders: 10_000, customers: 20, retryRate: 0.05, seed: 11 });
    expect(plan.totalClientRetries).toBeGreaterThan(400);
    expect(plan.totalClientRetries).toBeLessThan(600);
  });

  it('produces orders the producer accepts and keys the API allows, for any run id and size', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (runId, orders, customers, seed) => {
          const plan = planLoad({ runId, orders, customers, retryRate: 0.5, seed });
          const all = plan.customers.flat();
          expect(all).toHaveLength(orders);
          expect(new Set(all.map((o) => o.idempotencyKey)).size).toBe(orders);
          for (const o of all) {
            expect(orderIdSchema.safeParse(o.idempotencyKey).success).toBe(true);
            expect(validateOrder(o.body)).toEqual({ ok: true, value: o.body });
          }
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('rejects impossible sizes', () => {
    expect(() => planLoad({ runId: 'r', orders: 1, customers: 0, retryRate: 0, seed: 1 })).toThrow(
      'customers must be at least 1',
    );
    expect(() => planLoad({ runId: 'r', orders: 1, customers: 1, retryRate: 2, seed: 1 })).toThrow(
      'retryRate',
    );
  });
});

describe('backoff and retryable statuses', () => {
  it('grows exponentially under the cap, scaled by the jitter', () => {
    expect(backoffMs(0, 0.999)).toBe(49);
    expect(backoffMs(3, 0.5)).toBe(200);
    expect(backoffMs(20, 0.999)).toBe(4995);
    expect(backoffMs(5, 0)).toBe(0);
  });
  it('retries throttling and unavailability, not client errors', () => {
    expect([429, 500, 503, 502, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 404, 409, 413, 422].some(isRetryableStatus)).toBe(false);
  });
});

describe('CustomerScheduler', () => {
  it('never has one customer in flight twice and hands out each order once, in order', async () => {
    const sizes = [3, 1, 0, 2];
    const s = new CustomerScheduler(sizes);
    const inFlight = new Set<number>();
    const seen: string[] = [];
    const worker = async () => {
      for (;;) {
        const t = await s.take();
        if (!t) return;
        expect(inFlight.has(t.customer)).toBe(false);
        inFlight.add(t.customer);
        seen.push(`${t.customer}:${t.index}`);
        await new Promise((r) => setTimeout(r, 1));
        inFlight.delete(t.customer);
        s.done(t.customer);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(seen.sort()).toEqual(['0:0', '0:1', '0:2', '1:0', '3:0', '3:1']);
    const order0 = seen.filter((x) => x.startsWith('0:'));
    expect(order0).toEqual(['0:0', '0:1', '0:2']);
  });
  it('spaces start times for a rate and does not wait without one', () => {
    expect(slotTime(1000, 10, 5)).toBe(3000);
    expect(slotTime(1000, 10, 0)).toBe(1000);
  });
});
