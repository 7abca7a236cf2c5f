import {
  deliveryProblem,
  failureProblem,
  judgeFifoRedeliveries,
  positiveIntegerOf,
  shown,
} from '../../../../shared/src/fifo-redelivery';
import {
  type AcceptedSummary,
  type ApplyCounterRecord,
  type ClockSkipRecord,
  type DeliveryRecord,
  type EffectRecord,
  type FailureRecord,
  SK_PREFIX,
} from '../../../../shared/src/ledger';
import { LATEST_TIME_MS } from '../../../../shared/src/order-message';
import type { QueueKind } from '../../../../shared/src/queue-kind';
import { countInversions, countOutOfOrder } from './inversions';
import { type LatencySummary, summarizeLatency } from './percentiles';

/** Everything one run wrote to the ledger, split by record type. */
export interface RunLedger {
  /** From the `byRun` index: what it projects of each accepted order. */
  accepted: AcceptedSummary[];
  deliveries: DeliveryRecord[];
  effects: EffectRecord[];
  failures: FailureRecord[];
  /**
   * The per-customer apply counters: the last index each customer's applies took per queue.
   * Without them only the gaps between effects are seen, not an index taken after the last one.
   */
  counters?: ApplyCounterRecord[];
  /** What each queue's DLQ holds, read from the DLQ itself; absent: read as empty. */
  dlq?: Partial<Record<QueueKind, DlqRead>>;
  /**
   * The message ids the producer recorded for orders delivered under more than one message id
   * (read by key from their accepted items: the `byRun` index does not project them); absent, or
   * an order missing: the producer's ids are unknown for it (see DuplicateCauses.dlqRedrive).
   */
  producerSends?: ProducerSends[];
  /**
   * The advances of the functions' clock the run's runner wrote (ClockSkipRecord: a local run
   * skipping visibility timeouts); absent or empty: none written. The report shows them in a
   * note and reads every stamp as written.
   */
  clockSkips?: ClockSkipRecord[];
}

/** What the producer recorded of an order's sends (AcceptedRecord). */
export interface ProducerSends {
  orderId: string;
  /** Every id SQS answered its sends with (`sentMessageIds`); absent on records older than it. */
  sentMessageIds?: string[];
  /** The latest id per queue (`messageIds`; '' while a send's outcome is unknown). */
  messageIds?: Partial<Record<QueueKind, string>>;
}

/** One DLQ, read without consuming it (adapters/queues.ts readDlq). */
export interface DlqRead {
  /**
   * Messages in the DLQ as SQS reports it (visible + in flight + delayed), any run's: approximate,
   * so the messages read may be more.
   */
  depth: number;
  /** Order ids of this run among the messages read (a copy read twice counts once). */
  orderIds: string[];
  /**
   * The same messages with their SQS message ids (a message keeps its id when SQS moves it to
   * the DLQ), so a copy in the DLQ can be matched with the receives the ledger holds of it.
   */
  messages?: Array<{ orderId: string; messageId: string }>;
  /** Messages the reader could not get to without consuming them (see readDlq). */
  unread: number;
  /** The DLQ's ARN (GetQueueAttributes QueueArn), to match it with the RedrivePolicy's target. */
  queueArn?: string;
}

/**
 * Why a delivery after an order's first came, from what the ledger holds: which message each
 * receive was, what the producer sent, how earlier attempts ended, and SQS's receive count of
 * each receive, which orders one message's receives (a count alone is no cause: a copy made by
 * the queue can carry any count):
 * - `dlqRedrive`: a message id no earlier delivery of the order had, which the producer did not
 *   record as one it sent, after an earlier message of the order went to the DLQ (a final failure
 *   record: its last allowed receive failed, or was handed back unrun; or a delivery at
 *   maxReceiveCount that failed, or whose attempt or invocation never finished) that is not in
 *   the DLQ as the report read it (RedriveEvidence.stillInDlq) and explains no earlier redrive:
 *   a DLQ redrive (StartMessageMoveTask, or a move by hand) put it back. SQS gives a redriven
 *   message a new message id ("All redriven messages are considered new messages with a new
 *   messageID and enqueueTime", SQS Developer Guide, DLQ redrive), and nothing on the message
 *   says it was redriven, so the producer's record of what it sent is what tells the two apart,
 *   and the DLQ says whether anything left it: a dead-lettered message still there was moved by
 *   nobody, so an unrecorded new id after it is a send whose answer was lost. A redrive moves
 *   a message out once, so each dead-lettered message explains one redrive (the order's first
 *   delivery, no duplicate, uses one up when it is such a new id itself: the redrive of a
 *   message dead-lettered unrun). A message the report did not read in the DLQ (not read, or
 *   among the unread) counts as gone.
 * - `producerResend`: a message id no earlier delivery of the order had, otherwise: the producer
 *   sent the order again (a client retried a send whose outcome it did not know). With no
 *   dead-lettered message before it that left the DLQ and explains no other redrive, an id the
 *   producer did not record is a send whose answer was lost, so it is one too.
 * - `retryAfterFailure`: the same message id again, received after an attempt at it that ended
 *   without a delete: it failed, it never finished (still `pending`), or it ran in an invocation
 *   that never ended (crash, timeout: SQS deletes nothing of that batch, records that succeeded
 *   included), or its batch named its message id failed (a copy of it beside it failed, or was
 *   handed back unrun: leftUndeleted). Such an attempt hands the message back once, so it
 *   explains one later delivery.
 *   "After" is SQS's order where the ledger has it: a higher ApproximateReceiveCount (see
 *   receiveCountOf), whatever the consumers' clocks say; otherwise the failure's time against
 *   the receive's (receivesInSqsOrder).
 * - `queueCopy`: the same message id again, otherwise: SQS delivered it once more on its own
 *   (at-least-once: a copy on another host, a copy that survived a delete, a visibility timeout
 *   that ran out under an attempt that then succeeded), or a second delivery after one failure
 *   (a copy of the retry). Of deliveries with the same receive count, one at most is the retry
 *   of each earlier failure; the others are copies of it. What the ledger cannot tell: an
 *   invocation that died or timed out after writing its outcomes and end mark (one batch write
 *   before the handler returns) but before Lambda deleted its batch (after the return) leaves
 *   the same records as one that returned, so its records' next receives, one count above an
 *   attempt that succeeded and ended, are counted here, as a delete SQS lost would be: nothing
 *   the function writes can follow Lambda's delete (docs/report.md, "What the count cannot
 *   tell").
 * They add up to `duplicateDeliveries`.
 */
