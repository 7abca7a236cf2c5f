import {
  CreateTableCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type DynamoDbEngine,
  type DynamoDbUsage,
  type LocalDynamoDb,
  startDynamoDb,
} from '../../local/dynamodb';
import {
  createDocumentClient,
  createDynamoDbClient,
  LOCAL_CREDENTIALS,
} from '../../shared/src/aws-clients';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import {
  ACCEPTED_BY_RUN,
  acceptedKeys,
  applyCounterSk,
  deliverySk,
  effectSk,
  ORDER_SK,
  orderPk,
  runPk,
  SK_PREFIX,
  sequenceCounterSk,
} from '../../shared/src/ledger';

/**
 * Conformance of the DynamoDB prototype (local/dynamodb-prototype) to dynalite, for the requests
 * the pipeline, Powertools idempotency and the report send: the same sequence, over HTTP with the
 * real SDK, against each store in the local cloud's DynamoDB thread, must get the same answers
 * (outputs without their request metadata; errors by name and message). Where the two differ on
 * purpose, the test says so and asserts each side.
 */

const LEDGER = pipelineConfig.tables.ledger.name;
const IDEMPOTENCY = pipelineConfig.tables.idempotency.name;
const RUN = 'conformance';

interface Clients {
  db: LocalDynamoDb;
  raw: DynamoDBClient;
  docs: DynamoDBDocumentClient;
}

