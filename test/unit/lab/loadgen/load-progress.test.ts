import { type LoadProgress, runLoad } from '../../../../lab/loadgen/run-load';
import { standInApi } from '../given-up-run';

/**
 * Accepted counts an order at its first 202, done once its client retries are sent too: with
 * several workers, progress reported as one order finishes can count another as accepted and not
 * done. The progress says how many are so, and every report adds up.
 */
describe('load progress', () => {
  it('reports the accepted orders still sending client retries: done = accepted - those', async () => {
    const api = await standInApi(() => 'accept');
    const seen: LoadProgress[] = [];
    try {
      const s = await runLoad({
        apiUrl: api.url,
        orders: 60,
        customers: 6,
        concurrency: 4,
        rate: 0,
        retryRate: 1,
        seed: 3,
        runId: 'progress-sums',
        backoff: { baseMs: 1, capMs: 4 },
        retryDeadlineMs: 5_000,
        lookupDeadlineMs: 500,
        onProgress: (p) => seen.push({ ...p }),
      });
      expect(s.accepted).toBe(60);
      expect(s.errors).toBe(0);
    } finally {
      await api.close();
    }
    expect(seen).toHaveLength(60);
    for (const p of seen) expect(p.done).toBe(p.accepted - (p.sendingRetries ?? Number.NaN));
    expect(seen.at(-1)).toMatchObject({ done: 60, accepted: 60, sendingRetries: 0 });
  }, 60_000);
});
