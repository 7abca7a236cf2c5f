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
}

/** How one delivery ended. */
export interface DeliveryOutcome {
  outcome: DeliveryRecord['outcome'];
  suppressedBy?: DeliveryRecord['suppressedBy'];
  at: number;
}

/** What an invocation writes once its records are done: one batch for the whole batch. */
export interface InvocationEnd {
  /** The delivery records that ran, with their outcome and the end mark. */
  outcomes: DeliveryRecord[];
  /** Delivery records of records the FIFO processor handed back without running them. */
  unrun: { pk: string; sk: string }[];
  failures: FailureRecord[];
}

/** What the consumer needs from the ledger table; the adapter speaks DynamoDB. */
export interface ConsumerLedgerPort {
  /** Records every receive of a batch, before any of it runs (one batch write). */
  putDeliveries(records: DeliveryRecord[]): Promise<void>;
  /** Writes how each delivery of the invocation ended (one batch write). */
  setDeliveryOutcomes(end: InvocationEnd): Promise<void>;
  /**
   * Atomically takes the customer's next apply index on one queue and, in the same request,
   * decides whether this apply is late (its sequence below the highest that took a turn).
   */
  takeApplyTurn(
    runId: string,
    queue: EffectRecord['queue'],
    customerId: string,
    sequence: number,
  ): Promise<ApplyTurn>;
  /**
   * Writes the effect only if no effect has its key yet (a conditional write), and answers the
   * effect that holds the key when it refuses.
   */
  putEffectIfAbsent(record: EffectRecord): Promise<EffectWrite>;
  /** Writes the effect unconditionally (the guard switched off, to show what it prevents). */
  putEffect(record: EffectRecord): Promise<void>;
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
  /** Keys every later line carries, until removed. */
  appendKeys(keys: Record<string, string>): void;
  removeKeys(keys: string[]): void;
}
