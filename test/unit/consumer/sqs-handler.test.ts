import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoConsumerLedger } from '../../../services/consumer/src/adapters/ledger';
import { createConsumerHandler } from '../../../services/consumer/src/app';
import { loadConsumerConfig } from '../../../services/consumer/src/config';
import { ConfigError } from '../../../shared/src/env';
import fifoFixture from '../../events/sqs/fifo-batch.json';
import standardFixture from '../../events/sqs/standard-batch.json';

const ddb = mockClient(DynamoDBDocumentClient);
const silent = { info() {}, warn() {}, error() {}, appendKeys() {}, removeKeys() {} };
const context = {
  functionName: 'consumer',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

const BASE_ENV = {
  LEDGER_TABLE_NAME: 'ledger',
  IDEMPOTENCY_TABLE_NAME: 'idempotency',
  IDEMPOTENCY_ENABLED: 'false',
  MAX_RECEIVE_COUNT: '3',
};

const fifoEvent = () => structuredClone(fifoFixture) as unknown as SQSEvent;
const standardEvent = () => structuredClone(standardFixture) as unknown as SQSEvent;

function makeHandler(env: Record<string, string>, sleep = async (_ms: number) => {}) {
  const config = loadConsumerConfig({ ...BASE_ENV, ...env });
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  let id = 0;
  return createConsumerHandler(config, {
    ledger: new DynamoConsumerLedger(documents, config.ledgerTableName),
    logger: silent as never,
    now: () => 1_764_050_001_000,
    newId: () => `id-${++id}`,
    sleep,
  });
}

type Item = { type: string; orderId: string; outcome?: string } & Record<string, unknown>;
type WriteRequest = { PutRequest?: { Item: Item }; DeleteRequest?: { Key: { sk: string } } };

const itemName = (item: Item) =>
  `${item.type}:${item.orderId}${item.outcome ? `:${item.outcome}` : ''}`;

/** The ledger writes in call order, as `kind:orderId[:detail]`; batch writes item by item. */
function ledgerWrites(): string[] {
  return ddb.calls().flatMap((call) => {
    const input = call.args[0].input as {
      Item?: Item;
      Key?: { sk: string };
      RequestItems?: Record<string, WriteRequest[]>;
    };
    if (input.RequestItems) {
      return Object.values(input.RequestItems)
        .flat()
        .map((r) =>
          r.PutRequest
            ? itemName(r.PutRequest.Item)
            : `unrun:${r.DeleteRequest?.Key.sk.split('#')[2]}`,
        );
    }
    if (input.Item) return [itemName(input.Item)];
    return [`counter:${input.Key?.sk ?? ''}`];
  });
}

/** Every item the batch writes put, in order. */
function batchPuts(): Item[] {
  return ddb
    .commandCalls(BatchWriteCommand)
    .flatMap((c) => Object.values(c.args[0].input.RequestItems ?? {}).flat() as WriteRequest[])
    .flatMap((r) => (r.PutRequest ? [r.PutRequest.Item] : []));
}

beforeEach(() => {
  ddb.reset();
  ddb.on(PutCommand).resolves({});
  ddb.on(BatchWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({ Attributes: { value: 7 } });
});

describe('consumer handler', () => {
  it('writes the batch deliveries before any effect and their outcomes after, one batch write each', async () => {
    // Prepare
    const handler = makeHandler({ QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' });

    // Act
    const response = await handler(standardEvent(), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(ledgerWrites()).toEqual([
      'delivery:order-1:pending',
      'delivery:order-2:pending',
      'counter:COUNTER#apply#standard#cust-1',
      'effect:order-1',
      'counter:COUNTER#apply#standard#cust-1',
      'effect:order-2',
      'delivery:order-1:applied',
      'delivery:order-2:applied',
    ]);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(2);
    // Each delivery names the invocation it ran in; the outcomes, written when it returned,
    // mark it ended.
    const [pending, , applied] = batchPuts();
    expect(pending).toMatchObject({ type: 'delivery', invocationId: 'req-1', outcome: 'pending' });
    expect(pending).not.toHaveProperty('invocationEnd');
    expect(applied).toMatchObject({
      sk: pending?.sk,
      outcome: 'applied',
      outcomeAt: 1_764_050_001_000,
      invocationEnd: true,
    });
    const effect = ddb.commandCalls(PutCommand)[0]?.args[0].input.Item;
    expect(effect).toMatchObject({
      pk: 'RUN#run-unit',
      sk: 'EFFECT#standard#order-1#unguarded-id-3',
      queue: 'standard',
      applyIndex: 7,
      committedAt: 1_764_050_001_000,
      acceptedAt: 1764050000000,
    });
  });

  it('fails the rest of a FIFO batch after the first failure without running it', async () => {
    // Prepare
    const handler = makeHandler({ QUEUE_KIND: 'fifo', FAULT_POISON_PREFIX: 'order-1' });
    const event = fifoEvent();

    // Act
    const response = await handler(event, context);

    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      event.Records.map((r) => r.messageId),
    );
    // The record behind the failure never ran: its delivery record goes, as if never received.
    expect(ledgerWrites()).toEqual([
      'delivery:order-1:pending',
      'delivery:order-2:pending',
      'delivery:order-1:failed',
      'failure:order-1',
      'unrun:order-2',
    ]);
    expect(batchPuts().find((item) => item.type === 'failure')).toMatchObject({
      type: 'failure',
      queue: 'fifo',
      receiveCount: 1,
      final: false,
      error: 'InjectedFaultError: injected poison failure for order order-1',
    });
  });

  it('reports only the failed record of a standard batch and marks the last receive final', async () => {
    // Prepare
    const handler = makeHandler({ QUEUE_KIND: 'standard', FAULT_POISON_PREFIX: 'order-2' });
    const event = standardEvent();
    const poisoned = event.Records[1];
    if (!poisoned) throw new Error('fixture needs two records');
    poisoned.attributes.ApproximateReceiveCount = '3';

    // Act
    const response = await handler(event, context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: poisoned.messageId }] });
    const failure = batchPuts().find((item) => item.type === 'failure');
    expect(failure).toMatchObject({ orderId: 'order-2', receiveCount: 3, final: true });
    expect(ledgerWrites()).toContain('delivery:order-1:applied');
  });

  it('fails a malformed message without writing to the ledger', async () => {
    // Prepare
    const handler = makeHandler({ QUEUE_KIND: 'standard' });
    const event = standardEvent();
    event.Records = event.Records.slice(0, 1);
    const record = event.Records[0];
    if (!record) throw new Error('fixture needs a record');
    record.body = '{"hello":"world"}';

    // Act
    const response = await handler(event, context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('stalls the work of a slow first attempt by FAULT_SLOW_MS', async () => {
    // Prepare
    const slept: number[] = [];
    const handler = makeHandler(
      { QUEUE_KIND: 'fifo', FAULT_SLOW_RATE: '1', FAULT_SLOW_MS: '90000', FAULT_SEED: '7' },
      async (ms) => {
        slept.push(ms);
      },
    );

    // Act
    const response = await handler(fifoEvent(), context);

    // Assess
    expect(slept).toEqual([90000, 90000]);
    expect(response.batchItemFailures).toHaveLength(0);
  });

  it('passes the per-queue key prefix and the order id to Powertools idempotency', async () => {
    // Prepare
    const config = loadConsumerConfig({
      ...BASE_ENV,
      QUEUE_KIND: 'fifo',
      IDEMPOTENCY_ENABLED: 'true',
    });
    const powertoolsClient = new DynamoDBClient({ region: 'eu-west-1' });
    const idempotencyDdb = mockClient(powertoolsClient);
    idempotencyDdb.on(PutItemCommand).resolves({});
    idempotencyDdb.on(UpdateItemCommand).resolves({});
    const handler = createConsumerHandler(config, {
      ledger: new DynamoConsumerLedger(
        DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
        config.ledgerTableName,
      ),
      persistenceStore: new DynamoDBPersistenceLayer({
        tableName: 'idempotency',
        awsSdkV3Client: powertoolsClient,
      }),
      logger: silent as never,
    });

    // Act
    const response = await handler(fifoEvent(), context);

    // Assess
    expect(response.batchItemFailures).toHaveLength(0);
    const ids = idempotencyDdb
      .commandCalls(PutItemCommand)
      .map((c) => c.args[0].input.Item?.id?.S ?? '');
    expect(ids).toHaveLength(2);
    expect(ids.every((id) => id.startsWith('consumer-fifo#'))).toBe(true);
    expect(new Set(ids).size).toBe(2);
    expect(idempotencyDdb.commandCalls(PutItemCommand)[0]?.args[0].input.TableName).toBe(
      'idempotency',
    );
  });
});

describe('consumer handler with the effect guard', () => {
  /** A handler keyed on the order id, with Powertools on a mocked client that always lets it run. */
  function guardedHandler(
    env: Record<string, string> = {},
    extra: { crash?: () => Promise<never> } = {},
  ) {
    const config = loadConsumerConfig({
      ...BASE_ENV,
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
      IDEMPOTENCY_ENABLED: 'true',
      ...env,
    });
    const powertoolsClient = new DynamoDBClient({ region: 'eu-west-1' });
    const records = mockClient(powertoolsClient);
    records.on(PutItemCommand).resolves({});
    records.on(UpdateItemCommand).resolves({});
    let id = 0;
    const handler = createConsumerHandler(config, {
      ledger: new DynamoConsumerLedger(
        DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
        config.ledgerTableName,
      ),
      persistenceStore: new DynamoDBPersistenceLayer({
        tableName: 'idempotency',
        awsSdkV3Client: powertoolsClient,
      }),
      logger: silent as never,
      now: () => 1_764_050_009_000,
      newId: () => `id-${++id}`,
      ...extra,
    });
    return { handler, records };
  }

  const oneRecord = () => {
    const event = standardEvent();
    event.Records = event.Records.slice(0, 1);
    return event;
  };

  it('writes the effect only if absent, keyed on the order id', async () => {
    // Prepare
    const { handler } = guardedHandler();

    // Act
    await handler(oneRecord(), context);

    // Assess
    const effect = ddb
      .commandCalls(PutCommand)
      .map((c) => c.args[0].input)
      .find((input) => input.Item?.type === 'effect');
    expect(effect).toMatchObject({
      Item: { sk: 'EFFECT#standard#order-1#order' },
      ConditionExpression: 'attribute_not_exists(sk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('answers a refused effect with the first one and marks the delivery suppressed by the effect', async () => {
    // Prepare: Powertools lets the attempt run (as with an expired record), the effect exists.
    const { handler, records } = guardedHandler();
    ddb.on(PutCommand, { ConditionExpression: 'attribute_not_exists(sk)' }).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: { applyIndex: { N: '3' }, committedAt: { N: '1764050001000' } },
      }),
    );

    // Act
    const response = await handler(oneRecord(), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const outcome = batchPuts().find((item) => item.outcome !== 'pending');
    expect(outcome).toMatchObject({
      outcome: 'suppressed',
      suppressedBy: 'effect',
      outcomeAt: 1_764_050_009_000,
      invocationEnd: true,
    });
    // Powertools stores the first effect's answer, not the refused attempt's index.
    const completed = records.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(completed?.ExpressionAttributeValues?.[':response_data']).toEqual({
      M: { applyIndex: { N: '3' }, committedAt: { N: '1764050001000' } },
    });
  });

  it('reads the first effect back when the refusal carries no item (dynalite)', async () => {
    // Prepare
    const { handler } = guardedHandler();
    ddb.on(PutCommand, { ConditionExpression: 'attribute_not_exists(sk)' }).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
      }),
    );
    ddb.on(GetCommand).resolves({ Item: { applyIndex: 4, committedAt: 1_764_050_002_000 } });

    // Act
    const response = await handler(oneRecord(), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: 'RUN#run-unit', sk: 'EFFECT#standard#order-1#order' },
      ConsistentRead: true,
    });
  });

  it('crashes after the effect committed and before Powertools saves COMPLETED', async () => {
    // Prepare
    let crashed: () => void = () => undefined;
    const crash = new Promise<void>((resolve) => {
      crashed = resolve;
    });
    const { handler, records } = guardedHandler(
      { FAULT_CRASH_AFTER_EFFECT_RATE: '1' },
      {
        crash: () => {
          crashed();
          return new Promise<never>(() => undefined);
        },
      },
    );

    // Act: the invocation never returns (its process is gone).
    void handler(oneRecord(), context);
    await crash;

    // Assess: the effect is in, the delivery still pending, Powertools' record still IN_PROGRESS.
    expect(ledgerWrites()).toEqual([
      'delivery:order-1:pending',
      'counter:COUNTER#apply#standard#cust-1',
      'effect:order-1',
    ]);
    expect(records.commandCalls(PutItemCommand)).toHaveLength(1);
    expect(records.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });
});

