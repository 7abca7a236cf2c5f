import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoLedger } from '../../../services/producer/src/adapters/ledger';
import { SqsQueues } from '../../../services/producer/src/adapters/queues';
import { createApiHandler, loadProducerConfig } from '../../../services/producer/src/app';
import { payloadHash } from '../../../services/producer/src/domain/request';
import type { QueueLife } from '../../../services/producer/src/domain/resend';
import { orderMessageSchema } from '../../../shared/src/order-message';
import getFixture from '../../events/apigateway/get-order.json';
import postFixture from '../../events/apigateway/post-order.json';

const ENV_VARS = {
  LEDGER_TABLE_NAME: 'ledger',
  FIFO_QUEUE_URL: 'http://127.0.0.1:1/000000000000/orders.fifo',
  STANDARD_QUEUE_URL: 'http://127.0.0.1:1/000000000000/orders-standard',
  MAX_BODY_BYTES: '1024',
  DEFAULT_RUN_ID: 'adhoc',
};

const ddb = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);

const silent = { info() {}, warn() {}, error() {}, appendKeys() {}, removeKeys() {} };

const NOW = 1_764_050_000_000;
const DAY = 24 * 3600 * 1000;
/** Both queues created a day before NOW, keeping messages 4 days (unless a test says otherwise). */
let lives: Record<'fifo' | 'standard', QueueLife>;

function makeHandler(env: Record<string, string> = {}) {
  const config = loadProducerConfig({ ...ENV_VARS, ...env });
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const sqs = new SQSClient({ region: 'eu-west-1' });
  return createApiHandler(config, {
    ledger: new DynamoLedger(documents, config.ledgerTableName),
    queues: new SqsQueues(sqs, config.queueUrls, { attempts: 4, baseDelayMs: 0, maxDelayMs: 0 }),
    lifetimes: { life: async (q) => lives[q] },
    logger: silent as never,
    now: () => NOW,
    newOrderId: () => 'generated-id',
  });
}

/** The claim of an accepted record is refused: the order id is taken. */
const taken = () => new ConditionalCheckFailedException({ message: 'exists', $metadata: {} });

/**
 * An accepted order `key-9` in run `run-old`: its claim is refused and the record read back, as
 * a retry finds it.
 */
function existing(record: Record<string, unknown>) {
  ddb.on(PutCommand, { Item: { pk: 'ORDER#key-9' } }).rejects(taken());
  ddb.on(GetCommand, { Key: { pk: 'ORDER#key-9', sk: 'ORDER' } }).resolves({
    Item: {
      pk: 'ORDER#key-9',
      sk: 'ORDER',
      runId: 'run-old',
      orderId: 'key-9',
      customerId: 'cust-1',
      sequence: 4,
      acceptedAt: NOW - 2 * 3600 * 1000,
      payloadHash: payloadHash({ ...validBody } as never),
      ...record,
    },
  });
}

const retryOfKey9 = () => post({ headers: { ...postFixture.headers, 'Idempotency-Key': 'key-9' } });

/** The message ids and send times the producer recorded, in order. */
const recordedSends = () =>
  ddb
    .commandCalls(UpdateCommand)
    .map((c) => c.args[0].input)
    .filter((i) => i.UpdateExpression === 'SET messageIds = :ids, sentAt = :sentAt')
    .map((i) => i.ExpressionAttributeValues);

function post(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return { ...(structuredClone(postFixture) as unknown as APIGatewayProxyEvent), ...overrides };
}

const getEvent = () => structuredClone(getFixture) as unknown as APIGatewayProxyEvent;

const validBody = JSON.parse(postFixture.body) as Record<string, unknown>;

function writes(): number {
  return ddb.commandCalls(PutCommand).length + ddb.commandCalls(UpdateCommand).length;
}

beforeEach(() => {
  lives = {
    fifo: { createdAt: NOW - DAY, retentionMs: 4 * DAY },
    standard: { createdAt: NOW - DAY, retentionMs: 4 * DAY },
  };
  ddb.reset();
  sqsMock.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({ Attributes: { value: 1 } });
  sqsMock
    .on(SendMessageCommand, { QueueUrl: ENV_VARS.FIFO_QUEUE_URL })
    .resolves({ MessageId: 'fifo-msg' })
    .on(SendMessageCommand, { QueueUrl: ENV_VARS.STANDARD_QUEUE_URL })
    .resolves({ MessageId: 'std-msg' });
});

