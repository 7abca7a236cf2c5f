import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { QueueKind } from '../../../../shared/src/config/pipeline';
import {
  applyCounterSk,
  type DeliveryRecord,
  type EffectRecord,
  type FailureRecord,
  runPk,
} from '../../../../shared/src/ledger';
import type {
  ApplyTurn,
  CommittedEffect,
  ConsumerLedgerPort,
  DeliveryOutcome,
  EffectWrite,
} from '../domain/ports';

/** The number in an AttributeValue map (`{ N: "7" }`): what a refused write hands back. */
function numberAttribute(item: Record<string, unknown> | undefined, name: string): number {
  const raw = (item?.[name] as { N?: string } | number | undefined) ?? undefined;
  const value = typeof raw === 'number' ? raw : Number(raw?.N);
  return Number.isFinite(value) ? value : Number.NaN;
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
  ) {}

  async putDelivery(record: DeliveryRecord): Promise<void> {
    await this.documents.send(new PutCommand({ TableName: this.tableName, Item: record }));
  }

  async setDeliveryOutcome(
    key: { pk: string; sk: string },
    { outcome, suppressedBy, at, invocationEnd }: DeliveryOutcome,
  ): Promise<void> {
    const sets = ['#outcome = :outcome', '#at = :at'];
    const names: Record<string, string> = { '#outcome': 'outcome', '#at': 'outcomeAt' };
    const values: Record<string, unknown> = { ':outcome': outcome, ':at': at };
    if (suppressedBy) {
      sets.push('#by = :by');
      names['#by'] = 'suppressedBy';
      values[':by'] = suppressedBy;
    }
    if (invocationEnd) {
      sets.push('#end = :end');
      names['#end'] = 'invocationEnd';
      values[':end'] = true;
    }
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: `SET ${sets.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async takeApplyTurn(
    runId: string,
    queue: QueueKind,
    customerId: string,
    sequence: number,
  ): Promise<ApplyTurn> {
    const Key = { pk: runPk(runId), sk: applyCounterSk(queue, customerId) };
    const applyIndexOf = (attributes: Record<string, unknown> | undefined): number => {
      const value = attributes?.value;
      if (typeof value !== 'number') throw new Error('apply counter returned no value');
      return value;
    };
    // ADD is atomic on the item, so concurrent consumers never get the same index: the apply
    // order the report sees is the order in which the effects really took their turn. The same
    // request raises the customer's highest sequence, on condition that it is not above this one,
    // so "late" is decided by DynamoDB in the order of the indexes, with no read before.
    try {
      const out = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key,
          UpdateExpression: 'ADD #value :one SET #high = :sequence',
          ConditionExpression: 'attribute_not_exists(#high) OR #high <= :sequence',
          ExpressionAttributeNames: { '#value': 'value', '#high': 'highSequence' },
          ExpressionAttributeValues: { ':one': 1, ':sequence': sequence },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return { applyIndex: applyIndexOf(out.Attributes), late: false };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    // A higher sequence already took its turn: this apply is late. It still takes the next index
    // and leaves the highest sequence alone. Only a late apply pays this second request.
    const out = await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key,
        UpdateExpression: 'ADD #value :one',
        ExpressionAttributeNames: { '#value': 'value' },
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return { applyIndex: applyIndexOf(out.Attributes), late: true };
  }

  async putEffectIfAbsent(record: EffectRecord): Promise<EffectWrite> {
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
      const item = err.Item as Record<string, unknown> | undefined;
      const existing: CommittedEffect = {
        applyIndex: numberAttribute(item, 'applyIndex'),
        committedAt: numberAttribute(item, 'committedAt'),
      };
      if (Number.isFinite(existing.applyIndex)) return { written: false, existing };
      return { written: false, existing: await this.readEffect(record) };
    }
  }

  async putEffect(record: EffectRecord): Promise<void> {
    await this.documents.send(new PutCommand({ TableName: this.tableName, Item: record }));
  }

  async putFailure(record: FailureRecord): Promise<void> {
    await this.documents.send(new PutCommand({ TableName: this.tableName, Item: record }));
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
    const item = out.Item as Partial<CommittedEffect> | undefined;
    if (typeof item?.applyIndex !== 'number') throw new EffectVanishedError(record.sk);
    return { applyIndex: item.applyIndex, committedAt: Number(item.committedAt) };
  }
}