export interface DuplicateCauses {
  producerResend: number;
  queueCopy: number;
  retryAfterFailure: number;
  dlqRedrive: number;
}

/** The per-queue metrics (docs/report.md, "The metrics"); the field names are a contract. */
export interface QueueMetrics {
  deliveries: number;
  duplicateDeliveries: number;
  duplicateCauses: DuplicateCauses;
  redeliveries: number;
  suppressed: number;
  /** Suppressed deliveries the record let through and the effect's conditional write refused. */
  refusedByEffectGuard: number;
  processed: number;
  duplicateEffects: number;
  outOfOrder: number;
  inversions: number;
  customersAffected: number;
  /**
   * Apply indexes taken with no effect written: one per refusal of the effect guard, plus one
   * per attempt that stopped between taking its index and writing its effect.
   */
  applyIndexGaps: number;
  /** Accepted orders, not applied, whose message is in the queue's DLQ (read from the DLQ). */
  inDlq: number;
  /**
   * Applied orders of which a copy is still in the DLQ (a copy that survived its delete past
   * maxReceiveCount, or an order applied and then failing): nothing to redo, and a redrive is
   * refused by the effect guard, but the DLQ is not empty because of it.
   */
  appliedInDlq: number;
  /** The DLQ's depth as SQS reports it (all runs'), read before the report read it. */
  dlqDepth: number;
  /** DLQ messages the report could not read without consuming them; 0 means it read them all. */
  dlqUnread: number;
  lost: number;
  latencyMs: LatencySummary;
  throughputPerSec: number;
}

/** One customer's applies on one queue, in apply order: what the ordering chart draws. */
export interface CustomerApplies {
  customerId: string;
  /** Sequences in the order their first effect committed (applyIndex order). */
  sequences: number[];
  outOfOrder: number;
  inversions: number;
}

/** Why an order was delivered more than once, and how each extra delivery ended. */
export interface DuplicateBreakdown {
  /** Extra deliveries by cause (see DuplicateCauses). */
  causes: DuplicateCauses;
  /** Extra deliveries by outcome. */
  byOutcome: Record<DeliveryRecord['outcome'], number>;
  /**
   * Messages received more than once whose receives the ledger gives no usable receive count
   * for: their retries and copies were told apart by the consumers' clock (receivesInSqsOrder).
   */
  timeOrderedMessages: number;
  /**
   * Of `causes.retryAfterFailure`, on a FIFO queue: receives of a message again, one count above
   * receives of it the ledger holds, that nothing in the ledger says were left undeleted, by the
   * FIFO redelivery rule (shared/src/fifo-redelivery.ts, the run check's rule too). A FIFO queue
   * does not hand a message out twice on its own (its deliveries are exactly-once: no copies), so
   * SQS received it again because an earlier receive was not deleted, for a reason the ledger
   * cannot show: an invocation that died or failed after its end write committed, with no mark
   * of it (docs/report.md, "What the count cannot tell"), a delete Lambda could not make. They
   * are counted as retries on the queue type's rule alone, and said so in a note. A second
   * receive of one FIFO message at one count is a copy the queue should not make, and is
   * `queueCopy` (on AWS it can also be a batch Lambda's event source processed twice, two
   * invocations recording one count: docs/report.md, "Retry or queue copy").
   */
  fifoRetriesByQueueType: number;
}

export interface AnalyzeOptions {
  /**
   * The consumer's function timeout: an attempt still `pending` this long after its receive
   * never finished (it timed out, or its process died). Only for receives the consumer did not
   * stamp with their invocation's own deadline (DeliveryRecord.deadlineAt, older ledgers): a
   * stamped one is judged by that deadline, the timeout the function really ran with.
   */
  attemptTimeoutMs: number;
  /**
   * The queue's maxReceiveCount: a delivery at it that ended in failure sent its message to the
   * DLQ. Absent: only the consumers' final failure records say a message was dead-lettered.
   */
  maxReceiveCount?: number;
  /**
   * maxReceiveCount is the queue's own (read from its RedrivePolicy): a failure is its message's
   * last receive when its receive count reaches it, whatever the consumer marked (`final`, by the
   * limit it was started with, which a policy changed since no longer matches). Otherwise the
   * consumer's mark is the evidence.
   */
  finalByQueue?: boolean;
  /**
   * The queue's visibility timeout, ms: on FIFO, a receive that ran this long had it run out
   * under it, so its redelivery is a retry (shared/src/fifo-redelivery.ts). Absent: only a
   * receive above that came before it ended says so.
   */
  visibilityMs?: number;
}

const DEFAULT_OPTIONS: AnalyzeOptions = { attemptTimeoutMs: 10_000 };

