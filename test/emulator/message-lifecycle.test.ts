import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { createQueue, type Harness, queueArn, startEmulator, watchStalls } from './helpers';

/**
 * What happens to a message's identity and clock when SQS moves it, and when a receive attempt
 * is retried, as the SQS Developer Guide and API reference state it:
 * - "For standard queues, the expiration of a message is always based on its original enqueue
 *   timestamp. ... For FIFO queues, the enqueue timestamp resets when the message is moved to a
 *   dead-letter queue." (Setting-up dead-letter queue retention)
 * - "When a message is moved from a FIFO queue to a FIFO DLQ, the original message's
 *   deduplication ID will be replaced with the original message's ID." and "The redrive task
 *   resets the retention period. All redriven messages are considered new messages with a new
 *   messageID and enqueueTime" (Learn how to configure a dead-letter queue redrive)
 * - ReceiveRequestAttemptId: "If a retry occurs within the deduplication interval, it resets the
 *   visibility timeout." (ReceiveMessage)
 */
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

describe('a message moved by SQS, and a retried receive attempt', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startEmulator('none');
  });
  afterEach(() => h.stop());

  /** Looks at the queue without taking anything (visibility 0). */
  const peek = async (QueueUrl: string): Promise<Message[]> =>
    (
      await h.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 0,
          MessageSystemAttributeNames: ['All'],
        }),
      )
    ).Messages ?? [];

  const depth = async (QueueUrl: string) =>
    Number(
      (
        await h.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        )
      ).Attributes!.ApproximateNumberOfMessages,
    );

  /** A source queue dead-lettering into `dlq` at its second receive. */
  const sourceOf = async (name: string, dlq: string, extra: Record<string, string> = {}) =>
    createQueue(h, name, {
      VisibilityTimeout: '60',
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: await queueArn(h, dlq),
        maxReceiveCount: 1,
      }),
      ...extra,
    });

  it('gives a redriven message a new message id and counts its retention from the redrive', async () => {
    // Prepare: a 4-day source, a 14-day DLQ; the message is dead-lettered, then waits 3 days.
    const dlq = await createQueue(h, 'dlq', { MessageRetentionPeriod: String(14 * 24 * 3600) });
    const source = await sourceOf('source', dlq, { MessageRetentionPeriod: String(4 * 24 * 3600) });
    const sent = await h.sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'm' }));
    await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: source }));
    h.emulator.clock.advance(60_000);
    await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: source })); // moves it
    const [dead] = await peek(dlq);
    h.emulator.clock.advance(3 * DAY);

    // Act: redrive it to its source.
    await h.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: await queueArn(h, dlq) }));
    const task = await h.sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: await queueArn(h, dlq) }),
    );
    const [redriven] = await peek(source);
    // 5 days after the send, 2 after the redrive: past the source's 4 days only if counted
    // from the send. (Counted without a receive: a second one would dead-letter it again.)
    h.emulator.clock.advance(2 * DAY);
    const later = await depth(source);

    // Assess
    expect(task.Results?.[0]?.Status).toBe('COMPLETED');
    expect(dead?.MessageId).toBe(sent.MessageId); // a move to the DLQ keeps the id
    expect(redriven?.Body).toBe('m');
    expect(redriven?.MessageId).not.toBe(sent.MessageId);
    expect(redriven?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(later).toBe(1);
  });

  it('keeps a standard message retention counted from its send when it is dead-lettered', async () => {
    // Prepare: a 1-day DLQ; the message spends 20 hours in its source first.
    const dlq = await createQueue(h, 'dlq', { MessageRetentionPeriod: String(24 * 3600) });
    const source = await sourceOf('source', dlq);
    await h.sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'm' }));
    await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: source }));
    h.emulator.clock.advance(20 * HOUR);
    await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: source })); // moves it

    // Act
    const moved = await peek(dlq);
    h.emulator.clock.advance(5 * HOUR); // 25 hours after the send, 5 after the move
    const later = await peek(dlq);

    // Assess
    expect(moved).toHaveLength(1);
    expect(later).toEqual([]);
  });

  it('keeps a message past maxReceiveCount on a queue that names itself as its DLQ, delivering it no more, and keeps serving', async () => {
    // Arrange: AWS documents no refusal of a queue's own ARN as its DLQ, and none is made.
    const self = await createQueue(h, 'self', { VisibilityTimeout: '0' });
    const setSelf = await h.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: self,
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: await queueArn(h, self),
            maxReceiveCount: 1,
          }),
        },
      }),
    );
    await h.sqs.send(new SendMessageCommand({ QueueUrl: self, MessageBody: 'm' }));
    const first = await peek(self);

    // Act: each receive past the count moves it to its own tail, as a move to another DLQ would.
    const later = [await peek(self), await peek(self)];

    // Assess
    expect(setSelf.$metadata.httpStatusCode).toBe(200);
    expect(first.map((m) => m.Body)).toEqual(['m']);
    expect(later).toEqual([[], []]);
    expect(await depth(self)).toBe(1);
    const other = await createQueue(h, 'other');
    await h.sqs.send(new SendMessageCommand({ QueueUrl: other, MessageBody: 'o' }));
    expect((await peek(other)).map((m) => m.Body)).toEqual(['o']);
  });

  it.each([
    ['a queue that is its own DLQ', true],
    ["two queues that are each other's DLQ", false],
  ])(
    'keeps serving while two long polls wait on %s with a message past maxReceiveCount (the polls held the main thread)',
    async (_, self) => {
      // Arrange: the message past maxReceiveCount 1 on `a`, whose DLQ is `a` itself or `b`, whose
      // DLQ is `a`; a receive on either moves it on, and the receive count moves with it.
      const a = await createQueue(h, 'pingpong-a', { VisibilityTimeout: '0' });
      const b = self ? a : await createQueue(h, 'pingpong-b', { VisibilityTimeout: '0' });
      const redrive = async (from: string, to: string) =>
        h.sqs.send(
          new SetQueueAttributesCommand({
            QueueUrl: from,
            Attributes: {
              RedrivePolicy: JSON.stringify({
                deadLetterTargetArn: await queueArn(h, to),
                maxReceiveCount: 1,
              }),
            },
          }),
        );
      await redrive(a, b);
      if (!self) await redrive(b, a);
      await h.sqs.send(new SendMessageCommand({ QueueUrl: a, MessageBody: 'm' }));
      expect((await peek(a)).map((m) => m.Body)).toEqual(['m']);
      const stalls = watchStalls();

      // Act: a long poll on each (one on `a` twice when it is its own DLQ), the second one once
      // the first waits. Each receive moves the message; a move had woken the other poll.
      const longPoll = (QueueUrl: string) =>
        h.sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 3 }));
      const first = longPoll(a);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const polls = await Promise.all([first, longPoll(b)]);
      const longestStall = stalls.stop();

      // Assess: no stall near the 2.7 s the polls waited together, nothing delivered, one message.
      expect(longestStall).toBeLessThan(1_000);
      expect(polls.map((p) => p.Messages ?? [])).toEqual([[], []]);
      expect((await depth(a)) + (self ? 0 : await depth(b))).toBe(1);
    },
    30_000,
  );

  it('resets a FIFO message enqueue time when it is dead-lettered, and replaces its deduplication id with its message id', async () => {
    // Prepare: a 1-day FIFO DLQ that already holds a message of its own; the message spends
    // 20 hours in its source first.
    const dlq = await createQueue(h, 'dlq.fifo', {
      FifoQueue: 'true',
      MessageRetentionPeriod: String(24 * 3600),
    });
    const source = await sourceOf('source.fifo', dlq, { FifoQueue: 'true' });
    const sent = await h.sqs.send(
      new SendMessageCommand({
        QueueUrl: source,
        MessageBody: 'm',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'order-1',
      }),
    );
    const direct = await h.sqs.send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: 'direct',
        MessageGroupId: 'other',
        MessageDeduplicationId: 'direct-1',
      }),
    );
    await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: source }));
    h.emulator.clock.advance(20 * HOUR);
    await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: source })); // moves it

    // Act
    const moved = (await peek(dlq)).find((m) => m.Body === 'm');
    h.emulator.clock.advance(10 * HOUR); // 30 hours after the send, 10 after the move
    const later = (await peek(dlq)).map((m) => m.Body);

    // Assess
    expect(moved?.MessageId).toBe(sent.MessageId);
    expect(moved?.Attributes?.MessageDeduplicationId).toBe(sent.MessageId);
    expect(moved?.Attributes?.MessageGroupId).toBe('g');
    // A place in the DLQ after what it already held: a sequence number of the DLQ's own.
    expect(BigInt(moved?.Attributes?.SequenceNumber ?? '0')).toBeGreaterThan(
      BigInt(direct.SequenceNumber ?? '0'),
    );
    expect(later).toEqual(['m']); // 'direct', sent 30 hours ago, is gone
  });

  it('resets the visibility timeout when a FIFO receive is retried with its ReceiveRequestAttemptId', async () => {
    // Prepare
    const fifo = await createQueue(h, 'q.fifo', {
      FifoQueue: 'true',
      ContentBasedDeduplication: 'true',
    });
    await h.sqs.send(
      new SendMessageCommand({ QueueUrl: fifo, MessageBody: 'a', MessageGroupId: 'g' }),
    );
    const receive = (attempt?: string) =>
      h.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: fifo,
          VisibilityTimeout: 30,
          ...(attempt ? { ReceiveRequestAttemptId: attempt } : {}),
        }),
      );
    const first = await receive('attempt-1');
    h.emulator.clock.advance(20_000);

    // Act: the retry 20 s in; 40 s after the first receive, 20 s after the retry.
    const retried = await receive('attempt-1');
    h.emulator.clock.advance(20_000);
    const other = await receive();

    // Assess
    expect(retried.Messages?.[0]?.ReceiptHandle).toBe(first.Messages?.[0]?.ReceiptHandle);
    expect(other.Messages ?? []).toEqual([]);
    h.emulator.clock.advance(10_000); // 30 s after the retry: visible again
    expect((await receive()).Messages?.map((m) => m.Body)).toEqual(['a']);
  });
});
