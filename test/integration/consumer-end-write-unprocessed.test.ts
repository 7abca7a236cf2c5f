import type { SQSRecord } from 'aws-lambda';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import standardBatch from '../events/sqs/standard-batch.json';
import {
  consumerEnv,
  contextUntil,
  createIdempotencyTable,
  loadConsumerHandler,
  quietly,
} from './support/consumer-handler';
import { jsonBodyOf, operationOf, type UpstreamAnswer } from './support/dynamodb-proxy';
import { type LedgerBehindProxy, startLedgerBehindProxy } from './support/ledger-behind-proxy';

/**
 * The end write's failures handed back unprocessed. BatchWriteItem may take some items of a
 * request and hand others back as UnprocessedItems, with no error. The consumer's end write
 * carries the outcomes and the failures they rely on (a failed attempt's failure, the
 * not-attempted failure of a copy handed back beside its message); sent in one request, DynamoDB
 * could take the outcomes and hand the failures back, and once the tries gave up the ledger held
 * outcomes without the failures that explain the redelivery. The standard consumer's handler
 * module (its own clients, a cold start) runs one batch against a local DynamoDB behind a real
 * HTTP proxy that takes every other item of a batch write and hands the failure items back
 * unprocessed, as DynamoDB may.
 */
const { ledger } = pipelineConfig.tables;

interface PutOrDelete {
  PutRequest?: { Item: { type?: { S?: string }; invocationEnd?: { BOOL?: boolean } } };
  DeleteRequest?: unknown;
}
interface BatchWriteBody {
  RequestItems?: Record<string, PutOrDelete[]>;
}

const isFailure = (r: PutOrDelete) => r.PutRequest?.Item.type?.S === 'failure';
const isOutcome = (r: PutOrDelete) => r.PutRequest?.Item.invocationEnd?.BOOL === true;