/** What tells a redriven message from a producer's (see DuplicateCauses.dlqRedrive). */
export interface RedriveEvidence {
  /** The queue's failures: after a final one (FailureRecord.final) SQS dead-letters the message. */
  failures: readonly FailureRecord[];
  /** Per order, the message ids the producer recorded (ProducerSends); absent: none known. */
  producerIds: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * The message ids read in the queue's DLQ (DlqRead.messages): a dead-lettered message still
   * there was redriven by nobody. Absent, or a message not among them: the report cannot see it
   * there (the DLQ was not read, or the message is among those it could not read).
   */
  stillInDlq?: ReadonlySet<string>;
}

const NO_EVIDENCE: RedriveEvidence = { failures: [], producerIds: new Map() };

export interface QueueAnalysis {
  metrics: QueueMetrics;
  customers: CustomerApplies[];
  duplicates: DuplicateBreakdown;
  /** Accepted to first effect, ms, one per processed order. */
  latencies: number[];
  /**
   * The highest usable ApproximateReceiveCount (receiveCountOf) of the queue's receives and
   * failures, 0 with none: above maxReceiveCount, the limit did not hold for the whole run.
   */
  highestReceiveCount: number;
}

/**
 * A ledger item the report cannot read, named by its key, with what is wrong: printed as one line
 * (no stack) by the CLI. The consumers write every field checked here on every delivery, so such
 * an item comes from another writer or a damaged table, and guessing would misstate the run.
 */
export class LedgerDataError extends Error {
  readonly expose = true;
  constructor(item: { sk?: unknown }, problem: string) {
    const key = typeof item.sk === 'string' ? item.sk : '(an item with no sk)';
    super(`ledger item ${key} ${problem}: the report cannot read the run`);
    this.name = 'LedgerDataError';
  }
}

/**
 * The longest a receive's deadline may lie after it, ms: Lambda's longest function timeout, 900 s
 * ("up to a maximum value of 900 seconds (15 minutes)"), 5,400 s for an event source mapping's
 * invocations on Lambda Managed Instances (Lambda Developer Guide, "Configure Lambda function
 * timeout"). A deadline further out is none Lambda gave.
 */
export const LONGEST_FUNCTION_TIMEOUT_MS = 5400 * 1000;

/**
 * The latest time a ledger may hold (LATEST_TIME_MS, shared with the order message's schema, so
 * the consumer refuses a message whose acceptedAt the report would refuse in its effect). Below
 * 2^53, every time up to it is a whole number exactly, and a difference or a sum of a run's
 * latencies stays finite. A number merely finite (1e308) made a latency of Infinity, or a NaN.
 */
export { LATEST_TIME_MS };

/** A time in epoch ms, from 1970 to LATEST_TIME_MS: every time a real ledger holds is one. */
const isTime = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v <= LATEST_TIME_MS;
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isId = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isIndex = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
const NOT_A_TIME = 'not a time in epoch ms';
const NOT_AN_INDEX = 'not an apply index (a whole number from 1)';

/**
 * Refuses a delivery without what its cause is decided from: its order, its message, its outcome
 * and its receive time. A receive count that is not usable is no error: that message's receives
 * are taken in time order (receivesInSqsOrder).
 */
function checkDelivery(d: DeliveryRecord): void {
  // Its order, message, outcome, times, invocation and end mark: the fields the causes (and the
  // FIFO redelivery rule, shared with the run check) read. The consumer writes each as checked;
  // another value changed a cause unannounced (a NaN time matched no retry, a string "false"
  // read as an end).
  const problem = deliveryProblem(d);
  if (problem) throw new LedgerDataError(d, problem);
  const by: unknown = d.suppressedBy;
  if (by !== undefined && by !== 'record' && by !== 'effect')
    throw new LedgerDataError(d, `has suppressedBy ${shown(by)}, not one of record, effect`);
  // The invocation's deadline is optional (ledgers older than the stamp have none), but one that
  // is there is the consumer's: its receivedAt plus the 0 or more ms its invocation had left,
  // within Lambda's longest timeout. Read as no deadline, any other would be judged by the
  // config's timeout unannounced; read as one, it would make the function timeout 0 s or years,
  // and the causes of the duplicates with it.
  const deadline: unknown = d.deadlineAt;
  if (deadline === undefined) return;
  if (!isTime(deadline))
    throw new LedgerDataError(d, `has deadlineAt ${shown(deadline)}, ${NOT_A_TIME}`);
  if (deadline < d.receivedAt)
    throw new LedgerDataError(
      d,
      `has deadlineAt ${deadline}, before its receivedAt ${d.receivedAt}`,
    );
  if (deadline - d.receivedAt > LONGEST_FUNCTION_TIMEOUT_MS)
    throw new LedgerDataError(
      d,
      `has deadlineAt ${deadline}, ${Math.ceil((deadline - d.receivedAt) / 1000)} s after its receivedAt ${d.receivedAt}: no Lambda function runs longer than ${LONGEST_FUNCTION_TIMEOUT_MS / 1000} s`,
    );
}

/**
 * Refuses an effect without what its order's latency, its customer's apply order and the run's
 * throughput are computed from: its order, customer, sequence, apply index and times. The
 * consumer writes each (the index is the counter's answer), so another value comes from another
 * writer or a damaged table: a committedAt that is no number made the latency NaN (shown as none,
 * the throughput 0, and the HTML page threw), a string sequence or index compared as text.
 */
