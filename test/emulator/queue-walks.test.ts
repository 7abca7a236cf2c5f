import {
  DeleteMessageCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { createQueue, type Harness, queueArn, queueCounts, startEmulator } from './helpers';

jest.setTimeout(60_000);

/**
 * What GetQueueAttributes' counts, a message move task's steps and a receive near the in-flight
 * quota cost, as the messages and index entries the queue looks at (`Queue.work.visited`), not
 * time: each kept up to date as messages change state, none walks the queue. Each had walked
 * every message (the counts, the drain past the ones in flight at every step) or every handle in
 * flight (the quota), so a queue of 10,000 held the main thread for each request.
 */
describe('what a queue looks at for its counts, a move task and its in-flight quota', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  /** `n` messages sent in process (faster than over HTTP), bodies m0..m{n-1}. */
  async function fill(QueueUrl: string, n: number) {
    for (let i = 0; i < n; i += 10) {
      await h.emulator.call('SendMessageBatch', {
        QueueUrl,
        Entries: Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
          Id: `e${j}`,
          MessageBody: `m${i + j}`,
        })),
      });
    }
  }

  /** Receives `n` messages in process with a long visibility timeout: they stay in flight. */
  async function hold(QueueUrl: string, n: number) {
    for (let got = 0; got < n; ) {
      const out = (await h.emulator.call('ReceiveMessage', {
        QueueUrl,
        MaxNumberOfMessages: Math.min(10, n - got),
        VisibilityTimeout: 3600,
      })) as { Messages?: unknown[] };
      got += out.Messages?.length ?? 0;
    }
  }

  it('answers GetQueueAttributes on 10,000 messages, half in flight, without looking at them', async () => {
    // Arrange
    h = await startEmulator('none');
    const url = await createQueue(h, 'counted');
    await fill(url, 10_000);
    await hold(url, 5_000);
    const work = h.emulator.queueWork('counted')!;
    const before = work.visited;

    // Act: the counts, ten times.
    let counts = await queueCounts(h.sqs, url);
    for (let i = 1; i < 10; i++) counts = await queueCounts(h.sqs, url);

    // Assess: the right numbers, and nothing looked at (the walk looked at 10,000 a request).
    expect(counts).toEqual({ visible: 5_000, inFlight: 5_000, depth: 10_000 });
    expect(work.visited - before).toBeLessThanOrEqual(10);
  });

  it('moves 20 messages one a second past 5,000 in flight looking at each moved message a few times, not at the 5,000 every step', async () => {
    // Arrange: a DLQ (named by a source's redrive policy) whose first 5,000 messages are in
    // flight, then 20 visible.
    h = await startEmulator('none');
    const dlq = await createQueue(h, 'slow-dlq');
    const dlqArn = await queueArn(h, dlq);
    const dest = await createQueue(h, 'slow-dest', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }),
    });
    await fill(dlq, 5_020);
    await hold(dlq, 5_000);
    const work = h.emulator.queueWork('slow-dlq')!;
    const before = work.visited;

    // Act: one message a second, the clock moved a second at a time: a step each.
    await h.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlqArn,
        DestinationArn: await queueArn(h, dest),
        MaxNumberOfMessagesPerSecond: 1,
      }),
    );
    for (let s = 0; s < 25; s++) h.emulator.clock.advance(1_000);
    const task = (await h.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn })))
      .Results![0]!;

    // Assess: all 20 moved; the steps looked at each a few times, where each step had walked
    // past the 5,000 in flight again (100,000 for the 20).
    expect(task).toMatchObject({
      Status: 'COMPLETED',
      ApproximateNumberOfMessagesMoved: 20,
      ApproximateNumberOfMessagesToMove: 20,
    });
    expect((await queueCounts(h.sqs, dest)).visible).toBe(20);
    expect(work.visited - before).toBeLessThanOrEqual(4 * 20 + 25);
  });

  it('takes and frees a place under the in-flight quota without looking at the 1,995 messages in flight', async () => {
    // Arrange: a quota of 2,000, 1,995 of them held.
    h = await startEmulator('none', 1234, { maxInFlight: { standard: 2_000 } });
    const url = await createQueue(h, 'near-quota');
    await fill(url, 2_100);
    await hold(url, 1_995);
    const work = h.emulator.queueWork('near-quota')!;
    const before = work.visited;

    // Act: 20 receives of one message, each deleted.
    for (let i = 0; i < 20; i++) {
      const out = await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
      expect(out.Messages).toHaveLength(1);
      await h.sqs.send(
        new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: out.Messages![0]!.ReceiptHandle }),
      );
    }

    // Assess: a few entries a receive, where each receive near the quota had walked the 1,995
    // handles in flight (39,900 for the 20).
    expect(work.visited - before).toBeLessThanOrEqual(5 * 20);
  });

  it('counts a message and its copy in flight once against the quota, as ApproximateNumberOfMessagesNotVisible does', async () => {
    // Arrange: a quota of 2. A received while every receive leaves a copy behind; the copy
    // received too: one message, two receives holding it.
    h = await startEmulator('none', 1234, { maxInFlight: { standard: 2 } });
    const url = await createQueue(h, 'copies-quota');
    h.emulator.setFaults({ duplicateRate: 1 });
    await h.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'a' }));
    const first = await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    h.emulator.setFaults('none');
    const copy = await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(copy.Messages?.[0]?.MessageId).toBe(first.Messages?.[0]?.MessageId);
    expect(await queueCounts(h.sqs, url)).toEqual({ visible: 0, inFlight: 1, depth: 1 });
    await h.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'b' }));

    // Act: a short poll, with one message of the quota's two in flight.
    const next = await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));

    // Assess: B is taken; the two copies of A had held the whole quota (OverLimit).
    expect(next.Messages?.map((m) => m.Body)).toEqual(['b']);
  });
});
