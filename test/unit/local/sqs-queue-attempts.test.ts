import { Clock } from '../../../local/sqs/clock';
import { FaultDice, PRESETS } from '../../../local/sqs/faults';
import { LIMITS, MAX_RECEIVE_ATTEMPTS_KEPT, Queue } from '../../../local/sqs/queue';

/**
 * A FIFO queue remembers each ReceiveRequestAttemptId for 5 minutes. It swept expired ones only
 * every 5 minutes, so it held up to two windows of them, and without any bound: the map grew
 * with the receive rate times up to 10 minutes. Counted by the entries the queue holds (its
 * `attempts` map), not by time.
 */
describe('the ReceiveRequestAttemptIds a FIFO queue remembers', () => {
  function fifoQueue(clock: Clock): Queue {
    const queue = new Queue('attempts.fifo', {}, '000000000000', 'us-east-1', clock);
    queue.send({ body: 'm', attributes: {}, groupId: 'g', dedupId: 'd', senderId: 'test' });
    return queue;
  }
  // The queue's private map, read as the test's evidence.
  const attempts = (queue: Queue) =>
    (queue as unknown as { attempts: Map<string, unknown> }).attempts;
  const kept = (queue: Queue): number => attempts(queue).size;
  const dice = new FaultDice(1);
  // VisibilityTimeout 0: the one message is visible again at once, so each receive takes it.
  const receive = (queue: Queue, attemptId: string) =>
    queue.receive({
      max: 1,
      visibilityTimeout: 0,
      shortPoll: true,
      attemptId,
      faults: PRESETS.none,
      dice,
    });

  it('lets each go at the first receive after its own 5 minutes', () => {
    // Arrange: one attempt at 0, one at 1 minute, one just after 5 minutes.
    const clock = new Clock();
    const queue = fifoQueue(clock);
    expect(receive(queue, 'a0')).toHaveLength(1);
    clock.advance(60_000);
    expect(receive(queue, 'a1')).toHaveLength(1);
    clock.advance(LIMITS.receiveAttemptWindowMs - 60_000 + 1);
    expect(receive(queue, 'a5')).toHaveLength(1);

    // Act: at 9 minutes, a1's window (to 6 minutes) has ended.
    clock.advance(4 * 60_000);
    expect(receive(queue, 'a9')).toHaveLength(1);

    // Assess: a5 and a9 only; the sweep every 5 minutes still held a1 here.
    expect(kept(queue)).toBe(2);
  });

  it(`keeps at most ${MAX_RECEIVE_ATTEMPTS_KEPT} within one window, the latest ones`, () => {
    // Arrange
    const clock = new Clock();
    const queue = fifoQueue(clock);

    // Act: 1.5 times the bound, all within a minute.
    const n = MAX_RECEIVE_ATTEMPTS_KEPT * 1.5;
    for (let i = 0; i < n; i++) receive(queue, `a${i}`);

    // Assess: the bound, and the latest attempt still replays its receive.
    expect(kept(queue)).toBe(MAX_RECEIVE_ATTEMPTS_KEPT);
    expect(attempts(queue).has(`a${n - 1}`)).toBe(true);
    expect(attempts(queue).has('a0')).toBe(false);
  });

  it('logs one line a minute while the bound forgets ids early, with the count', () => {
    // Arrange
    const clock = new Clock();
    const queue = fifoQueue(clock);
    const lines: { msg: string; data?: object }[] = [];
    queue.log = (msg, data) => lines.push({ msg, ...(data ? { data } : {}) });

    // Act: 5 past the bound within a minute, then one more a minute later.
    for (let i = 0; i < MAX_RECEIVE_ATTEMPTS_KEPT + 5; i++) receive(queue, `a${i}`);
    const first = lines.length;
    clock.advance(60_000);
    receive(queue, 'later');

    // Assess: one line at the first id forgotten, the next a minute later counting the rest.
    expect(first).toBe(1);
    expect(lines.map((l) => l.data)).toEqual([
      { queue: 'attempts.fifo', kept: MAX_RECEIVE_ATTEMPTS_KEPT, forgotten: 1 },
      { queue: 'attempts.fifo', kept: MAX_RECEIVE_ATTEMPTS_KEPT, forgotten: 5 },
    ]);
  });
});