function checkEffect(e: EffectRecord): void {
  if (!isId(e.orderId))
    throw new LedgerDataError(e, `has orderId ${shown(e.orderId)}, not an order id`);
  if (!isId(e.customerId))
    throw new LedgerDataError(e, `has customerId ${shown(e.customerId)}, not a customer id`);
  if (!isNumber(e.sequence))
    throw new LedgerDataError(e, `has sequence ${shown(e.sequence)}, not a sequence number`);
  if (!isIndex(e.applyIndex))
    throw new LedgerDataError(e, `has applyIndex ${shown(e.applyIndex)}, ${NOT_AN_INDEX}`);
  if (!isTime(e.acceptedAt))
    throw new LedgerDataError(e, `has acceptedAt ${shown(e.acceptedAt)}, ${NOT_A_TIME}`);
  if (!isTime(e.committedAt))
    throw new LedgerDataError(e, `has committedAt ${shown(e.committedAt)}, ${NOT_A_TIME}`);
}

/**
 * Refuses a failure without what a redrive or a retry is matched with: its order, its message,
 * its time (a failedAt that is no number compared false with every receive, so its dead letter
 * explained no redrive, unannounced) and its marks (a `final` of "true" read as not final, a
 * `notAttempted` of "no" as set, so the failure was no failed delivery).
 */
function checkFailure(f: FailureRecord): void {
  const problem = failureProblem(f);
  if (problem) throw new LedgerDataError(f, problem);
}

/**
 * Refuses an accepted order without its id or acceptance time (an acceptedAt that is no number
 * made every latency and the throughput NaN, shown as none and 0), or with a request count that
 * is not one (clientRetries became NaN, or a string's arithmetic). Named by its item's key (pk:
 * `ORDER#<orderId>`; its sk is the same for every order).
 */
function checkAccepted(a: AcceptedSummary): void {
  const item = { sk: a.pk };
  if (!isId(a.orderId))
    throw new LedgerDataError(item, `has orderId ${shown(a.orderId)}, not an order id`);
  if (!isTime(a.acceptedAt))
    throw new LedgerDataError(item, `has acceptedAt ${shown(a.acceptedAt)}, ${NOT_A_TIME}`);
  const requests: unknown = a.requests;
  if (requests !== undefined && !isIndex(requests))
    throw new LedgerDataError(
      item,
      `has requests ${shown(requests)}, not a number of requests (a whole number from 1)`,
    );
}

function count<T>(records: readonly T[], test: (r: T) => boolean): number {
  let n = 0;
  for (const r of records) if (test(r)) n++;
  return n;
}

/** The queue's records, each passed to `check` (if given) in the same pass. */
function forQueue<T extends { queue: QueueKind }>(
  records: readonly T[],
  queue: QueueKind,
  check?: (r: T) => void,
): T[] {
  const out: T[] = [];
  for (const r of records) {
    if (r.queue !== queue) continue;
    check?.(r);
    out.push(r);
  }
  return out;
}

/** First commit per order (the lowest apply index); later commits are duplicate effects. */
function firstEffects(effects: readonly EffectRecord[]): Map<string, EffectRecord> {
  const first = new Map<string, EffectRecord>();
  for (const e of effects) {
    const seen = first.get(e.orderId);
    if (!seen || e.applyIndex < seen.applyIndex) first.set(e.orderId, e);
  }
  return first;
}

export function analyzeCustomers(
  effects: readonly EffectRecord[],
  first: Map<string, EffectRecord> = firstEffects(effects),
): CustomerApplies[] {
  const byCustomer = new Map<string, EffectRecord[]>();
  for (const e of first.values()) {
    const list = byCustomer.get(e.customerId);
    if (list) list.push(e);
    else byCustomer.set(e.customerId, [e]);
  }
  return [...byCustomer.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([customerId, list]) => {
      const sequences = list.sort((x, y) => x.applyIndex - y.applyIndex).map((e) => e.sequence);
      return {
        customerId,
        sequences,
        outOfOrder: countOutOfOrder(sequences),
        inversions: countInversions(sequences),
      };
    });
}

/**
 * The earliest receive of each order: one delivery per order; every other receive is a
 * duplicate (which one is the delivery, analyzeDuplicates decides by SQS's order).
 */
function earliestDeliveries(deliveries: readonly DeliveryRecord[]): Map<string, DeliveryRecord> {
  const earliest = new Map<string, DeliveryRecord>();
  for (const d of deliveries) {
    const seen = earliest.get(d.orderId);
    if (!seen || d.receivedAt < seen.receivedAt) earliest.set(d.orderId, d);
  }
  return earliest;
}

/**
 * SQS's ApproximateReceiveCount of a receive, as the consumer stored it (DeliveryRecord
 * receiveCount, from the record's `attributes.ApproximateReceiveCount`). AWS: "Returns the number
 * of times a message has been received across all queues but not deleted" (ReceiveMessage, API
 * Reference): SQS raises it on each receive of the message, so of two receives of one stored
 * message the one with the higher count came later, on SQS's own clock, which the consumers'
 * `receivedAt` is not (a batching window, or a function that runs past a short visibility
 * timeout, lets a later receive reach its handler first). It is approximate: a copy on another
 * host counts its own receives (the local emulator's copies start again from 1), so equal
 * counts say nothing of order, and a count repeats.
 *
 * A positive integer, or a string of digits (a ledger written by another tool); anything else
 * (missing, 0, a fraction, NaN, an object): undefined, and the message's receives are taken in
 * the consumers' time order instead (receivesInSqsOrder).
 */
export function receiveCountOf(d: { receiveCount?: unknown }): number | undefined {
  return positiveIntegerOf(d.receiveCount);
}

