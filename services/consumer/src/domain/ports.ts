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

/** How one delivery ended, written onto its delivery record in one update. */
export interface DeliveryOutcome {
  outcome: DeliveryRecord['outcome'];
  suppressedBy?: DeliveryRecord['suppressedBy'];
  at: number;
  /** This record is the last of its invocation to finish: the invocation ended normally. */
  invocationEnd?: boolean;
}

/** What the consumer needs from the ledger table; the adapter speaks DynamoDB. */
export interface ConsumerLedgerPort {
  putDelivery(record: DeliveryRecord): Promise<void>;
  setDeliveryOutcome(key: { pk: string; sk: string }, outcome: DeliveryOutcome): Promise<void>;
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
  putFailure(record: FailureRecord): Promise<void>;
}

/**
 * The consumer's metrics (shared/src/metrics.ts): one event per delivery outcome, published once
 * per invocation. The adapter writes CloudWatch's embedded metric format to stdout.
 */
export interface ConsumerMetricsPort {
  record(event: OrderEvent): void;
  publish(): void;
}
