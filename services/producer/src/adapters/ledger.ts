import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { QueueKind } from '../../../../shared/src/config/pipeline';
import {
  type AcceptedRecord,
  acceptedKeys,
  counterValue,
  ORDER_SK,
  orderPk,
  runPk,
  SK_PREFIX,
  sequenceCounterSk,
} from '../../../../shared/src/ledger';
import type { AcceptedOrder, LedgerPort, RecordedSends } from '../domain/ports';
import type { QueueFacts } from '../domain/status';

/** The order an accepted item holds, without how the table stores it. */
function acceptedOrder(record: AcceptedRecord): AcceptedOrder {
  const { pk: _pk, sk: _sk, byRunPk: _byRunPk, byRunSk: _byRunSk, type: _type, ...order } = record;
  return order;
}

export class DynamoLedger implements LedgerPort {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getAccepted(orderId: string): Promise<AcceptedOrder | undefined> {
    const out = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: orderPk(orderId), sk: ORDER_SK },
        ConsistentRead: true,
      }),
    );
    return out.Item ? acceptedOrder(out.Item as AcceptedRecord) : undefined;
  }

  async nextSequence(runId: string, customerId: string): Promise<number> {
    const out = await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runId), sk: sequenceCounterSk(customerId) },
        UpdateExpression: 'ADD #value :one',
        ExpressionAttributeNames: { '#value': 'value' },
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return counterValue(out.Attributes, 'sequence');
  }

  async claim(
    order: AcceptedOrder,
  ): Promise<{ claimed: true } | { claimed: false; existing: AcceptedOrder }> {
    const claimId = randomUUID();
    const record: AcceptedRecord = {
      ...acceptedKeys(order.runId, order.orderId),
      type: 'accepted',
      ...order,
      claimId,
    };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: record,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { claimed: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    // Only a retry (or a key reused) pays this read; a first request is the write alone.
    const existing = await this.getAccepted(order.orderId);
    if (!existing) {
      throw new Error(`accepted record for ${order.orderId} vanished after its claim was refused`);
    }
    // Refused by this very claim: its first try committed and its answer was lost (a connection
    // reset, a 500 after the write), so the SDK sent it again. The order is this request's; taken
    // for another request's, its first POST would be answered 409 and never sent.
    if (existing.claimId === claimId) return { claimed: true };
    return { claimed: false, existing };
  }

  async countRequest(orderId: string): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: orderPk(orderId), sk: ORDER_SK },
        UpdateExpression: 'ADD requests :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  }

  async recordSequence(orderId: string, sequence: number): Promise<number> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: orderPk(orderId), sk: ORDER_SK },
          UpdateExpression: 'SET #sequence = :sequence',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#sequence)',
          ExpressionAttributeNames: { '#sequence': 'sequence' },
          ExpressionAttributeValues: { ':sequence': sequence },
        }),
      );
      return sequence;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    // Another request kept its sequence first (two retries of an order whose first request died
    // before keeping one): the order has that one, and the value this request took is unused.
    const kept = (await this.getAccepted(orderId))?.sequence;
    if (kept === undefined) {
      throw new Error(`accepted record for ${orderId} holds no sequence after refusing one`);
    }
    return kept;
  }

  async recordSends(orderId: string, sends: RecordedSends, endedAt: number): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':ended': endedAt };
    const sets = ['sendsEndedAt = :ended'];
    if (sends.legacy) {
      // A record from before per-queue maps: nothing to set an entry in (DynamoDB refuses a SET of
      // `map.key` whose map does not exist, "The document path provided in the update expression
      // is invalid for update"; Developer Guide, Using update expressions, SET), so both whole.
      sets.push('messageIds = :ids', 'sentAt = :sentAt');
      values[':ids'] = sends.legacy.all;
      values[':sentAt'] = sends.legacy.sentAt;
    } else {
      // One map entry per queue this request sent to (`SET messageIds.#q = :id` sets that key of
      // the existing map alone): a request that did not reach a queue writes nothing for it, so
      // it never erases the id another request recorded there.
      Object.entries(sends.sent).forEach(([queue, send], i) => {
        if (!send) return;
        names[`#q${i}`] = queue;
        values[`:id${i}`] = send.messageId;
        values[`:at${i}`] = send.sentAt;
        sets.push(`messageIds.#q${i} = :id${i}`, `sentAt.#q${i} = :at${i}`);
      });
    }
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: orderPk(orderId), sk: ORDER_SK },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
      }),
    );
  }

  async hasEffect(runId: string, queue: QueueKind, orderId: string): Promise<boolean> {
    // By prefix: the effect's last key part depends on what the consumer keys idempotency on.
    const out = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: {
          ':pk': runPk(runId),
          ':prefix': `${SK_PREFIX.effect(queue)}${orderId}#`,
        },
        Select: 'COUNT',
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return (out.Count ?? 0) > 0;
  }

  async queueFacts(runId: string, queue: QueueKind, orderId: string): Promise<QueueFacts> {
    const [deliveries, effects, finalFailures] = await Promise.all([
      this.count(runId, `${SK_PREFIX.delivery(queue)}${orderId}#`),
      this.count(runId, `${SK_PREFIX.effect(queue)}${orderId}#`),
      this.count(runId, `${SK_PREFIX.failure(queue)}${orderId}#`, true),
    ]);
    return { deliveries, effects, finalFailures };
  }

  private async count(runId: string, prefix: string, finalOnly = false): Promise<number> {
    let total = 0;
    const pages = paginateQuery(
      { client: this.documents },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ...(finalOnly ? { FilterExpression: '#final = :true' } : {}),
        ...(finalOnly ? { ExpressionAttributeNames: { '#final': 'final' } } : {}),
        ExpressionAttributeValues: {
          ':pk': runPk(runId),
          ':prefix': prefix,
          ...(finalOnly ? { ':true': true } : {}),
        },
        Select: 'COUNT',
        ConsistentRead: true,
      },
    );
    for await (const page of pages) total += page.Count ?? 0;
    return total;
  }
}
