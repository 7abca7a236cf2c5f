import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type OrderMessageRef, orderMessageRefSchema } from '../../../../shared/src/order-message';
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
/**
 * Receives in a row that bring no new message before the reader of a standard DLQ stops. One is
 * not enough: a receive may pass over visible messages (the emulator's reordering fault does; a
 * copy of a message already read brings nothing new), and stopping there left an order unread.
 * A FIFO queue hands out a group's messages in order or not at all, so its first empty receive
 * means what is left sits behind a batch the reader holds.
 */
const PEEK_IDLE_RECEIVES = 3;

/**
 * The order a DLQ message names. Only its order and run are read: a message may be in the DLQ
 * because the rest of it was malformed, and it still counts for its order.
 */
function orderOf(m: Message): OrderMessageRef | undefined {
  let body: unknown;
  try {
    body = JSON.parse(m.Body ?? '');
  } catch {
    return undefined;
  }
  const ref = orderMessageRefSchema.safeParse(body);
  return ref.success ? ref.data : undefined;
}

/**
 * Reads a DLQ without consuming it: SQS has no peek, so each receive hides what it returned for
 * a short visibility timeout (so the next receive returns the next messages), and once receives
 * stop bringing new messages every read message is made visible again (ChangeMessageVisibility
 * 0). Long polls, because a short poll samples only some of SQS's servers. The depth is read
 * first, as SQS reports it. A FIFO DLQ returns at most one batch of a message group while that
 * batch is hidden, so messages behind it stay unread (`unread`); so does a copy sharing its
 * message id with one read (it is counted once), and anything past `maxMessages`.
 * Reading is receiving: each read raises the messages' ApproximateReceiveCount (a DLQ has no
 * redrive policy of its own, so nothing moves because of it).
 */
export async function readDlq(
  client: SQSClient,
  queueUrl: string,
  runId: string,
  { maxMessages = PEEK_MAX_MESSAGES }: { maxMessages?: number } = {},
): Promise<DlqRead> {
  const depth = await dlqDepth(client, queueUrl);
  const seen = new Map<string, Message>();
  const handles: string[] = [];
  const idleLimit = queueUrl.endsWith('.fifo') ? 1 : PEEK_IDLE_RECEIVES;
  let idle = 0;
  try {
    while (
      depth > 0 &&
      seen.size < Math.min(depth, maxMessages) &&
      handles.length < maxMessages &&
      idle < idleLimit
    ) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, maxMessages - handles.length),
          WaitTimeSeconds: 1,
          VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
        }),
      );
      const before = seen.size;
      for (const m of out.Messages ?? []) {
        if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
        // A standard queue may hand out a copy twice: one entry per message id.
        if (m.MessageId) seen.set(m.MessageId, m);
      }
      idle = seen.size > before ? 0 : idle + 1;
    }
  } finally {
    await release(client, queueUrl, handles);
  }
  const messages: Array<{ orderId: string; messageId: string }> = [];
  for (const [messageId, m] of seen) {
    const order = orderOf(m);
    if (order?.runId === runId) messages.push({ orderId: order.orderId, messageId });
  }
  return {
    depth,
    orderIds: messages.map((m) => m.orderId),
    messages,
    unread: Math.max(0, depth - seen.size),
  };
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
