import type { OrderMessage } from './order-message';
import type { QueueKind } from './queue-kind';

/**
 * The ledger table: what the consumers record about one run lives in one partition
 * (`pk = RUN#<runId>`), so a run reads back with Query, never Scan. Sort keys put each record
 * type in its own range: `DELIVERY#<queue>#`, `EFFECT#<queue>#`, `FAILURE#<queue>#`, `COUNTER#`,
 * and `CLOCKSKIP#`, which the lab's runner, not the pipeline, writes (ClockSkipRecord).
 *
 * The accepted order is one item keyed on the order id alone (`pk = ORDER#<orderId>`): the
 * producer claims an order id with one conditional write, whatever run a retry names, and
 * `GET /orders/{orderId}` reads it by key. The `byRun` index (sparse: only accepted orders carry
 * its keys) lists a run's accepted orders for the report; DynamoDB maintains it, so there is no
 * second item to keep in step with the first.
 */

export const runPk = (runId: string): string => `RUN#${runId}`;
export const orderPk = (orderId: string): string => `ORDER#${orderId}`;
export const ORDER_SK = 'ORDER';

export const acceptedSk = (orderId: string): string => `ACCEPTED#${orderId}`;

/**
 * The index that lists a run's accepted orders. It projects what the report reads, not the
 * message ids and send times, so recording a send writes the table alone, not the index too.
 */
export const ACCEPTED_BY_RUN = {
  indexName: 'byRun',
  partitionKey: 'byRunPk',
  sortKey: 'byRunSk',
  projected: ['type', 'runId', 'orderId', 'customerId', 'sequence', 'acceptedAt', 'requests'],
} as const;

/** The key of an order's accepted item, and its keys in the `byRun` index. */
export const acceptedKeys = (runId: string, orderId: string) =>
  ({
    pk: orderPk(orderId),
    sk: ORDER_SK,
    byRunPk: runPk(runId),
    byRunSk: acceptedSk(orderId),
  }) as const;
/** Unique per receive: a duplicate delivery of the same message gets its own record. */
export const deliverySk = (queue: QueueKind, orderId: string, deliveryId: string): string =>
  `DELIVERY#${queue}#${orderId}#${deliveryId}`;
/**
 * The effect's key is its guard: the consumer writes it only if absent, so one key can hold one
 * effect whatever Powertools' record says. `guardKey` says what the effect is unique on, the
 * field the consumer keys idempotency on: `order` when keyed on the order id (one effect per
 * order and queue), `message-<id>` when keyed on the message id (one per SQS message: a producer
 * re-send is a new message), or `unguarded-<fresh id>` when the guard is off (every commit a
 * record of its own, to show duplicates).
 */
export const effectSk = (queue: QueueKind, orderId: string, guardKey: string): string =>
  `EFFECT#${queue}#${orderId}#${guardKey}`;
/** The guard key of an effect unique on its order. */
export const ORDER_GUARD_KEY = 'order';
/** The guard key of an effect unique on the SQS message that carried it. */
export const messageGuardKey = (messageId: string): string => `message-${messageId}`;
/** The guard key of an unguarded effect: unique on nothing, so a fresh id each commit. */
export const unguardedGuardKey = (freshId: string): string => `unguarded-${freshId}`;
export const failureSk = (queue: QueueKind, orderId: string, failureId: string): string =>
  `FAILURE#${queue}#${orderId}#${failureId}`;
/** Atomic per-customer counter of applies on one queue (ADD :one, ReturnValues UPDATED_NEW). */
export const applyCounterSk = (queue: QueueKind, customerId: string): string =>
  `COUNTER#apply#${queue}#${customerId}`;
/** Atomic per-customer counter the producer uses to assign sequences the client did not send. */
export const sequenceCounterSk = (customerId: string): string => `COUNTER#sequence#${customerId}`;
/**
 * One advance of the functions' clock a local run made (ClockSkipRecord): the `n`th of the run,
 * numbered from 1, so two at one time are two items, and the range reads back in the runner's
 * order.
 */
export const clockSkipSk = (n: number): string => `CLOCKSKIP#${String(n).padStart(9, '0')}`;

/** Marks a BigInt's digits in shownValue's JSON (a NUL, which JSON writes as \u0000). */
const BIG_MARK = '\u0000';
const BIG_NUMBER = /"\\u0000(-?\d+)\\u0000"/g;

/**
 * A ledger value as an error shows it: JSON, a BigInt (how the document client reads a number
 * beyond 2^53) in digits wherever it is, at the top or inside a list or map (JSON.stringify
 * throws on one), and a set (how it reads a DynamoDB string or number set) as the list of its
 * members (JSON shows every set as {}); undefined for none.
 */
