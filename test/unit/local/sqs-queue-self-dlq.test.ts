import { Clock } from '../../../local/sqs/clock';
import { FaultDice, PRESETS } from '../../../local/sqs/faults';
import { Queue } from '../../../local/sqs/queue';

/**
 * A queue that is its own DLQ (docs/fidelity.md): a receive moves a message past
 * maxReceiveCount to the queue's own tail, once. The receive went on to meet the copy it had just
 * put there and moved it again, for as long as the clock stayed on the receive's millisecond (a
 * copy from a later one is not yet visible to it) or until the queue compacted its list: with the
 * clock held, 1,026 moves a receive for one message.
 */
describe('a standard queue that is its own DLQ', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('moves a message past maxReceiveCount once a receive, and still delivers the others', () => {
    // Arrange: one message received once (maxReceiveCount 1), then one never received.
    const clock = new Clock();
    const queue = new Queue('self', { VisibilityTimeout: '0' }, '000000000000', 'us-east-1', clock);
    queue.attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: queue.arn,
      maxReceiveCount: 1,
    });
    const dice = new FaultDice(1);
    let moves = 0;
    const receive = () =>
      queue.receive({
        max: 10,
        visibilityTimeout: 0,
        shortPoll: true,
        faults: PRESETS.none,
        dice,
        moveToDlq: (m) => {
          moves++;
          queue.adopt({ ...m, deadLetterSourceArn: queue.arn }, 'dead-letter', false);
          return true;
        },
      });
    queue.send({ body: 'poison', attributes: {}, senderId: 'test' });
    expect(receive().map((c) => c.message.body)).toEqual(['poison']);
    queue.send({ body: 'fresh', attributes: {}, senderId: 'test' });

    // Act
    const first = receive().map((c) => c.message.body);
    const movesFirst = moves;
    const second = receive().map((c) => c.message.body);

    // Assess
    expect(first).toEqual(['fresh']);
    expect(movesFirst).toBe(1);
    // Both are past maxReceiveCount now: each moves once.
    expect(second).toEqual([]);
    expect(moves).toBe(3);
    expect(queue.counts().visible).toBe(2);
  });
});
