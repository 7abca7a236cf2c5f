import { Clock } from '../../../local/sqs/clock';
import { FaultDice, PRESETS } from '../../../local/sqs/faults';
import { Queue } from '../../../local/sqs/queue';

/**
 * What a send, a visibility change and a receive cost on a queue with long polls waiting and
 * many messages not receivable. A send woke every long poll, and each one's receive walked
 * every message in flight or delayed (standard) or every group (FIFO): with 100,000 delayed
 * messages and 400 long polls, one SendMessage held the main thread 350-580 ms. Counted here as
 * work (long polls woken, messages and groups a receive looked at: `Queue.work`), not time.
 */
describe('a queue with long polls waiting', () => {
  const dice = new FaultDice(1);
  const receive = (queue: Queue, max = 10, visibilityTimeout = 30) =>
    queue.receive({ max, visibilityTimeout, shortPoll: false, faults: PRESETS.none, dice });
  /** `n` long polls that count their wake-ups. */
  function polls(queue: Queue, n: number): { woken: number } {
    const count = { woken: 0 };
    for (let i = 0; i < n; i++) {
      queue.addWaiter(function poll() {
        count.woken++;
        queue.removeWaiter(poll);
      });
    }
    return count;
  }
  const send = (queue: Queue, body: string, extra: { delaySeconds?: number; groupId?: string }) =>
    queue.send({
      body,
      attributes: {},
      senderId: 'test',
      ...extra,
      ...(queue.fifo ? { dedupId: body } : {}),
    });

  describe('standard, with 100,000 delayed and 10,000 in flight', () => {
    function loaded(): Queue {
      const queue = new Queue('q', {}, '000000000000', 'us-east-1', new Clock());
      for (let i = 0; i < 10_000; i++) send(queue, `f${i}`, {});
      for (let i = 0; i < 1_000; i++) expect(receive(queue)).toHaveLength(10);
      for (let i = 0; i < 100_000; i++) send(queue, `d${i}`, { delaySeconds: 900 });
      return queue;
    }
    let queue: Queue;
    beforeAll(() => {
      queue = loaded();
    });
    // The long polls one test left waiting are not the next test's.
    afterEach(() => queue.wake());

    it('a send wakes one of 400 long polls, and its receive looks at one message', () => {
      // Arrange
      const count = polls(queue, 400);
      const before = queue.work.visited;

      // Act
      send(queue, 'now', {});
      const got = receive(queue);

      // Assess
      expect(count.woken).toBe(1);
      expect(got.map((c) => c.message.body)).toEqual(['now']);
      expect(queue.work.visited - before).toBeLessThanOrEqual(2);
    });

    it('a delayed send wakes none', () => {
      const count = polls(queue, 400);
      send(queue, 'later', { delaySeconds: 5 });
      expect(count.woken).toBe(0);
      expect(receive(queue)).toEqual([]);
    });

    it('a visibility change to 0 wakes one, and that message is the one received', () => {
      // Arrange: one message in flight.
      send(queue, 'held', {});
      const [held] = receive(queue);
      const count = polls(queue, 400);
      const before = queue.work.visited;

      // Act
      queue.changeVisibility(held!.receipt, 0);
      const got = receive(queue);

      // Assess
      expect(count.woken).toBe(1);
      expect(got.map((c) => c.message.body)).toEqual(['held']);
      expect(queue.work.visited - before).toBeLessThanOrEqual(2);
    });
  });

  describe('FIFO, with 50,000 groups each held by a message in flight', () => {
    let queue: Queue;
    beforeAll(() => {
      queue = new Queue('q.fifo', {}, '000000000000', 'us-east-1', new Clock());
      for (let g = 0; g < 50_000; g++) {
        send(queue, `g${g}-1`, { groupId: `g${g}` });
        send(queue, `g${g}-2`, { groupId: `g${g}` });
      }
      for (let i = 0; i < 50_000; i++) expect(receive(queue, 1)).toHaveLength(1);
    });
    afterEach(() => queue.wake());

    it('a send to a new group wakes one of 200 long polls, and its receive looks at that group', () => {
      // Arrange
      const count = polls(queue, 200);
      const before = queue.work.visited;

      // Act
      send(queue, 'new-1', { groupId: 'new' });
      const got = receive(queue);

      // Assess
      expect(count.woken).toBe(1);
      expect(got.map((c) => c.message.body)).toEqual(['new-1']);
      expect(queue.work.visited - before).toBeLessThanOrEqual(3);
    });

    it('a send to a group held by a message in flight wakes none', () => {
      const count = polls(queue, 200);
      send(queue, 'g7-3', { groupId: 'g7' });
      expect(count.woken).toBe(0);
      expect(receive(queue)).toEqual([]);
    });

    it('deleting the message in flight lets its group go: one woken, the next message received', () => {
      // Arrange: a-1 in flight, a-2 behind it.
      const fresh = new Queue('d.fifo', {}, '000000000000', 'us-east-1', new Clock());
      send(fresh, 'a-1', { groupId: 'a' });
      send(fresh, 'a-2', { groupId: 'a' });
      const [first] = receive(fresh, 1);
      const count = polls(fresh, 200);

      // Act
      fresh.delete(first!.receipt, PRESETS.none, dice);
      const got = receive(fresh);

      // Assess
      expect(count.woken).toBe(1);
      expect(got.map((c) => c.message.body)).toEqual(['a-2']);
    });
  });

  describe('the queue timer', () => {
    beforeEach(() => {
      jest.useFakeTimers({ now: 1_700_000_000_000 });
    });
    afterEach(() => {
      jest.useRealTimers();
    });

    it('wakes one long poll when a delayed message becomes receivable, none before', () => {
      // Arrange
      const queue = new Queue('t', {}, '000000000000', 'us-east-1', new Clock());
      for (let i = 0; i < 1000; i++) send(queue, `d${i}`, { delaySeconds: 900 });
      send(queue, 'soon', { delaySeconds: 2 });
      const count = polls(queue, 50);

      // Act and assess
      jest.advanceTimersByTime(1999);
      expect(count.woken).toBe(0);
      jest.advanceTimersByTime(1);
      expect(count.woken).toBe(1);
      expect(receive(queue).map((c) => c.message.body)).toEqual(['soon']);
    });

    it('wakes one when a FIFO group is let go by the end of a visibility timeout', () => {
      const queue = new Queue('t.fifo', {}, '000000000000', 'us-east-1', new Clock());
      send(queue, 'a-1', { groupId: 'a' });
      send(queue, 'a-2', { groupId: 'a' });
      expect(receive(queue, 1, 5)).toHaveLength(1);
      const count = polls(queue, 50);

      jest.advanceTimersByTime(4999);
      expect(count.woken).toBe(0);
      jest.advanceTimersByTime(1);
      expect(count.woken).toBe(1);
      expect(receive(queue).map((c) => c.message.body)).toEqual(['a-1', 'a-2']);
    });

    it('is not set while no long poll waits, and stops when the last one leaves', () => {
      const queue = new Queue('t2', {}, '000000000000', 'us-east-1', new Clock());
      send(queue, 'later', { delaySeconds: 60 });
      expect(jest.getTimerCount()).toBe(0);
      const poll = () => {};
      queue.addWaiter(poll);
      expect(jest.getTimerCount()).toBe(1);
      queue.removeWaiter(poll);
      expect(jest.getTimerCount()).toBe(0);
    });
  });

  it('DeleteQueue and close still wake every long poll', () => {
    const queue = new Queue('all', {}, '000000000000', 'us-east-1', new Clock());
    const count = polls(queue, 30);
    queue.wake();
    expect(count.woken).toBe(30);
  });
});