describe('POST /orders', () => {
  it('accepts an order, assigns a sequence and sends it to both queues', async () => {
    // Prepare
    ddb.on(UpdateCommand).resolves({ Attributes: { value: 7 } });

    // Act
    const res = await makeHandler()(post());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toEqual({
      orderId: 'generated-id',
      sequence: 7,
      messageIds: { fifo: 'fifo-msg', standard: 'std-msg' },
    });
    const fifo = sqsMock.commandCalls(SendMessageCommand, { QueueUrl: ENV_VARS.FIFO_QUEUE_URL });
    expect(fifo[0]?.args[0].input).toMatchObject({
      MessageGroupId: 'cust-1',
      MessageDeduplicationId: 'generated-id',
      MessageAttributes: { runId: { DataType: 'String', StringValue: 'run-unit' } },
    });
    const std = sqsMock.commandCalls(SendMessageCommand, {
      QueueUrl: ENV_VARS.STANDARD_QUEUE_URL,
    });
    expect(std[0]?.args[0].input.MessageGroupId).toBeUndefined();
    const sent = JSON.parse(std[0]?.args[0].input.MessageBody ?? '{}');
    expect(sent).toMatchObject({
      orderId: 'generated-id',
      runId: 'run-unit',
      sequence: 7,
      amount: 10,
    });
    // The message is exactly what the schema describes: it parses, and parsing drops nothing.
    expect(orderMessageSchema.parse(sent)).toEqual(sent);
    expect(fifo[0]?.args[0].input.MessageBody).toBe(std[0]?.args[0].input.MessageBody);
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts).toEqual([
      expect.objectContaining({
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({
          pk: 'ORDER#generated-id',
          sk: 'ORDER',
          byRunPk: 'RUN#run-unit',
          byRunSk: 'ACCEPTED#generated-id',
          type: 'accepted',
          runId: 'run-unit',
          sequence: 7,
          requests: 1,
          payloadHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        }),
      }),
    ]);
  });

  it('claims a new order with one conditional write and records its sends with one update, reading nothing', async () => {
    // Act
    const res = await makeHandler()(
      post({
        headers: { ...postFixture.headers, 'Idempotency-Key': 'k-1' },
        body: JSON.stringify({ ...validBody, sequence: 3 }),
      }),
    );

    // Assess
    expect(res.statusCode).toBe(202);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    expect(ddb.calls().map((c) => c.args[0].constructor.name)).toEqual([
      'PutCommand',
      'UpdateCommand',
    ]);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.Key).toEqual({
      pk: 'ORDER#k-1',
      sk: 'ORDER',
    });
  });

  it('looks before taking a sequence for a retry that carries none (no hole in the sequence)', async () => {
    // Prepare
    existing({ messageIds: { fifo: 'f', standard: 's' }, sentAt: { fifo: NOW, standard: NOW } });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ orderId: 'key-9', sequence: 4 });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    const counters = ddb
      .commandCalls(UpdateCommand)
      .filter((c) => String(c.args[0].input.Key?.sk).startsWith('COUNTER#'));
    expect(counters).toHaveLength(0);
  });

  it("uses the client's sequence and Idempotency-Key without taking a counter value", async () => {
    const res = await makeHandler()(
      post({
        headers: { ...postFixture.headers, 'idempotency-key': 'client-key-1' },
        body: JSON.stringify({ ...validBody, sequence: 3 }),
      }),
    );
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ orderId: 'client-key-1', sequence: 3 });
    const counterCalls = ddb
      .commandCalls(UpdateCommand)
      .filter((c) => String(c.args[0].input.Key?.sk).startsWith('COUNTER#'));
    expect(counterCalls).toHaveLength(0);
  });

  it('answers a retry from the record when both sends are recorded, sending nothing', async () => {
    // Prepare: accepted and sent two hours ago (Powertools' records would have expired by now).
    const sentAt = NOW - 2 * 3600 * 1000;
    existing({
      messageIds: { fifo: 'fifo-old', standard: 'std-old' },
      sentAt: { fifo: sentAt, standard: sentAt },
    });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toEqual({
      orderId: 'key-9',
      sequence: 4,
      messageIds: { fifo: 'fifo-old', standard: 'std-old' },
    });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.UpdateExpression);
    expect(updates).toEqual(['ADD requests :one']);
  });

  it('re-sends a retry only to the queue whose send outcome was never recorded', async () => {
    // Prepare: the standard send's answer never came back (lost, timed out, or the function died).
    existing({ messageIds: { fifo: 'fifo-old', standard: '' }, sentAt: { fifo: NOW - 1000 } });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body).messageIds).toEqual({ fifo: 'fifo-old', standard: 'std-msg' });
    const sent = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input.QueueUrl);
    expect(sent).toEqual([ENV_VARS.STANDARD_QUEUE_URL]);
    expect(recordedSends()).toEqual([
      {
        ':ids': { fifo: 'fifo-old', standard: 'std-msg' },
        ':sentAt': { fifo: NOW - 1000, standard: NOW },
      },
    ]);
  });

  it('re-sends a retry of an order with no record of its sends at all to both queues', async () => {
    // Prepare: an accepted record from before sends were recorded.
    existing({});

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(2);
  });

  it('re-sends to a queue created after the send (the one that took it is gone) unless applied there', async () => {
    // Prepare: both queues recreated an hour ago, after the send; the order applied on standard.
    const sentAt = NOW - 2 * 3600 * 1000;
    existing({
      messageIds: { fifo: 'fifo-old', standard: 'std-old' },
      sentAt: { fifo: sentAt, standard: sentAt },
    });
    lives.fifo.createdAt = NOW - 3600 * 1000;
    lives.standard.createdAt = NOW - 3600 * 1000;
    ddb.on(QueryCommand).resolves({ Count: 0 });
    ddb
      .on(QueryCommand, {
        ExpressionAttributeValues: { ':pk': 'RUN#run-old', ':prefix': 'EFFECT#standard#key-9#' },
      })
      .resolves({ Count: 1 });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    const sent = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input.QueueUrl);
    expect(sent).toEqual([ENV_VARS.FIFO_QUEUE_URL]);
  });

  it('re-sends once the queue retention has passed since the send without an effect', async () => {
    // Prepare
    const sentAt = NOW - 4 * DAY;
    existing({
      messageIds: { fifo: 'fifo-old', standard: 'std-old' },
      sentAt: { fifo: sentAt, standard: sentAt },
    });
    lives.fifo.createdAt = NOW - 30 * DAY;
    lives.standard.createdAt = NOW - 30 * DAY;
    ddb.on(QueryCommand).resolves({ Count: 0 });

    // Act
    await makeHandler()(retryOfKey9());

    // Assess
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(2);
  });

  it('answers from the record when the queue lifetime cannot be read', async () => {
    // Prepare
    existing({ messageIds: { fifo: 'f', standard: 's' }, sentAt: { fifo: 1, standard: 1 } });
    const handler = createApiHandler(loadProducerConfig(ENV_VARS), {
      ledger: new DynamoLedger(
        DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
        'ledger',
      ),
      queues: new SqsQueues(new SQSClient({ region: 'eu-west-1' }), {
        fifo: ENV_VARS.FIFO_QUEUE_URL,
        standard: ENV_VARS.STANDARD_QUEUE_URL,
      }),
      lifetimes: {
        life: async () => {
          throw new Error('sqs down');
        },
      },
      logger: silent as never,
      now: () => NOW,
    });

    // Act
    const res = await handler(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('loses the answer of an injected first send: 503, the messages sent, no id recorded', async () => {
    // Act
    const res = await makeHandler({ FAULT_LOST_SEND_ANSWER_RATE: '1', FAULT_SEED: '3' })(post());

    // Assess: SQS has both messages; the producer knows neither.
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ idempotencyKey: 'generated-id' });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(2);
    expect(recordedSends()).toEqual([]);
  });

  it('never loses the answer of a re-send (the fault hits first requests only)', async () => {
    // Prepare
    existing({ messageIds: { fifo: '', standard: '' } });

    // Act
    const res = await makeHandler({ FAULT_LOST_SEND_ANSWER_RATE: '1' })(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(recordedSends()).toHaveLength(1);
  });

  it('answers 422 when an Idempotency-Key is reused for a different order', async () => {
    existing({ payloadHash: 'something-else' });
    const res = await makeHandler()(
      post({
        headers: { ...postFixture.headers, 'Idempotency-Key': 'key-9' },
        body: JSON.stringify({ ...validBody, sequence: 4 }),
      }),
    );
    expect(res.statusCode).toBe(422);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    // The refused claim is the only write: it changed nothing.
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('treats a lost race on the claim as the winner retry', async () => {
    // Prepare: the winner claimed the key between our look and our conditional put; its sends
    // are not recorded yet.
    ddb.on(PutCommand).rejects(taken());
    ddb
      .on(GetCommand, { Key: { pk: 'ORDER#race-1', sk: 'ORDER' } })
      .resolvesOnce({})
      .resolves({
        Item: {
          runId: 'run-unit',
          orderId: 'race-1',
          customerId: 'cust-1',
          sequence: 2,
          acceptedAt: 1,
          payloadHash: payloadHash(validBody as never),
        },
      });

    // Act
    const res = await makeHandler()(
      post({ headers: { ...postFixture.headers, 'Idempotency-Key': 'race-1' } }),
    );

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ orderId: 'race-1', sequence: 2 });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(2);
  });

  it.each([
    ['a non-JSON content type', { headers: { 'Content-Type': 'text/plain' } }, 415],
    ['no content type', { headers: {} }, 415],
    ['a body that is not JSON', { body: '{"customerId":' }, 415],
    [
      'a body over the limit',
      { body: JSON.stringify({ ...validBody, pad: 'x'.repeat(2000) }) },
      413,
    ],
    [
      'a base64 body over the limit',
      {
        isBase64Encoded: true,
        body: Buffer.from(`${postFixture.body}${' '.repeat(1100)}`).toString('base64'),
      },
      413,
    ],
    [
      'a malformed Idempotency-Key',
      { headers: { ...postFixture.headers, 'Idempotency-Key': 'has space' } },
      400,
    ],
    ['a malformed X-Run-Id', { headers: { ...postFixture.headers, 'X-Run-Id': 'a#b' } }, 400],
  ])('rejects %s and writes nothing', async (_what, overrides, status) => {
    const res = await makeHandler()(post(overrides as Partial<APIGatewayProxyEvent>));
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body).message).toEqual(expect.any(String));
    expect(writes()).toBe(0);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('accepts a base64 body within the limit', async () => {
    const res = await makeHandler()(
      post({ isBase64Encoded: true, body: Buffer.from(postFixture.body).toString('base64') }),
    );
    expect(res.statusCode).toBe(202);
  });

  it('answers 400 with field errors for an invalid order', async () => {
    const res = await makeHandler()(
      post({
        body: JSON.stringify({
          ...validBody,
          items: [{ sku: 'sku-1', quantity: 0, unitPrice: 5 }],
        }),
      }),
    );
    expect(res.statusCode).toBe(400);
    const body = JSON.parse(res.body);
    expect(body.errors).toEqual([
      expect.objectContaining({ path: 'items[0].quantity', message: expect.any(String) }),
    ]);
    expect(writes()).toBe(0);
  });

  it('retries a throttled send and succeeds', async () => {
    const throttled = Object.assign(new Error('slow down'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    });
    sqsMock
      .on(SendMessageCommand, { QueueUrl: ENV_VARS.STANDARD_QUEUE_URL })
      .rejectsOnce(throttled)
      .resolves({ MessageId: 'std-msg' });
    const res = await makeHandler()(post());
    expect(res.statusCode).toBe(202);
    expect(
      sqsMock.commandCalls(SendMessageCommand, { QueueUrl: ENV_VARS.STANDARD_QUEUE_URL }),
    ).toHaveLength(2);
  });

  it('answers 503 naming the order and the key to retry it with when a queue stays unavailable', async () => {
    const down = Object.assign(new Error('secret internal detail'), {
      name: 'InternalError',
      $metadata: { httpStatusCode: 500 },
    });
    sqsMock.on(SendMessageCommand, { QueueUrl: ENV_VARS.FIFO_QUEUE_URL }).rejects(down);
    const res = await makeHandler()(post());
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain('secret');
    // The request carried no Idempotency-Key: the answer hands out the one that finds this order.
    expect(JSON.parse(res.body)).toMatchObject({
      orderId: 'generated-id',
      idempotencyKey: 'generated-id',
      message: expect.stringContaining('Idempotency-Key: generated-id'),
    });
    expect(
      sqsMock.commandCalls(SendMessageCommand, { QueueUrl: ENV_VARS.FIFO_QUEUE_URL }),
    ).toHaveLength(4);
    // The standard send went through: its id is recorded, so the retry sends to FIFO alone.
    expect(recordedSends()).toEqual([
      { ':ids': { fifo: '', standard: 'std-msg' }, ':sentAt': { standard: NOW } },
    ]);
  });

  it('does not retry a permanent SQS error, and answers it as a plain 500, not "retry" 503', async () => {
    const missing = Object.assign(new Error('no such queue'), {
      name: 'QueueDoesNotExist',
      $metadata: { httpStatusCode: 400 },
    });
    sqsMock.on(SendMessageCommand, { QueueUrl: ENV_VARS.FIFO_QUEUE_URL }).rejects(missing);
    const res = await makeHandler()(post());
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ message: 'internal error' });
    expect(
      sqsMock.commandCalls(SendMessageCommand, { QueueUrl: ENV_VARS.FIFO_QUEUE_URL }),
    ).toHaveLength(1);
  });

  it('answers 500 without detail when the ledger fails', async () => {
    ddb.on(PutCommand).rejects(new Error('table exploded'));
    const res = await makeHandler()(post());
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('exploded');
  });
});

