import { randomUUID } from 'node:crypto';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  applyCounterSk,
  counterValue,
  type DeliveryRecord,
  deliverySk,
  type EffectRecord,
  effectSk,
  type FailureRecord,
  failureSk,
  messageGuardKey,
  ORDER_GUARD_KEY,
  runPk,
  shownValue,
  unguardedGuardKey,
} from '../../../../shared/src/ledger';
import type { QueueKind } from '../../../../shared/src/queue-kind';
import { refusedItem } from '../../../../shared/src/refused-item';
import type {
  ApplyTurn,
  CommittedEffect,
  ConsumerLedgerPort,
  Effect,
  EffectGuard,
  EffectWrite,
  Failure,
  InvocationEnd,
  Receipt,
  TurnTaker,
} from '../domain/ports';

type BatchWriteRequest = { PutRequest: { Item: object } } | { DeleteRequest: { Key: object } };
/** One item of a batch write and the table it goes to (BatchWriteItem spans tables). */
interface TableWrite {
  tableName: string;
  request: BatchWriteRequest;
}
type DocumentWriteRequests = NonNullable<BatchWriteCommandInput['RequestItems']>[string];

/** DynamoDB's limit of items per BatchWriteItem. */
const BATCH_WRITE_LIMIT = 25;
const BATCH_WRITE_ATTEMPTS = 5;
const BATCH_WRITE_BACKOFF_MS = 50;

/** An item of the ledger that does not hold what the consumer wrote into it. */
export class LedgerValueError extends Error {
  constructor(what: string, value: unknown) {
    super(`${what} is ${shownValue(value) ?? 'missing'}, not a positive integer`);
    this.name = 'LedgerValueError';
  }
}

/**
 * A number of an effect item (its apply index or commit time: positive integers), as the
 * document client reads it (from a GetItem, or a refused write's item through the shared reader,
 * shared/src/refused-item.ts). Anything else is refused, with the counters' rule (shared
 * counterValue): a NaN, a fraction or a 0 would travel on as the apply index Powertools stores
 * and answers to duplicates.
 */
function numberAttribute(item: Record<string, unknown>, name: string, sk: string): number {
  const n = item[name];
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new LedgerValueError(`${name} of ${sk}`, n);
  }
  return n;
}

const deliveryKey = (r: Receipt) => ({
  pk: runPk(r.runId),
  sk: deliverySk(r.queue, r.orderId, r.receiptId),
});

function deliveryItem(receipt: Receipt): DeliveryRecord {
  const { receiptId: _, ...fields } = receipt;
  return { ...deliveryKey(receipt), type: 'delivery', ...fields, outcome: 'pending' };
}

function failureItem({ failureId, ...fields }: Failure): FailureRecord {
  return {
    pk: runPk(fields.runId),
    sk: failureSk(fields.queue, fields.orderId, failureId),
    type: 'failure',
    ...fields,
  };
}

/** The sort key's last segment: what the effect is unique on, said as the table keys it. */
function guardKey(guard: EffectGuard, messageId: string, newId: () => string): string {
  switch (guard) {
    case 'order':
      return ORDER_GUARD_KEY;
    case 'message':
      return messageGuardKey(messageId);
    case 'none':
      return unguardedGuardKey(newId());
  }
}

function effectItem({ guard, ...fields }: Effect, newId: () => string): EffectRecord {
  return {
    pk: runPk(fields.runId),
    sk: effectSk(fields.queue, fields.orderId, guardKey(guard, fields.messageId, newId)),
    type: 'effect',
    ...fields,
  };
}

export class EffectVanishedError extends Error {
  constructor(sk: string) {
    super(`effect ${sk} refused the write as existing, then could not be read`);
    this.name = 'EffectVanishedError';
  }
}

