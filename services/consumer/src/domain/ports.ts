import type { DeliveryRecord, EffectRecord, FailureRecord } from '../../../../shared/src/ledger';

/** What a committed effect answers to a later attempt at the same key. */
export interface CommittedEffect {
  applyIndex: number;
  committedAt: number;
}

/** The outcome of a guarded effect write: written now, or refused because one already exists. */
export type EffectWrite = { written: true } | { written: false; existing: CommittedEffect };

/** How one delivery ended, written onto its delivery record in one update. */
export interface DeliveryOutcome {
  outcome: DeliveryRecord['outcome'];
  suppressedBy?: DeliveryRecord['suppressedBy'];
  at: number;
}

/** What the consumer needs from the ledger table; the adapter speaks DynamoDB. */
export interface ConsumerLedgerPort {
  putDelivery(record: DeliveryRecord): Promise<void>;
  setDeliveryOutcome(key: { pk: string; sk: string }, outcome: DeliveryOutcome): Promise<void>;
  /** Atomically takes the customer's next apply index on one queue (1-based). */
  nextApplyIndex(runId: string, queue: EffectRecord['queue'], customerId: string): Promise<number>;
  /**
   * Writes the effect only if no effect has its key yet (a conditional write), and answers the
   * effect that holds the key when it refuses.
   */
  putEffectIfAbsent(record: EffectRecord): Promise<EffectWrite>;
  /** Writes the effect unconditionally (the guard switched off, to show what it prevents). */
  putEffect(record: EffectRecord): Promise<void>;
  putFailure(record: FailureRecord): Promise<void>;
}
