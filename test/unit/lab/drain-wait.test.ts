import { DRAIN_POLL_MS, SKIP_AFTER_IDLE_POLLS, waitForEmptyQueues } from '../../../lab/local-run';
import { skipVisibilityWhenIdle } from '../../../local/cloud';

/**
 * The local run's wait for empty queues (lab/local-run.ts), on jest's clock: when it may end and
 * how soon after the queues empty it does. The report's quiet polls follow it (their rule is
 * services/report's drain.ts, tested there).
 */
describe('the wait for empty queues of a local run', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  const wait = (o: { depth: () => number; idle?: () => boolean; onPoll?: () => Promise<void> }) =>
    waitForEmptyQueues({
      kinds: ['fifo', 'standard'],
      timeoutMs: 60_000,
      intervalMs: DRAIN_POLL_MS,
      ...(o.idle ? { idle: o.idle } : {}),
      depth: async () => o.depth(),
      onPoll: o.onPoll ?? (async () => undefined),
    });

  it('does not end while a batch is in flight, though both queues read empty', async () => {
    let inFlight = 1;
    const done = wait({ depth: () => 0, idle: () => inFlight === 0 });
    let ended = false;
    void done.then(() => {
      ended = true;
    });
    await jest.advanceTimersByTimeAsync(10 * DRAIN_POLL_MS);
    expect(ended).toBe(false);
    inFlight = 0;
    await jest.advanceTimersByTimeAsync(DRAIN_POLL_MS);
    expect(ended).toBe(true);
    expect(await done).toBeGreaterThanOrEqual(10 * DRAIN_POLL_MS);
  });

  it('ends within 100 ms of the queues emptying, where it polled every 500 ms', async () => {
    const emptyAt = Date.now() + 1050;
    const done = wait({ depth: () => (Date.now() >= emptyAt ? 0 : 3) });
    await jest.advanceTimersByTimeAsync(2000);
    expect(await done).toBeLessThanOrEqual(1050 + 100);
  });

  it('skips a visibility timeout after half a second with nothing in flight, where it waited 1.5 s', async () => {
    const start = Date.now();
    let skippedAfter: number | undefined;
    const skip = skipVisibilityWhenIdle(
      () => 0,
      () => {
        skippedAfter = Date.now() - start;
      },
      SKIP_AFTER_IDLE_POLLS,
    );
    // A message in flight that only the skip makes visible (and then taken and deleted).
    const done = wait({ depth: () => (skippedAfter === undefined ? 1 : 0), onPoll: skip });
    await jest.advanceTimersByTimeAsync(2000);
    await done;
    expect(skippedAfter).toBeLessThanOrEqual(500);
  });
});