/**
 * A count SQS or the ledger holds, as a number: a positive safe integer, or a string of digits
 * (SQS's attributes are strings, and another writer may store one). Anything else is undefined:
 * `Number()` would read '', ' 7', '0x10', '1e2' or '2.0' as numbers, and a count read that way
 * would be one nobody wrote. Every count the report reads (receive counts, a RedrivePolicy's
 * maxReceiveCount) goes through here. Leading zeros, however many, are no digits of the count
 * (the local SQS takes a maxReceiveCount of '0005' as 5, at any length); at most 15 digits
 * after them, all exact as a double.
 */
export { positiveIntegerOf };

/**
 * Invocations that never ended (none of their records carries the end mark, or one is still
 * pending), each with its first receive: they timed out or died, so SQS deleted nothing of
 * their batch.
 */
export function unendedInvocations(deliveries: readonly DeliveryRecord[]): Map<string, number> {
  const started = new Map<string, number>();
  const ended = new Set<string>();
  const pending = new Set<string>();
  for (const d of deliveries) {
    if (!d.invocationId) continue;
    const at = started.get(d.invocationId);
    if (at === undefined || d.receivedAt < at) started.set(d.invocationId, d.receivedAt);
    if (d.invocationEnd) ended.add(d.invocationId);
    if (d.outcome === 'pending') pending.add(d.invocationId);
  }
  const out = new Map<string, number>();
  for (const [id, at] of started) if (!ended.has(id) || pending.has(id)) out.set(id, at);
  return out;
}

/**
 * When an invocation whose receives include `attempt` ran out its function timeout (epoch ms):
 * the deadline the consumer stamped on the receive (DeliveryRecord.deadlineAt), or, on a record
 * without one (written before the consumer stamped it), the receive time plus the configured
 * timeout (`options.attemptTimeoutMs`).
 */
function deadlineOf(attempt: DeliveryRecord, options: AnalyzeOptions): number {
  return stampedDeadline(attempt) ?? attempt.receivedAt + options.attemptTimeoutMs;
}

/**
 * The deadline the consumer stamped on a receive (DeliveryRecord.deadlineAt), or undefined on a
 * record without one (written before the consumer stamped it). checkDelivery refuses a deadline
 * that is there and is no time; this reads it the one way wherever it is read.
 */
export function stampedDeadline(d: DeliveryRecord): number | undefined {
  const stamped: unknown = d.deadlineAt;
  return isTime(stamped) ? stamped : undefined;
}

/**
 * When the invocation of an attempt that did not fail itself left its message undeleted (epoch
 * ms), or undefined: see leftUndeleted.
 */
type Undeleted = (attempt: DeliveryRecord) => number | undefined;

/**
 * What the invocations did not delete, whatever their records' outcomes:
 * - an invocation that never ended, by the time it had run out its function timeout: SQS deletes
 *   nothing of its batch, records that succeeded included;
 * - an invocation whose end write failed (a failure record `endGivenUp` names it), by the time
 *   the consumer gave it up: it failed, so SQS deletes nothing of its batch, though a try of that
 *   write that committed after the give-up shows its deliveries ended;
 * - a receive whose batch also held a failed receive of the same message (a copy on another host
 *   in the same batch), by the time that one failed: the batch response names a failure by its
 *   message id (Lambda's `itemIdentifier`; local/event-source.ts messagesToDelete), which both
 *   copies carry, so Lambda deletes neither and both come back;
 * - likewise a receive whose batch held a receive of the same message the consumer handed back
 *   unrun, by the time its not-attempted failure was written (FailureRecord.notAttempted, with
 *   the invocation that handed it back): no delivery of it is in the ledger, but the batch
 *   response named it failed all the same.
 */
function leftUndeleted(
  deliveries: readonly DeliveryRecord[],
  options: AnalyzeOptions,
  failures: readonly FailureRecord[] = [],
): Undeleted {
  // An invocation's deadline is the one its receives were stamped with (one per invocation);
  // without a stamp, its first receive plus the configured timeout. One pass reads the stamps and
  // the failures.
  const stamped = new Map<string, number>();
  const reported = new Map<string, number>();
  const key = (d: DeliveryRecord) => `${d.invocationId}\u0000${d.messageId}`;
  for (const d of deliveries) {
    if (!d.invocationId) continue;
    const deadline = stampedDeadline(d);
    if (deadline !== undefined) {
      stamped.set(d.invocationId, Math.min(stamped.get(d.invocationId) ?? deadline, deadline));
    }
    if (d.outcome !== 'failed') continue;
    const at = d.outcomeAt ?? d.receivedAt;
    reported.set(key(d), Math.min(reported.get(key(d)) ?? at, at));
  }
  for (const f of failures) {
    if (!f.notAttempted || !f.invocationId) continue;
    const k = `${f.invocationId}\u0000${f.messageId}`;
    reported.set(k, Math.min(reported.get(k) ?? f.failedAt, f.failedAt));
  }
  const dead = new Map<string, number>();
  for (const [id, at] of unendedInvocations(deliveries))
    dead.set(id, stamped.get(id) ?? at + options.attemptTimeoutMs);
  for (const f of failures) {
    if (f.endGivenUp !== true || typeof f.invocationId !== 'string') continue;
    dead.set(f.invocationId, Math.min(dead.get(f.invocationId) ?? f.failedAt, f.failedAt));
  }
  return (attempt) => {
    if (!attempt.invocationId) return undefined;
    const died = dead.get(attempt.invocationId);
    const named = reported.get(key(attempt));
    if (died === undefined) return named;
    return named === undefined ? died : Math.min(died, named);
  };
}

/**
 * When `attempt` had failed, or its invocation had timed out, died or named its message failed
 * (epoch ms); undefined when it did none of these.
 */