describe('GET /orders/{orderId}', () => {
  function countFor(prefix: string, count: number) {
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'RUN#run-unit', ':prefix': prefix } })
      .resolves({ Count: count });
  }

  beforeEach(() => {
    ddb.on(QueryCommand).resolves({ Count: 0 });
    ddb.on(GetCommand, { Key: { pk: 'ORDER#order-1', sk: 'ORDER' } }).resolves({
      Item: {
        orderId: 'order-1',
        runId: 'run-unit',
        customerId: 'cust-1',
        sequence: 1,
        acceptedAt: 10,
      },
    });
  });

  it('reports processed, delivered and accepted per queue', async () => {
    countFor('DELIVERY#fifo#order-1#', 2);
    countFor('EFFECT#fifo#order-1#', 1);
    countFor('DELIVERY#standard#order-1#', 1);
    const res = await makeHandler()(getEvent());
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      orderId: 'order-1',
      customerId: 'cust-1',
      sequence: 1,
      runId: 'run-unit',
      acceptedAt: 10,
      fifo: { status: 'processed', deliveries: 2, effects: 1 },
      standard: { status: 'delivered', deliveries: 1, effects: 0 },
    });
  });

  it('reports dlq after a final failure', async () => {
    ddb
      .on(QueryCommand, {
        ExpressionAttributeValues: {
          ':pk': 'RUN#run-unit',
          ':prefix': 'FAILURE#standard#order-1#',
          ':true': true,
        },
      })
      .resolves({ Count: 1 });
    countFor('DELIVERY#standard#order-1#', 3);
    const res = await makeHandler()(getEvent());
    expect(JSON.parse(res.body).standard.status).toBe('dlq');
    expect(JSON.parse(res.body).fifo.status).toBe('accepted');
  });

  it('answers 404 for an unknown order and 400 for a malformed id', async () => {
    const handler = makeHandler();
    const missing = await handler({
      ...getEvent(),
      pathParameters: { orderId: 'nope' },
    });
    expect(missing.statusCode).toBe(404);
    const bad = await handler({
      ...getEvent(),
      pathParameters: { orderId: 'a#b' },
    });
    expect(bad.statusCode).toBe(400);
  });
});

