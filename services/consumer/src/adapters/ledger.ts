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
import type { QueueKind } from '../../../../shared/src/config/pipeline';
import {
  applyCounterSk,
  type DeliveryRecord,
  type EffectRecord,
  runPk,
} from '../../../../shared/src/ledger';
import type {
  ApplyTurn,
  CommittedEffect,
  ConsumerLedgerPort,
  EffectWrite,
  InvocationEnd,
} from '../domain/ports';

type BatchWriteRequest = { PutRequest: { Item: object } } | { DeleteRequest: { Key: object } };
type DocumentWriteRequests = NonNullable<BatchWriteCommandInput['RequestItems']>[string];

/** DynamoDB's limit of items per BatchWriteItem. */
const BATCH_WRITE_LIMIT = 25;
const BATCH_WRITE_ATTEMPTS = 5;
const BATCH_WRITE_BACKOFF_MS = 50;

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

  async putDeliveries(records: DeliveryRecord[]): Promise<void> {
    await this.batchWrite(records.map((Item) => ({ PutRequest: { Item } })));
  }

  async setDeliveryOutcomes({ outcomes, unrun, failures }: InvocationEnd): Promise<void> {
    await this.batchWrite([
      ...outcomes.map((Item) => ({ PutRequest: { Item } })),
      ...failures.map((Item) => ({ PutRequest: { Item } })),
      ...unrun.map((Key) => ({ DeleteRequest: { Key } })),
    ]);
  }

  /**
   * BatchWriteItem, 25 items a request, until DynamoDB has taken every item: it may hand some
   * back unprocessed (throttling) without an error, and the SDK does not retry those.
   */
  private async batchWrite(requests: BatchWriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
      let left = requests.slice(i, i + BATCH_WRITE_LIMIT);
      for (let attempt = 1; left.length > 0; attempt++) {
        if (attempt > BATCH_WRITE_ATTEMPTS) {
          throw new Error(
            `${left.length} ledger writes still unprocessed after ${BATCH_WRITE_ATTEMPTS} attempts`,
          );
        }
        if (attempt > 1) await sleepMs(BATCH_WRITE_BACKOFF_MS * 2 ** (attempt - 2));
        const out = await this.documents.send(
          new BatchWriteCommand({
            RequestItems: { [this.tableName]: left as DocumentWriteRequests },
          }),
        );
        left = (out.UnprocessedItems?.[this.tableName] ?? []) as BatchWriteRequest[];
      }
    }
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
