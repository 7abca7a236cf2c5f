import { Clock } from '../../../local/sqs/clock';
import { FaultDice, PRESETS } from '../../../local/sqs/faults';
import { Queue } from '../../../local/sqs/queue';

/**
 * Every FIFO message not deleted has its group's record. A message going in flight without one
 * was left uncounted, silently: its group's next message could then go out while it is held.
 * That state is an internal error now, loud, rather than a silent one.
 */
describe('a FIFO message going in flight without its group record', () => {
  it('is an internal error, not silently left uncounted', () => {
    // Arrange: a message in flight, then (a mistake elsewhere) its group's record gone.
    const queue = new Queue('q.fifo', {}, '000000000000', 'us-east-1', new Clock());
    queue.send({ body: 'a', attributes: {}, groupId: 'g', dedupId: 'a', senderId: 'test' });
    const [got] = queue.receive({
      max: 1,
      visibilityTimeout: 30,
      shortPoll: true,
      faults: PRESETS.none,
      dice: new FaultDice(1),
    });
    (queue as unknown as { groups: Map<string, unknown> }).groups.delete('g');

    // Act + Assess: a visibility change places it in flight again.
    expect(() => queue.changeVisibility(got!.receipt, 60)).toThrow(
      /in flight without a record of its group/,
    );
  });
});
