import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { readDlq } from '../../services/report/src/adapters/queues';
import { type Harness, startEmulator } from '../emulator/helpers';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * The report reads each DLQ without consuming it (services/report/src/adapters/queues.ts): what
 * it counts, what it cannot get to, and that every message is where it was afterwards.
 */
describe('reading a DLQ for the report', () => {
  let h: Harness;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    h = await keep(startEmulator('none', 4242));
  });

  const body = (runId: string, orderId: string) => JSON.stringify({ runId, orderId });

  async function queue(name: string): Promise<string> {
    const fifo = name.endsWith('.fifo');
    const out = await h.sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : {} }),
    );
    return out.QueueUrl!;
  }

  /** Sends the bodies in batches; answers the message id SQS gave each body, in order. */
  async function send(url: string, bodies: string[], group?: (i: number) => string) {
    const ids: string[] = [];
    for (let i = 0; i < bodies.length; i += 10) {
      const out = await h.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: bodies.slice(i, i + 10).map((b, j) => ({
            Id: `e${i + j}`,
            MessageBody: b,
            ...(group ? { MessageGroupId: group(i + j), MessageDeduplicationId: `d${i + j}` } : {}),
          })),
        }),
      );
      const byEntry = new Map((out.Successful ?? []).map((e) => [e.Id, e.MessageId]));
      for (let j = i; j < Math.min(i + 10, bodies.length); j++) ids.push(byEntry.get(`e${j}`)!);
    }
    return ids;
  }

  async function counts(url: string) {
    const out = await h.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(out.Attributes?.ApproximateNumberOfMessages),
      inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible),
    };
  }

  it("reads every message, keeps this run's order ids, and leaves them all visible", async () => {
    // Prepare: 25 orders of this run, 3 of another, one body that is not an order.
    const url = await queue('peek-standard-dlq');
    const ours = Array.from({ length: 25 }, (_, i) => `o${i}`);
    const sent = await send(url, [
      ...ours.map((id) => body('run-a', id)),
      ...['x1', 'x2', 'x3'].map((id) => body('run-b', id)),
      'not json',
    ]);

    // Act: twice, so the second read shows the first changed nothing it reads.
    const first = await readDlq(h.sqs, url, 'run-a');
    const second = await readDlq(h.sqs, url, 'run-a');

    // Assess
    for (const read of [first, second]) {
      expect(read.depth).toBe(29);
      expect(read.unread).toBe(0);
      expect([...read.orderIds].sort()).toEqual([...ours].sort());
      // Each of this run's messages with the id SQS gave it when it was sent.
      const byId = (a: { orderId: string; messageId: string }[]) =>
        [...a].sort((x, y) => (x.messageId < y.messageId ? -1 : 1));
      expect(byId(read.messages ?? [])).toEqual(
        byId(ours.map((orderId, i) => ({ orderId, messageId: sent[i]! }))),
      );
    }
    expect(await counts(url)).toEqual({ visible: 29, inFlight: 0 });
  });

  it('reads no more than its bound, counts the rest as unread, and releases what it read', async () => {
    const url = await queue('peek-bounded-dlq');
    await send(
      url,
      Array.from({ length: 15 }, (_, i) => body('run-a', `o${i}`)),
    );

    const read = await readDlq(h.sqs, url, 'run-a', { maxMessages: 10 });

    expect([read.depth, read.orderIds.length, read.unread]).toEqual([15, 10, 5]);
    expect(await counts(url)).toEqual({ visible: 15, inFlight: 0 });
  });

  it('counts the messages a FIFO group hides behind its first batch as unread, and keeps the group in order', async () => {
    // Prepare: group g1 holds 12 messages, g2 holds 2. A receive returns at most 10 of g1, and
    // while those are hidden the other 2 of g1 cannot be received.
    const url = await queue('peek-dlq.fifo');
    const ids = Array.from({ length: 14 }, (_, i) => `f${String(i).padStart(2, '0')}`);
    await send(
      url,
      ids.map((id) => body('run-a', id)),
      (i) => (i < 12 ? 'g1' : 'g2'),
    );

    // Act
    const read = await readDlq(h.sqs, url, 'run-a');

    // Assess
    expect([read.depth, read.orderIds.length, read.unread]).toEqual([14, 12, 2]);
    expect(read.orderIds).not.toContain('f10');
    expect(read.orderIds).not.toContain('f11');
    expect(await counts(url)).toEqual({ visible: 14, inFlight: 0 });
    const next = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1 }),
    );
    expect(next.Messages?.[0]?.Body).toBe(body('run-a', 'f00'));
  });

  it('reads every order while receives pass over visible messages', async () => {
    // Prepare: an emulator whose receives skip most visible messages (its reordering fault), so
    // a receive can come back empty with messages still to read (with this seed, one does: a
    // reader that stops at its first empty receive misses orders here). One client, one request
    // at a time: the seeded fault decisions repeat exactly.
    const skipping = await startEmulator({ reorderRate: 0.7 }, 1);
    try {
      const out = await skipping.sqs.send(new CreateQueueCommand({ QueueName: 'peek-skip-dlq' }));
      const url = out.QueueUrl!;
      const ids = Array.from({ length: 30 }, (_, i) => `o${i}`);
      for (let i = 0; i < ids.length; i += 10) {
        await skipping.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: ids
              .slice(i, i + 10)
              .map((id, j) => ({ Id: `e${j}`, MessageBody: body('run-a', id) })),
          }),
        );
      }

      // Act
      const read = await readDlq(skipping.sqs, url, 'run-a');

      // Assess
      expect([read.depth, read.unread]).toEqual([30, 0]);
      expect([...read.orderIds].sort()).toEqual([...ids].sort());
    } finally {
      await skipping.stop();
    }
  }, 30_000);

  it('counts in its depth, and as unread, the messages another reader holds in flight', async () => {
    // Prepare: 5 messages, 2 of them received (and so hidden) by someone else just before.
    const url = await queue('peek-held-dlq');
    await send(
      url,
      Array.from({ length: 5 }, (_, i) => body('run-a', `o${i}`)),
    );
    const held = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 2, VisibilityTimeout: 60 }),
    );
    expect(held.Messages).toHaveLength(2);

    // Act
    const read = await readDlq(h.sqs, url, 'run-a');

    // Assess: SQS's depth counts the held ones; the reader could not get to them.
    expect([read.depth, read.orderIds.length, read.unread]).toEqual([5, 3, 2]);
  }, 20_000);

  /**
   * Reads the DLQ and answers the read with every ReceiveMessage it sent, by its
   * WaitTimeSeconds and the number of messages it brought, seen on the SDK client.
   */
  async function readCountingReceives(url: string) {
    const receives: Array<{ wait?: number; messages: number }> = [];
    h.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'ReceiveMessageCommand') {
          receives.push({
            wait: (args.input as { WaitTimeSeconds?: number }).WaitTimeSeconds,
            messages: (out.output as { Messages?: unknown[] }).Messages?.length ?? 0,
          });
        }
        return out;
      },
      { step: 'initialize', name: 'countReceives' },
    );
    try {
      return { read: await readDlq(h.sqs, url, 'run-a'), receives };
    } finally {
      h.sqs.middlewareStack.remove('countReceives');
    }
  }

  it('reads an empty DLQ with one long poll, its one wait', async () => {
    const url = await queue('peek-empty-dlq');
    const { read, receives } = await readCountingReceives(url);
    // One receive of WaitTimeSeconds 1 answered empty: no second wait.
    expect(receives).toEqual([{ wait: 1, messages: 0 }]);
    expect(read).toEqual({
      depth: 0,
      orderIds: [],
      messages: [],
      unread: 0,
      // Read with the depth, to match the RedrivePolicy that names the DLQ.
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:peek-empty-dlq',
    });
  });

  it('ends at its first empty receive once every visible message is read, while delayed ones wait', async () => {
    // Prepare: a standard DLQ holding 3 visible messages and 2 delayed for a minute (no receive
    // can get them before the read ends).
    const url = await queue('peek-delayed-dlq');
    await send(
      url,
      Array.from({ length: 3 }, (_, i) => body('run-a', `o${i}`)),
    );
    await h.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: ['d0', 'd1'].map((id) => ({
          Id: id,
          MessageBody: body('run-a', id),
          DelaySeconds: 60,
        })),
      }),
    );

    // Act
    const started = performance.now();
    const { read, receives } = await readCountingReceives(url);
    const ms = performance.now() - started;

    // Assess: the 3 read, the 2 delayed counted as unread, one empty long poll (it made three
    // in a row, about 3 s, waiting for the delayed ones).
    expect([read.depth, read.orderIds.length, read.unread]).toEqual([5, 3, 2]);
    expect(receives).toEqual([
      { wait: 1, messages: 3 },
      { wait: 1, messages: 0 },
    ]);
    expect(ms).toBeLessThan(2_500);
    expect(await counts(url)).toEqual({ visible: 3, inFlight: 0 });
  });
});
