import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('local DynamoDB: what it counts (requests and billed units)', () => {
  let cloud: LocalCloud;
  let client: DynamoDBClient;
  const table = 'units';

  beforeAll(async () => {
    cloud = await startLocalCloud({ port: 0, servicesOnly: true, seed: 1, faults: 'none' });
    client = new DynamoDBClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    await client.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }, 60_000);

  afterAll(async () => {
    client?.destroy();
    await cloud?.stop();
  });

  it('counts requests by operation and the units AWS would bill, asked for or not', async () => {
    // Prepare: a 1.5 KB item (2 WRU to write) and a small one.
    const before = cloud.usage().dynamodb;
    const big = { pk: { S: 'big' }, data: { S: 'x'.repeat(1500) } };

    // Act
    await client.send(new PutItemCommand({ TableName: table, Item: big }));
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'small' } } }));
    const failed = await client
      .send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: { S: 'small' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      )
      .catch((err: unknown) => err);
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'small' } },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );
    await client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'big' } }, ConsistentRead: true }),
    );
    const eventual = await client.send(
      new GetItemCommand({
        TableName: table,
        Key: { pk: { S: 'big' } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    const after = cloud.usage().dynamodb;

    // Assess
    expect(failed).toBeInstanceOf(ConditionalCheckFailedException);
    const delta = (a: Record<string, number>, b: Record<string, number>, k: string) =>
      (a[k] ?? 0) - (b[k] ?? 0);
    expect(delta(after.requests, before.requests, 'PutItem')).toBe(3);
    expect(delta(after.requests, before.requests, 'UpdateItem')).toBe(1);
    expect(delta(after.requests, before.requests, 'GetItem')).toBe(2);
    // 2 WRU for the 1.5 KB item, 1 for the small one; the failed put is counted apart.
    expect(delta(after.writeUnits, before.writeUnits, 'PutItem')).toBe(3);
    expect(delta(after.writeUnits, before.writeUnits, 'UpdateItem')).toBe(1);
    expect(delta(after.conditionalCheckFailures, before.conditionalCheckFailures, 'PutItem')).toBe(
      1,
    );
    // Strongly consistent: 1 RRU per 4 KB; eventually consistent: half.
    expect(delta(after.readUnits, before.readUnits, 'GetItem')).toBe(1.5);
    // A client that asks for the consumed capacity still gets it.
    expect(eventual.ConsumedCapacity?.CapacityUnits).toBe(0.5);
  });
});