describe('loadConsumerConfig', () => {
  it('fills defaults from the pipeline config', () => {
    // Prepare / Act
    const config = loadConsumerConfig({
      QUEUE_KIND: 'standard',
      LEDGER_TABLE_NAME: 'ledger',
      IDEMPOTENCY_TABLE_NAME: 'idempotency',
    });

    // Assess
    expect(config).toMatchObject({
      queue: 'standard',
      batchProcessing: 'parallel',
      maxReceiveCount: 3,
      idempotency: { enabled: true, key: 'orderId', keyPrefix: 'consumer-standard' },
      faults: { firstAttemptFailureRate: 0, slowRate: 0, poisonPrefix: '' },
    });
  });

  it.each([
    ['QUEUE_KIND is missing', { LEDGER_TABLE_NAME: 'l', IDEMPOTENCY_TABLE_NAME: 'i' }],
    [
      'QUEUE_KIND is unknown',
      { QUEUE_KIND: 'lifo', LEDGER_TABLE_NAME: 'l', IDEMPOTENCY_TABLE_NAME: 'i' },
    ],
    [
      'the idempotency table is missing while enabled',
      { QUEUE_KIND: 'fifo', LEDGER_TABLE_NAME: 'l' },
    ],
    ['IDEMPOTENCY_KEY is unknown', { ...BASE_ENV, QUEUE_KIND: 'fifo', IDEMPOTENCY_KEY: 'body' }],
    ['a fault rate is above 1', { ...BASE_ENV, QUEUE_KIND: 'fifo', FAULT_SLOW_RATE: '1.5' }],
    ['MAX_RECEIVE_COUNT is 0', { ...BASE_ENV, QUEUE_KIND: 'fifo', MAX_RECEIVE_COUNT: '0' }],
  ])('throws ConfigError when %s', (_name, env) => {
    // Act / Assess
    expect(() => loadConsumerConfig(env)).toThrow(ConfigError);
  });

  it('needs no idempotency table when idempotency is off', () => {
    // Act
    const config = loadConsumerConfig({
      ...BASE_ENV,
      QUEUE_KIND: 'fifo',
      IDEMPOTENCY_TABLE_NAME: '',
    });

    // Assess
    expect(config.idempotency.enabled).toBe(false);
    expect(config.idempotency.tableName).toBeUndefined();
  });
});

