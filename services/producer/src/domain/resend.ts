import { QUEUE_KINDS, type QueueKind } from '../../../../shared/src/config/pipeline';
import type { AcceptedOrder } from './ports';

/**
 * When a client retries an order (same Idempotency-Key), the producer sends it to a queue again
 * only when it cannot show the order is already there:
 * - `outcome-unknown`: no message id is recorded for that queue. The earlier send failed, or it
 *   reached SQS but the answer was lost or timed out, or the function died before recording it.
 *   A re-send may be a second copy; the consumers' idempotency makes that harmless.
 * - `queue-lost-it`: a message id is recorded, but the message can no longer be in the queue
 *   (the queue was created after the send, so it is not the queue that took it, or the queue's
 *   retention period has passed since) and the order was never applied there.
 * Otherwise the record answers the retry and nothing is sent: a retry an hour, a day or a month
 * later is no new message for any consumer.
 */
export type SendReason = 'first' | 'outcome-unknown' | 'queue-lost-it';

/** What the producer knows about a queue's own lifetime (GetQueueAttributes). */
export interface QueueLife {
  /** Epoch ms the queue was created. */
  createdAt: number;
  retentionMs: number;
}

/** Whether a message sent at `sentAt` can still be in the queue at `now`. */
export function mayStillBeQueued(sentAt: number, life: QueueLife, now: number): boolean {
  return sentAt >= life.createdAt && now - sentAt < life.retentionMs;
}

/** The send time recorded for `queue` (records written before sends were timed: acceptance). */
export function recordedSentAt(
  record: Pick<AcceptedOrder, 'sentAt' | 'acceptedAt'>,
  queue: QueueKind,
): number {
  return record.sentAt?.[queue] ?? record.acceptedAt;
}

/**
 * How long a client retry must wait (ms; 0: it need not) because the request that claimed the
 * order may still be sending it. That request won the claim, and neither recorded a message id
 * for every queue nor wrote that its sends ended (it writes that even when every send failed),
 * so it is still sending, or it died. Sending now would put a second message on both queues;
 * so the retry is told to come back, as an idempotent API answers a request still in progress
 * (Powertools' idempotency throws IdempotencyAlreadyInProgressError for one).
 *
 * "May still be sending" ends `windowMs` after `acceptedAt`: the claiming invocation started
 * before it took `acceptedAt`, and Lambda stops an invocation at the function timeout, so nothing
 * of it runs later than `acceptedAt` plus the producer's timeout (the window adds a margin for
 * the two instances' clocks). After that, missing ids mean that request died: the retry sends
 * again, as before (an `outcome-unknown` re-send).
 */
export function stillSendingFor(
  record: Pick<AcceptedOrder, 'messageIds' | 'sendsEndedAt' | 'acceptedAt'>,
  windowMs: number,
  now: number,
): number {
  if (record.sendsEndedAt !== undefined) return 0;
  const ids = record.messageIds;
  if (ids && QUEUE_KINDS.every((q) => ids[q])) return 0;
  return Math.max(0, record.acceptedAt + windowMs - now);
}