function failedBy(
  attempt: DeliveryRecord,
  options: AnalyzeOptions,
  undeleted: Undeleted,
): number | undefined {
  if (attempt.outcome === 'failed') return attempt.outcomeAt ?? attempt.receivedAt;
  if (attempt.outcome === 'pending') return deadlineOf(attempt, options);
  return undeleted(attempt);
}

/** Whether `attempt` had ended without a delete (failedBy) by time `at`. */
function endedInFailure(
  attempt: DeliveryRecord,
  at: number,
  options: AnalyzeOptions,
  undeleted: Undeleted,
): boolean {
  const by = failedBy(attempt, options, undeleted);
  return by !== undefined && by <= at;
}

/**
 * The final failures of each order, for the orders that have one: those the consumer marked
 * (FailureRecord.final), or, against the queue's own maxReceiveCount (options.finalByQueue),
 * those at it (the consumer marks by the limit it was started with). A failure with no usable
 * receive count (receiveCountOf) cannot be held against the limit: the consumer's mark is the
 * evidence for it, where its count read as 0 and it was never final.
 */
function finalFailuresByOrder(
  failures: readonly FailureRecord[],
  options: AnalyzeOptions,
): Map<string, FailureRecord[]> {
  const { maxReceiveCount, finalByQueue } = options;
  const isFinal = (f: FailureRecord): boolean => {
    const n = receiveCountOf(f);
    return finalByQueue && maxReceiveCount !== undefined && n !== undefined
      ? n >= maxReceiveCount
      : f.final === true;
  };
  const out = new Map<string, FailureRecord[]>();
  for (const f of failures) {
    if (!isFinal(f)) continue;
    const list = out.get(f.orderId);
    if (list) list.push(f);
    else out.set(f.orderId, [f]);
  }
  return out;
}

/** The consumers' time order (receivedAt), then the receive count. */
const byReceive = (a: DeliveryRecord, b: DeliveryRecord) =>
  a.receivedAt - b.receivedAt || (receiveCountOf(a) ?? 0) - (receiveCountOf(b) ?? 0);

/**
 * An order's receives in the order their causes are decided in. Across message ids, the
 * consumers' time order (receivedAt): different messages share no receive count. Within one
 * message id, SQS's order where every receive of it carries a usable ApproximateReceiveCount
 * (receiveCountOf): ascending count, equal counts in time order; the id's receives keep the
 * places their times give the id in the list, only their order among themselves changes. A
 * message id with a receive that has no usable count (a ledger from another writer, a count
 * lost) keeps the time order alone, as the report read every message before the counts were
 * used; `timeOrdered` names those ids (the ones received more than once).
 */
export function receivesInSqsOrder(receives: readonly DeliveryRecord[]): {
  ordered: DeliveryRecord[];
  timeOrdered: Set<string>;
} {
  const ordered = [...receives].sort(byReceive);
  const places = new Map<string, number[]>();
  ordered.forEach((d, i) => {
    const list = places.get(d.messageId);
    if (list) list.push(i);
    else places.set(d.messageId, [i]);
  });
  const timeOrdered = new Set<string>();
  for (const [messageId, at] of places) {
    if (at.length < 2) continue;
    const own = at.map((i) => ordered[i]!);
    const counts = own.map(receiveCountOf);
    if (counts.some((c) => c === undefined)) {
      timeOrdered.add(messageId);
      continue;
    }
    // Stable: equal counts stay in time order.
    own.sort((a, b) => receiveCountOf(a)! - receiveCountOf(b)!);
    at.forEach((i, k) => {
      ordered[i] = own[k]!;
    });
  }
  return { ordered, timeOrdered };
}

/**
 * Whether `attempt` ended without deleting its message: it failed, it never finished (still
 * `pending` once the run is over: its process died or it timed out), its invocation never
 * ended (SQS deletes nothing of such a batch, records that succeeded included), or its batch
 * named its message id failed (another copy of it failed beside it: leftUndeleted). SQS then
 * hands the message out again once its visibility timeout ends: one receive more, with a higher
 * count.
 */
function endedWithoutDelete(attempt: DeliveryRecord, undeleted: Undeleted): boolean {
  if (attempt.outcome === 'failed' || attempt.outcome === 'pending') return true;
  return undeleted(attempt) !== undefined;
}

