import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** A fuzz run's own queues (the pipeline's are left alone). */
export interface FuzzQueues {
  std: string;
  fifo: string;
  dlq: string;
  fifoDlq: string;
}

/** Creates `QueueName` with `Attributes`: its URL. */
export async function createQueue(
  sqs: SQSClient,
  QueueName: string,
  Attributes: Record<string, string> = {},
): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName, Attributes }))).QueueUrl!;
}

/** The ARN of the queue at `QueueUrl`. */
export async function queueArn(sqs: SQSClient, QueueUrl: string): Promise<string> {
  return (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] })))
    .Attributes!.QueueArn!;
}

/**
 * The fuzz queues, created in this order: fz-dlq, fz-dlq.fifo, fz-std (dead letters to fz-dlq
 * after 2 receives) and fz.fifo (content-based deduplication, dead letters to fz-dlq.fifo after
 * 2 receives); each also with `attributes`.
 */
export async function createFuzzQueues(
  sqs: SQSClient,
  attributes: Record<string, string> = {},
): Promise<FuzzQueues> {
  const dlq = await createQueue(sqs, 'fz-dlq', { ...attributes });
  const fifoDlq = await createQueue(sqs, 'fz-dlq.fifo', { FifoQueue: 'true', ...attributes });
  const redrive = (arn: string) => JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 2 });
  const std = await createQueue(sqs, 'fz-std', {
    ...attributes,
    RedrivePolicy: redrive(await queueArn(sqs, dlq)),
  });
  const fifo = await createQueue(sqs, 'fz.fifo', {
    FifoQueue: 'true',
    ContentBasedDeduplication: 'true',
    ...attributes,
    RedrivePolicy: redrive(await queueArn(sqs, fifoDlq)),
  });
  return { std, fifo, dlq, fifoDlq };
}

export interface FillQueues {
  /** Messages sent to each queue, `seed 0` to `seed <count - 1>`. */
  count: number;
  /** A FIFO queue's message n's group and deduplication ids. */
  fifoIds: (n: number) => { MessageGroupId: string; MessageDeduplicationId: string };
  /** What the receive from the i-th queue, after its sends, asks for. */
  receive: (i: number) => { MaxNumberOfMessages: number; VisibilityTimeout?: number };
}

/**
 * Messages in each of `queueUrls`, one queue after the other, and a receive from each after its
 * sends: the receipt handles received, in order (messages in flight, for cases to aim at).
 */
export async function fillQueues(
  sqs: SQSClient,
  queueUrls: readonly string[],
  { count, fifoIds, receive }: FillQueues,
): Promise<string[]> {
  const handles: string[] = [];
  for (const [i, QueueUrl] of queueUrls.entries()) {
    for (let n = 0; n < count; n++) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: `seed ${n}`,
          ...(QueueUrl.endsWith('.fifo') ? fifoIds(n) : {}),
        }),
      );
    }
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, ...receive(i) }));
    handles.push(...(got.Messages ?? []).map((m) => m.ReceiptHandle!));
  }
  return handles;
}
