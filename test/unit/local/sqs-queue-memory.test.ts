import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Clock } from '../../../local/sqs/clock';
import { FaultDice, PRESETS } from '../../../local/sqs/faults';
import { Queue } from '../../../local/sqs/queue';

/**
 * What a queue keeps of messages that are gone. Measured as heap after a full collection, not
 * as time: a FIFO consumer that passes a ReceiveRequestAttemptId (as AWS recommends) used to
 * keep every message it ever received, body and all, in the attempt map forever; and a deleted
 * message's body stayed until the queue next compacted.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const BODY_BYTES = 32 * 1024;
const CYCLES = 1500;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('a FIFO queue lets go of what it no longer needs', () => {
  it.each([
    ['with a ReceiveRequestAttemptId on every receive', true],
    ['without one', false],
  ])('keeps no bodies of deleted messages %s', (_name, withAttemptId) => {
    // Prepare
    const clock = new Clock();
    const queue = new Queue('q.fifo', { FifoQueue: 'true' }, '000000000000', 'us-east-1', clock);
    const dice = new FaultDice(1);
    const receive = (i: number) =>
      queue.receive({
        max: 1,
        visibilityTimeout: 30,
        shortPoll: true,
        ...(withAttemptId ? { attemptId: `attempt-${i}` } : {}),
        faults: PRESETS.none,
        dice,
      });
    const before = heapAfterGc();

    // Act: 1,500 distinct 32 KiB messages (48 MiB of bodies) sent, received and deleted, then
    // the attempt window passes.
    for (let i = 0; i < CYCLES; i++) {
      queue.send({
        body: randomBytes((BODY_BYTES * 3) / 4).toString('base64'),
        attributes: {},
        groupId: 'g',
        dedupId: `d-${i}`,
        senderId: 'test',
      });
      const [copy] = receive(i);
      queue.delete(copy!.receipt, PRESETS.none, dice);
    }
    clock.advance(10 * 60 * 1000);
    expect(receive(CYCLES)).toEqual([]);
    const grown = heapAfterGc() - before;

    // Assess: far below the bodies' 48 MiB (the old code kept all of them with attempt ids,
    // and the 475 past its last compaction, about 15 MiB, without).
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });

  it('still replays a retried attempt with the same messages and handles', () => {
    const clock = new Clock();
    const queue = new Queue('q.fifo', { FifoQueue: 'true' }, '000000000000', 'us-east-1', clock);
    const dice = new FaultDice(1);
    const receive = () =>
      queue.receive({
        max: 10,
        visibilityTimeout: 30,
        shortPoll: true,
        attemptId: 'same',
        faults: PRESETS.none,
        dice,
      });
    for (const dedupId of ['a', 'b'])
      queue.send({ body: dedupId, attributes: {}, groupId: 'g', dedupId, senderId: 'test' });

    const first = receive();
    const retried = receive();
    expect(retried.map((c) => [c.message.body, c.receipt])).toEqual(
      first.map((c) => [c.message.body, c.receipt]),
    );

    // Once one of them is deleted the attempt cannot be retried: AWS refuses it.
    queue.delete(first[0]!.receipt, PRESETS.none, dice);
    expect(receive).toThrow(/not valid anymore since the receive call is not retryable/);
  });
});
