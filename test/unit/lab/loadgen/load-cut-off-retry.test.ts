import { LOAD_SPEC, main as load } from '../../../../lab/loadgen/cli';
import type { LoadPlan } from '../../../../lab/loadgen/domain/plan';
import { runLoad } from '../../../../lab/loadgen/run-load';
import { cliScratch } from '../../../support/cli-scratch';
import { closingApi } from '../given-up-run';

// The plan of run 'cut-three' gives its one order three client retries (the planner gives at most
// one): a client retry cut off by the API going away leaves later ones of the same order.
jest.mock('../../../../lab/loadgen/domain/plan', () => {
  const actual = jest.requireActual('../../../../lab/loadgen/domain/plan');
  return {
    ...actual,
    planLoad: (o: { runId: string }): LoadPlan => {
      const plan = actual.planLoad(o) as LoadPlan;
      if (o.runId !== 'cut-three') return plan;
      return {
        ...plan,
        customers: plan.customers.map((l) => l.map((x) => ({ ...x, clientRetries: 3 }))),
        totalClientRetries: plan.totalOrders * 3,
      };
    },
  };
});

/**
 * The API goes away (its server closed: every connection refused) when only client retries of
 * accepted orders are left: the unreachable cut-off fires during a client retry. That retry was
 * counted and never checked, later ones skipped uncounted, no order given up: no `error:` line
 * and exit 0.
 */
describe('the unreachable cut-off during a client retry', () => {
  const options = (apiUrl: string, runId: string, orders: number) => ({
    apiUrl,
    orders,
    customers: 1,
    concurrency: 1,
    rate: 0,
    retryRate: 1,
    seed: 9,
    runId,
    backoff: { baseMs: 1, capMs: 4 },
    retryDeadlineMs: 2_000,
    lookupDeadlineMs: 500,
    unreachableWindowMs: 200,
  });

  it('counts the client retry in flight as not answered (an error), and the refused tries apart from the requests sent', async () => {
    // POSTs: order 1, its client retry, order 2, its client retry (the 4th, cut by the close).
    const api = await closingApi(4);
    try {
      const s = await runLoad(options(api.url, 'cut-last', 2));
      expect(s.unreachable).toBeDefined();
      expect(s.accepted).toBe(2);
      expect(s.givenUp).toEqual([]);
      expect(s.retries).toBe(2);
      expect(s.retriesUnanswered).toBe(1);
      expect(s.retriesNotMade).toBe(0);
      expect(s.errors).toBe(1);
      expect(s.errorSamples).toEqual([
        expect.stringMatching(
          /^client retry of o-\w+-0-2: not answered, the API was unreachable \(last network error ECONNREFUSED\)$/,
        ),
      ]);
      // Only the 4 POSTs the stand-in got are requests sent; the refused tries are counted apart.
      expect(api.posts()).toBe(4);
      expect(s.sent).toBe(4);
      expect(s.refused).toBeGreaterThanOrEqual(2);
      expect(s.refused).toBe(s.unreachable!.refusals);
    } finally {
      await api.close();
    }
  }, 60_000);

  it("counts an order's later client retries as not made", async () => {
    // POSTs: the order, its first client retry (the 2nd, cut by the close); 2 more planned.
    const api = await closingApi(2);
    try {
      const s = await runLoad(options(api.url, 'cut-three', 1));
      expect(s.unreachable).toBeDefined();
      expect(s.accepted).toBe(1);
      expect(s.retries).toBe(1);
      expect(s.retriesUnanswered).toBe(1);
      expect(s.retriesNotMade).toBe(2);
      expect(api.posts()).toBe(2);
    } finally {
      await api.close();
    }
  }, 60_000);

  describe('npm run load', () => {
    const s = cliScratch('load-cut-off-retry-');

    it('says so in one error line and the summary, and exits 1', async () => {
      const api = await closingApi(4);
      let code: number;
      try {
        code = await load([
          ...['--api', api.url, '--orders', '2', '--customers', '1', '--seed', '9'],
          ...['--run', 'cut-cli', '--retry-rate', '1', '--concurrency', '1', '--out', s.dir],
          ...['--retry-deadline', '5', '--unreachable-after', '0.2'],
        ]);
      } finally {
        await api.close();
      }
      expect(code).toBe(1);
      const errors = s.stderr
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('error: '));
      expect(errors).toEqual([
        expect.stringMatching(
          /^error: the API at \S+ could not be reached for 0\.2 s \(every connection refused or with no route: \d+ tries, none answered, from \d+\.\d s into the load\): stopped sending, 0 orders given up as 'API unreachable', 1 client retries not answered$/,
        ),
      ]);
      const text = s.stdout.join('');
      expect(text).toMatch(
        /^sent: {6}4 requests, \d+ connections refused or with no route \(no request sent\)$/m,
      );
      expect(text).toMatch(
        /^retries: {3}2 client retries \(0 answered with a different order, 1 not answered: the API was unreachable\), \d+ backoff retries, 0 planned client retries not made$/m,
      );
      expect(text).toMatch(/^ {2}error: client retry of o-\w+-0-2: not answered/m);
    }, 60_000);

    it("--help's --retry-deadline names every answer the client retries, a 409 with Retry-After included", () => {
      expect(LOAD_SPEC.options['retry-deadline']!.description).toContain(
        'timeout, 429, 500, 502, 503, 504 or a 409 with Retry-After',
      );
    });
  });
});
