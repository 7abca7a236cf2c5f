import { IdempotencyItemNotFoundError } from '@aws-lambda-powertools/idempotency';
import {
  BasePersistenceLayer,
  type IdempotencyRecord,
} from '@aws-lambda-powertools/idempotency/persistence';
import { type ConsumerDeps, createConsumerHandler } from '../../../services/consumer/src/app';
import type { ConsumerFunctionConfig } from '../../../services/consumer/src/config';
import type {
  ApplyTurn,
  ConsumerLedgerPort,
  ConsumerMetricsPort,
  DeliveryOutcome,
  Effect,
  EffectGuard,
  EffectWrite,
  Failure,
  InvocationEnd,
  Receipt,
  TurnTaker,
} from '../../../services/consumer/src/domain/ports';
import type { OrderEvent } from '../../../shared/src/metrics';
import type { QueueKind } from '../../../shared/src/queue-kind';

/**
 * The consumer's ledger port in memory, with the semantics the DynamoDB adapter has (one effect
 * per what it is unique on, an atomic per-customer turn that knows the highest sequence), and a
 * log of the calls in order, in the domain's words, for tests that assert what was recorded and
 * when.
 */
export class InMemoryConsumerLedger implements ConsumerLedgerPort {
  readonly receipts = new Map<string, { receipt: Receipt; outcome?: DeliveryOutcome }>();
  readonly effects = new Map<string, Effect>();
  readonly failures: Failure[] = [];
  private readonly turns = new Map<string, { value: number; high: number; by?: TurnTaker }>();
  /** `receipts:o1,o2`, `turn:<customer>:<sequence>`, `effect:<order>`, `end:<order>:<outcome>,...`. */
  readonly calls: string[] = [];

  async recordReceipts(receipts: Receipt[]): Promise<void> {
    this.calls.push(`receipts:${receipts.map((r) => r.orderId).join(',')}`);
    for (const receipt of receipts) this.receipts.set(receipt.receiptId, { receipt });
  }

  async recordInvocationEnd(end: InvocationEnd): Promise<void> {
    this.calls.push(
      `end:${[
        ...end.ended.map(({ receipt, outcome }) => `${receipt.orderId}:${outcome.outcome}`),
        ...end.failures.map((f) => `${f.orderId}:failure`),
        ...end.unrun.map((r) => `${r.orderId}:unrun`),
      ].join(',')}`,
    );
    for (const { receipt, outcome } of end.ended) {
      this.receipts.set(receipt.receiptId, { receipt, outcome });
    }
    for (const receipt of end.unrun) this.receipts.delete(receipt.receiptId);
    this.failures.push(...end.failures);
  }

  async takeApplyTurn(
    runId: string,
    queue: QueueKind,
    customerId: string,
    sequence: number,
    by?: TurnTaker,
  ): Promise<ApplyTurn> {
    this.calls.push(`turn:${customerId}:${sequence}`);
    const key = `${runId}#${queue}#${customerId}`;
    const turn: { value: number; high: number; by?: TurnTaker } = this.turns.get(key) ?? {
      value: 0,
      high: 0,
    };
    turn.value += 1;
    const late = turn.high > sequence;
    const higher = late ? turn.by : undefined;
    if (!late) {
      turn.high = sequence;
      if (by) turn.by = by;
      else delete turn.by;
    }
    this.turns.set(key, turn);
    return { applyIndex: turn.value, late, ...(higher ? { higher } : {}) };
  }

  async committedBelow(
    runId: string,
    queue: QueueKind,
    order: TurnTaker,
    guard: EffectGuard,
    applyIndex: number,
    sequence: number,
  ): Promise<boolean> {
    this.calls.push(`committed-below:${order.orderId}:${applyIndex}`);
    if (guard === 'none') return false;
    const effect = this.effects.get(effectKey({ runId, queue, guard, ...order }));
    return effect !== undefined && effect.applyIndex < applyIndex && effect.sequence > sequence;
  }

  async putEffectIfAbsent(effect: Effect): Promise<EffectWrite> {
    this.calls.push(`effect:${effect.orderId}`);
    const existing = this.effects.get(effectKey(effect));
    if (existing) {
      return {
        written: false,
        existing: { applyIndex: existing.applyIndex, committedAt: existing.committedAt },
      };
    }
    this.effects.set(effectKey(effect), effect);
    return { written: true };
  }

  async putEffect(effect: Effect): Promise<void> {
    this.calls.push(`effect:${effect.orderId}`);
    this.effects.set(effectKey(effect), effect);
  }
}

let unguarded = 0;

/** What the effect is unique on; an unguarded effect on nothing, so on a key of its own. */
const effectKey = (e: Pick<Effect, 'runId' | 'queue' | 'orderId' | 'guard' | 'messageId'>) =>
  `${e.runId}#${e.queue}#${e.orderId}#${
    e.guard === 'order'
      ? 'order'
      : e.guard === 'message'
        ? `message:${e.messageId}`
        : `none:${++unguarded}`
  }`;

/** The metrics port, keeping every event and counting publishes. */
export class RecordedMetrics implements ConsumerMetricsPort {
  readonly events: OrderEvent[] = [];
  published = 0;
  record(event: OrderEvent): void {
    this.events.push(event);
  }
  publish(): void {
    this.published += 1;
  }
}

/** A logger port that says nothing. */
export const silent = { info() {}, warn() {} };

/** The time a handler over fakes reads (its `now`), for tests that assert recorded times. */
export const NOW = 1_764_050_001_000;

/**
 * The consumer's handler over fakes: `ledger`, a RecordedMetrics it returns, a silent logger,
 * the clock stopped at NOW, ids id-1, id-2, ... and pauses that take no time; `extra` adds or
 * replaces ports.
 */
export function handlerOverFakes(
  config: ConsumerFunctionConfig,
  ledger: ConsumerLedgerPort,
  extra: Partial<ConsumerDeps> = {},
) {
  const metrics = new RecordedMetrics();
  let id = 0;
  const handler = createConsumerHandler(config, {
    ledger,
    metrics,
    logger: silent,
    now: () => NOW,
    newId: () => `id-${++id}`,
    sleep: async () => {},
    ...extra,
  });
  return { handler, metrics };
}

/**
 * Powertools' persistence layer in memory, letting every attempt through (as an expired record
 * would): what the idempotency wrapper saved and completed, without a table. The real
 * semantics (a second attempt refused, expiry, in progress) are proven against dynalite in
 * idempotency-dynalite.test.ts.
 */
export class PermissivePersistence extends BasePersistenceLayer {
  readonly saved: IdempotencyRecord[] = [];
  readonly completed: IdempotencyRecord[] = [];
  private readonly records = new Map<string, IdempotencyRecord>();

  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    this.saved.push(record);
    this.records.set(record.idempotencyKey, record);
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const record = this.records.get(idempotencyKey);
    if (!record) throw new IdempotencyItemNotFoundError();
    return record;
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    this.completed.push(record);
    this.records.set(record.idempotencyKey, record);
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    this.records.delete(record.idempotencyKey);
  }
}
