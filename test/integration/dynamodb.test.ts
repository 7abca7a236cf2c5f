import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { openSocket, rawRequest } from './support/raw-http';

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

describe('local DynamoDB in its own thread: the private port and the edge in front of it', () => {
  let cloud: LocalCloud;
  const allowed = 'http://app.example:8080';
  const listTables = (url: string, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization:
          'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        'x-amz-date': '20260101T000000Z',
        ...headers,
      },
      body: '{}',
    });
  const requests = () => cloud.usage().dynamodb.requests.ListTables ?? 0;

  beforeAll(async () => {
    cloud = await startLocalCloud({
      port: 0,
      servicesOnly: true,
      seed: 1,
      faults: 'none',
      allowedOrigins: [allowed],
    });
  }, 60_000);
  afterAll(() => cloud?.stop());

  it('serves SDK requests on the private port and through the edge, counted once each', async () => {
    const before = requests();
    const direct = await listTables(cloud.dynamodbUrl);
    const viaEdge = await listTables(cloud.edgeUrl);
    expect(direct.status).toBe(200);
    expect(viaEdge.status).toBe(200);
    expect(await viaEdge.json()).toEqual(await direct.json());
    expect(requests() - before).toBe(2);
  });

  it('refuses a browser request on the private port before DynamoDB sees it', async () => {
    // Prepare
    const before = requests();

    // Act: an allowed origin too: browsers use the edge, which adds CORS; this port never does.
    const refused = (raw: string) => rawRequest(cloud.dynamodbUrl, raw);
    const request = (extra: string, host = new URL(cloud.dynamodbUrl).host) =>
      `POST / HTTP/1.1\r\nHost: ${host}\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n${extra}` +
      'Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}';
    const fromPage = await refused(request(`Origin: ${allowed}\r\n`));
    const crossSite = await refused(request('Sec-Fetch-Site: cross-site\r\n'));
    const rebound = await refused(request('', 'attacker.example'));

    // Assess: the connection is closed without an answer, and DynamoDB never saw the request.
    expect([fromPage, crossSite, rebound]).toEqual([undefined, undefined, undefined]);
    expect(requests()).toBe(before);
  });

  it("forwards an allowed origin's request from the edge, with the edge's CORS answer", async () => {
    const res = await listTables(cloud.edgeUrl, { origin: allowed });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(await res.json()).toHaveProperty('TableNames');
  });

  it('survives a client that disconnects in the middle of a request body on the private port', async () => {
    // Prepare: a request that promises 100 bytes of body and sends 9.
    const before = requests();
    const socket = await openSocket(cloud.dynamodbUrl);
    socket.write(
      `POST / HTTP/1.1\r\nHost: ${new URL(cloud.dynamodbUrl).host}\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n` +
        'Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{"Limit":',
    );
    // The thread counts a request when it starts reading it: wait for that, bounded.
    for (let i = 0; requests() === before; i++) {
      if (i > 500) throw new Error('the private port never saw the request');
      await new Promise((r) => setTimeout(r, 10));
    }

    // Act: the client goes away; dynalite's request stream errors in its thread.
    socket.destroy();

    // Assess: DynamoDB still answers a real client.
    const ddb = new DynamoDBClient({
      endpoint: cloud.dynamodbUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    try {
      await expect(ddb.send(new ListTablesCommand({}))).resolves.toHaveProperty('TableNames');
    } finally {
      ddb.destroy();
    }
  });
});
