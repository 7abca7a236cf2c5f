import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { LIMITS } from '../../local/sqs/queue';
import { callJson, callQuery, type Harness, sendMany, startEmulator } from './helpers';

/**
 * The in-flight quota (SQS Developer Guide, queue quotas): a standard queue holds "a maximum of
 * approximately 120,000 in flight messages"; at it, "If you reach this quota while using short
 * polling, Amazon SQS returns the OverLimit error message. If you use long polling, Amazon SQS
 * returns no error messages." A FIFO queue holds "a maximum of 120,000 in-flight messages", and
 * at it "Amazon SQS does not return an error". The emulator here lowers the quotas (an option no
 * SQS action can set) so that a few messages reach them.
 */

const OVER_LIMIT_MESSAGE =
  'Too many messages have been received without being deleted.\nPlease delete your received messages or let them timeout before receiving more.';

describe('the in-flight quota', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startEmulator('none', 1234, { maxInFlight: { standard: 5, fifo: 4 } });
  });
  afterEach(() => h.stop());

  const receive = (QueueUrl: string, WaitTimeSeconds = 0) =>
    h.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds }));

  it('is 120,000 in flight by default, the number AWS documents for both kinds of queue', () => {
    expect(LIMITS.maxInFlightStandard).toBe(120_000);
    expect(LIMITS.maxInFlightFifo).toBe(120_000);
  });

  it('answers a short poll on a standard queue at its quota OverLimit (403), a long poll nothing, and takes again once messages leave flight', async () => {
    const url = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'busy' }))).QueueUrl!;
    await sendMany(h, url, 8);
    // A receive stops at the quota: 5 of the 8.
    const first = (await receive(url)).Messages ?? [];
    expect(first).toHaveLength(5);
    await expect(receive(url)).rejects.toMatchObject({
      name: 'OverLimit',
      message: OVER_LIMIT_MESSAGE,
      $metadata: { httpStatusCode: 403 },
    });
    expect(await callJson(h.url, 'ReceiveMessage', { QueueUrl: url })).toMatchObject({
      status: 403,
      type: 'OverLimit',
      queryCode: 'OverLimit',
      message: OVER_LIMIT_MESSAGE,
    });
    const query = await callQuery(h.url, { Action: 'ReceiveMessage', QueueUrl: url });
    expect(query).toMatchObject({ status: 403, queryCode: 'OverLimit' });
    expect(query.xml).toContain('<Type>Sender</Type>');
    // A long poll: no error, nothing taken, until its wait ends.
    const poll = receive(url, 1);
    await new Promise((r) => setTimeout(r, 50));
    h.emulator.clock.advance(1_000);
    expect((await poll).Messages ?? []).toEqual([]);
    // One deleted: one more can be taken.
    await h.sqs.send(
      new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first[0]!.ReceiptHandle! }),
    );
    expect((await receive(url)).Messages ?? []).toHaveLength(1);
    await expect(receive(url)).rejects.toMatchObject({ name: 'OverLimit' });
    // Their visibility timeouts over (30 s), none is in flight: 5 again, of the 7 left.
    h.emulator.clock.advance(30_000);
    expect((await receive(url)).Messages ?? []).toHaveLength(5);
  });

  it('does not count messages in flight past the retention period: they are gone', async () => {
    // "Amazon SQS automatically deletes messages left in a queue longer than the retention
    // period configured for the queue" (DeleteMessage, API reference), in flight or not.
    const url = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'short-lived',
          Attributes: { MessageRetentionPeriod: '60' },
        }),
      )
    ).QueueUrl!;
    await sendMany(h, url, 5);
    const held = await h.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 3600,
      }),
    );
    expect(held.Messages ?? []).toHaveLength(5);
    // Their retention over, their hour-long visibility timeouts not.
    h.emulator.clock.advance(61_000);
    await sendMany(h, url, 1, 'fresh');
    expect((await receive(url)).Messages?.map((m) => m.Body)).toEqual(['fresh0']);
  });

  it('counts a copy whose delete the surviving-copy fault lost: it stays in flight until its timeout, as ApproximateNumberOfMessagesNotVisible says', async () => {
    const lossy = await startEmulator({ survivingCopyRate: 1 }, 1234, {
      maxInFlight: { standard: 2 },
    });
    try {
      const url = (await lossy.sqs.send(new CreateQueueCommand({ QueueName: 'lossy' }))).QueueUrl!;
      await sendMany(lossy, url, 4);
      const first = await lossy.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
      );
      expect(first.Messages ?? []).toHaveLength(2);
      for (const m of first.Messages ?? []) {
        await lossy.sqs.send(
          new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }),
        );
      }
      // Both deletes lost: their copies are still in flight, the quota still held.
      expect(lossy.emulator.lostDeletes('lossy')).toHaveLength(2);
      const attributes = await lossy.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      expect(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe('2');
      await expect(
        lossy.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 })),
      ).rejects.toMatchObject({ name: 'OverLimit' });
      // Their timeouts over (30 s), the copies come back and the quota is free again.
      lossy.emulator.clock.advance(30_000);
      const again = await lossy.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
      );
      expect(again.Messages ?? []).toHaveLength(2);
    } finally {
      await lossy.stop();
    }
  });

  it('counts a message a receive holds while its duplicate-fault copy is receivable: held, against the quota', async () => {
    // Arrange: a quota of 2, every receive leaving a receivable copy of each message it takes.
    const doubled = await startEmulator({ duplicateRate: 1 }, 1234, {
      maxInFlight: { standard: 2 },
    });
    try {
      const url = (await doubled.sqs.send(new CreateQueueCommand({ QueueName: 'doubled' })))
        .QueueUrl!;
      await sendMany(doubled, url, 10);

      // Act: short polls until the quota refuses one (at most 10).
      const held = new Set<string>();
      let refused: unknown;
      for (let i = 0; i < 10 && !refused; i++) {
        try {
          const got = await doubled.sqs.send(
            new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
          );
          for (const m of got.Messages ?? []) held.add(m.MessageId!);
        } catch (err) {
          refused = err;
        }
      }

      // Assess: 2 messages held, then OverLimit. Each message received had a copy receivable,
      // so the quota, reading the visible/in-flight partition of messages, counted none of them
      // held: all 10 were taken in flight, and no receive was refused.
      expect(held.size).toBe(2);
      expect(refused).toMatchObject({ name: 'OverLimit' });
    } finally {
      await doubled.stop();
    }
  });

  it('answers a receive on a FIFO queue at its quota with nothing, no error', async () => {
    const url = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'busy.fifo',
          Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
        }),
      )
    ).QueueUrl!;
    await h.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: Array.from({ length: 6 }, (_, i) => ({
          Id: `e${i}`,
          MessageBody: `m${i}`,
          MessageGroupId: `g${i}`,
        })),
      }),
    );
    expect((await receive(url)).Messages?.map((m) => m.Body)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect((await receive(url)).Messages ?? []).toEqual([]);
    h.emulator.clock.advance(30_000);
    expect((await receive(url)).Messages ?? []).toHaveLength(4);
  });
});
