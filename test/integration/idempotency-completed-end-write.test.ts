import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { runPk } from '../../shared/src/ledger';
import standardBatch from '../events/sqs/standard-batch.json';
import {
  consumerEnv,
  contextUntil,
  createIdempotencyTable,
  loadConsumerHandler,
  quietly,
} from './support/consumer-handler';
import { jsonBodyOf, operationOf } from './support/dynamodb-proxy';
import { readIdempotencyRecord } from './support/idempotency-record';
import { type LedgerBehindProxy, startLedgerBehindProxy } from './support/ledger-behind-proxy';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * Powertools' COMPLETED write, held by the consumer's persistence layer
 * (services/consumer/src/adapters/idempotency-store.ts) and written in the invocation's end
 * write with the deliveries' outcomes, instead of one UpdateItem per record. The standard
 * consumer's handler module (its own clients, a cold start) runs one batch, in order, against
 * the local cloud's DynamoDB behind a real HTTP proxy that logs every request it forwards: nine
 * orders and a copy of the first, as a standard queue can hand over in one batch.
 */
const { ledger, idempotency } = pipelineConfig.tables;
const FUNCTION_TIMEOUT_MS = pipelineConfig.consumers.standard.timeoutSeconds * 1000;
const ORDERS = 9;

interface Logged {
  operation: string;
  /** The tables the request names, with how many items of each a batch write carries. */
  tables: Record<string, number>;
  /** The idempotency items a batch write puts. */
  records: { id?: { S?: string }; status?: { S?: string } }[];
}

describe('the COMPLETED idempotency records, written in the invocation’s end write', () => {
  const saved = { ...process.env };
  let ledgerBehindProxy: LedgerBehindProxy;
  const logged: Logged[] = [];

  const keep = stopsAfterAll();
  beforeAll(async () => {
    ledgerBehindProxy = await keep(
      startLedgerBehindProxy((received) => {
        const operation = operationOf(received);
        const body = jsonBodyOf<{
          TableName?: string;
          RequestItems?: Record<string, { PutRequest?: { Item: Logged['records'][number] } }[]>;
        }>(received);
        logged.push({
          operation,
          tables: body.TableName
            ? { [body.TableName]: 1 }
            : Object.fromEntries(
                Object.entries(body.RequestItems ?? {}).map(([t, items]) => [t, items.length]),
              ),
          records: (body.RequestItems?.[idempotency.name] ?? []).map(
            (r) => r.PutRequest?.Item ?? {},
          ),
        });
        return undefined;
      }),
    );
    await createIdempotencyTable(ledgerBehindProxy.documents);
  }, 60_000);

  afterAll(async () => {
    process.env = { ...saved };
  });

  it('sends three requests per order and two batch writes per batch, and answers the copy from the record its order completed', async () => {
    // Prepare: the standard consumer's handler module on the proxy, records run in order.
    process.env = consumerEnv(saved, ledgerBehindProxy.endpoint, {
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
    });
    const handler = loadConsumerHandler();
    const [template] = standardBatch.Records as unknown as SQSRecord[];
    const orders = Array.from({ length: ORDERS }, (_, i) => {
      const record = structuredClone(template) as SQSRecord;
      const body = JSON.parse(record.body) as Record<string, unknown>;
      record.messageId = `end-write-${i + 1}`;
      record.body = JSON.stringify({ ...body, orderId: `end-write-${i + 1}`, sequence: i + 1 });
      return record;
    });
    const copy = structuredClone(orders[0]) as SQSRecord;
    copy.receiptHandle = `${copy.receiptHandle}-copy`;
    const deadline = Date.now() + FUNCTION_TIMEOUT_MS;
    const context = contextUntil(deadline, 'req-end-write');

    // Act (the tables' creation logged before is not the batch's)
    logged.length = 0;
    const response = await quietly(() => handler({ Records: [...orders, copy] }, context));

    // Assess: per order one IN_PROGRESS put, one apply turn, one effect; no UpdateItem of the
    // idempotency table; and two batch writes for the batch: its receipts, then the outcomes
    // with the nine COMPLETED records. The copy sent nothing of its own.
    expect(response).toEqual({ batchItemFailures: [] });
    const count = (operation: string, table: string) =>
      logged.filter((l) => l.operation === operation && table in l.tables).length;
    expect({
      idempotencyPut: count('PutItem', idempotency.name),
      idempotencyUpdate: count('UpdateItem', idempotency.name),
      idempotencyGet: count('GetItem', idempotency.name),
      turn: count('UpdateItem', ledger.name),
      effect: count('PutItem', ledger.name),
      batchWrites: count('BatchWriteItem', ledger.name),
      all: logged.length,
    }).toEqual({
      idempotencyPut: ORDERS,
      idempotencyUpdate: 0,
      idempotencyGet: 0,
      turn: ORDERS,
      effect: ORDERS,
      batchWrites: 2,
      all: 3 * ORDERS + 2,
    });
    const end = logged.filter((l) => l.operation === 'BatchWriteItem').at(-1);
    expect(end?.tables).toEqual({ [idempotency.name]: ORDERS, [ledger.name]: ORDERS + 1 });
    expect(new Set(end?.records.map((r) => r.status?.S))).toEqual(new Set(['COMPLETED']));

    // The outcomes: nine applied, the copy suppressed by the record.
    const deliveries = await ledgerBehindProxy.documents.send(
      new QueryCommand({
        TableName: ledger.name,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': runPk('run-unit'), ':prefix': 'DELIVERY#' },
        ConsistentRead: true,
      }),
    );
    const outcomes = (deliveries.Items ?? []).map((d) => `${d.outcome}:${d.suppressedBy ?? '-'}`);
    expect(outcomes.filter((o) => o === 'applied:-')).toHaveLength(ORDERS);
    expect(outcomes.filter((o) => o !== 'applied:-')).toEqual(['suppressed:record']);

    // Each order's record in the idempotency table after the invocation: COMPLETED, with the
    // answer a later copy gets, the payload hash and the put's writer id kept.
    for (const order of orders) {
      const { orderId } = JSON.parse(order.body) as { orderId: string };
      const item = await readIdempotencyRecord(ledgerBehindProxy.documents, 'standard', orderId);
      expect(item).toMatchObject({
        status: 'COMPLETED',
        data: { applyIndex: expect.any(Number), committedAt: expect.any(Number) },
        validation: expect.any(String),
        inProgressBy: expect.any(String),
        in_progress_expiration: expect.any(Number),
      });
    }
  }, 30_000);
});
