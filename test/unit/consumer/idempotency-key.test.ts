import { createHash } from 'node:crypto';
import type { Context, SQSEvent } from 'aws-lambda';
import { createConsumerHandler } from '../../../services/consumer/src/app';
import { loadConsumerConfig } from '../../../services/consumer/src/config';
import fifoFixture from '../../events/sqs/fifo-batch.json';
import { InMemoryConsumerLedger, PermissivePersistence } from './fakes';

/**
 * The idempotency key and payload hash Powertools stores for a fixed message, pinned as
 * literals. Records already in the idempotency table when a new consumer is deployed were
 * written with the old code's key and hash: a change of what the key reads, of the payload's
 * shape as the validation path sees it, or of how Powertools hashes, would make every in-flight
 * record miss (a second effect) or fail validation (IdempotencyValidationError). Each of those
 * changes one of these strings.
 */

const context = {
  functionName: 'consumer',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

const fifoEvent = () => structuredClone(fifoFixture) as unknown as SQSEvent;

/** The fixture's first record alone: order-1, customer cust-1, sequence 1, 2 x sku-1 at 5 EUR. */
function firstRecord(): SQSEvent {
  const event = fifoEvent();
  event.Records = event.Records.slice(0, 1);
  return event;
}

async function run(key: 'orderId' | 'messageId', event: SQSEvent) {
  const persistenceStore = new PermissivePersistence();
  const handler = createConsumerHandler(
    loadConsumerConfig({
      LEDGER_TABLE_NAME: 'ledger',
      IDEMPOTENCY_TABLE_NAME: 'idempotency',
      IDEMPOTENCY_ENABLED: 'true',
      IDEMPOTENCY_KEY: key,
      QUEUE_KIND: 'fifo',
    }),
    {
      ledger: new InMemoryConsumerLedger(),
      persistenceStore,
      logger: { info() {}, warn() {} },
      now: () => 1_764_050_001_000,
    },
  );
  const response = await handler(event, context);
  expect(response).toEqual({ batchItemFailures: [] });
  return persistenceStore.saved;
}

/** Powertools' hash (md5, base64) of the JSON of a value, written out to explain the literals. */
const md5Base64 = (value: unknown) =>
  createHash('md5').update(JSON.stringify(value)).digest('base64');

const ORDER_KEY = 'consumer-fifo#cpBAgW9zMMTLMfVKVvWaew==';
const MESSAGE_KEY = 'consumer-fifo#taLb99dsiLCYlnewSxZRiQ==';
const PAYLOAD_HASH = 'MwS8vtnkK2w5vu3+oEnc5g==';

describe("Powertools' idempotency record of a fixed message", () => {
  it.each([
    ['orderId', ORDER_KEY],
    ['messageId', MESSAGE_KEY],
  ] as const)('keyed on the %s, has the key and payload hash it had', async (key, expected) => {
    const [saved, ...more] = await run(key, firstRecord());
    expect(more).toEqual([]);
    expect(saved?.idempotencyKey).toBe(expected);
    expect(saved?.payloadHash).toBe(PAYLOAD_HASH);
  });

  it('is the hash of the key field alone and of the validated fields, keys sorted', () => {
    const record = fifoFixture.Records[0];
    expect(ORDER_KEY).toBe(`consumer-fifo#${md5Base64('order-1')}`);
    expect(MESSAGE_KEY).toBe(`consumer-fifo#${md5Base64(record?.messageId)}`);
    // [customerId, sequence, amount, currency, items], each object's keys sorted.
    expect(PAYLOAD_HASH).toBe(
      md5Base64(['cust-1', 1, 10, 'EUR', [{ quantity: 2, sku: 'sku-1', unitPrice: 5 }]]),
    );
  });

  it('is the same for the same order written in another key order, with fields a newer writer adds', async () => {
    const event = firstRecord();
    const record = event.Records[0];
    if (!record) throw new Error('fixture needs a record');
    record.body = JSON.stringify({
      acceptedAt: 1764050000000,
      giftWrap: true,
      currency: 'EUR',
      amount: 10,
      items: [{ unitPrice: 5, discount: 0, quantity: 2, sku: 'sku-1' }],
      sequence: 1,
      customerId: 'cust-1',
      runId: 'run-unit',
      orderId: 'order-1',
    });
    for (const [key, expected] of [
      ['orderId', ORDER_KEY],
      ['messageId', MESSAGE_KEY],
    ] as const) {
      const [saved] = await run(key, event);
      expect(saved?.idempotencyKey).toBe(expected);
      expect(saved?.payloadHash).toBe(PAYLOAD_HASH);
    }
  });

  it('keys two messages of one order once on the order, twice on the message', async () => {
    // Prepare: a producer re-send: the same order in a second SQS message.
    const event = fifoEvent();
    const [first, second] = event.Records;
    if (!first || !second) throw new Error('fixture needs two records');
    second.body = first.body;

    // Act
    const onOrder = await run('orderId', event);
    const onMessage = await run('messageId', event);

    // Assess
    expect(onOrder.map((r) => r.idempotencyKey)).toEqual([ORDER_KEY, ORDER_KEY]);
    expect(onMessage.map((r) => r.idempotencyKey)).toEqual([
      MESSAGE_KEY,
      `consumer-fifo#${md5Base64(second.messageId)}`,
    ]);
    expect(second.messageId).not.toBe(first.messageId);
    expect([...onOrder, ...onMessage].map((r) => r.payloadHash)).toEqual(
      Array(4).fill(PAYLOAD_HASH),
    );
  });
});