export function shownValue(value: unknown): string | undefined {
  if (typeof value === 'bigint') return `${value}`;
  let big = false;
  const json = JSON.stringify(value, (_name, v: unknown) => {
    if (v instanceof Set) return [...v];
    if (typeof v !== 'bigint') return v;
    big = true;
    return `${BIG_MARK}${v}${BIG_MARK}`;
  });
  // A nested BigInt was written as a marked string: its digits go in unquoted, as a number.
  return big ? json?.replace(BIG_NUMBER, '$1') : json;
}

/**
 * The value an atomic counter's `ADD :one` answered (ReturnValues UPDATED_NEW). Anything but a
 * positive integer is refused here: a missing or non-numeric value would otherwise become NaN
 * and travel on as a sequence or an apply index.
 */
export function counterValue(
  attributes: Record<string, unknown> | undefined,
  what: string,
): number {
  const value = attributes?.value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${what} counter answered ${shownValue(value) ?? 'nothing'}, not a count`);
  }
  return value;
}

export const SK_PREFIX = {
  accepted: 'ACCEPTED#',
  delivery: (queue: QueueKind) => `DELIVERY#${queue}#`,
  effect: (queue: QueueKind) => `EFFECT#${queue}#`,
  failure: (queue: QueueKind) => `FAILURE#${queue}#`,
  applyCounter: 'COUNTER#apply#',
  clockSkip: 'CLOCKSKIP#',
} as const;

interface LedgerKey {
  pk: string;
  sk: string;
}

/** The producer accepted an order and put it on both queues (`pk = ORDER#<orderId>`). */
export interface AcceptedRecord
  extends LedgerKey,
    Pick<OrderMessage, 'runId' | 'orderId' | 'customerId' | 'acceptedAt'> {
  type: 'accepted';
  /**
   * The customer's sequence: the client's, or one the producer took. Absent only between the
   * claim of an order whose client gave an Idempotency-Key and no sequence, and the write of the
   * sequence the producer took once the claim was won (before any send carries it).
   */
  sequence?: OrderMessage['sequence'];
  /** The `byRun` index's keys: `RUN#<runId>`, `ACCEPTED#<orderId>`. */
  byRunPk: string;
  byRunSk: string;
  /** SHA-256 hex of the canonical order input, to tell a true client retry from a key reuse. */
  payloadHash: string;
  /** The message id SQS answered per queue; '' while the outcome of a send is unknown. */
  messageIds: Record<QueueKind, string>;
  /** Epoch ms of the send whose id is recorded, per queue (absent on records older than it). */
  sentAt?: Partial<Record<QueueKind, number>>;
  /**
   * Every message id SQS answered a send of this order with, both queues' (message ids are unique
   * across queues), in the order recorded (an id may appear twice: the SDK's retry of the write),
   * appended to by the same write that records `messageIds`, which keeps only the latest per
   * queue (or, for a request whose record was refused because the lease had passed to another,
   * by an append of its own: its messages are in the queues all the same). A message of the order whose id is not here is none the producer knows it sent: a DLQ
   * redrive (SQS gives a redriven message a new message id), or a send whose answer was lost.
   * Absent on records older than it, and until a send is answered; a record older than it that
   * is sent again starts the list with the ids it held (`messageIds`), which the re-send may
   * replace as the latest.
   *
   * Its length is bounded by the sends, not by the client's requests: the producer sends an
   * order again only to a queue with no id recorded (until one is) or whose recorded send is
   * past the queue's retention with the order unapplied (then once per retention period, as the
   * re-send's time is recorded), and answers every other retry from the record; an SDK retry of
   * the write adds one copy at most per attempt. At the pipeline's 4 days' retention that is two
   * ids per 4 days for an order never applied (under 200 a year, a few KB), far from the item's
   * 400 KB; a queue kept at SQS's 60 s minimum would let a client retrying every minute reach it
   * in days (then the write fails, and every retry sends again unrecorded).
   */
  sentMessageIds?: string[];
  /**
   * Epoch ms a request that sent this order last had every send answered (taken or failed) and
   * wrote down what it knew. Absent while the claiming request is still sending, or when it
   * died before that write (records older than it lack it too).
   */
  sendsEndedAt?: number;
  /**
   * How many times the producer was asked to accept this order (client retries + 1): every
   * request whose key named it with the same body, however it was answered (a `409` counts).
   */
  requests: number;
  /**
   * A fresh id per claim write. The SDK retries a write whose answer it did not get; when the
   * first try committed, the retry is refused by that very write, and the claim is still its
   * own, not another request's (absent on records older than it).
   */
  claimId?: string;
  /**
   * The send lease: the request that may be sending this order now (its claim id, or the lease id
   * of a client retry that took the lease to send it again), and until when (epoch ms): that
   * invocation's remaining time when it took the lease, plus a margin for two instances' clocks.
   * The claim writes both, so the first request holds the lease from its claim on; a retry takes
   * it with one conditional update before it sends. Absent on records older than it (their
   * claiming request is taken as sending until `acceptedAt` plus the producer's timeout and 1 s).
   */
  sendingBy?: string;
  sendingUntil?: number;
  /**
   * Who wrote `sendsEndedAt`: the claim id or lease id of that request. Equal to `sendingBy`, the
   * lease holder has ended and the lease is free before its deadline.
   */
  sendsEndedBy?: string;
}