describe('handlers/sqs module', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('builds the handler from process.env when imported', () => {
    // Prepare
    process.env = { ...saved, ...BASE_ENV, QUEUE_KIND: 'fifo', AWS_REGION: 'eu-west-1' };

    // Act
    let handler: unknown;
    jest.isolateModules(() => {
      handler = require('../../../services/consumer/src/handlers/sqs').handler;
    });

    // Assess
    expect(typeof handler).toBe('function');
  });

  it('fails at import when the configuration is incomplete', () => {
    // Prepare
    process.env = { ...saved, QUEUE_KIND: 'fifo', LEDGER_TABLE_NAME: '' };

    // Act / Assess
    jest.isolateModules(() => {
      expect(() => require('../../../services/consumer/src/handlers/sqs')).toThrow(
        'environment variable LEDGER_TABLE_NAME is required',
      );
    });
  });
});

describe('DynamoConsumerLedger batch writes', () => {
  const ledger = () =>
    new DynamoConsumerLedger(
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
      'ledger',
    );
  const delivery = (n: number) =>
    ({ pk: 'RUN#r', sk: `DELIVERY#fifo#o${n}#d`, type: 'delivery' }) as never;

  it('sends again only the items DynamoDB handed back unprocessed', async () => {
    // Prepare
    const unprocessed = [{ PutRequest: { Item: { pk: 'RUN#r', sk: 'DELIVERY#fifo#o2#d' } } }];
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { ledger: unprocessed } })
      .resolves({});

    // Act
    await ledger().putDeliveries([delivery(1), delivery(2)]);

    // Assess
    const sent = ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems);
    expect(sent).toHaveLength(2);
    expect(sent[0]?.ledger).toHaveLength(2);
    expect(sent[1]).toEqual({ ledger: unprocessed });
  });

  it('fails when items stay unprocessed, so the invocation fails and SQS hands the batch back', async () => {
    // Prepare
    ddb.on(BatchWriteCommand).callsFake((input: { RequestItems: Record<string, unknown[]> }) => ({
      UnprocessedItems: input.RequestItems,
    }));

    // Act / Assess
    await expect(ledger().putDeliveries([delivery(1)])).rejects.toThrow(
      '1 ledger writes still unprocessed after 5 attempts',
    );
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(5);
  });
});
