import type { DeliveryRecord, EffectRecord, FailureRecord } from '../../../../shared/src/ledger';
import type { OrderEvent } from '../../../../shared/src/metrics';

/** What a committed effect answers to a later attempt at the same key. */
export interface CommittedEffect {
  applyIndex: number;
  committedAt: number;
}

/** The outcome of a guarded effect write: written now, or refused because one already exists. */
export type EffectWrite = { written: true } | { written: false; existing: CommittedEffect };

/** An apply's place in its customer's order on one queue. */
export interface ApplyTurn {
  /** The customer's next apply index on this queue (1-based). */
  applyIndex: number;
  /** A higher sequence of the same customer had already taken its turn on this queue. */
  late: boolean;
  /**
   * A late turn: the order whose turn set the highest sequence that made it late, when the
   * counter names it (a counter whose turns were taken without a taker names none).
   */
  higher?: TurnTaker;
}

/** The order taking an apply turn, and the message that carried it. */
export interface TurnTaker {
  orderId: string;
  messageId: string;
}

/** How one delivery ended. */
export interface DeliveryOutcome {
  outcome: DeliveryRecord['outcome'];
  suppressedBy?: DeliveryRecord['suppressedBy'];
  at: number;
}

// The ledger's items in the domain's words: what a record says, without the table's keys or
// item type, which the adapter derives (shared/src/ledger.ts) when it writes them.
type Fields<T> = Omit<T, 'pk' | 'sk' | 'type'>;

/** One receive of one order message, as written when its batch arrives (still pending). */
export interface Receipt
  extends Omit<Fields<DeliveryRecord>, 'outcome' | 'suppressedBy' | 'outcomeAt' | 'invocationEnd'> {
  /** Unique per receive: a duplicate delivery of the same message is a receipt of its own. */
  receiptId: string;
}

/** A delivery that failed (the message goes back to the queue, or to the DLQ). */
export interface Failure extends Fields<FailureRecord> {
  /** Unique per failure. */
  failureId: string;
}

/**
 * What an effect is unique on, beside its run, queue and order: the order itself (one effect per
 * order), the SQS message that carried it (one per message: a producer re-send is a new
 * message), or nothing (the guard off: every commit is an effect of its own).
 */
export type EffectGuard = 'order' | 'message' | 'none';

/** The effect of an order, committed inside the idempotent function. */
export interface Effect extends Fields<EffectRecord> {
  guard: EffectGuard;
}

/**
 * Items of another table that go into the invocation's end write beside the outcomes: the
 * idempotency records held COMPLETED (adapters/idempotency-store.ts). Opaque to the domain.
 */
export interface HeldItems {
  tableName: string;
  items: Record<string, unknown>[];
}

/** What holds writes for the invocation's end write (the idempotency layer). */
export interface HeldWritesPort {
  /**
   * Drops what an earlier invocation held and did not hand to an end write. `hold: false`: this
   * invocation's writes are sent as they come, nothing is held (absent: they are held).
   */
  beginInvocation(options?: { hold?: boolean }): void;
  /** What is held, handed over once. */
  takeHeld(): HeldItems[];
  /**
   * Whether the idempotent effect called with `payload` would be answered from what this
   * invocation holds (its order's record completed in this invocation, held and not expired),
   * with no DynamoDB call: so it can run where a record that needs a call cannot.
   */
  answersHeld(payload: object): boolean;
}

/**
 * When the consumer's DynamoDB calls are given up: set from the invocation's deadline as it goes
 * (its records' calls, then its end write), cleared when it ends (adapters/call-deadline.ts).
 */
export interface CallDeadlinePort {
  /**
   * Calls still unanswered `ms` from now are given up (counted on a monotonic clock, as Lambda's
   * remaining time is, not on the wall clock, which can step); undefined: no cut. A write that
   * completes a record whose effect has committed (Powertools' COMPLETED update) is given up
   * `completingMs` from now instead, when that is later (adapters/call-deadline.ts).
   */
  cutIn(ms: number | undefined, completingMs?: number): void;
  /** Milliseconds until the records' cut (0 or less once passed); undefined with no cut. */
  untilCut(): number | undefined;
  /** Runs `work` (one record), adding to `tally.sent` each DynamoDB try its calls send. */
  counting<T>(tally: { sent: number }, work: () => Promise<T>): Promise<T>;
}

/** What an invocation writes once its records are done: one batch for the whole batch. */
export interface InvocationEnd {
  /** The receipts that ran, with how each ended (the end of their invocation). */
  ended: { receipt: Receipt; outcome: DeliveryOutcome }[];
  /**
   * Receipts of records the FIFO processor handed back without running them (an earlier message
   * of their group failed): they go, as the handler never attempted them.
   */
  unrun: Receipt[];
  /**
   * Failed attempts, and the not-attempted failures of unrun records. Written before any outcome
   * or deletion is sent, every one taken (an outcome may rely on one to explain its redelivery).
   */
  failures: Failure[];
  /** Items held for this write (the COMPLETED idempotency records), written before the outcomes. */
  held?: HeldItems[];
}

/** What the consumer needs from the ledger; the adapter owns the table's keys. */
export interface ConsumerLedgerPort {
  /** Records every receive of a batch, before any of it runs (one batch write). */
  recordReceipts(receipts: Receipt[]): Promise<void>;
  /** Writes how each delivery of the invocation ended (one batch write). */
  recordInvocationEnd(end: InvocationEnd): Promise<void>;
  /**
   * Atomically takes the customer's next apply index on one queue and, in the same request,
   * decides whether this turn is late (its sequence below the highest that took a turn), and
   * names `by` as the order that set the highest sequence when it raises it.
   */
  takeApplyTurn(
    runId: string,
    queue: EffectRecord['queue'],
    customerId: string,
    sequence: number,
    by?: TurnTaker,
  ): Promise<ApplyTurn>;
  /**
   * Whether the effect of `order`, unique on what `guard` says, committed with an apply index
   * below `applyIndex` and a sequence above `sequence` (never, for an unguarded effect, which no
   * key names). The counter can name an order of a lower sequence than the one that raised its
   * highest: a turn taken without a taker (an older consumer) raises the highest and leaves the
   * name an earlier turn wrote.
   */
  committedBelow(
    runId: string,
    queue: EffectRecord['queue'],
    order: TurnTaker,
    guard: EffectGuard,
    applyIndex: number,
    sequence: number,
  ): Promise<boolean>;
  /**
   * Writes the effect only if no effect is there yet for what it is unique on (a conditional
   * write), and answers the effect that is there when it refuses.
   */
  putEffectIfAbsent(effect: Effect): Promise<EffectWrite>;
  /** Writes the effect unconditionally (the guard switched off, to show what it prevents). */
  putEffect(effect: Effect): Promise<void>;
}

/**
 * The consumer's metrics (shared/src/metrics.ts): one event per delivery outcome, published once
 * per invocation. The adapter writes CloudWatch's embedded metric format to stdout.
 */
export interface ConsumerMetricsPort {
  record(event: OrderEvent): void;
  publish(): void;
}

/** The consumer's structured log (Powertools Logger on Lambda). */
export interface ConsumerLogPort {
  info(message: string, data: Record<string, unknown>): void;
  warn(message: string, data: Record<string, unknown>): void;
}