/** What the `byRun` index gives back of an accepted order: what the report reads. */
export type AcceptedSummary = Pick<
  AcceptedRecord,
  (typeof ACCEPTED_BY_RUN.projected)[number] | 'pk' | 'sk' | 'byRunPk' | 'byRunSk'
>;

/**
 * A consumer received a message: written on every receive, before any idempotency check (one
 * batch write per invocation, before any record of the batch runs), and written again with its
 * outcome when the invocation returns (one batch write for the whole batch).
 */
export interface DeliveryRecord extends LedgerKey {
  type: 'delivery';
  runId: string;
  queue: QueueKind;
  orderId: string;
  customerId: string;
  sequence: number;
  messageId: string;
  /** SQS ApproximateReceiveCount of this receive. */
  receiveCount: number;
  /** FIFO only. */
  sequenceNumber?: string;
  /** Epoch ms: SentTimestamp attribute, ApproximateFirstReceiveTimestamp, and our own receive. */
  sentAt: number;
  firstReceivedAt: number;
  receivedAt: number;
  /**
   * Epoch ms, on the consumer's clock as `receivedAt`: when this receive's invocation runs out its
   * function timeout. `receivedAt` plus the time the invocation had left then (Lambda's context
   * `getRemainingTimeInMillis()`), so it is the timeout the function was deployed with, not the
   * repository's config. Written with the receipt (no request of its own), the same on every
   * receive of one invocation. Absent on records older than it, and where the runtime told no
   * remaining time: the report then judges the attempt by its config's function timeout.
   */
  deadlineAt?: number;
  /**
   * How the delivery ended: the effect ran, idempotency answered instead (see `suppressedBy`), or
   * it failed. `pending` once the run is over means the attempt never finished: its invocation
   * timed out or its process died.
   */
  outcome: 'applied' | 'suppressed' | 'failed' | 'pending';
  /**
   * For `suppressed`: `record` when Powertools' idempotency record answered; `effect` when the
   * record let the delivery through (expired, or left in progress by a crash) and the effect's
   * own conditional write refused a second effect.
   */
  suppressedBy?: 'record' | 'effect';
  /** Epoch ms at which the outcome was written (absent while pending). */
  outcomeAt?: number;
  /**
   * The consumer invocation (Lambda request id) the receive ran in. SQS deletes nothing of a
   * batch whose invocation died or timed out, so a record that succeeded in it is retried too.
   */
  invocationId?: string;
  /**
   * Set with the outcome, which is written when the invocation returns: the invocation ended. An
   * invocation none of whose records carries it (or one of whose records is still pending)
   * timed out or died, and SQS deleted nothing of its batch.
   */
  invocationEnd?: boolean;
}

/** The effect of an order committed, written inside the idempotent function. */
export interface EffectRecord extends LedgerKey {
  type: 'effect';
  runId: string;
  queue: QueueKind;
  orderId: string;
  customerId: string;
  sequence: number;
  messageId: string;
  /** 1-based position of this apply among the customer's applies on this queue. */
  applyIndex: number;
  acceptedAt: number;
  /** Epoch ms. */
  committedAt: number;
  /**
   * The receive that applied it, as its delivery record names it: that receive's invocation
   * (Lambda request id, the delivery's `invocationId`; absent where the runtime gave none) and its
   * SQS ApproximateReceiveCount (the delivery's `receiveCount`). Written by the effect's own write
   * (no request of its own). With `messageId` they name one delivery record: one invocation
   * receives a FIFO message once, and each receive of it counts one higher. Absent on records
   * older than it; the soak check then guesses the receive from the receives' outcomes and times.
   */
  invocationId?: string;
  receiveCount?: number;
}

/**
 * A per-customer apply counter: `value` is the last apply index taken on that queue, and
 * `highSequence` the highest sequence that took one (what decides whether an apply is late).
 */
export interface ApplyCounterRecord extends LedgerKey {
  value: number;
}