export function analyzeDuplicates(
  deliveries: readonly DeliveryRecord[],
  earliest: Map<string, DeliveryRecord> = earliestDeliveries(deliveries),
  options: AnalyzeOptions = DEFAULT_OPTIONS,
  evidence: RedriveEvidence = NO_EVIDENCE,
): DuplicateBreakdown {
  const out: DuplicateBreakdown = {
    causes: { producerResend: 0, queueCopy: 0, retryAfterFailure: 0, dlqRedrive: 0 },
    byOutcome: { applied: 0, suppressed: 0, failed: 0, pending: 0 },
    timeOrderedMessages: 0,
    fifoRetriesByQueueType: 0,
  };
  // Lists only for the orders delivered more than once (a few percent): most orders cost one
  // map lookup, which at a few hundred thousand deliveries keeps garbage collection in check.
  const undeleted = leftUndeleted(deliveries, options, evidence.failures);
  // A FIFO message's receives above its first are judged by the FIFO redelivery rule, one code
  // with the run check's; a ledger it cannot judge by is refused, as checkDelivery refuses one.
  const fifo = judgeFifoRedeliveries(
    deliveries,
    evidence.failures,
    options.visibilityMs === undefined ? {} : { visibilityMs: options.visibilityMs },
  );
  // A message received as two orders is judged by neither (the run check names it); the report
  // reads each order's receives as it reads a standard queue's.
  const refused = fifo.problems.find((p) => p.kind !== 'orders');
  if (refused) throw new LedgerDataError(refused.item, refused.problem);
  const finalFailures = finalFailuresByOrder(evidence.failures, options);
  const { maxReceiveCount } = options;
  const repeated = new Map<string, DeliveryRecord[]>();
  for (const d of deliveries) {
    const first = earliest.get(d.orderId);
    if (!first || first === d) continue;
    const list = repeated.get(d.orderId);
    if (list) list.push(d);
    else repeated.set(d.orderId, [first, d]);
  }
  for (const [orderId, receives] of repeated) {
    const { ordered, timeOrdered } = receivesInSqsOrder(receives);
    out.timeOrderedMessages += timeOrdered.size;
    const [first, ...later] = ordered as [DeliveryRecord, ...DeliveryRecord[]];
    // Per message id: its attempts so far, and how many of their failures a retry already used.
    // In SQS's order, a failure with a lower count than one receive has a lower count than every
    // later receive too; in time order, one that had ended by a receive had by every later one.
    // So taking the receives in order and matching each to any unused failure before it counts
    // the most retries the evidence allows, and never more than there were failures.
    const attempts = new Map<string, { list: DeliveryRecord[]; retried: number }>();
    attempts.set(first.messageId, { list: [first], retried: 0 });
    // Another message of the order that had gone to the DLQ by `d`'s message's earliest receive
    // (a final failure, or a receive at maxReceiveCount that ended in failure, by then), is not
    // there now (as read) and explains no redrive yet: one a redrive may have put back as `d`.
    // Different messages share no receive count, so this is the consumers' clock, and the
    // message's earliest receive on it, which need not be its lowest count's (a batching window
    // can hold receive #1 past #2): a message received before the dead letter was on the queue
    // before it, whatever its counts. The earliest receives also keep the new ids in time order,
    // so matching each to the first dead letter free counts the most redrives there can be.
    const earliestAt = new Map<string, number>();
    for (const e of ordered)
      earliestAt.set(
        e.messageId,
        Math.min(earliestAt.get(e.messageId) ?? e.receivedAt, e.receivedAt),
      );
    const redriven = new Set<string>();
    const redrivable = (id: string) =>
      !redriven.has(id) && !(evidence.stillInDlq?.has(id) ?? false);
    const deadLetterBefore = (d: DeliveryRecord): string | undefined => {
      const at = earliestAt.get(d.messageId) ?? d.receivedAt;
      return (
        (finalFailures.get(orderId) ?? []).find(
          (f) => f.messageId !== d.messageId && f.failedAt <= at && redrivable(f.messageId),
        )?.messageId ??
        (maxReceiveCount === undefined
          ? undefined
          : ordered.find(
              (e) =>
                e.messageId !== d.messageId &&
                redrivable(e.messageId) &&
                (receiveCountOf(e) ?? 0) >= maxReceiveCount &&
                endedInFailure(e, at, options, undeleted),
            )?.messageId)
      );
    };
    const sentByProducer = (d: DeliveryRecord) =>
      evidence.producerIds.get(orderId)?.has(d.messageId) ?? false;
    // The first delivery may itself be a redrive: of a message dead-lettered with no delivery
    // in the ledger (FIFO handed it back unrun at every receive, behind a failure of its group).
    // It is no duplicate, but it uses that dead letter up as a later new id would: one message
    // out of the DLQ makes one new message.
    if (!sentByProducer(first)) {
      const dead = deadLetterBefore(first);
      if (dead !== undefined) redriven.add(dead);
    }
    for (const d of later) {
      const earlier = attempts.get(d.messageId);
      if (!earlier) {
        const dead = sentByProducer(d) ? undefined : deadLetterBefore(d);
        if (dead !== undefined) {
          out.causes.dlqRedrive++;
          redriven.add(dead);
        } else out.causes.producerResend++;
        attempts.set(d.messageId, { list: [d], retried: 0 });
      } else {
        const judged = fifo.verdictOf.get(d)?.verdict;
        if (judged) {
          // FIFO: the rule the run check judges by too (shared/src/fifo-redelivery.ts).
          if (judged.kind === 'copy') out.causes.queueCopy++;
          else {
            out.causes.retryAfterFailure++;
            if (judged.kind === 'unexplained') out.fifoRetriesByQueueType++;
          }
        } else if (
          (timeOrdered.has(d.messageId)
            ? count(earlier.list, (e) => endedInFailure(e, d.receivedAt, options, undeleted))
            : count(
                earlier.list,
                (e) => receiveCountOf(e)! < receiveCountOf(d)! && endedWithoutDelete(e, undeleted),
              )) > earlier.retried
        ) {
          out.causes.retryAfterFailure++;
          earlier.retried++;
        } else out.causes.queueCopy++;
        earlier.list.push(d);
      }
      out.byOutcome[d.outcome]++;
    }
  }
  return out;
}

/** Indexes taken minus effects written, per customer, summed (see QueueMetrics.applyIndexGaps). */
export function countApplyIndexGaps(
  effects: readonly EffectRecord[],
  counters: readonly ApplyCounterRecord[],
  queue: QueueKind,
): number {
  const taken = new Map<string, number>();
  const written = new Map<string, number>();
  for (const e of effects) {
    written.set(e.customerId, (written.get(e.customerId) ?? 0) + 1);
    taken.set(e.customerId, Math.max(taken.get(e.customerId) ?? 0, e.applyIndex));
  }
  const prefix = `${SK_PREFIX.applyCounter}${queue}#`;
  for (const c of counters) {
    if (!c.sk.startsWith(prefix)) continue;
    const customerId = c.sk.slice(prefix.length);
    // A value that is no count read as 0, and hid the indexes taken past the last effect.
    const value = positiveIntegerOf(c.value);
    if (value === undefined)
      throw new LedgerDataError(c, `has value ${shown(c.value)}, ${NOT_AN_INDEX}`);
    taken.set(customerId, Math.max(taken.get(customerId) ?? 0, value));
  }
  let gaps = 0;
  for (const [customerId, last] of taken)
    gaps += Math.max(0, last - (written.get(customerId) ?? 0));
  return gaps;
}

