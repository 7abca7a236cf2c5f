import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { type LocalDynamoDb, startDynamoDb } from '../../local/dynamodb';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * An update's arithmetic is held to DynamoDB's number range (magnitude below 10^126): past it,
 * ValidationException "Number overflow", and the item is left as it was. dynalite stored the
 * result (`ADD v :v` twice with :v = 9.99...E+125 stored 1.99...E+126).
 */
const LARGEST = '9.9999999999999999999999999999999999999E+125';
const OVERFLOW =
  'Number overflow. Attempting to store a number with magnitude larger than supported range';

describe('DynamoDB number range in updates', () => {
  let dynamodb: LocalDynamoDb;
  let client: DynamoDBClient;
  const TableName = 'numbers';
  const Key = { pk: { S: 'a' } };

  const keep = stopsAfterAll();
  beforeAll(async () => {
    dynamodb = await keep(startDynamoDb());
    client = new DynamoDBClient({
      endpoint: dynamodb.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    await client.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }, 30_000);
  afterAll(async () => {
    client.destroy();
  });
  beforeEach(async () => {
    await client.send(
      new PutItemCommand({
        TableName,
        Item: { ...Key, v: { N: LARGEST }, w: { N: `-${LARGEST}` } },
      }),
    );
  });

  const stored = async () =>
    (await client.send(new GetItemCommand({ TableName, Key, ConsistentRead: true }))).Item;

  it.each<[string, Partial<UpdateItemCommandInput>]>([
    [
      'ADD v :v',
      { UpdateExpression: 'ADD v :v', ExpressionAttributeValues: { ':v': { N: LARGEST } } },
    ],
    [
      'SET v = v + :v',
      { UpdateExpression: 'SET v = v + :v', ExpressionAttributeValues: { ':v': { N: LARGEST } } },
    ],
    [
      'SET w = w - :v',
      { UpdateExpression: 'SET w = w - :v', ExpressionAttributeValues: { ':v': { N: LARGEST } } },
    ],
    [
      'SET x = :v + :v (no attribute read)',
      { UpdateExpression: 'SET x = :v + :v', ExpressionAttributeValues: { ':v': { N: LARGEST } } },
    ],
    ['AttributeUpdates ADD', { AttributeUpdates: { v: { Action: 'ADD', Value: { N: LARGEST } } } }],
  ])('refuses %s past the range, and changes nothing', async (_label, update) => {
    const before = await stored();
    const err = await client.send(new UpdateItemCommand({ TableName, Key, ...update })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'ValidationException', message: OVERFLOW });
    expect(await stored()).toEqual(before);
  });

  it('still stores arithmetic that stays in the range, up to its largest number', async () => {
    const half = '4.9999999999999999999999999999999999999E+125';
    await client.send(new PutItemCommand({ TableName, Item: { ...Key, v: { N: '5E+125' } } }));
    const { Attributes } = await client.send(
      new UpdateItemCommand({
        TableName,
        Key,
        UpdateExpression: 'ADD v :h SET w = :h - :h',
        ExpressionAttributeValues: { ':h': { N: half } },
        ReturnValues: 'ALL_NEW',
      }),
    );
    expect(Attributes).toEqual({
      ...Key,
      v: { N: `99999999999999999999999999999999999999${'0'.repeat(88)}` },
      w: { N: '0' },
    });
  });
});