/** A delivery whose processing failed (the message goes back to the queue, or to the DLQ). */
export interface FailureRecord extends LedgerKey {
  type: 'failure';
  runId: string;
  queue: QueueKind;
  orderId: string;
  customerId: string;
  sequence: number;
  messageId: string;
  receiveCount: number;
  /** True when this was the last receive SQS allows before the DLQ (receiveCount >= maxReceiveCount). */
  final: boolean;
  /**
   * Set when the handler never attempted this receive: FIFO, an earlier message of its group
   * failed in the same batch, or (either queue) the invocation stopped starting records, too
   * little time left once a DynamoDB call had run out or past the cut on a record's calls
   * (`notStarted` says which), so it was handed
   * back unrun (its delivery record is removed), yet
   * SQS counted the receive, and this was its last allowed one: SQS moves it to the DLQ on its
   * next receive (`final`). Also written, not `final`, for a receive handed back unrun beside
   * another receive of the same message in its batch that ran (a standard queue's copy): the
   * batch response names the message id failed, which both carry, so Lambda deletes neither, and
   * the report reads the next receive of the one that ran as a retry, not a queue copy. Absent on
   * a failed attempt: a not-attempted failure is no failed delivery and no attempt, and nothing
   * counts it as one.
   */
  notAttempted?: true;
  /** The invocation that handed it back unrun (set with `notAttempted`), or failed (`endGivenUp`). */
  invocationId?: string;
  /**
   * FIFO, set with `notAttempted`: SQS's SequenceNumber of the message handed back, which places
   * it in its group (the run check finds the failure it was held behind by it). Absent on
   * records written before it was kept.
   */
  sequenceNumber?: string;
  /**
   * Set with `notAttempted` when the invocation stopped starting records, with the time it had
   * left then, and why: `budgetMs`, the consumer's cut-off, what a record needs once a DynamoDB
   * call has run out of time; or `cutRoomMs`, the cut on a record's DynamoDB calls (that long
   * before the deadline) had passed, so no call of the record could be sent (one that started
   * and sent none for that reason is such a record too). Absent: an earlier message of its
   * group failed in the same batch.
   */
  notStarted?: { leftMs: number; budgetMs: number } | { leftMs: number; cutRoomMs: number };
  /**
   * Set with `notAttempted`: the stamps of the receipt it replaces (its delivery record is
   * removed), when its invocation received it and the deadline the runtime gave that invocation
   * (DeliveryRecord.receivedAt, deadlineAt). The run check judges a record handed back past the cut
   * on its calls by them and `failedAt` (written as the invocation ended, after the hand-back),
   * not by `notStarted`'s own figures. Absent on records written before they were kept (and the
   * deadline where the runtime told no remaining time).
   */
  receivedAt?: number;
  deadlineAt?: number;
  /**
   * Set on a failed attempt whose DynamoDB call ran out of time (the SDK's TimeoutError, as
   * thrown or as the cause Powertools wraps it in): what arms the invocation's cut-off. Absent on
   * records written before it was kept.
   */
  ranOutOfTime?: true;
  /**
   * Set on the failure the consumer writes for each receive that ended (applied or suppressed)
   * in an invocation whose end write failed (it was given up at the cut, ran out its tries, or
   * was refused): the invocation fails, so SQS deletes nothing of its batch and hands every
   * record back, yet a try of that write may still commit after the consumer gave up on it (a
   * try given up is not aborted), leaving the deliveries read as ended. This record, written
   * after the give-up as its own item, is what tells the report that their redeliveries are
   * retries after a failure, not copies. `invocationId` names the invocation; `failedAt` is
   * when the consumer gave up. Absent on every other failure.
   */
  endGivenUp?: true;
  error: string;
  failedAt: number;
}

/**
 * One advance of the functions' clock that a local run's runner made (lab/local-run.ts, skipping
 * a visibility timeout once nothing was in flight), `pk = RUN#<runId>`, `sk = CLOCKSKIP#<n>`: at
 * `at` (epoch ms, on the clock the functions stamp the ledger with, before the advance) that
 * clock jumped `ms` ahead. The runner writes every one before the report reads the ledger. The
 * pipeline writes none (on AWS no one moves Lambda's clock). The report shows them (a note):
 * every time the consumers stamped after one is that much later than the wall clock, and an
 * invocation running across one has its outcome stamp moved and not its deadline
 * (shared/src/fifo-redelivery.ts, outcomePastDeadline).
 */
export interface ClockSkipRecord extends LedgerKey {
  type: 'clockSkip';
  runId: string;
  at: number;
  ms: number;
}

export type LedgerRecord =
  | AcceptedRecord
  | DeliveryRecord
  | EffectRecord
  | FailureRecord
  | ClockSkipRecord;
