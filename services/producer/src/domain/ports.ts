import type { QueueKind } from '../../../../shared/src/config/pipeline';
import type { AcceptedRecord } from '../../../../shared/src/ledger';
import type { OrderMessage } from '../../../../shared/src/order-message';
import type { QueueLife } from './resend';
import type { QueueFacts } from './status';

/** What the producer needs from the ledger table; the adapter speaks DynamoDB. */
export interface LedgerPort {
  /** The accepted order, by its id alone (a consistent read). */
  getAccepted(orderId: string): Promise<AcceptedRecord | undefined>;
  /** Atomically takes the customer's next sequence number. */
  nextSequence(runId: string, customerId: string): Promise<number>;
  /**
   * Claims the order id: writes the accepted record unless the id is taken, in one conditional
   * write. When it is taken, answers the record that holds it.
   */
  claim(
    record: AcceptedRecord,
  ): Promise<{ claimed: true } | { claimed: false; existing: AcceptedRecord }>;
  /** Counts one more request for the order (a client retry). */
  countRequest(orderId: string): Promise<void>;
  /** Records the message ids (and send times) known so far, in one write. */
  recordSends(
    orderId: string,
    ids: Record<QueueKind, string>,
    sentAt: Partial<Record<QueueKind, number>>,
  ): Promise<void>;
  /** Whether the order's effect was committed on `queue`. */
  hasEffect(runId: string, queue: QueueKind, orderId: string): Promise<boolean>;
  queueFacts(runId: string, queue: QueueKind, orderId: string): Promise<QueueFacts>;
}

/** Each queue's own lifetime, read from SQS (GetQueueAttributes). */
export interface QueueLifetimePort {
  life(queue: QueueKind): Promise<QueueLife>;
}

export interface QueuePort {
  /** Sends one order to one queue and answers its message id; transient errors are retried inside. */
  send(queue: QueueKind, message: OrderMessage): Promise<string>;
}

/** A queue stayed unreachable after the retries. */
export class QueueUnavailableError extends Error {
  constructor(
    readonly queue: QueueKind,
    options?: ErrorOptions,
  ) {
    super(`queue ${queue} is unavailable`, options);
    this.name = 'QueueUnavailableError';
  }
}