async function open(engine: DynamoDbEngine): Promise<Clients> {
  const db = await startDynamoDb({ engine });
  const options = { endpoint: db.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  return { db, raw: createDynamoDbClient(options), docs: createDocumentClient(options) };
}

async function close(c: Clients | undefined): Promise<void> {
  c?.raw.destroy();
  c?.docs.destroy();
  await c?.db.close();
}

/** An answer as the caller sees it: the output without metadata, or the error's name and text. */
type Answer = { ok: Record<string, unknown> } | { error: string; message: string; item?: unknown };

async function answer(send: () => Promise<object>): Promise<Answer> {
  try {
    const { $metadata: _, ...out } = (await send()) as Record<string, unknown>;
    return { ok: out };
  } catch (err) {
    const e = err as Error & { Item?: unknown };
    return { error: e.name, message: e.message, ...(e.Item !== undefined ? { item: e.Item } : {}) };
  }
}

/** The tables as the local cloud creates them (cloud.ts createTable). */
async function createTables(c: Clients): Promise<Answer[]> {
  const ledger = await answer(() =>
    c.raw.send(
      new CreateTableCommand({
        TableName: LEDGER,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          'pk',
          'sk',
          ACCEPTED_BY_RUN.partitionKey,
          ACCEPTED_BY_RUN.sortKey,
        ].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        GlobalSecondaryIndexes: [
          {
            IndexName: ACCEPTED_BY_RUN.indexName,
            KeySchema: [
              { AttributeName: ACCEPTED_BY_RUN.partitionKey, KeyType: 'HASH' },
              { AttributeName: ACCEPTED_BY_RUN.sortKey, KeyType: 'RANGE' },
            ],
            Projection: {
              ProjectionType: 'INCLUDE',
              NonKeyAttributes: [...ACCEPTED_BY_RUN.projected],
            },
          },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    ),
  );
  const idempotency = await answer(() =>
    c.raw.send(
      new CreateTableCommand({
        TableName: IDEMPOTENCY,
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    ),
  );
  const again = await answer(() =>
    c.raw.send(
      new CreateTableCommand({
        TableName: IDEMPOTENCY,
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    ),
  );
  // What the two describe differently (status while creating, timestamps, sizes) is no answer
  // the pipeline reads: it reads none of the description.
  const shape = (a: Answer): Answer => {
    if (!('ok' in a)) return a;
    const d = a.ok.TableDescription as Record<string, unknown>;
    return { ok: { KeySchema: d.KeySchema, TableName: d.TableName } };
  };
  // dynalite names the error without a message; DynamoDB (and the prototype) says which table.
  const named = (a: Answer): Answer => ('error' in a ? { error: a.error, message: '' } : a);
  // A table is CREATING first (dynalite turns it ACTIVE on a 0 ms timer): wait, as a client must.
  for (const TableName of [LEDGER, IDEMPOTENCY]) {
    await waitUntilTableExists(
      { client: c.raw, minDelay: 0.05, maxDelay: 0.5, maxWaitTime: 30 },
      { TableName },
    );
  }
  return [shape(ledger), shape(idempotency), named(again)];
}

const order = (n: number) => ({
  runId: RUN,
  orderId: `o-${String(n).padStart(3, '0')}`,
  customerId: `c-${n % 3}`,
  sequence: n,
  acceptedAt: 1_764_000_000_000 + n,
  requests: 1,
  items: [{ sku: 'sku-1', quantity: 2, unitPrice: 12.5 }],
  amount: 25,
});

/** The producer's requests (services/producer/src/adapters/ledger.ts), in its order. */
async function producerSteps(c: Clients): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let n = 1; n <= 12; n++) {
    const o = order(n);
    out.push(
      await answer(() =>
        c.docs.send(
          new UpdateCommand({
            TableName: LEDGER,
            Key: { pk: runPk(RUN), sk: sequenceCounterSk(o.customerId) },
            UpdateExpression: 'ADD #value :one',
            ExpressionAttributeNames: { '#value': 'value' },
            ExpressionAttributeValues: { ':one': 1 },
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      ),
    );
    const claim = () =>
      answer(() =>
        c.docs.send(
          new PutCommand({
            TableName: LEDGER,
            Item: { ...acceptedKeys(RUN, o.orderId), type: 'accepted', ...o },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    out.push(await claim());
    // A repeat of the same order: its claim fails, then the producer reads the claimed order.
    if (n % 4 === 0) {
      out.push(await claim());
      out.push(
        await answer(() =>
          c.docs.send(
            new UpdateCommand({
              TableName: LEDGER,
              Key: { pk: orderPk(o.orderId), sk: ORDER_SK },
              UpdateExpression: 'ADD requests :one',
              ExpressionAttributeValues: { ':one': 1 },
            }),
          ),
        ),
      );
      out.push(
        await answer(() =>
          c.docs.send(
            new GetCommand({
              TableName: LEDGER,
              Key: { pk: orderPk(o.orderId), sk: ORDER_SK },
              ConsistentRead: true,
            }),
          ),
        ),
      );
    }
    out.push(
      await answer(() =>
        c.docs.send(
          new UpdateCommand({
            TableName: LEDGER,
            Key: { pk: orderPk(o.orderId), sk: ORDER_SK },
            UpdateExpression: 'SET messageIds = :ids, sentAt = :sentAt',
            ExpressionAttributeValues: {
              ':ids': { fifo: `m-f-${n}`, standard: `m-s-${n}` },
              ':sentAt': { fifo: 1_764_000_000_100 + n },
            },
          }),
        ),
      ),
    );
  }
  // A missing order reads as no item.
  out.push(
    await answer(() =>
      c.docs.send(
        new GetCommand({
          TableName: LEDGER,
          Key: { pk: orderPk('absent'), sk: ORDER_SK },
          ConsistentRead: true,
        }),
      ),
    ),
  );
  return out;
}

/** Powertools idempotency's persistence layer: its exact requests (raw client, as it sends). */
async function idempotencySteps(c: Clients): Promise<Answer[]> {
  const out: Answer[] = [];
  const now = 1_764_000_000_000;
  const put = (id: string, status: string, expiry: number, inProgressExpiry: number, at: number) =>
    answer(() =>
      c.raw.send(
        new PutItemCommand({
          TableName: IDEMPOTENCY,
          Item: {
            id: { S: id },
            expiration: { N: String(expiry) },
            status: { S: status },
            in_progress_expiration: { N: String(inProgressExpiry) },
          },
          ExpressionAttributeNames: {
            '#id': 'id',
            '#expiry': 'expiration',
            '#in_progress_expiry': 'in_progress_expiration',
            '#status': 'status',
          },
          ExpressionAttributeValues: {
            ':now': { N: String(at / 1000) },
            ':now_in_millis': { N: String(at) },
            ':inprogress': { S: 'INPROGRESS' },
          },
          ConditionExpression:
            'attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
  const complete = (id: string) =>
    answer(() =>
      c.raw.send(
        new UpdateItemCommand({
          TableName: IDEMPOTENCY,
          Key: { id: { S: id } },
          UpdateExpression:
            'SET #expiry = :expiry, #status = :status, #response_data = :response_data',
          ExpressionAttributeNames: {
            '#expiry': 'expiration',
            '#status': 'status',
            '#response_data': 'data',
          },
          ExpressionAttributeValues: {
            ':expiry': { N: String(now / 1000 + 3600) },
            ':status': { S: 'COMPLETED' },
            ':response_data': { S: '{"applyIndex":1}' },
          },
        }),
      ),
    );
  const get = (id: string) =>
    answer(() =>
      c.raw.send(
        new GetItemCommand({
          TableName: IDEMPOTENCY,
          Key: { id: { S: id } },
          ConsistentRead: true,
        }),
      ),
    );
  out.push(await put('k1', 'INPROGRESS', now / 1000 + 3600, now + 30_000, now));
  out.push(await complete('k1'));
  out.push(await get('k1'));
  // A repeat while the record is valid: refused.
  out.push(await put('k1', 'INPROGRESS', now / 1000 + 3600, now + 30_000, now + 1000));
  // An in-progress record whose Lambda timed out: taken over.
  out.push(await put('k2', 'INPROGRESS', now / 1000 + 3600, now + 30_000, now));
  out.push(await put('k2', 'INPROGRESS', now / 1000 + 3600, now + 90_000, now + 60_000));
  // An in-progress record still within its time: refused.
  out.push(await put('k2', 'INPROGRESS', now / 1000 + 3600, now + 90_000, now + 61_000));
  // An expired record: replaced.
  out.push(
    await put('k1', 'INPROGRESS', now / 1000 + 9000, now + 30_000, (now / 1000 + 7200) * 1000),
  );
  // A failed handler deletes its record.
  out.push(
    await answer(() =>
      c.raw.send(new DeleteItemCommand({ TableName: IDEMPOTENCY, Key: { id: { S: 'k2' } } })),
    ),
  );
  out.push(await get('k2'));
  return out;
}

/** The consumers' requests (services/consumer/src/adapters/ledger.ts) for both queues. */
async function consumerSteps(c: Clients): Promise<Answer[]> {
  const out: Answer[] = [];
  for (const queue of ['fifo', 'standard'] as const) {
    for (let n = 1; n <= 12; n++) {
      const o = order(n);
      const delivery = (d: number) => ({
        pk: runPk(RUN),
        sk: deliverySk(queue, o.orderId, `r${d}`),
        type: 'delivery',
        runId: RUN,
        queue,
        orderId: o.orderId,
        customerId: o.customerId,
        sequence: n,
        messageId: `m-${queue}-${n}`,
        receiveCount: d,
        receivedAt: 1_764_000_001_000 + n,
        outcome: 'pending',
      });
      out.push(
        await answer(() =>
          c.docs.send(
            new BatchWriteCommand({
              RequestItems: {
                [LEDGER]: [1, 2].map((d) => ({ PutRequest: { Item: delivery(d) } })),
              },
            }),
          ),
        ),
      );
      // The apply turn: in order; a late one (its condition fails, the plain ADD follows); a
      // redelivery of the same order (the same sequence: the condition holds on equality).
      const turns = n % 5 === 0 ? [n, n - 3] : n % 3 === 0 ? [n, n] : [n];
      for (const sequence of turns) {
        const turn = await answer(() =>
          c.docs.send(
            new UpdateCommand({
              TableName: LEDGER,
              Key: { pk: runPk(RUN), sk: applyCounterSk(queue, o.customerId) },
              UpdateExpression: 'ADD #value :one SET #high = :sequence',
              ConditionExpression: 'attribute_not_exists(#high) OR #high <= :sequence',
              ExpressionAttributeNames: { '#value': 'value', '#high': 'highSequence' },
              ExpressionAttributeValues: { ':one': 1, ':sequence': sequence },
              ReturnValues: 'UPDATED_NEW',
            }),
          ),
        );
        out.push(turn);
        if ('error' in turn) {
          out.push(
            await answer(() =>
              c.docs.send(
                new UpdateCommand({
                  TableName: LEDGER,
                  Key: { pk: runPk(RUN), sk: applyCounterSk(queue, o.customerId) },
                  UpdateExpression: 'ADD #value :one',
                  ExpressionAttributeNames: { '#value': 'value' },
                  ExpressionAttributeValues: { ':one': 1 },
                  ReturnValues: 'UPDATED_NEW',
                }),
              ),
            ),
          );
        }
      }
      const hasEffect = () =>
        answer(() =>
          c.docs.send(
            new QueryCommand({
              TableName: LEDGER,
              KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
              ExpressionAttributeValues: {
                ':pk': runPk(RUN),
                ':prefix': `${SK_PREFIX.effect(queue)}${o.orderId}#`,
              },
              Select: 'COUNT',
              Limit: 1,
              ConsistentRead: true,
            }),
          ),
        );
      out.push(await hasEffect());
      const effect = {
        pk: runPk(RUN),
        sk: effectSk(queue, o.orderId, 'order'),
        type: 'effect',
        runId: RUN,
        queue,
        orderId: o.orderId,
        messageId: `m-${queue}-${n}`,
        applyIndex: n,
        committedAt: 1_764_000_002_000 + n,
      };
      const putEffect = () =>
        answer(() =>
          c.docs.send(
            new PutCommand({
              TableName: LEDGER,
              Item: effect,
              ConditionExpression: 'attribute_not_exists(sk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          ),
        );
      out.push(await putEffect());
      out.push(await hasEffect());
      if (n % 3 === 0) {
        // A duplicate delivery: the effect exists; the consumer reads what it committed.
        out.push(await putEffect());
        out.push(
          await answer(() =>
            c.docs.send(
              new GetCommand({
                TableName: LEDGER,
                Key: { pk: effect.pk, sk: effect.sk },
                ConsistentRead: true,
                ProjectionExpression: 'applyIndex, committedAt',
              }),
            ),
          ),
        );
      }
      // The invocation's end: outcomes, a final failure, an unrun receipt deleted.
      out.push(
        await answer(() =>
          c.docs.send(
            new BatchWriteCommand({
              RequestItems: {
                [LEDGER]: [
                  {
                    PutRequest: {
                      Item: {
                        ...delivery(1),
                        outcome: 'applied',
                        outcomeAt: 5,
                        invocationEnd: true,
                      },
                    },
                  },
                  {
                    PutRequest: {
                      Item: {
                        pk: runPk(RUN),
                        sk: `FAILURE#${queue}#${o.orderId}#f${n}`,
                        type: 'failure',
                        final: n % 2 === 0,
                      },
                    },
                  },
                  { DeleteRequest: { Key: { pk: runPk(RUN), sk: delivery(2).sk } } },
                ],
              },
            }),
          ),
        ),
      );
    }
  }
  return out;
}

/** The report's and the status endpoint's reads: every page, on the table and on the index. */
async function readSteps(c: Clients): Promise<Answer[]> {
  const out: Answer[] = [];
  const pages = async (input: Record<string, unknown>, pageSize?: number) => {
    const seen: Answer[] = [];
    const it = paginateQuery(
      { client: c.docs, ...(pageSize ? { pageSize } : {}) },
      input as unknown as Parameters<typeof paginateQuery>[1],
    );
    for await (const page of it) {
      const { $metadata: _, ...rest } = page as Record<string, unknown>;
      seen.push({ ok: rest });
    }
    return seen;
  };
  const prefix = (sk: string, index = false) => ({
    TableName: LEDGER,
    ...(index ? { IndexName: ACCEPTED_BY_RUN.indexName } : {}),
    KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
    ExpressionAttributeNames: index
      ? { '#pk': ACCEPTED_BY_RUN.partitionKey, '#sk': ACCEPTED_BY_RUN.sortKey }
      : { '#pk': 'pk', '#sk': 'sk' },
    ExpressionAttributeValues: { ':pk': runPk(RUN), ':prefix': sk },
  });
  for (const size of [undefined, 5]) {
    out.push(...(await pages(prefix(SK_PREFIX.accepted, true), size)));
    for (const p of ['COUNTER#apply#', 'DELIVERY#fifo#', 'EFFECT#standard#', 'FAILURE#fifo#']) {
      out.push(...(await pages(prefix(p), size)));
    }
  }
  // The status endpoint's count of final failures, and the drain's count of the whole run.
  out.push(
    ...(await pages(
      {
        TableName: LEDGER,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: '#final = :true',
        ExpressionAttributeNames: { '#final': 'final' },
        ExpressionAttributeValues: { ':pk': runPk(RUN), ':prefix': 'FAILURE#fifo#', ':true': true },
        Select: 'COUNT',
        ConsistentRead: true,
      },
      4,
    )),
  );
  out.push(
    ...(await pages(
      {
        TableName: LEDGER,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': runPk(RUN) },
        Select: 'COUNT',
      },
      7,
    )),
  );
  return out;
}

/** Requests the pipeline never means to send, whose refusals it relies on being AWS's. */
async function errorSteps(c: Clients): Promise<Answer[]> {
  const sends: Array<() => Promise<object>> = [
    () => c.docs.send(new GetCommand({ TableName: 'no-such-table', Key: { pk: 'a', sk: 'b' } })),
    () => c.docs.send(new GetCommand({ TableName: LEDGER, Key: { pk: 'a' } })),
    () => c.docs.send(new PutCommand({ TableName: LEDGER, Item: { pk: 'a' } })),
    () => c.docs.send(new PutCommand({ TableName: LEDGER, Item: { pk: 'a', sk: 7 } })),
    () => c.docs.send(new PutCommand({ TableName: LEDGER, Item: { pk: '', sk: 'x' } })),
    () =>
      c.docs.send(
        new PutCommand({ TableName: LEDGER, Item: { pk: 'a', sk: 'b', byRunPk: 3, byRunSk: 'x' } }),
      ),
    () =>
      c.docs.send(
        new PutCommand({
          TableName: LEDGER,
          Item: { pk: 'a', sk: 'b' },
          ConditionExpression: 'attribute_not_exists(pk) AND',
        }),
      ),
    () =>
      c.docs.send(
        new UpdateCommand({
          TableName: LEDGER,
          Key: { pk: 'a', sk: 'b' },
          UpdateExpression: 'SET value = :v',
          ExpressionAttributeValues: { ':v': 1 },
        }),
      ),
    () =>
      c.docs.send(
        new UpdateCommand({
          TableName: LEDGER,
          Key: { pk: 'a', sk: 'b' },
          UpdateExpression: 'SET pk = :v',
          ExpressionAttributeValues: { ':v': 'x' },
        }),
      ),
    () =>
      c.docs.send(
        new UpdateCommand({
          TableName: LEDGER,
          Key: { pk: runPk(RUN), sk: applyCounterSk('fifo', 'c-1') },
          UpdateExpression: 'ADD #t :one',
          ExpressionAttributeNames: { '#t': 'type', '#unused': 'x' },
          ExpressionAttributeValues: { ':one': 1 },
        }),
      ),
    () =>
      c.docs.send(
        new QueryCommand({
          TableName: LEDGER,
          IndexName: ACCEPTED_BY_RUN.indexName,
          KeyConditionExpression: 'byRunPk = :pk',
          ExpressionAttributeValues: { ':pk': runPk(RUN) },
          ConsistentRead: true,
        }),
      ),
    () =>
      c.docs.send(
        new QueryCommand({
          TableName: LEDGER,
          IndexName: 'nope',
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': runPk(RUN) },
        }),
      ),
    () =>
      c.docs.send(
        new QueryCommand({
          TableName: LEDGER,
          KeyConditionExpression: 'sk = :sk',
          ExpressionAttributeValues: { ':sk': 'x' },
        }),
      ),
    () =>
      c.docs.send(
        new QueryCommand({
          TableName: LEDGER,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': runPk(RUN), ':p': 'EFFECT#' },
          ExclusiveStartKey: { pk: runPk('other'), sk: 'EFFECT#x' },
        }),
      ),
    () =>
      c.docs.send(
        new BatchWriteCommand({
          RequestItems: {
            [LEDGER]: [
              { PutRequest: { Item: { pk: 'a', sk: 'b' } } },
              { DeleteRequest: { Key: { pk: 'a', sk: 'b' } } },
            ],
          },
        }),
      ),
    () =>
      c.docs.send(
        new BatchWriteCommand({
          RequestItems: { [LEDGER]: [{ PutRequest: { Item: { pk: 'a' } } }] },
        }),
      ),
    // Conditions evaluated against an item that does not exist: each refers to an attribute
    // the missing item lacks, so each fails, and nothing is written.
    () =>
      c.docs.send(
        new PutCommand({
          TableName: LEDGER,
          Item: { pk: 'a', sk: 'missing-1' },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      ),
    () =>
      c.docs.send(
        new UpdateCommand({
          TableName: LEDGER,
          Key: { pk: 'a', sk: 'missing-2' },
          UpdateExpression: 'SET #s = :s',
          ConditionExpression: '#s = :old',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': 'COMPLETED', ':old': 'INPROGRESS' },
        }),
      ),
    () =>
      c.docs.send(
        new UpdateCommand({
          TableName: LEDGER,
          Key: { pk: 'a', sk: 'missing-3' },
          UpdateExpression: 'ADD #n :one',
          ConditionExpression: '#n < :max',
          ExpressionAttributeNames: { '#n': 'n' },
          ExpressionAttributeValues: { ':one': 1, ':max': 5 },
        }),
      ),
  ];
  const out: Answer[] = [];
  for (const send of sends) out.push(await answer(send));
  // Nothing any refused request asked for was written.
  out.push(
    await answer(() =>
      c.docs.send(
        new QueryCommand({
          TableName: LEDGER,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'a' },
        }),
      ),
    ),
  );
  return out;
}

/** Items large enough that a Query's 1 MB page limit splits the partition. */
async function largeItemSteps(c: Clients): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < 24; i++) {
    out.push(
      await answer(() =>
        c.docs.send(
          new PutCommand({
            TableName: LEDGER,
            Item: {
              pk: 'RUN#large',
              sk: `DELIVERY#${String(i).padStart(2, '0')}`,
              blob: 'x'.repeat(100_000 + i),
            },
          }),
        ),
      ),
    );
  }
  const it = paginateQuery(
    { client: c.docs },
    {
      TableName: LEDGER,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': 'RUN#large' },
      ProjectionExpression: 'sk',
    },
  );
  for await (const page of it) {
    const { $metadata: _, ...rest } = page;
    out.push({ ok: rest });
  }
  return out;
}

const SCRIPT = {
  createTables,
  producerSteps,
  idempotencySteps,
  consumerSteps,
  readSteps,
  errorSteps,
  largeItemSteps,
};

/** The failed conditions' returned items (dynalite 4 ignores ReturnValuesOnConditionCheckFailure). */
function withoutConditionItems(answers: Answer[]): { answers: Answer[]; items: unknown[] } {
  const items: unknown[] = [];
  const stripped = answers.map((a) => {
    if (!('error' in a) || a.item === undefined) return a;
    items.push(a.item);
    const { item: _, ...rest } = a;
    return rest;
  });
  return { answers: stripped, items };
}

describe("the DynamoDB prototype against dynalite: the pipeline's requests, the same answers", () => {
  const results: Record<DynamoDbEngine, Record<string, Answer[]>> = { dynalite: {}, prototype: {} };
  let usage: Record<DynamoDbEngine, ReturnType<LocalDynamoDb['usage']> | undefined> = {
    dynalite: undefined,
    prototype: undefined,
  };

  beforeAll(async () => {
    for (const engine of ['dynalite', 'prototype'] as const) {
      let c: Clients | undefined;
      try {
        c = await open(engine);
        for (const [name, step] of Object.entries(SCRIPT)) results[engine][name] = await step(c);
        usage = { ...usage, [engine]: c.db.usage() };
      } finally {
        await close(c);
      }
    }
  }, 120_000);

  it.each(Object.keys(SCRIPT))('%s: every answer the same', (name) => {
    const dynalite = withoutConditionItems(results.dynalite[name]!);
    const prototype = withoutConditionItems(results.prototype[name]!);
    expect(dynalite.answers.length).toBeGreaterThan(0);
    expect(prototype.answers).toEqual(dynalite.answers);
  });

  it('the script exercises what it claims: failed conditions, pages, refusals', () => {
    const all = Object.values(results.dynalite).flat();
    const errors = all.filter((a): a is Extract<Answer, { error: string }> => 'error' in a);
    const names = new Set(errors.map((e) => e.error));
    expect([...names].sort()).toEqual([
      'ConditionalCheckFailedException',
      'ResourceInUseException',
      'ResourceNotFoundException',
      'ValidationException',
    ]);
    const paged = all.filter((a) => 'ok' in a && a.ok.LastEvaluatedKey !== undefined);
    expect(paged.length).toBeGreaterThan(10);
    expect(
      results.dynalite.largeItemSteps!.filter((a) => 'ok' in a && 'Items' in a.ok).length,
    ).toBeGreaterThan(1);
  });

  it('counts the same requests and billed units as dynalite', () => {
    // How many DescribeTable polls the wait for ACTIVE took is timing, not an answer.
    const withoutWaits = (u: DynamoDbUsage | undefined) => {
      const { DescribeTable: _, ...requests } = u?.requests ?? {};
      return { ...u, requests };
    };
    expect(usage.dynalite?.requests.DescribeTable).toBeGreaterThan(0);
    expect(withoutWaits(usage.prototype)).toEqual(withoutWaits(usage.dynalite));
  });

  it('returns the item of a failed condition when asked, as DynamoDB does (dynalite 4 does not)', () => {
    const dynalite = Object.values(results.dynalite).flatMap((a) => withoutConditionItems(a).items);
    const prototype = Object.values(results.prototype).flatMap(
      (a) => withoutConditionItems(a).items,
    );
    expect(dynalite).toEqual([]);
    // The effect duplicates (4 per queue) and the idempotency repeats (2) asked for ALL_OLD.
    expect(prototype).toHaveLength(10);
    expect(prototype).toContainEqual(
      expect.objectContaining({ id: { S: 'k1' }, status: { S: 'COMPLETED' } }),
    );
  });
});

describe('the DynamoDB prototype: what it does not support is refused by name, and it keeps serving', () => {
  let c: Clients;

  beforeAll(async () => {
    c = await open('prototype');
    await createTables(c);
  }, 60_000);

  afterAll(async () => {
    await close(c);
  });

  it.each([
    ['the operation Scan', () => c.raw.send(new ScanCommand({ TableName: LEDGER }))],
    [
      'nested document paths',
      () =>
        c.docs.send(
          new UpdateCommand({
            TableName: LEDGER,
            Key: { pk: 'a', sk: 'b' },
            UpdateExpression: 'SET m.x = :v',
            ExpressionAttributeValues: { ':v': 1 },
          }),
        ),
    ],
    [
      'the function size()',
      () =>
        c.docs.send(
          new PutCommand({
            TableName: LEDGER,
            Item: { pk: 'a', sk: 'b' },
            ConditionExpression: 'size(sk) > :n',
            ExpressionAttributeValues: { ':n': 1 },
          }),
        ),
    ],
    [
      'the legacy parameter Expected',
      () =>
        c.raw.send(
          new PutItemCommand({
            TableName: LEDGER,
            Item: { pk: { S: 'a' }, sk: { S: 'b' } },
            Expected: { pk: { Exists: false } },
          }),
        ),
    ],
    [
      'ScanIndexForward false',
      () =>
        c.docs.send(
          new QueryCommand({
            TableName: LEDGER,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': 'a' },
            ScanIndexForward: false,
          }),
        ),
    ],
  ])('%s', async (what, send) => {
    const err = (await send().catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain(`The DynamoDB prototype does not support ${what}`);
    const after = await c.docs.send(
      new GetCommand({ TableName: LEDGER, Key: { pk: 'a', sk: 'b' } }),
    );
    expect(after.Item).toBeUndefined();
  });
});
