import {
  CancelMessageMoveTaskCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { callJson, createQueue, type Harness, queueArn, sendMany, startEmulator } from './helpers';

/**
 * Message move tasks (DLQ redrive) as AWS runs them: asynchronously, RUNNING with a handle to
 * cancel by, then COMPLETED, CANCELLED or FAILED; at most one running per source; at up to
 * MaxNumberOfMessagesPerSecond on the emulator's clock; each message back to the queue it was
 * dead-lettered from unless a destination is given.
 */
describe('message move tasks', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startEmulator('none');
  });
  afterEach(() => h.stop());

  const count = async (QueueUrl: string) =>
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

  /** Polls the source's latest task until it leaves RUNNING (bounded). */
  async function finished(sourceArn: string): Promise<ListMessageMoveTasksResultEntry> {
    for (let i = 0; i < 200; i++) {
      const out = await h.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn }));
      const task = out.Results?.[0];
      if (task && task.Status !== 'RUNNING') return task;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the move task never finished');
  }

  /** A DLQ fed by two source queues, each having dead-lettered `perSource` messages. */
  async function dlqWithTwoSources(perSource: number) {
    const dlq = await createQueue(h, 'dlq');
    const dlqArn = await queueArn(h, dlq);
    const redrive = {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
      VisibilityTimeout: '5',
    };
    const sources = [
      await createQueue(h, 'source-a', redrive),
      await createQueue(h, 'source-b', redrive),
    ];
    for (const [i, src] of sources.entries()) {
      await sendMany(h, src, perSource, `${i}-`);
      // One receive each, then the next receive moves them to the DLQ (maxReceiveCount 1).
      for (let got = 0; got < perSource; ) {
        const r = await h.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: src, MaxNumberOfMessages: 10 }),
        );
        got += r.Messages?.length ?? 0;
      }
      h.emulator.clock.advance(5_000);
      await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: src, MaxNumberOfMessages: 10 }));
    }
    expect(await count(dlq)).toBe(2 * perSource);
    return { dlq, dlqArn, sources };
  }

  it('runs asynchronously and returns each message to the queue it was dead-lettered from', async () => {
    const { dlq, dlqArn, sources } = await dlqWithTwoSources(3);
    const { TaskHandle } = await h.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
    expect(TaskHandle).toBeTruthy();
    const task = await finished(dlqArn);
    expect(task).toMatchObject({
      Status: 'COMPLETED',
      SourceArn: dlqArn,
      ApproximateNumberOfMessagesMoved: 6,
      ApproximateNumberOfMessagesToMove: 6,
    });
    // AWS lists a finished task without its handle: there is nothing left to cancel.
    expect(task.TaskHandle).toBeUndefined();
    expect(await count(dlq)).toBe(0);
    for (const [i, src] of sources.entries()) {
      const got = await h.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: src, MaxNumberOfMessages: 10 }),
      );
      expect(got.Messages?.map((m) => m.Body).sort()).toEqual([`${i}-0`, `${i}-1`, `${i}-2`]);
    }
  });

  it('moves 30,000 messages past 20,000 in flight before them in one walk of the DLQ (it walked past those for each message, holding the main thread)', async () => {
    // Arrange: a DLQ (named by a source queue's redrive policy) whose first 20,000 messages are
    // in flight and next 30,000 visible, filled in-process for speed. The queue compacts its
    // list while the task moves them (past half of it gone).
    const dlq = await createQueue(h, 'big-dlq');
    const dlqArn = await queueArn(h, dlq);
    const source = await createQueue(h, 'big-source', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
    });
    const inFlight = 20_000;
    const n = 30_000;
    for (let i = 0; i < inFlight + n; i += 10) {
      await h.emulator.call('SendMessageBatch', {
        QueueUrl: dlq,
        Entries: Array.from({ length: 10 }, (_, j) => ({ Id: `e${j}`, MessageBody: `m${i + j}` })),
      });
    }
    for (let i = 0; i < inFlight; i += 10) {
      await h.emulator.call('ReceiveMessage', {
        QueueUrl: dlq,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 3600,
      });
    }
    const work = h.emulator.queueWork('big-dlq')!;
    const visitedBefore = work.visited;

    // Act: no rate, so the task moves all in one step.
    await h.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlqArn,
        DestinationArn: await queueArn(h, source),
      }),
    );
    const task = await finished(dlqArn);
    const visited = work.visited - visitedBefore;

    // Assess: the messages the DLQ looked at, not the time it took (a loaded machine stretches
    // that): one walk past the 50,000 (a compaction mid-step starts it again past the gone
    // ones, at most once more), where the old walk looked at the 20,000 in flight again for
    // each of the 30,000 moved: 925 million, a 6.5-9.5 s stall.
    expect(task).toMatchObject({
      Status: 'COMPLETED',
      ApproximateNumberOfMessagesMoved: n,
      ApproximateNumberOfMessagesToMove: n,
    });
    expect(visited).toBeLessThanOrEqual(2 * (inFlight + n));
    expect(await count(source)).toBe(n);
  }, 60_000);

  it('moves at most MaxNumberOfMessagesPerSecond on the clock, and a cancel stops it where it is', async () => {
    const { dlq, dlqArn, sources } = await dlqWithTwoSources(50);
    const dest = await createQueue(h, 'destination');
    const { TaskHandle } = await h.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlqArn,
        DestinationArn: await queueArn(h, dest),
        MaxNumberOfMessagesPerSecond: 1,
      }),
    );
    // 100 messages at 1 per second: RUNNING for a long while, with the handle to cancel it by.
    const running = await h.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }));
    expect(running.Results?.[0]).toMatchObject({
      Status: 'RUNNING',
      TaskHandle,
      MaxNumberOfMessagesPerSecond: 1,
    });
    await expect(
      h.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(/already a task running/),
    });
    // Ten seconds of emulator time move ten more.
    const before = (await h.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn })))
      .Results![0]!.ApproximateNumberOfMessagesMoved!;
    h.emulator.clock.advance(10_000);
    const after = (await h.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn })))
      .Results![0]!.ApproximateNumberOfMessagesMoved!;
    expect(after - before).toBeGreaterThanOrEqual(10);
    expect(after).toBeLessThan(100);

    const cancelled = await h.sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
    const task = await finished(dlqArn);
    expect(task).toMatchObject({ Status: 'CANCELLED', ApproximateNumberOfMessagesToMove: 100 });
    expect(task.ApproximateNumberOfMessagesMoved).toBe(cancelled.ApproximateNumberOfMessagesMoved);
    expect(await count(dest)).toBe(task.ApproximateNumberOfMessagesMoved);
    expect(await count(dlq)).toBe(100 - task.ApproximateNumberOfMessagesMoved!);
    for (const src of sources) expect(await count(src)).toBe(0);
    // Cancelling it again: it is no longer running.
    const again = await callJson(h.url, 'CancelMessageMoveTask', { TaskHandle });
    expect(again).toMatchObject({ status: 400, queryCode: 'InvalidParameterValue' });
  });

  it('fails when its destination disappears while it runs', async () => {
    const { dlqArn } = await dlqWithTwoSources(5);
    const dest = await createQueue(h, 'short-lived');
    await h.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlqArn,
        DestinationArn: await queueArn(h, dest),
        MaxNumberOfMessagesPerSecond: 1,
      }),
    );
    await h.sqs.send(new DeleteQueueCommand({ QueueUrl: dest }));
    h.emulator.clock.advance(60_000);
    expect(await finished(dlqArn)).toMatchObject({
      Status: 'FAILED',
      FailureReason: 'AWS.SimpleQueueService.NonExistentQueue',
    });
  });

  it.each([
    ['a handle that is not one', () => 'not-a-handle', 400, 'InvalidParameterValue'],
    [
      'a handle naming a task that does not exist',
      () =>
        Buffer.from(
          JSON.stringify({ taskId: 'nope', sourceArn: 'arn:aws:sqs:us-east-1:000000000000:dlq' }),
        ).toString('base64'),
      404,
      'ResourceNotFoundException',
    ],
    [
      'a handle naming a source queue that does not exist',
      () =>
        Buffer.from(
          JSON.stringify({ taskId: 'nope', sourceArn: 'arn:aws:sqs:us-east-1:000000000000:gone' }),
        ).toString('base64'),
      404,
      'ResourceNotFoundException',
    ],
  ])('refuses to cancel with %s', async (_, handle, status, code) => {
    await createQueue(h, 'dlq');
    const out = await callJson(h.url, 'CancelMessageMoveTask', { TaskHandle: handle() });
    expect({ status: out.status, code: out.queryCode }).toEqual({ status, code });
  });

  it('refuses a destination of the other queue type, in both directions, and moves nothing', async () => {
    // Prepare: a standard DLQ with messages, and a FIFO DLQ (of a FIFO source) with one.
    const { dlq, dlqArn } = await dlqWithTwoSources(1);
    const fifoDlq = await createQueue(h, 'f-dlq.fifo', { FifoQueue: 'true' });
    const fifoDlqArn = await queueArn(h, fifoDlq);
    // Its source makes it a DLQ, which a move task needs.
    await createQueue(h, 'f-src.fifo', {
      FifoQueue: 'true',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: fifoDlqArn, maxReceiveCount: 1 }),
    });
    const fifoTarget = await createQueue(h, 'f-target.fifo', { FifoQueue: 'true' });
    const standardTarget = await createQueue(h, 's-target');
    await h.sqs.send(
      new SendMessageCommand({
        QueueUrl: fifoDlq,
        MessageBody: 'fifo body',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
      }),
    );

    // Act
    const intoFifo = await callJson(h.url, 'StartMessageMoveTask', {
      SourceArn: dlqArn,
      DestinationArn: await queueArn(h, fifoTarget),
    });
    const intoStandard = await callJson(h.url, 'StartMessageMoveTask', {
      SourceArn: fifoDlqArn,
      DestinationArn: await queueArn(h, standardTarget),
    });

    // Assess
    for (const out of [intoFifo, intoStandard]) {
      expect(out).toMatchObject({ status: 400, queryCode: 'InvalidParameterValue' });
    }
    expect([await count(dlq), await count(fifoDlq)]).toEqual([2, 1]);
    expect([await count(fifoTarget), await count(standardTarget)]).toEqual([0, 0]);
  });

  it('refuses a destination that does not exist (404) and lists nothing for a fresh DLQ', async () => {
    const { dlqArn } = await dlqWithTwoSources(1);
    const out = await callJson(h.url, 'StartMessageMoveTask', {
      SourceArn: dlqArn,
      DestinationArn: `${dlqArn}-nope`,
    });
    expect(out).toMatchObject({ status: 404, queryCode: 'ResourceNotFoundException' });
    const listed = await h.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }));
    expect(listed.Results ?? []).toEqual([]);
  });
});
