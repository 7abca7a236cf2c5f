import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { runPk, SK_PREFIX } from '../../shared/src/ledger';
import fifoBatch from '../events/sqs/fifo-batch.json';
import {
  consumerEnv,
  contextUntil,
  createIdempotencyTable,
  loadConsumerHandler,
  quietly,
} from './support/consumer-handler';
import { type LedgerBehindProxy, startLedgerBehindProxy } from './support/ledger-behind-proxy';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * Powertools' IN_PROGRESS put whose answer comes after the client's request timeout, its write
 * committed: the SDK sends the same put again, and Powertools' own condition refuses it on the
 * record its first try wrote (the in-progress expiry, this invocation's deadline, is ahead), so
 * the record failed as "already in progress" and came back a minute later. The consumer's
 * persistence layer (services/consumer/src/adapters/idempotency-store.ts) writes a fresh id with
 * each put and lets the second copy of that same put through. The FIFO consumer's handler module
 * (its own clients, a cold start) runs against a local DynamoDB behind a real HTTP proxy that
 * forwards the first IN_PROGRESS put, lets it commit, and holds its answer past the request
 * timeout.
 */
const { ledger, idempotency } = pipelineConfig.tables;
const REQUEST_TIMEOUT_MS = 250;
const FUNCTION_TIMEOUT_MS = pipelineConfig.consumers.fifo.timeoutSeconds * 1000;

describe('an idempotency IN_PROGRESS put whose answer comes after the request timeout, its write committed', () => {
  const saved = { ...process.env };
  let ledgerBehindProxy: LedgerBehindProxy;
  /** Tries of each idempotency key's IN_PROGRESS put, in order of arrival. */
  const puts: string[] = [];

  const keep = stopsAfterAll();
  beforeAll(async () => {
    ledgerBehindProxy = await keep(
      startLedgerBehindProxy(async (received, forward) => {
        if (!String(received.headers['x-amz-target']).endsWith('.PutItem')) return undefined;
        const body = JSON.parse(received.body.toString()) as {
          TableName: string;
          Item: { id?: { S?: string } };
        };
        if (body.TableName !== idempotency.name) return undefined;
        puts.push(String(body.Item.id?.S));
        const answer = await forward(received);
        // The first put of the batch commits upstream; its answer comes after the try ran out.
        if (puts.length === 1) {
          await new Promise((resolve) => setTimeout(resolve, 4 * REQUEST_TIMEOUT_MS));
        }
        return answer;
      }),
    );
    await createIdempotencyTable(ledgerBehindProxy.documents);
  }, 60_000);

  afterAll(async () => {
    process.env = { ...saved };
  });

  it('applies the record once, in this invocation, instead of failing it as already in progress', async () => {
    // Prepare: the FIFO consumer's handler module on the proxy, with a short request timeout.
    process.env = consumerEnv(saved, ledgerBehindProxy.endpoint, {
      DYNAMODB_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      DYNAMODB_CONNECTION_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      QUEUE_KIND: 'fifo',
    });
    delete process.env.AWS_MAX_ATTEMPTS;
    const handler = loadConsumerHandler();
    // order-1 and order-2 of cust-1, in its message group.
    const event = structuredClone(fifoBatch) as unknown as SQSEvent;
    const deadline = Date.now() + FUNCTION_TIMEOUT_MS;
    const context = contextUntil(deadline, 'req-late-answer', 'fifo');

    // Act
    const started = Date.now();
    const response = await quietly(() => handler(event, context));
    const took = Date.now() - started;

    // Assess: order-1's put went twice (the first committed, its answer late), and the batch
    // applied both orders in this invocation, well inside its timeout: nothing handed back.
    const [firstKey] = puts;
    expect(puts.filter((key) => key === firstKey)).toHaveLength(2);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(took).toBeLessThan(FUNCTION_TIMEOUT_MS);
    const effects = await ledgerBehindProxy.documents.send(
      new QueryCommand({
        TableName: ledger.name,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: {
          ':pk': runPk('run-unit'),
          ':prefix': SK_PREFIX.effect('fifo'),
        },
        ConsistentRead: true,
      }),
    );
    expect((effects.Items ?? []).map((e) => [e.orderId, e.invocationId])).toEqual([
      ['order-1', 'req-late-answer'],
      ['order-2', 'req-late-answer'],
    ]);
    // Powertools' record of order-1 completed, with the effect's answer.
    const record = await ledgerBehindProxy.documents.send(
      new GetItemCommand({
        TableName: idempotency.name,
        Key: { id: { S: String(firstKey) } },
        ConsistentRead: true,
      }),
    );
    expect(record.Item?.status?.S).toBe('COMPLETED');
  }, 30_000);
});
