import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { readDlq } from '../../services/report/src/adapters/queues';
import { queueCounts } from '../emulator/helpers';
import { stopsAfterAll } from './support/stop-after-all';

jest.setTimeout(120_000);

/**
 * Every report reads each DLQ by receiving and releasing it (SQS has no peek). On the local
 * cloud's default fault model (`demo`) a standard DLQ is a standard queue like any other, so a
 * receive can meet another host's copy of a message: a duplicate delivery of that message, not
 * a new one. Reading a DLQ again must find it as it was: the same depth, nothing unread.
 */
describe('reading a standard DLQ again and again under the default fault model', () => {
  const keep = stopsAfterAll();
  let cloud: LocalCloud;
  let sqs: SQSClient;
  const n = 400;

  beforeAll(async () => {
    cloud = await keep(startLocalCloud({ port: 0, servicesOnly: true, seed: 7, faults: 'demo' }));
    sqs = new SQSClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  }, 300_000);

  afterAll(async () => {
    sqs?.destroy();
  });

  /** A standard queue holding n order messages of run `runId`, as a DLQ holds them. */
  async function dlqOf(name: string, runId: string): Promise<string> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    for (let i = 0; i < n; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: Array.from({ length: 10 }, (_, j) => ({
            Id: `e${j}`,
            MessageBody: JSON.stringify({ runId, orderId: `o${i + j}` }),
          })),
        }),
      );
    }
    return QueueUrl!;
  }

  const depth = async (QueueUrl: string) => (await queueCounts(sqs, QueueUrl)).depth;

  it('keeps the depth and leaves nothing unread when a client reads it three times as the report does', async () => {
    const url = await dlqOf('peek-sdk-dlq', 'run-sdk');
    const reads: Array<{ depth: number; deliveries: number; distinct: number; after: number }> = [];

    // Act: three reads, each the report's way: the depth, receives (1 s long polls, hidden 30 s)
    // until one is empty, then every message released (ChangeMessageVisibility 0).
    for (let r = 0; r < 3; r++) {
      const before = await depth(url);
      const handles: string[] = [];
      const ids = new Set<string>();
      for (;;) {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            VisibilityTimeout: 30,
          }),
        );
        if (!out.Messages?.length) break;
        for (const m of out.Messages) {
          handles.push(m.ReceiptHandle!);
          ids.add(m.MessageId!);
        }
      }
      for (let i = 0; i < handles.length; i += 10) {
        const out = await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: handles
              .slice(i, i + 10)
              .map((ReceiptHandle, j) => ({ Id: `r${j}`, ReceiptHandle, VisibilityTimeout: 0 })),
          }),
        );
        expect(out.Failed ?? []).toEqual([]);
      }
      reads.push({
        depth: before,
        deliveries: handles.length,
        distinct: ids.size,
        after: await depth(url),
      });
    }

    // Assess: the fault fired (some message was delivered twice in a read), yet every read saw
    // n messages, read n, and left n: unread (depth - read) is 0 each time.
    expect(reads.reduce((sum, r) => sum + r.deliveries - r.distinct, 0)).toBeGreaterThan(0);
    expect(reads.map((r) => [r.depth, r.distinct, r.depth - r.distinct, r.after])).toEqual([
      [n, n, 0, n],
      [n, n, 0, n],
      [n, n, 0, n],
    ]);
  });

  it("gives the report's DLQ adapter the same depth, the same messages and nothing unread on every read", async () => {
    const url = await dlqOf('peek-report-dlq', 'run-report');

    const reads = [];
    for (let r = 0; r < 3; r++) reads.push(await readDlq(sqs, url, 'run-report'));

    for (const read of reads) {
      expect(read.depth).toBe(n);
      expect(read.unread).toBe(0);
      expect(new Set(read.orderIds)).toEqual(new Set(Array.from({ length: n }, (_, i) => `o${i}`)));
      expect(read.messages).toHaveLength(n);
    }
    expect(await depth(url)).toBe(n);
  });
});
