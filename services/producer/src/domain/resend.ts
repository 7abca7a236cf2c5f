import type { QueueKind } from '../../../../shared/src/queue-kind';
import type { AcceptedOrder, QueueLife } from './ports';

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
 * The deadline of a send lease (epoch ms, on this instance's clock): the invocation's remaining
 * time (Lambda's `context.getRemainingTimeInMillis()`) from now, when Lambda ends it whatever it
 * is doing, plus `marginMs` for the clock of the instance that later reads the lease.
 */
export function sendingDeadline(now: number, remainingMs: number, marginMs: number): number {
  return now + Math.max(0, remainingMs) + marginMs;
}

/** What the record says of who may be sending the order (see AcceptedRecord.sendingBy). */
export type LeaseFields = Pick<
  AcceptedOrder,
  'acceptedAt' | 'sendsEndedAt' | 'sendingBy' | 'sendingUntil' | 'sendsEndedBy'
>;

/**
 * How long (ms; 0: it is free) the order's send lease is still held by a request that may be
 * sending the order. The first request holds it from its claim; a client retry takes it before
 * it sends again (LedgerPort.leaseSends), so two retries never both send.
 * - Its holder wrote that its sends ended (`sendsEndedBy` is `sendingBy`): free.
 * - Otherwise it is held until `sendingUntil`: Lambda ends the holder's invocation by then (the
 *   lease took it from that invocation's remaining time, plus a margin for two instances'
 *   clocks). After it, the holder died (or timed out) before it wrote its end.
 * - A record from before leases (no `sendingUntil`): its claiming request is the holder, ended
 *   when `sendsEndedAt` is written, else held until `acceptedAt` plus `legacyWindowMs` (the
 *   producer's timeout plus the clock margin: that request took `acceptedAt` after its invocation
 *   started).
 * The ledger adapter's lease condition says the same in DynamoDB's words.
 */
export function leaseHeldFor(record: LeaseFields, legacyWindowMs: number, now: number): number {
  if (record.sendingUntil === undefined) {
    if (record.sendsEndedAt !== undefined) return 0;
    return Math.max(0, record.acceptedAt + legacyWindowMs - now);
  }
  if (record.sendsEndedBy !== undefined && record.sendsEndedBy === record.sendingBy) return 0;
  return Math.max(0, record.sendingUntil - now);
}

/**
 * Whether the record shows that a request's own record of its sends (LedgerPort.recordSends)
 * committed: it names the request as the one whose sends ended (`sendsEndedBy`: only the lease's
 * holder writes its own id there), or, once a later holder wrote its own end over it, holds every
 * id the request sent on the list of ids sent (SQS message ids are unique, and only that write
 * puts them there before its answer). A record of no sends whose end a later holder overwrote
 * shows nothing of it: false.
 */
export function showsRecordOf(
  record: Pick<AcceptedOrder, 'sendsEndedBy' | 'sentMessageIds'>,
  sentIds: readonly string[],
  by: string,
): boolean {
  if (record.sendsEndedBy === by) return true;
  const listed = new Set(record.sentMessageIds ?? []);
  return sentIds.length > 0 && sentIds.every((id) => listed.has(id));
}
