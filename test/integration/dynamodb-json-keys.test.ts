import { type DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { createActiveTable, keyedTable } from '../../local/tables';
import { createDynamoDbClient, LOCAL_CREDENTIALS } from '../../shared/src/aws-clients';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * V8's JSON.parse on Node 24 and 26 (nodejs/node#63785) can read an escaped object key as a key
 * an earlier parse met at the same place: the key's text as written, cut to its decoded length.
 * The SDK writes an attribute named `"` as `"\""` and one named `\` as `"\\"`: both are `\` cut to
 * one character. So after an item with an attribute named `\` after `pk`, DynamoDB's thread read
 * the next request's attribute `"` after `pk` as `\`, and, once requests were read right, still
 * read a stored item's `"` so (dynalite stores items as JSON). Each case has a first attribute
 * name of its own, so one case's keys do not change what the next one meets.
 *
 * Nothing here reads an answer holding an escaped key: the SDK in this process parses answers
 * with JSON.parse too, and has met the poison (it built the item), so what it would read is not
 * DynamoDB's. The cases ask DynamoDB itself: a key it must find, a condition it must judge.
 */

describe('local DynamoDB reads each attribute name as written, after a request that poisons it', () => {
  const keep = stopsAfterAll();
  let cloud: LocalCloud;
  let client: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  beforeAll(async () => {
    cloud = await keep(startLocalCloud({ port: 0, servicesOnly: true, seed: 1, faults: 'none' }));
    client = createDynamoDbClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    doc = DynamoDBDocumentClient.from(client);
    await createActiveTable(client, keyedTable('plain', 'pk'));
    await createActiveTable(client, keyedTable('quoted', 'pk', '"'));
    await createActiveTable(client, keyedTable('items', 'id'));
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
  });

  it('finds an item by a sort key named `"` (written escaped), after an item with `\\` in its place', async () => {
    // Prepare: an item whose second attribute is named `\`, then one keyed by pk and `"`.
    await doc.send(new PutCommand({ TableName: 'plain', Item: { pk: 'p', '\\': 'poison' } }));
    await doc.send(new PutCommand({ TableName: 'quoted', Item: { pk: 'a', '"': 'r', v: 1 } }));

    // Act: on Node 24 the old thread read this key's `"` as `\` and refused it ("The provided
    // key element does not match the schema").
    const got = await doc.send(
      new GetCommand({
        TableName: 'quoted',
        Key: { pk: 'a', '"': 'r' },
        ProjectionExpression: 'v',
        ConsistentRead: true,
      }),
    );

    // Assess
    expect(got.Item).toEqual({ v: 1 });
  });

  it('judges a stored attribute named `"` as written, after an item with `\\` in its place', async () => {
    // Prepare: the same poison after the key `id`, in a table of its own.
    await doc.send(new PutCommand({ TableName: 'items', Item: { id: 'one', '\\': 'poison' } }));
    await doc.send(new PutCommand({ TableName: 'items', Item: { id: 'two', '"': 'quote' } }));

    // Act: a condition on the stored item's attributes, which the thread reads from its store.
    // On Node 24 it had read the item as having an attribute `\` and no `"` (with the request
    // read right but the store read by JSON.parse, too) and answered ConditionalCheckFailed.
    const update = doc.send(
      new UpdateCommand({
        TableName: 'items',
        Key: { id: 'two' },
        UpdateExpression: 'SET seen = :yes',
        ConditionExpression: '#quote = :quote AND attribute_not_exists(#backslash)',
        ExpressionAttributeNames: { '#quote': '"', '#backslash': '\\' },
        ExpressionAttributeValues: { ':quote': 'quote', ':yes': true },
      }),
    );

    // Assess
    await expect(update).resolves.toBeDefined();
  });

  it('still answers a body that is no JSON with SerializationException, and serves on', async () => {
    // Act: the SDK sends only JSON, so this comes over plain HTTP, signed in form only.
    const res = await fetch(cloud.edgeUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.GetItem',
        'x-amz-date': '20260101T000000Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{"TableName":"items","Key":',
    });

    // Assess
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ __type: 'com.amazon.coral.service#SerializationException' });
    const listed = await client.send(new ListTablesCommand({}));
    expect(listed.TableNames).toEqual(['items', 'plain', 'quoted']);
  });
});
