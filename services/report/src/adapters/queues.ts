import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DlqRead } from '../domain/metrics';

/** Visible + in flight + delayed: a queue is drained only when all three are zero. */
export async function queueDepth(client: SQSClient, queueUrl: string): Promise<number> {
  const out = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const a = out.Attributes ?? {};
  return (
    Number(a.ApproximateNumberOfMessages ?? 0) +
    Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(a.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** How long read messages stay hidden while the reader collects the rest (then released). */
const PEEK_VISIBILITY_SECONDS = 30;
/** A bound on what one report reads from one DLQ. */
const PEEK_MAX_MESSAGES = 10_000;

function orderOf(m: Message): { orderId: string; runId: string } | undefined {
  try {
    const body = JSON.parse(m.Body ?? '') as { orderId?: unknown; runId?: unknown };
    return typeof body.orderId === 'string' && typeof body.runId === 'string'
      ? { orderId: body.orderId, runId: body.runId }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a DLQ without consuming it: SQS has no peek, so each receive hides what it returned for
 * a short visibility timeout (so the next receive returns the next messages), and once a receive
 * comes back empty every read message is made visible again (ChangeMessageVisibility 0). Long
 * polls, because a short poll samples only some of SQS's servers. The depth is read first, as
 * SQS reports it. A FIFO DLQ returns at most one batch of a message group while that batch is
 * hidden, so messages behind it stay unread (`unread`).
 */
export async function readDlq(
  client: SQSClient,
  queueUrl: string,
  runId: string,
): Promise<DlqRead> {
  const depth = await dlqDepth(client, queueUrl);
  const seen = new Map<string, Message>();
  const handles: string[] = [];
  try {
    while (depth > 0 && seen.size < Math.min(depth, PEEK_MAX_MESSAGES)) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      for (const m of messages) {
        if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
        // A standard queue may hand out a copy twice: one entry per message id.
        if (m.MessageId) seen.set(m.MessageId, m);
      }
    }
  } finally {
    await release(client, queueUrl, handles);
  }
  const orders: string[] = [];
  for (const m of seen.values()) {
    const order = orderOf(m);
    if (order?.runId === runId) orders.push(order.orderId);
  }
  return { depth, orderIds: orders, unread: Math.max(0, depth - seen.size) };
}

async function release(client: SQSClient, queueUrl: string, handles: string[]): Promise<void> {
  for (let i = 0; i < handles.length; i += 10) {
    await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: handles
          .slice(i, i + 10)
          .map((h, j) => ({ Id: `m${i + j}`, ReceiptHandle: h, VisibilityTimeout: 0 })),
      }),
    );
  }
}

/** Messages in a DLQ as SQS reports them: visible, plus any a reader holds right now. */
export async function dlqDepth(client: SQSClient, queueUrl: string): Promise<number> {
  const out = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

export async function queueUrlByName(client: SQSClient, name: string): Promise<string> {
  const out = await client.send(new GetQueueUrlCommand({ QueueName: name }));
  if (!out.QueueUrl) throw new Error(`no url for queue ${name}`);
  return out.QueueUrl;
}
