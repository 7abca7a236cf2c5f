import { networkErrorOf, OrdersApi } from '../../../../lab/loadgen/adapters/orders-api';
import { reachedNothing, UNREACHABLE_ERRORS } from '../../../../lab/loadgen/domain/unreachable';
import { runLoad } from '../../../../lab/loadgen/run-load';

/**
 * Which tries count toward the load client's unreachable cut-off (--unreachable-after): those
 * that reached nothing, no request sent: a connection refused (ECONNREFUSED), no route to the
 * host (EHOSTUNREACH) or to its network (ENETUNREACH). The last two had not counted: an API whose
 * machine or network was gone had every order retried to its deadline.
 */
describe('the tries the unreachable cut-off counts', () => {
  it.each([
    ['ECONNREFUSED', true],
    ['EHOSTUNREACH', true],
    ['ENETUNREACH', true],
    // A name that does not resolve: a DNS problem, not the API.
    ['ENOTFOUND', false],
    ['EAI_AGAIN', false],
    // A connection may have been made, the request sent: the API may be there.
    ['ECONNRESET', false],
    ['ETIMEDOUT', false],
    ['TimeoutError', false],
    ['EPIPE', false],
    ['EADDRNOTAVAIL', false],
    [undefined, false],
  ])('%s: %s', (code, counts) => {
    expect(reachedNothing(code)).toBe(counts);
  });

  it('names exactly those three', () => {
    expect([...UNREACHABLE_ERRORS].sort()).toEqual(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);
  });

  /** Node's error for a name of several addresses none of which took the connection. */
  const aggregate = (...codes: string[]) =>
    Object.assign(
      new AggregateError(
        codes.map((code) => Object.assign(new Error(code), { code })),
        'connect failed',
      ),
      { code: codes[0] },
    );

  it.each([
    // One refused: ECONNREFUSED (e884c9e), whatever the others did.
    [['ENETUNREACH', 'ECONNREFUSED'], 'ECONNREFUSED'],
    [['ETIMEDOUT', 'ECONNREFUSED'], 'ECONNREFUSED'],
    // Every address with no route: the first's code, which counts.
    [['ENETUNREACH', 'EHOSTUNREACH'], 'ENETUNREACH'],
    // One with no route, another whose attempt ran out: the latter, which does not count.
    [['ENETUNREACH', 'ETIMEDOUT'], 'ETIMEDOUT'],
    [['EHOSTUNREACH', 'EADDRNOTAVAIL'], 'EADDRNOTAVAIL'],
    // The first address's code when it does not count, as before.
    [['EADDRNOTAVAIL', 'ENETUNREACH'], 'EADDRNOTAVAIL'],
  ])('a try at addresses failing with %j is %s', (codes, named) => {
    const name = networkErrorOf(aggregate(...codes));
    expect(name).toBe(named);
    expect(reachedNothing(name)).toBe(
      codes.includes('ECONNREFUSED') || codes.every(reachedNothing),
    );
  });

  it.each(['EHOSTUNREACH', 'ENETUNREACH'])(
    'stops the load when every try fails with %s for the window, as for refused connections',
    async (code) => {
      // Every POST's connection fails with `code` (no request sent). With a 2 s retry deadline
      // and a 0.2 s window, the cut-off comes first; before, every order's retries ran out.
      const post = jest
        .spyOn(OrdersApi.prototype, 'post')
        .mockImplementation(async () => ({ status: 0, body: undefined, networkError: code }));
      // The look-ups after a load (none once the API is found gone) fail the same way.
      const probe = jest
        .spyOn(OrdersApi.prototype, 'probe')
        .mockImplementation(async () => ({ status: 0, body: undefined, networkError: code }));
      try {
        const s = await runLoad({
          apiUrl: 'http://api.test',
          orders: 6,
          customers: 2,
          concurrency: 2,
          rate: 0,
          retryRate: 0,
          seed: 1,
          runId: 'no-route',
          backoff: { baseMs: 1, capMs: 4 },
          retryDeadlineMs: 2_000,
          unreachableWindowMs: 200,
          lookupDeadlineMs: 500,
        });
        expect(s.unreachable).toBeDefined();
        expect(s.givenUp.map((g) => g.why)).toEqual(Array(6).fill('API unreachable'));
        // No request sent: each try is counted apart from the requests.
        expect(s.sent).toBe(0);
        expect(s.refused).toBe(post.mock.calls.length);
        expect(probe).not.toHaveBeenCalled();
      } finally {
        post.mockRestore();
        probe.mockRestore();
      }
    },
    // Before, each customer's 3 orders ran out one after another: 6 s, past jest's 5 s default.
    30_000,
  );
});
