import dns from 'node:dns';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main as load } from '../../../../lab/loadgen/cli';
import { type GivenUpOrder, runLoad } from '../../../../lab/loadgen/run-load';
import { cliScratch } from '../../../support/cli-scratch';
import { closingApi } from '../given-up-run';

/**
 * An API that goes away for good mid-run (its server closed: every connection refused): the
 * load client stops sending once every try has been refused for the unreachable window, and
 * gives up every order not accepted as 'API unreachable', most of them never sent, instead of
 * retrying each one for its whole retry deadline (orders / concurrency x 120 s).
 */
describe('the load client when the API goes away for good', () => {
  it("stops sending after the window of refusals and gives up the rest as 'API unreachable', not each after its retry deadline", async () => {
    const api = await closingApi(9);
    try {
      const s = await runLoad({
        apiUrl: api.url,
        orders: 40,
        customers: 4,
        concurrency: 4,
        rate: 0,
        retryRate: 0,
        seed: 3,
        runId: 'gone-1',
        backoff: { baseMs: 1, capMs: 4 },
        // Each order's own deadline is ten windows: with no window, the 32 orders left after the
        // close would each be retried for 2 s, 4 at a time, every one given up 'retries ran out'.
        retryDeadlineMs: 2_000,
        lookupDeadlineMs: 1_000,
        unreachableWindowMs: 200,
      });
      // Every order is accepted or given up; only the 8 answered before the close are accepted.
      expect(s.accepted).toBe(8);
      expect(s.accepted + s.givenUp.length).toBe(40);
      expect(s.givenUp.map((g) => g.why)).toEqual(Array(32).fill('API unreachable'));
      // At most one order a worker was being tried when the API was found gone: the others were
      // never sent.
      const tried = s.givenUp.filter((g) => g.attempts > 0);
      expect(tried.length).toBeGreaterThanOrEqual(1);
      expect(tried.length).toBeLessThanOrEqual(4);
      for (const g of s.givenUp.filter((g) => g.attempts === 0)) {
        expect(g).toEqual({
          idempotencyKey: g.idempotencyKey,
          attempts: 0,
          why: 'API unreachable',
          last: 'not sent',
        });
      }
      // A tried one's last try was refused; it is not asked of the API (gone): not asked when a
      // try of it got through (the 9th, cut by the close), never reached it otherwise.
      for (const g of tried) {
        expect(g.last).toBe('network error ECONNREFUSED');
        expect([undefined, 'not asked']).toContain(g.atApi);
      }
      expect(s.unreachable).toEqual({
        sinceMs: expect.any(Number),
        atMs: expect.any(Number),
        refusals: expect.any(Number),
        windowMs: 200,
      });
      expect(s.unreachable!.refusals).toBeGreaterThanOrEqual(2);
      // The stand-in got the 9 POSTs up to its close, and no other.
      expect(api.posts()).toBe(9);
      expect(s.errors).toBe(32);
    } finally {
      await api.close();
    }
  }, 60_000);

  it('stops as well when the url names the API by a host name of two addresses, the first with no route and the other refusing', async () => {
    // localhost as ::1 and 127.0.0.1 where ::1 has no route: Node tries both and fails with an
    // AggregateError whose code is the first address's (ENETUNREACH here: a TCP connect to a
    // multicast address has none), the second's ECONNREFUSED inside it.
    const api = await closingApi(5);
    const { port } = new URL(api.url);
    const lookup = dns.lookup;
    const spy = jest.spyOn(dns, 'lookup').mockImplementation(((
      host: string,
      options: unknown,
      callback?: (...args: unknown[]) => void,
    ) => {
      const cb = (typeof options === 'function' ? options : callback) as (...a: unknown[]) => void;
      const opts = (typeof options === 'object' && options !== null ? options : {}) as {
        all?: boolean;
      };
      if (host !== 'api.test')
        return (lookup as (...a: unknown[]) => void)(host, options, callback);
      const all = [
        { address: '224.0.0.1', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ];
      if (opts.all) cb(null, all);
      else cb(null, all[0]!.address, 4);
    }) as unknown as typeof dns.lookup);
    try {
      const s = await runLoad({
        apiUrl: `http://api.test:${port}`,
        orders: 20,
        customers: 2,
        concurrency: 2,
        rate: 0,
        retryRate: 0,
        seed: 4,
        runId: 'gone-two-addresses',
        backoff: { baseMs: 1, capMs: 4 },
        retryDeadlineMs: 2_000,
        lookupDeadlineMs: 500,
        unreachableWindowMs: 200,
      });
      // The 4 answered before the close were reached through the second address.
      expect(s.accepted).toBe(4);
      expect(s.unreachable).toBeDefined();
      expect(s.givenUp.map((g) => g.why)).toEqual(Array(16).fill('API unreachable'));
      for (const g of s.givenUp.filter((g) => g.attempts > 0)) {
        expect(g.last).toBe('network error ECONNREFUSED');
      }
    } finally {
      spy.mockRestore();
      await api.close();
    }
  }, 60_000);

  describe('npm run load', () => {
    const s = cliScratch('load-unreachable-');

    it('ends with one error line, exit 1 and every order not accepted in given-up.json', async () => {
      const api = await closingApi(5);
      const out = join(s.dir, 'run');
      let code: number;
      try {
        code = await load([
          ...['--api', api.url, '--orders', '30', '--customers', '3', '--seed', '5'],
          ...['--run', 'gone-cli', '--retry-rate', '0', '--concurrency', '2', '--out', out],
          ...['--retry-deadline', '5', '--unreachable-after', '0.2'],
        ]);
      } finally {
        await api.close();
      }
      expect(code).toBe(1);
      const path = join(out, 'given-up.json');
      const written = JSON.parse(await readFile(path, 'utf8')) as GivenUpOrder[];
      expect(written).toHaveLength(26);
      expect(new Set(written.map((g) => g.why))).toEqual(new Set(['API unreachable']));
      const errors = s.stderr
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('error: '));
      expect(errors).toEqual([
        expect.stringMatching(
          new RegExp(
            `^error: the API at ${api.url.replace(/\./g, '\\.')} could not be reached for 0\\.2 s \\(every connection refused or with no route: \\d+ tries, none answered, from \\d+\\.\\d s into the load\\): stopped sending, 26 orders given up as 'API unreachable'$`,
          ),
        ),
      ]);
      const text = s.stdout.join('');
      expect(text).toMatch(/^accepted: {2}4 of 30 orders$/m);
      expect(text).toContain(
        'given up by the client: 26 orders got no 202 (26 of them given up when every connection to the API was refused or had no route); 0 of them held by the API all the same (counted accepted), 26 not accepted by the API',
      );
      expect(text).toMatch(
        /^ {2}o-\w+-\d+-\d+: API unreachable \(every connection to it was refused or had no route; the client stopped sending\) before its first try; never sent$/m,
      );
    }, 60_000);
  });
});