/**
 * A FIFO receive that moves a group's first message to the DLQ (past maxReceiveCount) went on
 * to the next group: the rest of that group waited for a later receive.
 */
describe('a FIFO receive that dead-letters the first message of a group', () => {
  it('may take the messages after it in the same receive', () => {
    // Arrange: a-1 received once (maxReceiveCount 1) and visible again; a-2, a-3 and b-1 never.
    const clock = new Clock();
    const queue = new Queue('src.fifo', {}, '000000000000', 'us-east-1', clock);
    const dlq = new Queue('dlq.fifo', {}, '000000000000', 'us-east-1', clock);
    queue.attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: dlq.arn,
      maxReceiveCount: 1,
    });
    const dice = new FaultDice(1);
    const receive = (max: number, visibilityTimeout: number) =>
      queue.receive({
        max,
        visibilityTimeout,
        shortPoll: true,
        faults: PRESETS.none,
        dice,
        moveToDlq: (m) => {
          dlq.adopt({ ...m, deadLetterSourceArn: queue.arn }, 'dead-letter');
          return true;
        },
      });
    for (const [body, groupId] of [
      ['a-1', 'a'],
      ['a-2', 'a'],
      ['a-3', 'a'],
      ['b-1', 'b'],
    ] as const) {
      queue.send({ body, attributes: {}, groupId, dedupId: body, senderId: 'test' });
    }
    expect(receive(1, 0).map((c) => c.message.body)).toEqual(['a-1']);

    // Act
    const got = receive(10, 30);

    // Assess: a-1 in the DLQ; the rest of group a, then group b, in this receive.
    expect(got.map((c) => c.message.body)).toEqual(['a-2', 'a-3', 'b-1']);
    expect(dlq.counts().visible).toBe(1);
  });
});

/**
 * A send wakes one long poll. When that poll's receive passes the message over (the reorder
 * fault), the wake was spent: the other polls found the message only on their next look, up to
 * a second later. Counted as wake-ups (`Queue.work.woken`), not time.
 */
describe('a standard receive that passes a message over', () => {
  function setUp() {
    const queue = new Queue('q', {}, '000000000000', 'us-east-1', new Clock());
    const dice = new FaultDice(1);
    const receive = (reorderRate: number) =>
      queue.receive({
        max: 10,
        visibilityTimeout: 30,
        shortPoll: false,
        faults: { ...PRESETS.none, reorderRate },
        dice,
      });
    const woken: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      queue.addWaiter(function poll() {
        woken.push(name);
        queue.removeWaiter(poll);
      });
    }
    return { queue, receive, woken };
  }

  it('wakes another long poll for it', () => {
    // Arrange: the send wakes one poll ("a").
    const { queue, receive, woken } = setUp();
    queue.send({ body: 'm', attributes: {}, senderId: 'test' });
    expect(woken).toEqual(['a']);

    // Act: a's receive passes the message over.
    expect(receive(1)).toEqual([]);

    // Assess: the wake went on to one other poll, which takes it.
    expect(woken).toEqual(['a', 'b']);
    expect(receive(0).map((c) => c.message.body)).toEqual(['m']);
    expect(woken).toEqual(['a', 'b']);
  });

  it('wakes once for a message passed over again, so polls do not wake each other in turn', () => {
    const { queue, receive, woken } = setUp();
    queue.send({ body: 'm', attributes: {}, senderId: 'test' });
    expect(receive(1)).toEqual([]);
    expect(receive(1)).toEqual([]);
    expect(woken).toEqual(['a', 'b']);
    expect(queue.work.woken).toBe(2);
  });
});
