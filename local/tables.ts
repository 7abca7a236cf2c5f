import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { TableConfig } from '../shared/src/config/pipeline';

/**
 * Creates a table and returns once DescribeTable says it is ACTIVE, as any DynamoDB client must
 * wait: a new table is CREATING first, and a request to it meanwhile is answered
 * ResourceNotFoundException. dynalite turns a table ACTIVE on a 0 ms timer, so on a loaded machine
 * a request could reach its thread before that timer ran and be refused. The first check is made
 * at once (usually ACTIVE by then); later ones 50 ms to 0.5 s apart.
 */
export async function createActiveTable(
  dynamodb: DynamoDBClient,
  input: CreateTableCommandInput & { TableName: string },
): Promise<void> {
  await dynamodb.send(new CreateTableCommand(input));
  await waitUntilTableExists(
    { client: dynamodb, minDelay: 0.05, maxDelay: 0.5, maxWaitTime: 30 },
    { TableName: input.TableName },
  );
}

/** A pay-per-request table keyed by string attributes: a partition key and, if given, a sort key. */
export function keyedTable(
  name: string,
  partitionKey: string,
  sortKey?: string,
): CreateTableCommandInput & { TableName: string } {
  const keys = sortKey === undefined ? [partitionKey] : [partitionKey, sortKey];
  return {
    TableName: name,
    KeySchema: keys.map((AttributeName, i) => ({
      AttributeName,
      KeyType: i === 0 ? ('HASH' as const) : ('RANGE' as const),
    })),
    AttributeDefinitions: keys.map((AttributeName) => ({
      AttributeName,
      AttributeType: 'S' as const,
    })),
    BillingMode: 'PAY_PER_REQUEST',
  };
}

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
  const table = keyedTable(t.name, t.partitionKey, t.sortKey || undefined);
  const indexes = t.globalIndexes ?? [];
  const attributes = new Set([
    ...table.KeySchema!.map((k) => k.AttributeName!),
    ...indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ]);
  await createActiveTable(dynamodb, {
    ...table,
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
  });
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