export class DynamoConsumerLedger implements ConsumerLedgerPort {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** The fresh id an unguarded effect's key ends with. */
    private readonly newId: () => string = randomUUID,
    /**
     * The client of the late turn's read alone (committedBelow): a document client with one try
     * a request (shared/src/aws-clients createDocumentClients' `oneTry`, over the same
     * connections). The read is made after the effect committed, for a metric: against a stalled
     * DynamoDB the SDK's four tries cost the record a whole stalled call (4 x 1 s + backoff at the
     * functions' defaults), one try a request timeout. Absent, `documents`.
     */
    private readonly oneTry: DynamoDBDocumentClient = documents,
  ) {}

  async recordReceipts(receipts: Receipt[]): Promise<void> {
    await this.batchWrite(
      receipts.map((r) => this.ledgerWrite({ PutRequest: { Item: deliveryItem(r) } })),
    );
  }

  /**
   * The failures first, in requests of their own, every one of them taken before any outcome is
   * sent: an outcome may rely on a failure to explain its redelivery (the not-attempted failure
   * of a copy of its message handed back beside it, which says Lambda did not delete it; the
   * failure of a failed attempt), and DynamoDB may take some items of one request and hand others
   * back unprocessed, so in one request with the outcomes it could take the outcomes and leave the
   * failures, and a give-up after the tries left outcomes without the failures they rely on. Then
   * the items held for this write (the idempotency records held COMPLETED, whole items of their
   * own table), before the outcomes, so a write that fails part way has more likely completed the
   * records than marked deliveries ended; then the outcomes and the unrun receipts' deletion (a
   * not-attempted failure is an unrun receipt's only trace). A write that stops after the
   * failures leaves the deliveries pending: their invocation never ended, which the report reads
   * as nothing deleted, as it was. One request more only for an invocation with a failure.
   */
  async recordInvocationEnd({ ended, unrun, failures, held = [] }: InvocationEnd): Promise<void> {
    await this.batchWrite(
      failures.map((f) => this.ledgerWrite({ PutRequest: { Item: failureItem(f) } })),
    );
    const heldWrites = held.flatMap(({ tableName, items }) =>
      items.map((Item): TableWrite => ({ tableName, request: { PutRequest: { Item } } })),
    );
    const ledgerWrites: BatchWriteRequest[] = [
      ...ended.map(({ receipt, outcome }) => ({
        PutRequest: {
          Item: {
            ...deliveryItem(receipt),
            outcome: outcome.outcome,
            outcomeAt: outcome.at,
            ...(outcome.suppressedBy ? { suppressedBy: outcome.suppressedBy } : {}),
            invocationEnd: true,
          } satisfies DeliveryRecord,
        },
      })),
      ...unrun.map((r) => ({ DeleteRequest: { Key: deliveryKey(r) } })),
    ];
    await this.batchWrite([...heldWrites, ...ledgerWrites.map((r) => this.ledgerWrite(r))]);
  }

  private ledgerWrite(request: BatchWriteRequest): TableWrite {
    return { tableName: this.tableName, request };
  }

  /**
   * BatchWriteItem, 25 items a request (whatever their tables), until DynamoDB has taken every
   * item: it may hand some back unprocessed (throttling) without an error, and the SDK does not
   * retry those.
   */
  private async batchWrite(writes: TableWrite[]): Promise<void> {
    for (let i = 0; i < writes.length; i += BATCH_WRITE_LIMIT) {
      let left = writes.slice(i, i + BATCH_WRITE_LIMIT);
      for (let attempt = 1; left.length > 0; attempt++) {
        if (attempt > BATCH_WRITE_ATTEMPTS) {
          // The end write carries another table's items too (the held COMPLETED records): say
          // which tables' items were left, so a failure names what stays IN_PROGRESS.
          const byTable = new Map<string, number>();
          for (const { tableName } of left)
            byTable.set(tableName, (byTable.get(tableName) ?? 0) + 1);
          const tables = [...byTable].map(([table, n]) => `${n} of ${table}`).join(', ');
          throw new Error(
            `${left.length} batch writes still unprocessed after ${BATCH_WRITE_ATTEMPTS} attempts: ${tables}`,
          );
        }
        if (attempt > 1) await sleepMs(BATCH_WRITE_BACKOFF_MS * 2 ** (attempt - 2));
        const RequestItems: Record<string, BatchWriteRequest[]> = {};
        for (const { tableName, request } of left) {
          RequestItems[tableName] = [...(RequestItems[tableName] ?? []), request];
        }
        const out = await this.documents.send(
          new BatchWriteCommand({
            RequestItems: RequestItems as Record<string, DocumentWriteRequests>,
          }),
        );
        left = Object.entries(out.UnprocessedItems ?? {}).flatMap(([tableName, requests]) =>
          (requests as BatchWriteRequest[]).map((request) => ({ tableName, request })),
        );
      }
    }
  }

  async takeApplyTurn(
    runId: string,
    queue: QueueKind,
    customerId: string,
    sequence: number,
    by?: TurnTaker,
  ): Promise<ApplyTurn> {
    const Key = { pk: runPk(runId), sk: applyCounterSk(queue, customerId) };
    // This turn's own id, written with it. The SDK sends a request again when a try got no
    // answer in time (the functions' 1 s request timeout, a reset connection), and the try it
    // gave up on may have committed: the counter would count one apply twice (an index no
    // refusal or crash explains, and applyIndexGaps one too high), and the resent first update,
    // refused by a higher sequence that took its turn in between, would call an apply late that
    // was not. So each update takes the turn only when the counter's last turn is not this one
    // (`turnBy`), and a refusal that finds this turn's id answers the index and lateness its
    // committed try wrote (`turnIndex`, `turnLate`). The window left: another turn of the same
    // customer and queue committing between this turn's tries (a FIFO customer's applies run one
    // at a time, its message group; on the standard queue it can happen).
    const me = this.newId();
    const names = {
      '#value': 'value',
      '#index': 'turnIndex',
      '#by': 'turnBy',
      '#late': 'turnLate',
    };
    // Every right-hand operand reads the item as it was before the update, so `turnIndex` is the
    // new value of the counter (as ADD would make it, atomic on the item).
    const take =
      'SET #value = if_not_exists(#value, :zero) + :one, #index = if_not_exists(#value, :zero) + :one, #by = :me, #late = :late';
    const notThisTurn = '(attribute_not_exists(#by) OR #by <> :me)';
    // The order taking the turn, written beside the highest sequence it raises (no request
    // more): a later turn made late by it can ask whether that order's effect committed below
    // its own index, as the report counts late (committedBelow).
    const high = by
      ? {
          set: '#high = :sequence, #highOrder = :order, #highMessage = :message',
          names: {
            '#high': 'highSequence',
            '#highOrder': 'highOrderId',
            '#highMessage': 'highMessageId',
          },
          values: { ':order': by.orderId, ':message': by.messageId },
        }
      : { set: '#high = :sequence', names: { '#high': 'highSequence' }, values: {} };
    /** The order that set the highest sequence, as a refused on-time try found the counter. */
    let higher: TurnTaker | undefined;
    // One try at the turn: `first` also raises the customer's highest sequence, on condition that
    // it is not above this one; a late turn leaves it alone. Refused, it answers this turn's own
    // committed try when the counter holds it, else undefined.
    const attempt = async (first: boolean): Promise<ApplyTurn | undefined> => {
      try {
        const out = await this.documents.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: first ? `${take}, ${high.set}` : take,
            ConditionExpression: first
              ? `${notThisTurn} AND (attribute_not_exists(#high) OR #high <= :sequence)`
              : notThisTurn,
            ExpressionAttributeNames: first ? { ...names, ...high.names } : names,
            ExpressionAttributeValues: {
              ':zero': 0,
              ':one': 1,
              ':me': me,
              ':late': !first,
              ...(first ? { ':sequence': sequence, ...high.values } : {}),
            },
            ReturnValues: 'UPDATED_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { applyIndex: counterValue(out.Attributes, 'apply'), late: !first };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        const item = await this.counterItem(
          Key,
          refusedItem(err, this.documents, `the apply turn ${Key.sk}`),
        );
        if (first) higher = highTaker(item);
        return ownTurn(item, me);
      }
    };
    // The counter is atomic on the item, so concurrent consumers never get the same index: the
    // apply order the report sees is the order in which the effects really took their turn. The
    // same request raises the customer's highest sequence, so "late" is decided by DynamoDB in
    // the order of the indexes, with no read before.
    const onTime = await attempt(true);
    if (onTime) return onTime;
    // A higher sequence already took its turn: this apply is late. It still takes the next index
    // and leaves the highest sequence alone. Only a late apply pays this second request.
    const late = await attempt(false);
    if (late) return late.late && higher ? { ...late, higher } : late;
    // Refused as this turn's, yet the counter now names another: a later turn overwrote it
    // between the refusal and the read, and this turn's index cannot be told. Fail the record (it
    // comes back) rather than guess an index.
    throw new Error(`apply counter ${Key.sk}: turn ${me} refused as taken, then not found`);
  }

  /**
   * The counter item a refused update found: the refusal carries it
   * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`, read by the shared reader); without it
   * (dynalite 4 ignores the parameter), one consistent read.
   */
  private async counterItem(
    Key: { pk: string; sk: string },
    refusedBy: Record<string, unknown> | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    return (
      refusedBy ??
      (
        await this.documents.send(
          new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }),
        )
      ).Item
    );
  }

  /**
   * Whether the effect `order` wrote (keyed as `guard` keys it) committed with an apply index
   * below `applyIndex` and a sequence above `sequence`: one consistent read of its item. An
   * unguarded effect has a key of its own no one else knows, so it is never found. The sequence
   * is read, not taken from the counter: a turn taken without a taker (a consumer from before
   * the taker was written) raises the highest sequence and leaves the name of an earlier turn's
   * order, whose sequence can be below this one's.
   */
  async committedBelow(
    runId: string,
    queue: QueueKind,
    order: TurnTaker,
    guard: EffectGuard,
    applyIndex: number,
    sequence: number,
  ): Promise<boolean> {
    if (guard === 'none') return false;
    // One try: its TimeoutError (or the invocation's cut) reaches the caller, which counts it
    // as a call that ran out of time.
    const out = await this.oneTry.send(
      new GetCommand({
        TableName: this.tableName,
        Key: {
          pk: runPk(runId),
          sk: effectSk(queue, order.orderId, guardKey(guard, order.messageId, this.newId)),
        },
        ConsistentRead: true,
        ProjectionExpression: 'applyIndex, #sequence',
        ExpressionAttributeNames: { '#sequence': 'sequence' },
      }),
    );
    const index = out.Item?.applyIndex;
    const higher = out.Item?.sequence;
    return (
      typeof index === 'number' &&
      index < applyIndex &&
      typeof higher === 'number' &&
      higher > sequence
    );
  }

  async putEffectIfAbsent(effect: Effect): Promise<EffectWrite> {
    const record = effectItem(effect, this.newId);
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: record,
          ConditionExpression: 'attribute_not_exists(sk)',
          // DynamoDB hands the existing item back with the refusal: no second request to learn
          // what the first effect answered. (dynalite ignores it; then one consistent read.)
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { written: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const item = refusedItem(err, this.documents, `the effect write ${record.sk}`);
      const existing = item ? committedEffect(item, record.sk) : await this.readEffect(record);
      // The SDK retries a request whose answer did not come (a connection reset, a 500 after the
      // write): the first try may have committed, and then its retry is refused by that very
      // write. The effect there is this attempt's own when it holds the apply index this attempt
      // took (the counter hands each index of a customer and queue out once) and its commit time.
      if (
        existing.applyIndex === record.applyIndex &&
        existing.committedAt === record.committedAt
      ) {
        return { written: true };
      }
      return { written: false, existing };
    }
  }

  async putEffect(effect: Effect): Promise<void> {
    await this.documents.send(
      new PutCommand({ TableName: this.tableName, Item: effectItem(effect, this.newId) }),
    );
  }

  private async readEffect(record: EffectRecord): Promise<CommittedEffect> {
    const out = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: record.pk, sk: record.sk },
        ConsistentRead: true,
        ProjectionExpression: 'applyIndex, committedAt',
      }),
    );
    if (!out.Item) throw new EffectVanishedError(record.sk);
    return committedEffect(out.Item, record.sk);
  }
}

/**
 * The turn a refused counter update found, when it is this turn's own (`turnBy` is `me`: a try
 * of the same update committed before): its index and lateness as that try wrote them.
 */
function ownTurn(item: Record<string, unknown> | undefined, me: string): ApplyTurn | undefined {
  if (!item || item.turnBy !== me) return undefined;
  return {
    applyIndex: counterValue({ value: item.turnIndex }, 'apply'),
    late: item.turnLate === true,
  };
}

/** The order whose turn set the counter's highest sequence, when the counter names it. */
function highTaker(item: Record<string, unknown> | undefined): TurnTaker | undefined {
  const orderId = item?.highOrderId;
  const messageId = item?.highMessageId;
  return typeof orderId === 'string' && typeof messageId === 'string'
    ? { orderId, messageId }
    : undefined;
}

function committedEffect(item: Record<string, unknown>, sk: string): CommittedEffect {
  return {
    applyIndex: numberAttribute(item, 'applyIndex', sk),
    committedAt: numberAttribute(item, 'committedAt', sk),
  };
}