describe('routing', () => {
  it('answers an unrouted resource or method with 404 naming it, as JSON', async () => {
    const handler = makeHandler();
    for (const [httpMethod, resource] of [
      ['GET', '/nope'],
      ['DELETE', '/orders'],
      ['PROPFIND', '/orders'],
    ] as const) {
      const res = await handler({ ...post(), httpMethod, resource, path: resource });
      expect(res).toMatchObject({
        statusCode: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: `no route for ${httpMethod} ${resource}` }),
      });
    }
    expect(writes()).toBe(0);
  });

  it('answers with the JSON content type alone and the body as serialized', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { value: 7 } });
    const res = await makeHandler()(post());
    expect(res.headers).toEqual({ 'content-type': 'application/json' });
    expect(res.multiValueHeaders).toBeUndefined();
    expect(res.body).toBe(
      JSON.stringify({
        orderId: 'generated-id',
        sequence: 7,
        messageIds: { fifo: 'fifo-msg', standard: 'std-msg' },
      }),
    );
  });

  it('routes on the resource API Gateway matched, whatever the path carries (a base path)', async () => {
    const res = await makeHandler()(post({ path: '/v1/orders' }));
    expect(res.statusCode).toBe(202);
  });

  // What a client controls must never make the router fail before a route runs: each of these
  // gets the answer the same request gets without it.
  it.each([
    ['an X-Forwarded-Proto that is no URL scheme', { 'X-Forwarded-Proto': 'not a scheme' }],
    ['a Host that is no host name', { Host: 'a b' }],
    ['a header value a Headers object refuses', { 'X-Note': 'price in \u20ac' }],
  ])('accepts an order sent with %s', async (_what, extra) => {
    const res = await makeHandler()(post({ headers: { ...postFixture.headers, ...extra } }));
    expect(res.statusCode).toBe(202);
  });

  it('answers a GET that carries a body as it answers one without', async () => {
    const res = await makeHandler()({ ...getEvent(), body: '{"x":1}' });
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body).message).toBe('order order-1 not found');
  });

  it('answers 400, not a 5xx, for an order id that is not valid percent-encoding', async () => {
    const res = await makeHandler()({
      ...getEvent(),
      path: '/orders/100%',
      pathParameters: { orderId: '100%' },
    });
    expect(res.statusCode).toBe(400);
  });

  it('answers an event that lacks what API Gateway always sends as an unrouted one', async () => {
    const { resource: _, ...noResource } = post();
    const res = await makeHandler()(noResource as APIGatewayProxyEvent);
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body).message).toBe('no route for POST undefined');
    const odd = await makeHandler()({ ...post(), pathParameters: 'x', stageVariables: 1 } as never);
    expect(odd.statusCode).toBe(202);
  });
});

