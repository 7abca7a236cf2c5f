import {
  CreateTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { TableConfig } from '../shared/src/config/pipeline';

/**
 * Creates one of the deployment's tables in the local cloud's DynamoDB (or any endpoint the
 * client names): its keys, its global indexes and, where the engine has it, its TTL. Tests that
 * run the real ledger code against dynalite create their tables with it, so they hold the same
 * keys and indexes as the cloud's.
 */
export async function createTable(
  dynamodb: DynamoDBClient,
  t: TableConfig,
  log: (line: string) => void,
): Promise<void> {
  const keys = [
    { AttributeName: t.partitionKey, KeyType: 'HASH' as const },
    ...(t.sortKey ? [{ AttributeName: t.sortKey, KeyType: 'RANGE' as const }] : []),
  ];
  const indexes = t.globalIndexes ?? [];
  const attributes = new Set([
    ...keys.map((k) => k.AttributeName),
    ...indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ]);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: t.name,
      KeySchema: keys,
      AttributeDefinitions: [...attributes].map((name) => ({
        AttributeName: name,
        AttributeType: 'S',
      })),
      ...(indexes.length > 0
        ? {
            GlobalSecondaryIndexes: indexes.map((i) => ({
              IndexName: i.indexName,
              KeySchema: [
                { AttributeName: i.partitionKey, KeyType: 'HASH' as const },
                { AttributeName: i.sortKey, KeyType: 'RANGE' as const },
              ],
              Projection: {
                ProjectionType: 'INCLUDE' as const,
                NonKeyAttributes: [...i.projected],
              },
            })),
          }
        : {}),
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  if (t.ttlAttribute) {
    try {
      await dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: t.name,
          TimeToLiveSpecification: { AttributeName: t.ttlAttribute, Enabled: true },
        }),
      );
    } catch (err) {
      // dynalite has no TTL: records are never deleted locally. Powertools checks a record's
      // expiry itself, so an expired record is treated as absent here as on AWS.
      log(
        `dynamodb: ${t.name}: TTL on "${t.ttlAttribute}" not supported locally (${(err as Error).name}); records do not expire`,
      );
    }
  }
}
