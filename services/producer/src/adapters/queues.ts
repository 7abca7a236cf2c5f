import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueKind } from '../../../../shared/src/config/pipeline';
import type { OrderMessage } from '../../../../shared/src/ledger';
import { type QueuePort, QueueUnavailableError } from '../domain/ports';
import { DEFAULT_RETRY, type RetryPolicy, withRetries } from '../domain/retry';

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'RequestThrottled',
  'ServiceUnavailable',
  'InternalError',
  'InternalFailure',
  'KmsThrottled',
  'TimeoutError',
  'RequestTimeout',
]);
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** Throttling, 5xx and network errors may pass on a retry; a 4xx other than throttling will not. */
export function isTransientSqsError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as {
    name?: string;
    code?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  if (e.$retryable) return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

export class SqsQueues implements QueuePort {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: Record<QueueKind, string>,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  async send(queue: QueueKind, message: OrderMessage): Promise<string> {
    const command = new SendMessageCommand({
      QueueUrl: this.urls[queue],
      MessageBody: JSON.stringify(message),
      MessageAttributes: { runId: { DataType: 'String', StringValue: message.runId } },
      // FIFO orders within a message group, so one group per customer keeps each customer's
      // orders in sequence while customers proceed in parallel; the order id as deduplication
      // id makes SQS drop a client retry sent within its 5-minute deduplication window.
      ...(queue === 'fifo'
        ? { MessageGroupId: message.customerId, MessageDeduplicationId: message.orderId }
        : {}),
    });
    try {
      const out = await withRetries(() => this.sqs.send(command), isTransientSqsError, this.retry);
      if (!out.MessageId) throw new Error('SendMessage answered without a MessageId');
      return out.MessageId;
    } catch (err) {
      throw new QueueUnavailableError(queue, { cause: err });
    }
  }
}