describe('loadProducerConfig', () => {
  it('fails at cold start without a queue url', () => {
    const { FIFO_QUEUE_URL: _, ...rest } = ENV_VARS;
    expect(() => loadProducerConfig(rest)).toThrow(/FIFO_QUEUE_URL/);
  });

  it('fails at cold start on a lost-answer rate outside 0..1', () => {
    expect(() => loadProducerConfig({ ...ENV_VARS, FAULT_LOST_SEND_ANSWER_RATE: '2' })).toThrow(
      /FAULT_LOST_SEND_ANSWER_RATE must be between 0 and 1/,
    );
  });
});

describe('handlers/api module', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('builds the handler from process.env when imported', () => {
    // Prepare
    process.env = { ...saved, ...ENV_VARS, AWS_REGION: 'eu-west-1' };

    // Act
    let handler: unknown;
    jest.isolateModules(() => {
      handler = require('../../../services/producer/src/handlers/api').handler;
    });

    // Assess
    expect(typeof handler).toBe('function');
  });

  it('fails at import without the ledger table name', () => {
    // Prepare
    process.env = { ...saved, ...ENV_VARS, LEDGER_TABLE_NAME: '' };

    // Act / Assess
    jest.isolateModules(() => {
      expect(() => require('../../../services/producer/src/handlers/api')).toThrow(
        'environment variable LEDGER_TABLE_NAME is required',
      );
    });
  });
});
