import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ClientOptions } from '../../../../shared/src/aws-clients';
import type { OrderMessage } from '../../../../shared/src/order-message';
import type { QueueKind } from '../../../../shared/src/queue-kind';
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

/**
 * The producer's SQS client. It retries sends itself (domain/retry.ts, full jitter), so the SDK
 * tries once: its own retries under that loop would turn 4 tries into 12. Each try ends after
 * 1 s to connect and 1 s for the answer (SendMessage takes milliseconds), so 4 tries and their
 * backoff end within about 5 s, and an unreachable queue is a 503 well inside the function's 10 s.
 *
 * Its middleware stack is built once per command class (`cacheMiddleware`), not on every send:
 * two SendMessage calls an order. Nothing changes the client's stack after it is made (Tracer's
 * middleware, when tracing is on, goes in as the handler wraps the client at cold start, before
 * any send), and no send passes options. docs/benchmarks.md has the CPU it saves.
 */
export const PRODUCER_SQS_CLIENT = {
  maxAttempts: 1,
  connectionTimeoutMs: 1000,
  requestTimeoutMs: 1000,
  cacheMiddleware: true,
} as const satisfies ClientOptions;

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
      // A refusal retrying cannot change (no such queue, access denied) is a fault of this
      // deployment, not an outage: it is not reported as "unavailable, retry".
      if (!isTransientSqsError(err)) throw err;
      throw new QueueUnavailableError(queue, { cause: err });
    }
  }
}
