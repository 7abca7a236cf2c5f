import { deletedRecently, noteDeleted } from '../../../local/sqs/actions/queues';
import type { Clock } from '../../../local/sqs/clock';

/** A clock that stands still between advances (the real one also moves with Date.now). */
function stillClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  } as unknown as Clock & { advance(ms: number): void };
}

/**
 * The names DeleteQueue gave up, kept for QueueDeletedRecently: only those deleted within the
 * last 60 s on the emulator's clock, however many names a client creates and deletes in a loop.
 */
describe('the deleted queue names the SQS emulator remembers', () => {
  it('forgets every name deleted 60 s or more before the next delete, so a create-delete loop holds one minute of names', () => {
    // Prepare: 10,000 names deleted at once, as a hostile client looping CreateQueue/DeleteQueue.
    const ctx = { clock: stillClock(), deletedAt: new Map<string, number>() };
    for (let i = 0; i < 10_000; i++) noteDeleted(ctx, `loop-${i}`);
    expect(ctx.deletedAt.size).toBe(10_000);
    expect(deletedRecently(ctx, 'loop-0')).toBe(true);

    // Act: a minute later, one more delete.
    ctx.clock.advance(60_000);
    noteDeleted(ctx, 'late');

    // Assess: only the late name is held; the others are free, as they were already by time.
    expect([...ctx.deletedAt.keys()]).toEqual(['late']);
    expect(deletedRecently(ctx, 'loop-0')).toBe(false);
    expect(deletedRecently(ctx, 'late')).toBe(true);
  });

  it('keeps a name deleted within the minute, and holds it by its latest delete', () => {
    const ctx = { clock: stillClock(), deletedAt: new Map<string, number>() };
    noteDeleted(ctx, 'a');
    ctx.clock.advance(30_000);
    noteDeleted(ctx, 'b');
    ctx.clock.advance(30_000);
    noteDeleted(ctx, 'c');
    // a is 60 s old: forgotten; b (30 s) and c (0 s) held, oldest first.
    expect([...ctx.deletedAt.keys()]).toEqual(['b', 'c']);
    ctx.clock.advance(30_000);
    // b deleted again (it had been created again once its minute passed): held from now.
    noteDeleted(ctx, 'b');
    expect([...ctx.deletedAt.keys()]).toEqual(['c', 'b']);
    ctx.clock.advance(59_999);
    expect(deletedRecently(ctx, 'b')).toBe(true);
    expect(deletedRecently(ctx, 'c')).toBe(false);
  });
});
