import type { DeliveryRecord, EffectRecord, FailureRecord } from '../../../../shared/src/ledger';

/** What the consumer needs from the ledger table; the adapter speaks DynamoDB. */
export interface ConsumerLedgerPort {
  putDelivery(record: DeliveryRecord): Promise<void>;
  setDeliveryOutcome(
    key: { pk: string; sk: string },
    outcome: DeliveryRecord['outcome'],
  ): Promise<void>;
  /** Atomically takes the customer's next apply index on one queue (1-based). */
  nextApplyIndex(runId: string, queue: EffectRecord['queue'], customerId: string): Promise<number>;
  putEffect(record: EffectRecord): Promise<void>;
  putFailure(record: FailureRecord): Promise<void>;
}
