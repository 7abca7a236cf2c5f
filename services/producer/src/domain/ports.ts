import type { AcceptedRecord } from '../../../../shared/src/ledger';
import type { OrderMessage } from '../../../../shared/src/order-message';
import type { QueueKind } from '../../../../shared/src/queue-kind';
import type { QueueFacts } from './status';

/**
 * An accepted order as the producer keeps it: the order's identity and place, the hash that
 * tells a client retry from a reused key, what was sent where, and how often it was asked for.
 * How it is stored (table keys, index keys, record type) is the adapter's business.
 */
export type AcceptedOrder = Omit<AcceptedRecord, 'pk' | 'sk' | 'byRunPk' | 'byRunSk' | 'type'>;

/** What the producer needs from the ledger, in the domain's words; the adapter speaks DynamoDB. */
export interface LedgerPort {
  /** The accepted order, by its id alone (a consistent read). */
  getAccepted(orderId: string): Promise<AcceptedOrder | undefined>;
  /** Atomically takes the customer's next sequence number. */
  nextSequence(runId: string, customerId: string): Promise<number>;
  /**
   * Claims the order id: keeps the accepted order unless the id is taken, atomically. When it
   * is taken, answers the order that holds it. A refusal by a record holding this very
   * `claimId` is the claim's own (the SDK sent the write again after its answer was lost): claimed.
   */
  claim(
    order: AcceptedOrder & { claimId: string },
  ): Promise<{ claimed: true } | { claimed: false; existing: AcceptedOrder }>;
  /**
   * Takes the order's send lease for `lease.by` until `lease.until`, in one conditional write,
   * unless another request holds it and may still be sending at `lease.now` (resend.ts
   * leaseHeldFor; records from before leases: `lease.legacyWindowMs`). A lease `lease.by` already
   * holds is its own (the SDK sent the write again after its answer was lost). Taken only from
   * `lease.from`, the holder the bidder read: a copy of the bid that arrives late (the SDK sent it
   * again, or it was slow) after a later request took the lease and ended it finds another holder
   * and is refused, so it cannot hold the lease again for the rest of its deadline. Answers the
   * record as it is once the lease is taken (another request may have sent and recorded ids since
   * it was read), or, refused, as it is now.
   */
  leaseSends(orderId: string, lease: SendLease): Promise<{ taken: boolean; record: AcceptedOrder }>;
  /**
   * Gives back the lease a bid (`lease`, as leaseSends was given it) may have taken though it
   * failed (an error answered after the write committed, or a try that reaches the ledger
   * late): one conditional write, on the bid's own condition, that takes the lease for
   * `lease.by` and ends it at `endedAt` at once, so it is free, and stays free when a late copy
   * of the bid lands after it (that copy finds the lease its own, and ends nothing). Refused
   * (another request took the lease), it changes nothing and answers as written. One try only:
   * it follows a bid that failed through every try, so a failure throws at once.
   */
  withdrawBid(orderId: string, lease: SendLease, endedAt: number): Promise<void>;
  /** Counts one more request for the order (a client retry). */
  countRequest(orderId: string): Promise<void>;
  /**
   * Keeps `sequence` as the order's sequence unless the record already holds one (another
   * request kept its own first); answers the sequence the record holds afterwards.
   */
  recordSequence(orderId: string, sequence: number): Promise<number>;
  /**
   * Records, in one write, the sends one request made that SQS answered (each queue's message id
   * and send time) and that this request's sends have all ended (`end.at`, by `end.by`: its claim
   * or lease id, which frees its lease). Only the queues in `sends` are written: an id another
   * request recorded for another queue is kept. Written only while `end.by` holds the lease
   * (`sendingBy`); otherwise nothing is written (see SendsRecord for what it answers then).
   */
  recordSends(orderId: string, sends: RecordedSends, end: SendsEnd): Promise<SendsRecord>;
  /**
   * Appends `messageIds` to the order's list of every id SQS answered its sends with
   * (`sentMessageIds`) and writes nothing else: the ids of a request whose record of its sends
   * was refused (recordSends answered false), whose messages are in the queues all the same.
   * `recordedBefore` starts a list absent from a record older than it, as in RecordedSends.
   */
  recordSentIds(orderId: string, messageIds: string[], recordedBefore?: string[]): Promise<void>;
  /** Whether the order's effect was committed on `queue`. */
  hasEffect(runId: string, queue: QueueKind, orderId: string): Promise<boolean>;
  queueFacts(runId: string, queue: QueueKind, orderId: string): Promise<QueueFacts>;
}

/**
 * What became of a request's record of its sends (LedgerPort.recordSends):
 * - `recorded`: written;
 * - `recorded-by-earlier-try`: written by an earlier try of this same write, whose answer was
 *   lost; the SDK's retry was refused because another request took the lease after that try
 *   freed it. The record shows it: this request's end (`sendsEndedBy`), or, once the later holder
 *   wrote its own end, every id this request sent on the list of ids sent;
 * - `lease-passed`: not written: another request took the lease before it (this one ran past its
 *   deadline).
 */
export type SendsRecord = 'recorded' | 'recorded-by-earlier-try' | 'lease-passed';

/** A request's bid for an order's send lease (see AcceptedRecord.sendingBy). */
export interface SendLease {
  /** The request's id (its claim id is the first request's). */
  by: string;
  /**
   * The lease's holder as the bidder read the record (its `sendingBy`; undefined: a record from
   * before leases, with none): the bid takes the lease only from that holder (or is its own).
   */
  from: string | undefined;
  /** Epoch ms it may be sending until (resend.ts sendingDeadline). */
  until: number;
  /** Epoch ms, the instant a held lease is compared with. */
  now: number;
  /** How long after `acceptedAt` a record from before leases is taken as held by its claim. */
  legacyWindowMs: number;
}

/** That a request's sends ended, when, and which request it was (its claim or lease id). */
export interface SendsEnd {
  at: number;
  by: string;
}

/** What one request's sends got: per queue it sent to and SQS answered, the id and the time. */
export interface RecordedSends {
  sent: Partial<Record<QueueKind, { messageId: string; sentAt: number }>>;
  /**
   * The record as read has no `messageIds` or no `sentAt` map (written before they existed), so
   * a queue's entry cannot be set on its own: the adapter writes both maps whole, from `all`.
   */
  legacy?: { all: Record<QueueKind, string>; sentAt: Partial<Record<QueueKind, number>> };
  /**
   * The ids the record held when this request read it (its `messageIds`): on a record from
   * before `sentMessageIds`, the list starts with them, so an id this write replaces (a
   * re-send to a queue that lost its message) is still one the producer sent.
   */
  recordedBefore?: string[];
}

/** The Lambda invocation running the request. */
export interface InvocationPort {
  /** The time left before Lambda ends it (`context.getRemainingTimeInMillis()`). */
  remainingMs(): number;
}

/** What the producer knows about a queue's own lifetime (GetQueueAttributes). */
export interface QueueLife {
  /** Epoch ms the queue was created. */
  createdAt: number;
  retentionMs: number;
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

/** The producer's structured log (Powertools Logger on Lambda). */
export interface ProducerLogPort {
  warn(message: string, data: Record<string, unknown>): void;
  /** Keys every later line carries, until removed. */
  appendKeys(keys: Record<string, string>): void;
}
