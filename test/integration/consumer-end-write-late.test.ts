import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSRecord } from 'aws-lambda';
import { analyzeQueue, type RunLedger } from '../../services/report/src/domain/metrics';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import type { DeliveryRecord, EffectRecord, FailureRecord } from '../../shared/src/ledger';
import type { QueueKind } from '../../shared/src/queue-kind';
import fifoBatch from '../events/sqs/fifo-batch.json';
import standardBatch from '../events/sqs/standard-batch.json';
import {
  consumerEnv,
  contextUntil,
  createIdempotencyTable,
  loadConsumerHandler,
  quietly,
} from './support/consumer-handler';
import { jsonBodyOf, operationOf } from './support/dynamodb-proxy';
import { type LedgerBehindProxy, startLedgerBehindProxy } from './support/ledger-behind-proxy';

/**
 * An end write that commits after the consumer gave it up. The consumer's handler module (its
 * own clients, a cold start) runs against a local DynamoDB behind a real HTTP proxy on
 * 127.0.0.1 that forwards the invocation's end write (the batch write carrying the held
 * COMPLETED records) only after the consumer has given it up at its cut (250 ms before the
 * deadline) and failed the invocation with InvocationDeadlineError. The write then commits:
 * every delivery reads ended, outcomes written, as a heavily loaded FIFO run showed, yet the
 * invocation failed and SQS hands the whole batch out again, one receive count higher. The
 * report read those redeliveries as queue copies (the same message id, no attempt failed), on
 * FIFO too, which makes no copies. Now the consumer writes, once it has given the end write up,
 * a failure of its own per ended receive (`endGivenUp`, naming the invocation), which the late
 * commit cannot overwrite, and the report counts the redeliveries as retries after failure.
 */
/** The failing invocation's deadline from its start (the function's own is 10 s). */
const DEADLINE_MS = 3_000;
/** How long after the deadline the proxy forwards the end write it kept. */
const FORWARD_AFTER_DEADLINE_MS = 300;

interface Sent {
  RequestItems?: Record<string, unknown>;
}

describe('an end write that commits after the consumer gave it up: its redeliveries are retries after failure', () => {
  const saved = { ...process.env };
  let ledgerBehindProxy: LedgerBehindProxy;
  /** When the proxy forwards the end write it keeps (none while 0). */
  let forwardEndWriteAt = 0;

  beforeAll(async () => {
    ledgerBehindProxy = await startLedgerBehindProxy(async (received, forward) => {
      const operation = operationOf(received);
      const sent = jsonBodyOf<Sent>(received);
      if (
        forwardEndWriteAt > 0 &&
        operation === 'BatchWriteItem' &&
        pipelineConfig.tables.idempotency.name in (sent.RequestItems ?? {})
      ) {
        await sleep(Math.max(0, forwardEndWriteAt - Date.now()));
        return forward(received).catch(() => 'reset' as const);
      }
      return undefined;
    });
    await createIdempotencyTable(ledgerBehindProxy.documents);
  }, 60_000);

  afterEach(() => {
    forwardEndWriteAt = 0;
    process.env = { ...saved };
  });

  afterAll(async () => {
    process.env = { ...saved };
    await ledgerBehindProxy?.stop();
  });

  /** `n` orders of one run, each its own customer (and FIFO message group), at receive `count`. */
  const orders = (queue: QueueKind, runId: string, n: number, count: number): SQSRecord[] => {
    const [template] = (queue === 'fifo' ? fifoBatch : standardBatch)
      .Records as unknown as SQSRecord[];
    return Array.from({ length: n }, (_, i) => {
      const record = structuredClone(template) as SQSRecord;
      const body = JSON.parse(record.body) as Record<string, unknown>;
      const customerId = `${runId}-cust-${i + 1}`;
      record.messageId = `${runId}-${i + 1}`;
      record.attributes.ApproximateReceiveCount = String(count);
      if (queue === 'fifo') record.attributes.MessageGroupId = customerId;
      record.body = JSON.stringify({ ...body, runId, orderId: `${runId}-${i + 1}`, customerId });
      return record;
    });
  };

  const runItems = async (runId: string) => await ledgerBehindProxy.runItems(runId);

  it.each(['fifo', 'standard'] as const)(
    'on %s: the deliveries read ended, the invocation failed, and the report counts the redeliveries as retries after failure',
    async (queue) => {
      // Arrange: the handler module of the queue; two orders; the end write kept by the proxy
      // until 300 ms past the deadline.
      process.env = consumerEnv(saved, ledgerBehindProxy.endpoint, { QUEUE_KIND: queue });
      const handler = loadConsumerHandler();
      const runId = `end-write-late-${queue}`;
      const deadline = Date.now() + DEADLINE_MS;
      forwardEndWriteAt = deadline + FORWARD_AFTER_DEADLINE_MS;
      const failing = `req-${runId}-1`;

      // Act: the invocation gives its end write up and fails; the write commits after it.
      const outcome = await quietly(() =>
        handler(
          { Records: orders(queue, runId, 2, 1) },
          contextUntil(deadline, failing, queue),
        ).then(
          () => undefined,
          (error: unknown) => error,
        ),
      );
      expect(outcome).toMatchObject({ name: 'InvocationDeadlineError' });
      let ended: Record<string, unknown>[] = [];
      for (let i = 0; i < 50 && ended.length < 2; i++) {
        await sleep(100);
        ended = (await runItems(runId)).filter(
          (d) => d.type === 'delivery' && d.invocationEnd === true,
        );
      }
      // SQS hands the batch out again (the invocation failed), each record one count higher.
      forwardEndWriteAt = 0;
      const response = await quietly(() =>
        handler(
          { Records: orders(queue, runId, 2, 2) },
          contextUntil(Date.now() + 10_000, `req-${runId}-2`, queue),
        ),
      );

      // Assess: the late commit happened (both first deliveries read applied and ended, the
      // situation the report misread); the redeliveries were answered by the COMPLETED records
      // it wrote; the consumer's marks of the failed end write are there; and the report counts
      // two retries after failure, no queue copy, each explained by the marks (none on FIFO's
      // rule alone).
      expect(ended.map((d) => `${d.outcome}:${d.invocationId}`).sort()).toEqual([
        `applied:${failing}`,
        `applied:${failing}`,
      ]);
      expect(response).toEqual({ batchItemFailures: [] });
      const items = await runItems(runId);
      const marks = items.filter((i) => i.type === 'failure' && i.endGivenUp === true);
      expect(marks.map((m) => m.invocationId)).toEqual([failing, failing]);
      expect(String(marks[0]?.error)).toMatch(/^EndWriteFailed: .*InvocationDeadlineError/);
      const run: RunLedger = {
        accepted: [],
        deliveries: items.filter((i) => i.type === 'delivery') as DeliveryRecord[],
        effects: items.filter((i) => i.type === 'effect') as EffectRecord[],
        failures: items.filter((i) => i.type === 'failure') as FailureRecord[],
      };
      const analysis = analyzeQueue(run, queue);
      expect(analysis.metrics.duplicateCauses).toEqual({
        producerResend: 0,
        queueCopy: 0,
        retryAfterFailure: 2,
        dlqRedrive: 0,
      });
      expect(analysis.duplicates.fifoRetriesByQueueType).toBe(0);
      expect(analysis.metrics.duplicateEffects).toBe(0);
    },
    30_000,
  );
});
