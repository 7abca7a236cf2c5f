import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  createQueue,
  type Harness,
  queueArn,
  queueCounts,
  sendMany,
  startEmulator,
} from './helpers';

jest.setTimeout(30_000);

/**
 * The duplicate fault (duplicateRate): another host's copy of a message missed a receive's
 * in-flight mark. On AWS that copy is the same message, stored on another server ("one of the
 * servers that stores a copy of a message might be unavailable when you receive or delete a
 * message", SQS Developer Guide, at-least-once delivery): receiving it before the message is
 * deleted is a duplicate delivery, but it is no new message. The queue's counts count messages,
 * releasing a message lets the hosts agree again, and a move task moves the message once.
 */
describe('a copy of a message that missed a receive (the duplicate fault)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  const counts = (QueueUrl: string) => queueCounts(h.sqs, QueueUrl);

  async function receiveOne(QueueUrl: string): Promise<Message | undefined> {
    const out = await h.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 1,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    return out.Messages?.[0];
  }

  /** One message received once while every receive leaves a copy behind; then no more faults. */
  async function receivedWithCopy(QueueUrl: string): Promise<Message> {
    h.emulator.setFaults({ duplicateRate: 1 });
    await h.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one' }));
    const m = await receiveOne(QueueUrl);
    h.emulator.setFaults('none');
    return m!;
  }

  /**
   * After the message `first` was released: one message, visible; received for the second
   * time; nothing else to receive.
   */
  async function expectMergedBack(QueueUrl: string, first: Message) {
    const released = await counts(QueueUrl);
    const again = await receiveOne(QueueUrl);
    const next = await receiveOne(QueueUrl);
    expect(released).toEqual({ visible: 1, inFlight: 0, depth: 1 });
    expect(again?.MessageId).toBe(first.MessageId);
    expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(next).toBeUndefined();
  }

  /**
   * Reads the whole queue as the report reads a DLQ (receive with a visibility timeout until a
   * receive is empty, then release everything with ChangeMessageVisibility 0): the bodies in the
   * order received, copies included, and the distinct message ids.
   */
  async function readAndRelease(QueueUrl: string) {
    const handles: string[] = [];
    const bodies: string[] = [];
    const ids = new Set<string>();
    for (;;) {
      const out = await h.sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
      );
      const got = out.Messages ?? [];
      if (got.length === 0) break;
      for (const m of got) {
        handles.push(m.ReceiptHandle!);
        bodies.push(m.Body!);
        ids.add(m.MessageId!);
      }
    }
    for (let i = 0; i < handles.length; i += 10) {
      const out = await h.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl,
          Entries: handles
            .slice(i, i + 10)
            .map((ReceiptHandle, j) => ({ Id: `r${j}`, ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      );
      expect(out.Failed ?? []).toEqual([]);
    }
    return { bodies, copies: handles.length, distinct: ids.size };
  }

  it('counts the message once while its copy can be received and the message is in flight', async () => {
    // Prepare: the message received, another host's copy of it still receivable.
    h = await startEmulator('none', 11);
    const url = await createQueue(h, 'counted-once', { VisibilityTimeout: '30' });
    const first = await receivedWithCopy(url);

    // Act: the copy, received by another consumer while the first still holds the message.
    const before = await counts(url);
    const copy = await receiveOne(url);
    const during = await counts(url);

    // Assess: one message throughout (visible while a copy of it could be received); the copy
    // is a duplicate delivery of it, with its own receipt handle.
    expect(before).toEqual({ visible: 1, inFlight: 0, depth: 1 });
    expect(copy?.MessageId).toBe(first.MessageId);
    expect(copy?.ReceiptHandle).not.toBe(first.ReceiptHandle);
    expect(during).toEqual({ visible: 0, inFlight: 1, depth: 1 });
  });

  it('merges a copy nobody received back into its message when ChangeMessageVisibility 0 releases it', async () => {
    h = await startEmulator('none', 12);
    const url = await createQueue(h, 'released', { VisibilityTimeout: '30' });
    const first = await receivedWithCopy(url);

    await h.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: first.ReceiptHandle!,
        VisibilityTimeout: 0,
      }),
    );
    // Assess: one message, received for the second time; nothing else to receive.
    await expectMergedBack(url, first);
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 1, depth: 1 });
  });

  it('merges a copy nobody received back into its message when the visibility timeout ends', async () => {
    h = await startEmulator('none', 13);
    const url = await createQueue(h, 'timed-out', { VisibilityTimeout: '30' });
    const first = await receivedWithCopy(url);

    h.emulator.clock.advance(31_000);
    await expectMergedBack(url, first);
  });

  it('still delivers a copy received before the message was deleted (at-least-once), and both deletes empty the queue', async () => {
    h = await startEmulator('none', 14);
    const url = await createQueue(h, 'duplicate', { VisibilityTimeout: '30' });
    const first = await receivedWithCopy(url);

    const copy = await receiveOne(url);
    await h.sqs.send(
      new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first.ReceiptHandle! }),
    );
    const afterFirstDelete = await counts(url);
    await h.sqs.send(
      new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: copy!.ReceiptHandle! }),
    );

    expect(copy?.MessageId).toBe(first.MessageId);
    expect(afterFirstDelete).toEqual({ visible: 0, inFlight: 1, depth: 1 });
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 0, depth: 0 });
  });

  it('keeps a copy nobody received past the delete of its message: the host that missed the receive missed the delete', async () => {
    h = await startEmulator('none', 15);
    const url = await createQueue(h, 'survivor', { VisibilityTimeout: '30' });
    const first = await receivedWithCopy(url);

    await h.sqs.send(
      new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first.ReceiptHandle! }),
    );
    const afterDelete = await counts(url);
    const copy = await receiveOne(url);

    expect(afterDelete).toEqual({ visible: 1, inFlight: 0, depth: 1 });
    expect(copy?.MessageId).toBe(first.MessageId);
    expect(copy?.Attributes?.ApproximateReceiveCount).toBe('1');
  });

  it('leaves the depth and the messages as they were after reading and releasing a queue three times, the same for the same seed', async () => {
    const n = 200;
    const run = async () => {
      h = await startEmulator({ duplicateRate: 0.05 }, 16);
      try {
        const url = await createQueue(h, 'read-thrice', { VisibilityTimeout: '30' });
        await sendMany(h, url, n);
        const reads = [];
        for (let r = 0; r < 3; r++) {
          const read = await readAndRelease(url);
          reads.push({ ...read, after: await counts(url) });
        }
        return reads;
      } finally {
        await h.stop();
      }
    };
    const reads = await run();
    const again = await run();

    // Assess: every read met copies (the fault fired), read each message once by id, and left
    // the queue with its n messages, all visible.
    for (const read of reads) {
      expect(read.copies).toBeGreaterThan(n);
      expect(read.distinct).toBe(n);
      expect(read.after).toEqual({ visible: n, inFlight: 0, depth: n });
    }
    expect(again).toEqual(reads);
  });

  it('moves each message once, not its copies, with a move task after a read', async () => {
    // Prepare: a DLQ read and released once under the fault, so copies were made.
    h = await startEmulator({ duplicateRate: 0.2 }, 17);
    const dlq = await createQueue(h, 'copies-dlq', { VisibilityTimeout: '30' });
    const dlqArn = await queueArn(h, dlq);
    // The source queue whose redrive policy makes the DLQ one; the messages go back to it.
    const target = await createQueue(h, 'copies-source', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }),
    });
    await sendMany(h, dlq, 20);
    const read = await readAndRelease(dlq);
    h.emulator.setFaults('none');

    // Act
    await h.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlqArn,
        DestinationArn: await queueArn(h, target),
      }),
    );
    let task: ListMessageMoveTasksResultEntry | undefined;
    for (let i = 0; i < 200 && task?.Status !== 'COMPLETED'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      task = (await h.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn })))
        .Results?.[0];
    }
    const moved = await readAndRelease(target);

    // Assess: 20 messages moved, 20 in the target, each body once.
    expect(read.copies).toBeGreaterThan(20);
    expect(task).toMatchObject({
      Status: 'COMPLETED',
      ApproximateNumberOfMessagesMoved: 20,
      ApproximateNumberOfMessagesToMove: 20,
    });
    expect(await counts(dlq)).toEqual({ visible: 0, inFlight: 0, depth: 0 });
    expect(moved.bodies.sort()).toEqual(Array.from({ length: 20 }, (_, i) => String(i)).sort());
  });
});