describe('the end write’s failures handed back unprocessed: no outcome is written without them', () => {
  const saved = { ...process.env };
  let ledgerBehindProxy: LedgerBehindProxy;
  /** How many more batch writes have their failure items handed back (none while 0). */
  let dropFailures = 0;
  /** Each batch write the proxy saw: its failure and outcome items, and the failures it handed back. */
  const seen: { failures: number; outcomes: number; handedBack: number }[] = [];

  beforeAll(async () => {
    ledgerBehindProxy = await startLedgerBehindProxy(async (received, forward) => {
      if (operationOf(received) !== 'BatchWriteItem') return undefined;
      const sent = jsonBodyOf<BatchWriteBody>(received);
      const items = sent.RequestItems?.[ledger.name] ?? [];
      const failures = items.filter(isFailure);
      const drop = dropFailures > 0 && failures.length > 0;
      seen.push({
        failures: failures.length,
        outcomes: items.filter(isOutcome).length,
        handedBack: drop ? failures.length : 0,
      });
      if (!drop) return undefined;
      dropFailures--;
      // The other items go to DynamoDB (one request without the failures); the answer hands the
      // failures back unprocessed, with whatever DynamoDB itself left.
      const kept = { ...sent.RequestItems, [ledger.name]: items.filter((r) => !isFailure(r)) };
      for (const [table, requests] of Object.entries(kept)) {
        if (requests.length === 0) delete kept[table];
      }
      let left: Record<string, PutOrDelete[]> = {};
      if (Object.keys(kept).length > 0) {
        const body = Buffer.from(JSON.stringify({ ...sent, RequestItems: kept }));
        const answer = await forward({
          ...received,
          headers: { ...received.headers, 'content-length': String(body.length) },
          body,
        });
        if (answer.status !== 200) return answer;
        left = JSON.parse(answer.body.toString()).UnprocessedItems ?? {};
      }
      left[ledger.name] = [...(left[ledger.name] ?? []), ...failures];
      const body = Buffer.from(JSON.stringify({ UnprocessedItems: left }));
      return {
        status: 200,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'content-length': String(body.length),
        },
        body,
      } satisfies UpstreamAnswer;
    });
    await createIdempotencyTable(ledgerBehindProxy.documents);
  }, 60_000);

  afterEach(() => {
    dropFailures = 0;
    seen.length = 0;
    process.env = { ...saved };
  });

  afterAll(async () => {
    process.env = { ...saved };
    await ledgerBehindProxy?.stop();
  });

  /** Two orders of one run, the second poison (it fails), each a customer of its own. */
  const batch = (runId: string): SQSRecord[] => {
    const [template] = standardBatch.Records as unknown as SQSRecord[];
    return ['ok', 'poison'].map((name, i) => {
      const record = structuredClone(template) as SQSRecord;
      const body = JSON.parse(record.body) as Record<string, unknown>;
      record.messageId = `${runId}-m${i + 1}`;
      record.body = JSON.stringify({
        ...body,
        runId,
        orderId: `${runId}-${name}`,
        customerId: `${runId}-cust-${i + 1}`,
      });
      return record;
    });
  };

  const runItems = async (runId: string) => await ledgerBehindProxy.runItems(runId);

  const run = async (runId: string) => {
    process.env = consumerEnv(saved, ledgerBehindProxy.endpoint, {
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
      FAULT_POISON_PREFIX: `${runId}-poison`,
    });
    const handler = loadConsumerHandler();
    return quietly(() =>
      handler({ Records: batch(runId) }, contextUntil(Date.now() + 10_000, `req-${runId}`)).then(
        (response) => response,
        (error: unknown) => error,
      ),
    );
  };

  it('leaves every delivery pending when the failures stay unprocessed through every try, where it wrote the outcomes without them', async () => {
    // Arrange: every batch write's failure items handed back (the end write's tries, and the
    // mark of the failed end write after them).
    const runId = 'end-unprocessed-give-up';
    dropFailures = Number.POSITIVE_INFINITY;

    // Act
    const outcome = await run(runId);

    // Assess: the invocation failed on the unprocessed failures (SQS hands the batch back).
    expect(outcome).toMatchObject({
      message: expect.stringMatching(/batch writes still unprocessed after 5 attempts/),
    });
    const items = await runItems(runId);
    const deliveries = items.filter((i) => i.type === 'delivery');
    const failures = items.filter((i) => i.type === 'failure');
    // The invariant: a delivery that reads failed has its failure. And here no failure could be
    // written, so no delivery reads ended: both pending, an invocation that never ended.
    for (const d of deliveries.filter((d) => d.outcome === 'failed')) {
      expect(failures.filter((f) => f.messageId === d.messageId)).not.toHaveLength(0);
    }
    expect(failures).toEqual([]);
    expect(deliveries.map((d) => `${d.orderId}:${d.outcome}`).sort()).toEqual([
      `${runId}-ok:pending`,
      `${runId}-poison:pending`,
    ]);
    // No request carried an outcome: the failures' give-up came first.
    expect(seen.filter((s) => s.outcomes > 0)).toEqual([]);
  }, 30_000);

  it('sends the outcomes only once DynamoDB took every failure, when it hands them back for a while', async () => {
    // Arrange: the first two batch writes carrying failures have them handed back.
    const runId = 'end-unprocessed-retried';
    dropFailures = 2;

    // Act
    const response = await run(runId);

    // Assess: the invocation answered its partial batch response; the poison's failure and both
    // outcomes are written; and no request carried an outcome while a failure was still to take.
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: `${runId}-m2` }] });
    const items = await runItems(runId);
    expect(
      items
        .filter((i) => i.type === 'delivery')
        .map((d) => `${d.orderId}:${d.outcome}`)
        .sort(),
    ).toEqual([`${runId}-ok:applied`, `${runId}-poison:failed`]);
    expect(items.filter((i) => i.type === 'failure').map((f) => f.orderId)).toEqual([
      `${runId}-poison`,
    ]);
    const firstOutcome = seen.findIndex((s) => s.outcomes > 0);
    const lastHandedBack = seen.findLastIndex((s) => s.handedBack > 0);
    expect(seen.filter((s) => s.handedBack > 0)).toHaveLength(2);
    expect(firstOutcome).toBeGreaterThan(lastHandedBack);
  }, 30_000);
});
