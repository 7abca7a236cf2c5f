import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { pipelineConfig, type QueueKind } from '../../../shared/src/config/pipeline';

/**
 * An order's Powertools idempotency record on `kind`'s consumer, read consistently: its key is
 * the consumer's prefix and the md5 (base64) of the order id's JSON, as Powertools hashes the
 * key it is given.
 */
export async function readIdempotencyRecord(
  documents: DynamoDBDocumentClient,
  kind: QueueKind,
  orderId: string,
): Promise<Record<string, unknown> | undefined> {
  const hash = createHash('md5').update(JSON.stringify(orderId)).digest('base64');
  const out = await documents.send(
    new GetCommand({
      TableName: pipelineConfig.tables.idempotency.name,
      Key: { id: `${pipelineConfig.idempotency.keyPrefix[kind]}#${hash}` },
      ConsistentRead: true,
    }),
  );
  return out.Item;
}
