import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import type { QueueKind } from '../../../shared/src/queue-kind';

/**
 * An order's Powertools idempotency key on `kind`'s consumer (keyed on the order id): the
 * consumer's prefix and the md5 (base64) of the order id's JSON, as Powertools hashes the key it
 * is given.
 */
export function idempotencyKeyOf(kind: QueueKind, orderId: string): string {
  const hash = createHash('md5').update(JSON.stringify(orderId)).digest('base64');
  return `${pipelineConfig.idempotency.keyPrefix[kind]}#${hash}`;
}

/**
 * An order's Powertools idempotency record on `kind`'s consumer, read consistently from
 * `tableName` (the pipeline's idempotency table unless a target names its own).
 */
export async function readIdempotencyRecord(
  documents: DynamoDBDocumentClient,
  kind: QueueKind,
  orderId: string,
  tableName: string = pipelineConfig.tables.idempotency.name,
): Promise<Record<string, unknown> | undefined> {
  const out = await documents.send(
    new GetCommand({
      TableName: tableName,
      Key: { id: idempotencyKeyOf(kind, orderId) },
      ConsistentRead: true,
    }),
  );
  return out.Item;
}
