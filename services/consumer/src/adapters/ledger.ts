import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { QueueKind } from '../../../../shared/src/config/pipeline';
import {
  applyCounterSk,
  type DeliveryRecord,
  type EffectRecord,
  type FailureRecord,
  runPk,
} from '../../../../shared/src/ledger';
import type { ConsumerLedgerPort } from '../domain/ports';

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
    outcome: DeliveryRecord['outcome'],
  ): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET #outcome = :outcome',
        ExpressionAttributeNames: { '#outcome': 'outcome' },
        ExpressionAttributeValues: { ':outcome': outcome },
      }),
    );
  }

  async nextApplyIndex(runId: string, queue: QueueKind, customerId: string): Promise<number> {
    // ADD is atomic on the item, so concurrent consumers never get the same index: the apply
    // order the report sees is the order in which the effects really took their turn.
    const out = await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runId), sk: applyCounterSk(queue, customerId) },
        UpdateExpression: 'ADD #value :one',
        ExpressionAttributeNames: { '#value': 'value' },
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const value = out.Attributes?.value;
    if (typeof value !== 'number') throw new Error('apply counter returned no value');
    return value;
  }

  async putEffect(record: EffectRecord): Promise<void> {
    await this.documents.send(new PutCommand({ TableName: this.tableName, Item: record }));
  }

  async putFailure(record: FailureRecord): Promise<void> {
    await this.documents.send(new PutCommand({ TableName: this.tableName, Item: record }));
  }
}