/**
 * Per order, the message ids the producer recorded: every id it was answered (`sentMessageIds`)
 * and the latest per queue (`messageIds`: all a record older than the list holds).
 */
export function producerIdsById(ledger: RunLedger): Map<string, Set<string>> {
  const byId = new Map<string, Set<string>>();
  for (const p of ledger.producerSends ?? []) {
    const ids = new Set<string>(p.sentMessageIds ?? []);
    for (const id of Object.values(p.messageIds ?? {})) if (id) ids.add(id);
    byId.set(p.orderId, ids);
  }
  return byId;
}

/**
 * Accepted orders by id: built once per report and shared by both queues' analyses. Each is
 * checked (checkAccepted), and an order with two items is refused: the report's `accepted`
 * counted both, every other number one.
 */
export function acceptedById(ledger: RunLedger): Map<string, AcceptedSummary> {
  const byId = new Map<string, AcceptedSummary>();
  for (const a of ledger.accepted) {
    checkAccepted(a);
    if (byId.has(a.orderId))
      throw new LedgerDataError(
        { sk: a.pk },
        `is a second accepted item of order ${shown(a.orderId)}`,
      );
    byId.set(a.orderId, a);
  }
  return byId;
}

export function analyzeQueue(
  ledger: RunLedger,
  queue: QueueKind,
  accepted: Map<string, AcceptedSummary> = acceptedById(ledger),
  options: AnalyzeOptions = DEFAULT_OPTIONS,
  producerIds: ReadonlyMap<string, ReadonlySet<string>> = producerIdsById(ledger),
): QueueAnalysis {
  const deliveries = forQueue(ledger.deliveries, queue);
  const failures = forQueue(ledger.failures, queue);
  let redeliveries = 0;
  let highestReceiveCount = 0;
  for (const d of deliveries) {
    checkDelivery(d);
    const n = receiveCountOf(d) ?? 0;
    if (n > 1) redeliveries++;
    highestReceiveCount = Math.max(highestReceiveCount, n);
  }
  for (const f of failures) {
    checkFailure(f);
    highestReceiveCount = Math.max(highestReceiveCount, receiveCountOf(f) ?? 0);
  }
  const effects = forQueue(ledger.effects, queue, checkEffect);

  const first = firstEffects(effects);
  const earliest = earliestDeliveries(deliveries);
  const customers = analyzeCustomers(effects, first);

  const dlq = ledger.dlq?.[queue] ?? { depth: 0, orderIds: [], unread: 0 };
  const inDlq = new Set<string>();
  const appliedInDlq = new Set<string>();
  for (const orderId of dlq.orderIds) {
    if (!accepted.has(orderId)) continue;
    (first.has(orderId) ? appliedInDlq : inDlq).add(orderId);
  }
  let lost = 0;
  for (const orderId of accepted.keys()) {
    if (!first.has(orderId) && !inDlq.has(orderId)) lost++;
  }

  const latencies: number[] = [];
  let firstAcceptance = Number.POSITIVE_INFINITY;
  let lastEffect = Number.NEGATIVE_INFINITY;
  for (const a of accepted.values()) firstAcceptance = Math.min(firstAcceptance, a.acceptedAt);
  for (const e of first.values()) {
    const acceptedAt = accepted.get(e.orderId)?.acceptedAt ?? e.acceptedAt;
    latencies.push(e.committedAt - acceptedAt);
    firstAcceptance = Math.min(firstAcceptance, acceptedAt);
    lastEffect = Math.max(lastEffect, e.committedAt);
  }
  const spanMs = lastEffect - firstAcceptance;
  const throughputPerSec =
    first.size > 0 && spanMs > 0 ? Math.round((first.size / (spanMs / 1000)) * 100) / 100 : 0;

  const duplicates = analyzeDuplicates(deliveries, earliest, options, {
    failures,
    producerIds,
    stillInDlq: new Set((dlq.messages ?? []).map((m) => m.messageId)),
  });
  const metrics: QueueMetrics = {
    deliveries: deliveries.length,
    duplicateDeliveries: deliveries.length - earliest.size,
    duplicateCauses: duplicates.causes,
    redeliveries,
    suppressed: count(deliveries, (d) => d.outcome === 'suppressed'),
    refusedByEffectGuard: count(deliveries, (d) => d.suppressedBy === 'effect'),
    processed: first.size,
    duplicateEffects: effects.length - first.size,
    outOfOrder: customers.reduce((n, c) => n + c.outOfOrder, 0),
    inversions: customers.reduce((n, c) => n + c.inversions, 0),
    customersAffected: customers.filter((c) => c.outOfOrder > 0).length,
    applyIndexGaps: countApplyIndexGaps(effects, ledger.counters ?? [], queue),
    inDlq: inDlq.size,
    appliedInDlq: appliedInDlq.size,
    dlqDepth: dlq.depth,
    dlqUnread: dlq.unread,
    lost,
    latencyMs: summarizeLatency(latencies),
    throughputPerSec,
  };
  return { metrics, customers, duplicates, latencies, highestReceiveCount };
}
