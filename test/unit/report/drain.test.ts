import {
  type DrainSnapshot,
  DrainTimeoutError,
  waitForDrain,
} from '../../../services/report/src/domain/drain';

function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

describe('waitForDrain', () => {
  it('returns once the queues are empty and the ledger stopped growing for two polls', async () => {
    const snaps: DrainSnapshot[] = [
      { queued: { fifo: 5, standard: 3 }, ledgerItems: 10 },
      { queued: { fifo: 0, standard: 0 }, ledgerItems: 20 },
      { queued: { fifo: 0, standard: 0 }, ledgerItems: 22 },
      { queued: { fifo: 0, standard: 0 }, ledgerItems: 22 },
      { queued: { fifo: 0, standard: 0 }, ledgerItems: 22 },
      { queued: { fifo: 9, standard: 9 }, ledgerItems: 99 },
    ];
    let i = 0;
    const progress: number[] = [];
    const c = fakeClock();
    const last = await waitForDrain({
      poll: async () => snaps[i++]!,
      timeoutMs: 60_000,
      intervalMs: 100,
      ...c,
      onProgress: (s) => progress.push(s.ledgerItems),
    });
    expect(last.ledgerItems).toBe(22);
    expect(i).toBe(5);
    expect(progress).toEqual([10, 20, 22, 22, 22]);
  });

  it('does not count its first poll as quiet: nothing yet to compare the ledger with', async () => {
    // Everything empty and unchanged from the start: the first poll only sets the baseline, so
    // two quiet polls take three.
    let polls = 0;
    await waitForDrain({
      poll: async () => {
        polls++;
        return { queued: { fifo: 0, standard: 0 }, ledgerItems: 7 };
      },
      timeoutMs: 60_000,
      intervalMs: 100,
      ...fakeClock(),
    });
    expect(polls).toBe(3);
  });

  it('needs its quiet polls in a row: a zero between polls that count messages starts nothing', async () => {
    // The ledger stands still throughout; the depths read 0, 1, 0, 2, 0, 0. Only the last two
    // zeros are in a row (the first poll is a baseline), so the sixth poll ends the wait.
    const depths = [0, 1, 0, 2, 0, 0, 0];
    let i = 0;
    const last = await waitForDrain({
      poll: async () => ({ queued: { standard: depths[i++]! }, ledgerItems: 4 }),
      timeoutMs: 60_000,
      intervalMs: 1000,
      ...fakeClock(),
    });
    expect(i).toBe(6);
    expect(last.queued.standard).toBe(0);
  });

  it('with quietMs, ends only once its quiet polls span that long, and a poll that is not quiet starts the span again', async () => {
    // Polls every 5 s; the ledger stands still; a depth of 1 at the fourth poll (15 s).
    const c = fakeClock();
    const polledAt: number[] = [];
    const last = await waitForDrain({
      poll: async () => {
        polledAt.push(c.now());
        return { queued: { standard: polledAt.length === 4 ? 1 : 0 }, ledgerItems: 4 };
      },
      timeoutMs: 300_000,
      intervalMs: 5000,
      quietMs: 60_000,
      ...c,
    });
    expect(last.queued.standard).toBe(0);
    // The first quiet poll after the depth of 1 is at 20 s: the wait ends at the poll 60 s on.
    expect(polledAt.at(-1)).toBe(80_000);
  });

  it('with quietMs, says in its timeout error how long the queues were quiet of what it needs', async () => {
    const err = await waitForDrain({
      poll: async () => ({ queued: { fifo: 0, standard: 0 }, ledgerItems: 1 }),
      timeoutMs: 30_000,
      intervalMs: 5000,
      quietMs: 60_000,
      ...fakeClock(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrainTimeoutError);
    expect((err as Error).message).toBe(
      'queues did not drain within 30 s (fifo=0 standard=0, ledger items 1; quiet for 25 s of the 60 s it needs); rerun later or pass --no-wait',
    );
  });

  it('gives up at its timeout, not a poll later', async () => {
    // Polls at 0, 1000, 2000 and 3000 ms; at 3000 the 3 s are up.
    let polls = 0;
    const err = await waitForDrain({
      poll: async () => {
        polls++;
        return { queued: { fifo: 0, standard: 1 }, ledgerItems: 1 };
      },
      timeoutMs: 3000,
      intervalMs: 1000,
      ...fakeClock(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrainTimeoutError);
    expect(polls).toBe(4);
  });

  it('throws a one-line timeout error naming what is still queued', async () => {
    const c = fakeClock();
    const err = await waitForDrain({
      poll: async () => ({ queued: { fifo: 2, standard: 0 }, ledgerItems: 1 }),
      timeoutMs: 3000,
      intervalMs: 1000,
      ...c,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrainTimeoutError);
    expect((err as Error).message).toBe(
      'queues did not drain within 3 s (fifo=2 standard=0, ledger items 1); rerun later or pass --no-wait',
    );
    expect((err as DrainTimeoutError).expose).toBe(true);
  });
});
