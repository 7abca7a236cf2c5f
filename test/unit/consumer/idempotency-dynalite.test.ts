import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { CallDeadline } from '../../../services/consumer/src/adapters/call-deadline';
import { OwnWriteDynamoDBPersistenceLayer } from '../../../services/consumer/src/adapters/idempotency-store';
import { DynamoConsumerLedger } from '../../../services/consumer/src/adapters/ledger';
import { createConsumerHandler } from '../../../services/consumer/src/app';
import { loadConsumerConfig } from '../../../services/consumer/src/config';
import type { ConsumerMetricsPort, Effect } from '../../../services/consumer/src/domain/ports';
import { analyzeCustomers, analyzeDuplicates } from '../../../services/report/src/domain/metrics';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import type { DeliveryRecord, EffectRecord, FailureRecord } from '../../../shared/src/ledger';
import type { OrderEvent } from '../../../shared/src/metrics';
import standardFixture from '../../events/sqs/standard-batch.json';
import { readIdempotencyRecord } from '../../integration/support/idempotency-record';
import { type InProcessDynamo, startDynalite } from '../support/dynalite';
import { countOf, logRequests } from '../support/dynamodb-requests';

// The real Powertools idempotency, through the consumer's persistence layer (its own IN_PROGRESS
// put: adapters/idempotency-store.ts), against dynalite, the local cloud's DynamoDB, in-process.
const { idempotency, ledger } = pipelineConfig.tables;
const silent = { info() {}, warn() {}, error() {}, appendKeys() {}, removeKeys() {} };
const context = {
  functionName: 'consumer',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

let dynamo: InProcessDynamo;
let client: DynamoDBClient;
let documents: DynamoDBDocumentClient;

beforeAll(async () => {
  dynamo = await startDynalite([idempotency, ledger]);
  client = dynamo.client;
  documents = DynamoDBDocumentClient.from(client);
});

afterAll(() => dynamo.stop());

function makeConsumer(
  env: Record<string, string>,
  extra: {
    crash?: () => Promise<never>;
    metrics?: ConsumerMetricsPort;
    ledger?: DynamoConsumerLedger;
    persistenceStore?: OwnWriteDynamoDBPersistenceLayer;
    /** The cut on the calls, with the function's rooms (handlers/sqs.ts: 1 s, 250 ms). */
    callDeadline?: CallDeadline;
  } = {},
) {
  const config = loadConsumerConfig({
    LEDGER_TABLE_NAME: ledger.name,
    IDEMPOTENCY_TABLE_NAME: idempotency.name,
    ...env,
  });
  // Wired as the function's handler wires it: the layer holds its COMPLETED writes for the
  // invocation's end write.
  const store =
    extra.persistenceStore ??
    new OwnWriteDynamoDBPersistenceLayer({ tableName: idempotency.name, client });
  return createConsumerHandler(config, {
    ledger: extra.ledger ?? new DynamoConsumerLedger(documents, ledger.name),
    ...(config.idempotency.enabled ? { persistenceStore: store, heldWrites: store } : {}),
    logger: silent as never,
    ...(extra.crash ? { crash: extra.crash } : {}),
    ...(extra.metrics ? { metrics: extra.metrics } : {}),
    ...(extra.callDeadline
      ? { callDeadline: extra.callDeadline, callRoom: { recordsMs: 1_000, endMs: 250 } }
      : {}),
  });
}

/** Metrics that keep every event. */
function eventLog(): { events: OrderEvent[]; metrics: ConsumerMetricsPort } {
  const events: OrderEvent[] = [];
  return { events, metrics: { record: (e) => events.push(e), publish: () => undefined } };
}

/** The same receive handed over again by SQS: the next receive count, a new receipt handle. */
function redelivered(source: SQSRecord, receiveCount: number): SQSRecord {
  const again = structuredClone(source);
  again.receiptHandle = `${source.receiptHandle}-${receiveCount}`;
  again.attributes.ApproximateReceiveCount = String(receiveCount);
  return again;
}

/** Runs `fn` with Date.now (what Powertools decides expiry by) moved `ms` ahead. */
async function later<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const real = Date.now.bind(Date);
  const spy = jest.spyOn(Date, 'now').mockImplementation(() => real() + ms);
  try {
    return await fn();
  } finally {
    spy.mockRestore();
  }
}

const HOURS_2 = 2 * 3600 * 1000;

async function applyCounter(runId: string): Promise<number> {
  const out = await documents.send(
    new QueryCommand({
      TableName: ledger.name,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `RUN#${runId}`, ':prefix': 'COUNTER#apply#' },
    }),
  );
  return Number(out.Items?.[0]?.value ?? 0);
}

/** One record of the fixture, moved to its own run so tests do not share ledger rows. */
function record(runId: string, index: number, changes: Record<string, unknown> = {}): SQSRecord {
  const source = structuredClone(standardFixture.Records[index]) as unknown as SQSRecord;
  const body = JSON.parse(source.body) as Record<string, unknown>;
  const orderId = `${runId}-${String(body.orderId)}`;
  source.body = JSON.stringify({ ...body, runId, orderId, ...changes });
  return source;
}

const eventOf = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

async function readRun(runId: string) {
  const out = await documents.send(
    new QueryCommand({
      TableName: ledger.name,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `RUN#${runId}` },
    }),
  );
  const items = out.Items ?? [];
  return {
    deliveries: items.filter((i) => i.type === 'delivery') as DeliveryRecord[],
    effects: items.filter((i) => i.type === 'effect') as EffectRecord[],
    failures: items.filter((i) => i.type === 'failure') as FailureRecord[],
  };
}

describe('consumer with Powertools idempotency on dynalite', () => {
  it('decides each late apply in the request that takes its index, as the report counts them', async () => {
    // Prepare: one customer's orders arrive as 1, 3, 2, 5, 4, then a copy of 3.
    const events: OrderEvent[] = [];
    let published = 0;
    const consume = makeConsumer(
      { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' },
      {
        metrics: {
          record: (e) => events.push(e),
          publish: () => {
            published++;
          },
        },
      },
    );
    const order = (sequence: number) =>
      record('late', 0, { sequence, orderId: `late-${sequence}`, customerId: 'c-late' });

    // Act
    for (const sequence of [1, 3, 2, 5, 4]) await consume(eventOf(order(sequence)), context);
    await consume(eventOf(order(3)), context);

    // Assess
    expect(events.map((e) => [e.event, e.sequence, e.late === true])).toEqual([
      ['applied', 1, false],
      ['applied', 3, false],
      ['applied', 2, true],
      ['applied', 5, false],
      ['applied', 4, true],
      ['suppressed', 3, false],
    ]);
    expect(published).toBe(6);
    const [customer] = analyzeCustomers((await readRun('late')).effects);
    expect(customer?.outOfOrder).toBe(events.filter((e) => e.late).length);
    for (const e of events.filter((x) => x.event === 'applied')) {
      expect(e.latencyMs).toEqual(expect.any(Number));
    }
  });

  it('suppresses a duplicate delivery and keeps the apply index exact', async () => {
    // Prepare
    const consume = makeConsumer({ QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' });
    const first = record('dup', 0);

    // Act
    const r1 = await consume(eventOf(first), context);
    const r2 = await consume(eventOf(structuredClone(first)), context);
    const r3 = await consume(eventOf(record('dup', 1)), context);

    // Assess
    expect([r1, r2, r3]).toEqual([
      { batchItemFailures: [] },
      { batchItemFailures: [] },
      { batchItemFailures: [] },
    ]);
    const run = await readRun('dup');
    expect(run.deliveries.map((d) => `${d.orderId}:${d.outcome}`).sort()).toEqual([
      'dup-order-1:applied',
      'dup-order-1:suppressed',
      'dup-order-2:applied',
    ]);
    expect(run.effects.map((e) => `${e.orderId}:${e.applyIndex}`).sort()).toEqual([
      'dup-order-1:1',
      'dup-order-2:2',
    ]);
  });

  it('applies the same order once on each queue thanks to the per-queue key prefix', async () => {
    // Prepare
    const fifo = makeConsumer({ QUEUE_KIND: 'fifo' });
    const standard = makeConsumer({ QUEUE_KIND: 'standard' });

    // Act
    await fifo(eventOf(record('both', 0)), context);
    await standard(eventOf(record('both', 0)), context);

    // Assess
    const run = await readRun('both');
    expect(run.effects.map((e) => `${e.queue}:${e.applyIndex}`).sort()).toEqual([
      'fifo:1',
      'standard:1',
    ]);
    expect(run.deliveries.every((d) => d.outcome === 'applied')).toBe(true);
  });

  it('lets a producer re-send through when keyed on the message id, not on the order id', async () => {
    // Prepare: the producer's retry sends the same order again, so SQS gives it a new message id.
    const byMessage = makeConsumer({ QUEUE_KIND: 'standard', IDEMPOTENCY_KEY: 'messageId' });
    const original = record('msgkey', 0);
    const resent = { ...structuredClone(original), messageId: 'resent-message-id' };

    // Act
    await byMessage(eventOf(original), context);
    await byMessage(eventOf(resent), context);

    // Assess
    const run = await readRun('msgkey');
    expect(run.effects.map((e) => e.applyIndex).sort()).toEqual([1, 2]);
  });

  it('fails a reused order id with a different payload and records the failure', async () => {
    // Prepare
    const consume = makeConsumer({ QUEUE_KIND: 'standard' });
    const original = record('reuse', 0);
    const changed = record('reuse', 0, { amount: 999 });
    // Its last receive (no MAX_RECEIVE_COUNT in the env: the pipeline's own), so the failure is final.
    const last = pipelineConfig.queues.standard.dlq.maxReceiveCount;
    changed.attributes.ApproximateReceiveCount = String(last);

    // Act
    await consume(eventOf(original), context);
    const response = await consume(eventOf(changed), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: changed.messageId }] });
    const run = await readRun('reuse');
    expect(run.effects).toHaveLength(1);
    expect(run.failures).toHaveLength(1);
    expect(run.failures[0]).toMatchObject({ final: true, receiveCount: last });
    expect(run.failures[0]?.error).toMatch(/^IdempotencyValidationError/);
  });

  it('refuses a second effect for a copy that arrives after the idempotency record expired', async () => {
    // Prepare: Powertools treats an expired record as absent, so the copy runs the function.
    const consume = makeConsumer({ QUEUE_KIND: 'standard' });
    const first = record('expired', 0);

    // Act
    await consume(eventOf(first), context);
    const response = await later(HOURS_2, () => consume(eventOf(structuredClone(first)), context));

    // Assess: one effect; the copy was answered by the effect's own guard, and the index it
    // took is a gap the report can count (counter 2, one effect).
    expect(response).toEqual({ batchItemFailures: [] });
    const run = await readRun('expired');
    expect(run.effects).toHaveLength(1);
    expect(run.deliveries.map((d) => `${d.outcome}:${d.suppressedBy ?? '-'}`).sort()).toEqual([
      'applied:-',
      'suppressed:effect',
    ]);
    expect(await applyCounter('expired')).toBe(2);
  });

  it('applies that late copy a second time when the effect guard is off (what the guard prevents)', async () => {
    // Prepare
    const consume = makeConsumer({ QUEUE_KIND: 'standard', EFFECT_GUARD_ENABLED: 'false' });
    const first = record('unguarded', 0);

    // Act
    await consume(eventOf(first), context);
    await later(HOURS_2, () => consume(eventOf(structuredClone(first)), context));

    // Assess
    const run = await readRun('unguarded');
    expect(run.effects.map((e) => e.applyIndex).sort()).toEqual([1, 2]);
  });

  it('refuses the copy after a crash between the effect and COMPLETED, once the in-progress record expired', async () => {
    // Prepare: the first receive commits its effect and the process dies (the record stays
    // INPROGRESS until the invocation's deadline); SQS redelivers after the visibility timeout.
    let crashed: () => void = () => undefined;
    const crash = new Promise<void>((resolve) => {
      crashed = resolve;
    });
    const consume = makeConsumer(
      { QUEUE_KIND: 'fifo', FAULT_CRASH_AFTER_EFFECT_RATE: '1' },
      {
        crash: () => {
          crashed();
          return new Promise<never>(() => undefined);
        },
      },
    );
    const first = record('crash', 0);
    const again = structuredClone(first);
    again.attributes.ApproximateReceiveCount = '2';

    // Act
    void consume(eventOf(first), context);
    await crash;
    const response = await later(61_000, () => consume(eventOf(again), context));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const run = await readRun('crash');
    expect(run.effects).toHaveLength(1);
    expect(
      run.deliveries.map((d) => `${d.receiveCount}:${d.outcome}:${d.suppressedBy ?? '-'}`).sort(),
    ).toEqual(['1:pending:-', '2:suppressed:effect']);
  });

  it('keyed on the message id, guards each message: a late copy is refused, a re-send is not', async () => {
    // Prepare
    const consume = makeConsumer({ QUEUE_KIND: 'standard', IDEMPOTENCY_KEY: 'messageId' });
    const original = record('bymessage', 0);
    const resent = { ...structuredClone(original), messageId: 'bymessage-resent-id' };

    // Act
    await consume(eventOf(original), context);
    await later(HOURS_2, () => consume(eventOf(structuredClone(original)), context));
    await consume(eventOf(resent), context);

    // Assess
    const run = await readRun('bymessage');
    expect(run.effects.map((e) => e.messageId).sort()).toEqual(
      [original.messageId, 'bymessage-resent-id'].sort(),
    );
  });

  it('applies a duplicate twice when idempotency is off', async () => {
    // Prepare
    const consume = makeConsumer({ QUEUE_KIND: 'standard', IDEMPOTENCY_ENABLED: 'false' });
    const first = record('off', 0);

    // Act
    await consume(eventOf(first, structuredClone(first)), context);

    // Assess
    const run = await readRun('off');
    expect(run.effects.map((e) => e.applyIndex).sort()).toEqual([1, 2]);
    expect(run.deliveries.map((d) => d.outcome)).toEqual(['applied', 'applied']);
  });

  it('counts an apply when its effect commits, and the failure too when its outcome write then fails', async () => {
    // Prepare: the invocation's outcome write fails once (a throttled batch write, say).
    const { events, metrics } = eventLog();
    class OutcomeFailsOnce extends DynamoConsumerLedger {
      failed = false;
      override async recordInvocationEnd(
        end: Parameters<DynamoConsumerLedger['recordInvocationEnd']>[0],
      ): Promise<void> {
        if (!this.failed) {
          this.failed = true;
          throw new Error('outcome write failed (injected)');
        }
        return super.recordInvocationEnd(end);
      }
    }
    const consume = makeConsumer(
      { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' },
      { metrics, ledger: new OutcomeFailsOnce(documents, ledger.name) },
    );
    const first = record('outcome-fails', 0);

    // Act: the invocation fails, so SQS hands the message over again after its visibility
    // timeout (60 s), past the in-progress expiry Powertools set from the invocation's 10 s.
    await expect(consume(eventOf(first), context)).rejects.toThrow('injected');
    await later(61_000, () => consume(eventOf(redelivered(first, 2)), context));

    // Assess: one effect, counted once as applied (with its latency), the failed delivery, and
    // the retry suppressed. The failed write carried the record's COMPLETED too (held for it:
    // adapters/idempotency-store.ts), so the record stayed IN_PROGRESS; past its in-progress
    // expiry the retry ran the function again and the effect's write refused it, its index a gap.
    expect(events.map((e) => [e.event, e.receiveCount])).toEqual([
      ['applied', 1],
      ['failed', 1],
      ['suppressed', 2],
    ]);
    expect(events[0]?.latencyMs).toEqual(expect.any(Number));
    const run = await readRun('outcome-fails');
    expect(run.effects).toHaveLength(1);
    expect(
      run.deliveries.map((d) => [d.receiveCount, d.outcome, d.suppressedBy ?? '-']).sort(),
    ).toEqual([
      [1, 'pending', '-'],
      [2, 'suppressed', 'effect'],
    ]);
    expect(await applyCounter('outcome-fails')).toBe(2);
  });

  it('counts an apply whose delivery fails after the effect (fail-after-effect) once, and the failure', async () => {
    // Prepare
    const { events, metrics } = eventLog();
    const first = record('after-effect', 0);
    const orderId = (JSON.parse(first.body) as { orderId: string }).orderId;
    const consume = makeConsumer(
      {
        QUEUE_KIND: 'standard',
        BATCH_PROCESSING: 'sequential',
        FAULT_FAIL_AFTER_EFFECT_PREFIX: orderId,
      },
      { metrics },
    );

    // Act
    const response = await consume(eventOf(first), context);

    // Assess
    expect(response.batchItemFailures).toHaveLength(1);
    expect(events.map((e) => e.event)).toEqual(['applied', 'failed']);
    expect((await readRun('after-effect')).effects).toHaveLength(1);
  });

  it('writes each COMPLETED record in the end write, and answers a copy later in the same batch from it without a request', async () => {
    // Prepare: a standard batch run in order: order-1, order-2, then a copy of order-1.
    const consume = makeConsumer({ QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' });
    const first = record('held', 0);
    const batch = eventOf(first, record('held', 1), redelivered(first, 2));
    const log = logRequests(client);

    // Act
    let response: Awaited<ReturnType<typeof consume>>;
    try {
      response = await consume(batch, context);
    } finally {
      log.stop();
    }

    // Assess: per order applied, one IN_PROGRESS put, its turn and its effect; no COMPLETED
    // UpdateItem; two batch writes (receipts; outcomes with the COMPLETED records). The copy
    // sent nothing of its own: it was answered from the record its order completed.
    expect(response).toEqual({ batchItemFailures: [] });
    const { sent } = log;
    expect({
      idempotencyPut: countOf(sent, 'PutItem', idempotency.name),
      idempotencyUpdate: countOf(sent, 'UpdateItem', idempotency.name),
      idempotencyGet: countOf(sent, 'GetItem', idempotency.name),
      turn: countOf(sent, 'UpdateItem', ledger.name),
      effect: countOf(sent, 'PutItem', ledger.name),
      batchWrites: countOf(sent, 'BatchWriteItem', ledger.name),
      endWriteWithRecords: countOf(sent, 'BatchWriteItem', idempotency.name),
      all: sent.length,
    }).toEqual({
      idempotencyPut: 2,
      idempotencyUpdate: 0,
      idempotencyGet: 0,
      turn: 2,
      effect: 2,
      batchWrites: 2,
      endWriteWithRecords: 1,
      all: 8,
    });
    const run = await readRun('held');
    expect(
      run.deliveries.map((d) => `${d.orderId}:${d.outcome}:${d.suppressedBy ?? '-'}`).sort(),
    ).toEqual([
      'held-order-1:applied:-',
      'held-order-1:suppressed:record',
      'held-order-2:applied:-',
    ]);
    // The records in the table after the invocation: COMPLETED, with the effects' answers.
    for (const effect of run.effects) {
      const item = await readIdempotencyRecord(documents, 'standard', effect.orderId);
      expect(item).toMatchObject({
        status: 'COMPLETED',
        data: { applyIndex: effect.applyIndex, committedAt: effect.committedAt },
      });
    }
  });

  /**
   * A standard batch run in parallel holding an order and SQS's copy of it: both IN_PROGRESS puts
   * start together, the copy's is refused by the order's record. The order's apply turn is slowed,
   * so the copy's refusal comes while the order still runs. Answers the batch's response, the run
   * read back and the requests sent.
   */
  async function consumeParallelCopy(runId: string, env: Record<string, string>) {
    const slow = new (class extends DynamoConsumerLedger {
      override async takeApplyTurn(...args: Parameters<DynamoConsumerLedger['takeApplyTurn']>) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return super.takeApplyTurn(...args);
      }
    })(documents, ledger.name);
    const consume = makeConsumer(
      { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'parallel', ...env },
      { ledger: slow },
    );
    const first = record(runId, 0);
    const copy = structuredClone(first);
    copy.receiptHandle = `${first.receiptHandle}-copy`;
    const { orderId } = JSON.parse(first.body) as { orderId: string };
    const log = logRequests(client);
    let response: Awaited<ReturnType<typeof consume>>;
    try {
      response = await consume(eventOf(first, copy), context);
    } finally {
      log.stop();
    }
    return { response, run: await readRun(runId), orderId, sent: log.sent };
  }

  it('answers a copy running beside its order in a parallel batch from the record that order completed, not "already in progress"', async () => {
    // Act
    const { response, run, sent } = await consumeParallelCopy('parallel-copy', {});

    // Assess: no failure; the copy waited for the order and was answered from its held record
    // (suppressed by the record, no turn of its own), where it failed on the IN_PROGRESS
    // record and came back after the visibility timeout.
    expect(response).toEqual({ batchItemFailures: [] });
    expect(run.effects).toHaveLength(1);
    expect(run.failures).toEqual([]);
    expect(run.deliveries.map((d) => `${d.outcome}:${d.suppressedBy ?? '-'}`).sort()).toEqual([
      'applied:-',
      'suppressed:record',
    ]);
    expect(await applyCounter('parallel-copy')).toBe(1);
    expect(countOf(sent, 'PutItem', idempotency.name)).toBe(2);
    expect(countOf(sent, 'GetItem', idempotency.name)).toBe(0);
  });

  it('with the effect guard off, answers a copy running beside its order in a parallel batch once the order’s record is written COMPLETED, not "already in progress", and applies once', async () => {
    // Act: as above, the guard off (each COMPLETED record is Powertools' own update, sent as the
    // record completes; nothing is held for the end write)
    const { response, run, orderId, sent } = await consumeParallelCopy('parallel-copy-unguarded', {
      EFFECT_GUARD_ENABLED: 'false',
    });

    // Assess: no failure, one effect, one turn; the copy waited for the order's put to end (its
    // record written COMPLETED by Powertools' own update, which the table holds now) and was
    // answered from that record: suppressed by the record, no turn, no read. It had failed with
    // IdempotencyAlreadyInProgressError and come back after the visibility timeout, a receive
    // more, where the guard-on consumer answers it.
    expect(response).toEqual({ batchItemFailures: [] });
    expect(run.effects).toHaveLength(1);
    expect(run.failures).toEqual([]);
    expect(run.deliveries.map((d) => `${d.outcome}:${d.suppressedBy ?? '-'}`).sort()).toEqual([
      'applied:-',
      'suppressed:record',
    ]);
    expect(await applyCounter('parallel-copy-unguarded')).toBe(1);
    expect((await readIdempotencyRecord(documents, 'standard', orderId))?.status).toBe('COMPLETED');
    expect(countOf(sent, 'PutItem', idempotency.name)).toBe(2);
    expect(countOf(sent, 'UpdateItem', idempotency.name)).toBe(1);
    expect(countOf(sent, 'GetItem', idempotency.name)).toBe(0);
  });

  it('fails a reused order id with a different payload later in the same batch: the held record answers under Powertools’ payload validation', async () => {
    // Prepare: a standard batch run in order: order-1, then another message reusing its order
    // id with another amount (a bug upstream), which meets order-1's held COMPLETED record.
    const consume = makeConsumer({ QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' });
    const original = record('held-reuse', 0);
    const changed = record('held-reuse', 0, { amount: 999 });
    changed.messageId = `${original.messageId}-reused`;
    const log = logRequests(client);

    // Act
    let response: Awaited<ReturnType<typeof consume>>;
    try {
      response = await consume(eventOf(original, changed), context);
    } finally {
      log.stop();
    }

    // Assess: the reused id fails on validation, as it did against the record in the table,
    // without a request of its own (one IN_PROGRESS put: the original's); one effect.
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: changed.messageId }] });
    expect(countOf(log.sent, 'PutItem', idempotency.name)).toBe(1);
    const run = await readRun('held-reuse');
    expect(run.effects).toHaveLength(1);
    expect(run.failures.map((f) => f.error)).toEqual([
      expect.stringMatching(/^IdempotencyValidationError/),
    ]);
    expect(run.deliveries.map((d) => d.outcome).sort()).toEqual(['applied', 'failed']);
  });

  it('a crash after an order completed in its batch and before the end write: the record stays IN_PROGRESS, the redelivery runs again and the effect refuses it', async () => {
    // Prepare: order-1 completes (its COMPLETED record held), order-2 commits its effect and
    // the process dies before the invocation's end write.
    let crashed: () => void = () => undefined;
    const crash = new Promise<void>((resolve) => {
      crashed = resolve;
    });
    const dies = new (class extends DynamoConsumerLedger {
      override async putEffectIfAbsent(effect: Effect) {
        const write = await super.putEffectIfAbsent(effect);
        if (effect.orderId.endsWith('order-2')) {
          crashed();
          await new Promise<never>(() => undefined);
        }
        return write;
      }
    })(documents, ledger.name);
    const env = { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' };
    const batch = [record('window', 0), record('window', 1)];

    // Act: SQS hands the batch back after its visibility timeout (60 s) to a new environment,
    // past the in-progress expiry Powertools set from the invocation's remaining time (10 s).
    void makeConsumer(env, { ledger: dies })(eventOf(...batch), context);
    await crash;
    const response = await later(61_000, () =>
      makeConsumer(env)(eventOf(...batch.map((r) => redelivered(r, 2))), {
        ...context,
        awsRequestId: 'req-retry',
      } as Context),
    );

    // Assess: one effect each; both redeliveries ran the function again (order-1's COMPLETED
    // was held, never written) and were refused by the effect's write, each turn a gap.
    expect(response).toEqual({ batchItemFailures: [] });
    const run = await readRun('window');
    expect(run.effects).toHaveLength(2);
    expect(
      run.deliveries
        .filter((d) => d.receiveCount === 2)
        .map((d) => `${d.orderId}:${d.outcome}:${d.suppressedBy ?? '-'}`)
        .sort(),
    ).toEqual(['window-order-1:suppressed:effect', 'window-order-2:suppressed:effect']);
    expect((await applyCounter('window')) - run.effects.length).toBe(2);
  });

  it('with the effect guard off, a crash after record k of a batch leaves records 1..k COMPLETED: their rerun is answered by the record, only the running record applies twice', async () => {
    // Prepare: a standard batch run in order, the guard off (the experiment that shows what the
    // idempotency record alone protects). Orders 1 and 2 complete; order 3 commits its effect
    // and the process dies before anything after it.
    let crashed: () => void = () => undefined;
    const crash = new Promise<void>((resolve) => {
      crashed = resolve;
    });
    const dies = new (class extends DynamoConsumerLedger {
      override async putEffect(effect: Effect) {
        await super.putEffect(effect);
        if (effect.orderId.endsWith('order-3')) {
          crashed();
          await new Promise<never>(() => undefined);
        }
      }
    })(documents, ledger.name);
    const env = {
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
      EFFECT_GUARD_ENABLED: 'false',
    };
    const third = record('unguarded-window', 1, {
      orderId: 'unguarded-window-order-3',
      sequence: 3,
    });
    third.messageId = `${third.messageId}-3`;
    const batch = [record('unguarded-window', 0), record('unguarded-window', 1), third];
    const orderIds = batch.map((r) => (JSON.parse(r.body) as { orderId: string }).orderId);

    // Act: the first environment dies in order 3; SQS hands the batch back after its visibility
    // timeout (60 s) to a new environment, past the in-progress expiry (the invocation's 10 s).
    void makeConsumer(env, { ledger: dies })(eventOf(...batch), context);
    await crash;
    const statuses = await Promise.all(
      orderIds.map(async (id) => (await readIdempotencyRecord(documents, 'standard', id))?.status),
    );
    const response = await later(61_000, () =>
      makeConsumer(env)(eventOf(...batch.map((r) => redelivered(r, 2))), {
        ...context,
        awsRequestId: 'req-retry',
      } as Context),
    );

    // Assess: orders 1 and 2 were written COMPLETED as each completed (Powertools' own update,
    // not held with the guard off), so the redelivery is answered from their records; order 3,
    // the record running at the crash, is IN_PROGRESS and applies again, as nothing else stops it.
    expect(statuses).toEqual(['COMPLETED', 'COMPLETED', 'INPROGRESS']);
    expect(response).toEqual({ batchItemFailures: [] });
    const run = await readRun('unguarded-window');
    expect(run.effects.map((e) => e.orderId).sort()).toEqual([
      orderIds[0],
      orderIds[1],
      orderIds[2],
      orderIds[2],
    ]);
    expect(
      run.deliveries
        .filter((d) => d.receiveCount === 2)
        .map((d) => `${d.orderId}:${d.outcome}:${d.suppressedBy ?? '-'}`)
        .sort(),
    ).toEqual([
      `${orderIds[0]}:suppressed:record`,
      `${orderIds[1]}:suppressed:record`,
      `${orderIds[2]}:applied:-`,
    ]);
  });

  it('with the effect guard off, an effect that commits just before the records’ cut still has its record written COMPLETED: that write is cut at the end write’s cut, so the redelivery is answered by the record', async () => {
    // Prepare: the function's cut on the calls (records 1 s before the deadline, the end write
    // 250 ms before it) on clients of their own; the guard off (each COMPLETED record is
    // Powertools' own update, sent as the record completes). The invocation has 2.5 s; the
    // order's effect commits at once, and its answer comes back 100 ms after the records' cut,
    // so Powertools' COMPLETED update is sent then.
    const at = await client.config.endpoint?.();
    if (!at) throw new Error('the dynalite client has no endpoint');
    const cutClient = new DynamoDBClient({
      endpoint: `http://${at.hostname}:${at.port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const callDeadline = new CallDeadline();
    callDeadline.attach(cutClient);
    const deadlineAt = Date.now() + 2_500;
    const recordsCutAt = deadlineAt - 1_000;
    const lateAnswer = new (class extends DynamoConsumerLedger {
      override async putEffect(effect: Effect) {
        await super.putEffect(effect);
        await new Promise((resolve) => setTimeout(resolve, recordsCutAt + 100 - Date.now()));
      }
    })(DynamoDBDocumentClient.from(cutClient), ledger.name);
    const env = {
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
      EFFECT_GUARD_ENABLED: 'false',
    };
    const first = record('completing-cut', 0);
    const { orderId } = JSON.parse(first.body) as { orderId: string };

    // Act: the invocation, its remaining time counted to the deadline; then SQS's redelivery
    // after the visibility timeout, past the in-progress expiry.
    let response: Awaited<ReturnType<ReturnType<typeof makeConsumer>>>;
    try {
      response = await makeConsumer(env, {
        ledger: lateAnswer,
        callDeadline,
        persistenceStore: new OwnWriteDynamoDBPersistenceLayer({
          tableName: idempotency.name,
          client: cutClient,
          deadline: callDeadline,
        }),
      })(eventOf(first), {
        ...context,
        awsRequestId: 'req-completing-cut',
        getRemainingTimeInMillis: () => deadlineAt - Date.now(),
      } as Context);
    } finally {
      cutClient.destroy();
    }
    const status = (await readIdempotencyRecord(documents, 'standard', orderId))?.status;
    const again = await later(61_000, () =>
      makeConsumer(env)(eventOf(redelivered(first, 2)), {
        ...context,
        awsRequestId: 'req-completing-cut-retry',
      } as Context),
    );

    // Assess: the record was written COMPLETED after the records' cut and before the end
    // write's; the redelivery is answered by it, one effect. Cut at the records' cut, the
    // update failed the record, which stayed IN_PROGRESS and was applied a second time.
    expect(response).toEqual({ batchItemFailures: [] });
    expect(status).toBe('COMPLETED');
    expect(again).toEqual({ batchItemFailures: [] });
    const run = await readRun('completing-cut');
    expect(run.effects.map((e) => e.orderId)).toEqual([orderId]);
    expect(
      run.deliveries.map((d) => `${d.receiveCount}:${d.outcome}:${d.suppressedBy ?? '-'}`).sort(),
    ).toEqual(['1:applied:-', '2:suppressed:record']);
  });

  /**
   * The consumer's OutOfOrderApplies against the report's rule (shared/src/apply-order.ts): the
   * standard consumer, records one by one, the given sequences of one customer in order, the
   * effect write of `failing` failing once after its turn (a throttled put, or a crash between
   * the two writes) and then its redelivery. Answers the consumer's applied events as
   * [sequence, late] and the report's out-of-order count of the run.
   */
  async function lateApplies(runId: string, sequences: number[], failing: number) {
    const { events, metrics } = eventLog();
    class EffectFailsOnce extends DynamoConsumerLedger {
      failed = false;
      override async putEffectIfAbsent(effect: Effect) {
        if (effect.sequence === failing && !this.failed) {
          this.failed = true;
          throw new Error('effect write failed (injected)');
        }
        return super.putEffectIfAbsent(effect);
      }
    }
    const consume = makeConsumer(
      { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' },
      { metrics, ledger: new EffectFailsOnce(documents, ledger.name) },
    );
    const order = (sequence: number) =>
      record(runId, 0, { sequence, orderId: `${runId}-${sequence}`, customerId: `c-${runId}` });
    const failed = order(failing);
    const records = sequences.map((q) => (q === failing ? failed : order(q)));
    for (const r of [...records, redelivered(failed, 2)]) await consume(eventOf(r), context);
    const [customer] = analyzeCustomers((await readRun(runId)).effects);
    return {
      applied: events
        .filter((e) => e.event === 'applied')
        .map((e) => [e.sequence, e.late === true]),
      failed: events.filter((e) => e.event === 'failed').map((e) => e.sequence),
      reportOutOfOrder: customer?.outOfOrder,
    };
  }

  it('counts no late apply for a turn whose effect write failed: the report, by apply index, sees none', async () => {
    // Act: 5, 7 (its effect write fails after its turn), 6, then 7 again.
    const { applied, failed, reportOutOfOrder } = await lateApplies('turn-gap', [5, 7, 6], 7);

    // Assess: 7's turn raised the highest sequence, so 6's turn is late; 7's effect is not
    // committed below 6's index, so the consumer does not call 6 late, as the report, ordering
    // the effects by apply index (5, 6, 7), does not. It had counted 6 late.
    expect(failed).toEqual([7]);
    expect(applied).toEqual([
      [5, false],
      [6, false],
      [7, false],
    ]);
    expect(reportOutOfOrder).toBe(0);
  });

  it('counts a late apply the report counts: a higher sequence applied before it', async () => {
    // Act: 5, 7, 6 (late), then 8 (its first write fails), and 8 again.
    const { applied, reportOutOfOrder } = await lateApplies('turn-late', [5, 7, 6, 8], 8);

    // Assess
    expect(applied).toEqual([
      [5, false],
      [7, false],
      [6, true],
      [8, false],
    ]);
    expect(reportOutOfOrder).toBe(1);
  });

  it('pins a known difference, one way only: a late apply the report counts is missed when the turn that made it late never committed and a lower higher sequence did', async () => {
    // Act: 9, 10 (its effect write fails after its turn), 8, then 10 again.
    const { applied, reportOutOfOrder } = await lateApplies('turn-miss', [9, 10, 8], 10);

    // Assess: 8 is late in the report (9 applied before it); the consumer asked only whether 10,
    // whose turn set the highest sequence, committed below 8's index, and it had not. Fewer than
    // the report, never more.
    expect(applied).toEqual([
      [9, false],
      [8, false],
      [10, false],
    ]);
    expect(reportOutOfOrder).toBe(1);
  });
});

describe('a late turn whose counter names a lower sequence than its own', () => {
  it('counts no late apply: the counter was raised by a turn that named no order (an older consumer), and the order it still names applied below with a lower sequence', async () => {
    // Arrange: 5 applies through this consumer, naming itself on the counter; then a consumer from
    // before the counter named its taker takes 9's turn (raising the highest to 9 and leaving 5's
    // name), and 9's effect never commits.
    const runId = 'stale-taker';
    const customerId = `c-${runId}`;
    const { events, metrics } = eventLog();
    const consume = makeConsumer(
      { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' },
      { metrics },
    );
    const order = (sequence: number) =>
      record(runId, 0, { sequence, orderId: `${runId}-${sequence}`, customerId });
    await consume(eventOf(order(5)), context);
    await new DynamoConsumerLedger(documents, ledger.name).takeApplyTurn(
      runId,
      'standard',
      customerId,
      9,
    );

    // Act: 7 takes a late turn (9 is the highest); the counter names 5.
    await consume(eventOf(order(7)), context);

    // Assess: the report, by apply index (5 at 1, 7 at 3), counts 7 on time, and so does the
    // consumer: 5 applied below 7, yet with a lower sequence. It had counted 7 late.
    const [customer] = analyzeCustomers((await readRun(runId)).effects);
    expect(
      events.filter((e) => e.event === 'applied').map((e) => [e.sequence, e.late === true]),
    ).toEqual([
      [5, false],
      [7, false],
    ]);
    expect(customer?.outOfOrder).toBe(0);
  });
});

/**
 * The consumer's writes for one record, in order, and what a crash right after each leaves. A
 * crash is the process dying: nothing after the write runs (no Powertools cleanup, no outcome),
 * so here the write commits and then never answers; SQS hands the batch back once its visibility
 * timeout (60 s) has passed, to a new environment. Powertools' COMPLETED write is held by the
 * persistence layer for the invocation's end write (`completed-held`: a crash after it loses the
 * held record), which writes it with the outcomes (`outcomes`).
 */
type CrashPoint =
  | 'receipts'
  | 'in-progress'
  | 'apply-turn'
  | 'effect'
  | 'completed-held'
  | 'outcomes';

describe('a record the cut on the calls leaves unstarted (records’ calls cut 1 s before the deadline)', () => {
  /**
   * The function's cut on the calls (adapters/call-deadline.ts, records 1 s before the deadline,
   * the end write 250 ms before it) on a client of its own against dynalite, and an invocation
   * whose deadline is 2.5 s away: the records' cut 1.5 s away.
   */
  async function cutSetup() {
    const at = await client.config.endpoint?.();
    if (!at) throw new Error('the dynalite client has no endpoint');
    const cutClient = new DynamoDBClient({
      endpoint: `http://${at.hostname}:${at.port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const callDeadline = new CallDeadline();
    callDeadline.attach(cutClient);
    const deadlineAt = Date.now() + 2_500;
    const recordsCutAt = deadlineAt - 1_000;
    const store = new OwnWriteDynamoDBPersistenceLayer({
      tableName: idempotency.name,
      client: cutClient,
      deadline: callDeadline,
    });
    const contextFor = (awsRequestId: string) =>
      ({
        ...context,
        awsRequestId,
        getRemainingTimeInMillis: () => deadlineAt - Date.now(),
      }) as Context;
    return {
      cutClient,
      cutDocuments: DynamoDBDocumentClient.from(cutClient),
      callDeadline,
      recordsCutAt,
      store,
      contextFor,
    };
  }

  const waitUntil = (at: number) =>
    new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

  type CutSetup = Awaited<ReturnType<typeof cutSetup>>;

  /** A ledger on the cut client whose first order's effect answers 100 ms past the records' cut. */
  const firstEffectAnswersLate = (setup: CutSetup) =>
    new (class extends DynamoConsumerLedger {
      override async putEffectIfAbsent(effect: Effect) {
        const write = await super.putEffectIfAbsent(effect);
        if (effect.orderId.endsWith('order-1')) await waitUntil(setup.recordsCutAt + 100);
        return write;
      }
    })(setup.cutDocuments, ledger.name);

  /** A ledger on the cut client that holds each apply turn until 100 ms past the records' cut. */
  const turnsPastCut = (setup: CutSetup) =>
    new (class extends DynamoConsumerLedger {
      override async takeApplyTurn(...args: Parameters<DynamoConsumerLedger['takeApplyTurn']>) {
        await waitUntil(setup.recordsCutAt + 100);
        return super.takeApplyTurn(...args);
      }
    })(setup.cutDocuments, ledger.name);

  it('hands back unrun, as no attempt, a record that starts past the cut: its redelivery is its first delivery, no retry after a failure', async () => {
    // Prepare: two orders of a sequential standard batch. The first one's effect commits at
    // once and its answer comes 100 ms past the records' cut (no call of it is cut: the effect
    // write had ended; its COMPLETED record is held for the end write), so the second starts
    // past the cut, where none of its calls can be sent.
    const setup = await cutSetup();
    const lateAnswer = firstEffectAnswersLate(setup);
    const env = { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' };
    const first = record('past-cut-start', 0);
    const second = record('past-cut-start', 1);
    const { events, metrics } = eventLog();

    // Act: the invocation; then SQS hands the second back (receive #2) to an invocation with time.
    let response: Awaited<ReturnType<ReturnType<typeof makeConsumer>>>;
    try {
      response = await makeConsumer(env, {
        ledger: lateAnswer,
        callDeadline: setup.callDeadline,
        persistenceStore: setup.store,
        metrics,
      })(eventOf(first, second), setup.contextFor('req-past-cut-start'));
    } finally {
      setup.cutClient.destroy();
    }
    const again = await makeConsumer(env)(eventOf(redelivered(second, 2)), {
      ...context,
      awsRequestId: 'req-past-cut-start-retry',
    } as Context);

    // Assess: the second went back unrun: no failed delivery, no failure record, no failed
    // metric, its receipt removed; its redelivery is then its first delivery, so the report
    // counts no duplicate (as a failed attempt it was a retryAfterFailure). It had been a failed
    // attempt ("InvocationDeadlineError: DynamoDB call given up"), though nothing of it reached
    // DynamoDB.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([second.messageId]);
    expect(again).toEqual({ batchItemFailures: [] });
    const run = await readRun('past-cut-start');
    expect(run.failures).toEqual([]);
    expect(run.deliveries.map((d) => `${d.orderId}:${d.receiveCount}:${d.outcome}`).sort()).toEqual(
      ['past-cut-start-order-1:1:applied', 'past-cut-start-order-2:2:applied'],
    );
    expect(events.map((e) => `${e.event}:${e.orderId}`)).toEqual([
      'applied:past-cut-start-order-1',
    ]);
    expect(analyzeDuplicates(run.deliveries).causes).toMatchObject({
      retryAfterFailure: 0,
      queueCopy: 0,
    });
  });

  it('answers from the held record, with no call, a copy of an order completed in its batch that starts past the cut; hands back only the record that needs a call', async () => {
    // Prepare: a sequential standard batch of an order, a copy of its message (another receive
    // of the same message id: a copy from another host, at its last allowed receive, 3) and a
    // second order. The first order's effect commits at once and its answer comes 100 ms past
    // the records' cut, so the copy and the second order start past it. The copy's answer is
    // the record its order completed in this invocation, held for the end write: no call.
    const setup = await cutSetup();
    const lateAnswer = firstEffectAnswersLate(setup);
    const env = { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential', MAX_RECEIVE_COUNT: '3' };
    const first = record('past-cut-copy', 0);
    const copy = redelivered(first, 3);
    const second = record('past-cut-copy', 1);
    const { events, metrics } = eventLog();
    const requests = logRequests(setup.cutClient);

    // Act
    let response: Awaited<ReturnType<ReturnType<typeof makeConsumer>>>;
    try {
      response = await makeConsumer(env, {
        ledger: lateAnswer,
        callDeadline: setup.callDeadline,
        persistenceStore: setup.store,
        metrics,
      })(eventOf(first, copy, second), setup.contextFor('req-past-cut-copy'));
    } finally {
      setup.cutClient.destroy();
    }

    // Assess: the copy is suppressed by the record, and only the second order goes back. The
    // copy had been handed back unrun too, and at its last receive got a not-attempted failure,
    // a dead letter of an order that was applied.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([second.messageId]);
    const run = await readRun('past-cut-copy');
    expect(run.failures).toEqual([]);
    expect(
      run.deliveries
        .map((d) => `${d.orderId}:${d.receiveCount}:${d.outcome}:${d.suppressedBy ?? ''}`)
        .sort(),
    ).toEqual(['past-cut-copy-order-1:1:applied:', 'past-cut-copy-order-1:3:suppressed:record']);
    expect(run.effects.map((e) => e.orderId)).toEqual(['past-cut-copy-order-1']);
    expect(events.map((e) => `${e.event}:${e.orderId}:${e.receiveCount}`)).toEqual([
      'applied:past-cut-copy-order-1:1',
      'suppressed:past-cut-copy-order-1:3',
    ]);
    // One IN_PROGRESS put (the order's), none of the copy's or the second order's; the COMPLETED
    // record in the end write.
    requests.stop();
    expect(countOf(requests.sent, 'PutItem', idempotency.name)).toBe(1);
    const completed = await readIdempotencyRecord(documents, 'standard', 'past-cut-copy-order-1');
    expect(completed?.status).toBe('COMPLETED');
  });

  it('records a copy handed back unrun beside a receive of its message that ran, so the report reads that one’s next receive as a retry, not a queue copy', async () => {
    // Prepare: the effect guard off (nothing held: a copy's put needs a call), a sequential
    // standard batch of an order and a copy of its message (a copy from another host: the same
    // message id, its own receive count 1). The order's effect answers 100 ms past the records'
    // cut, so the copy starts past it and goes back unrun. The batch response names the message
    // id failed, which both carry: Lambda deletes neither, and both come back at receive #2.
    const setup = await cutSetup();
    const lateAnswer = new (class extends DynamoConsumerLedger {
      override async putEffect(effect: Effect) {
        await super.putEffect(effect);
        await waitUntil(setup.recordsCutAt + 100);
      }
    })(setup.cutDocuments, ledger.name);
    const env = {
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
      EFFECT_GUARD_ENABLED: 'false',
    };
    const first = record('unrun-copy', 0);
    const copy = structuredClone(first);
    copy.receiptHandle = `${first.receiptHandle}-copy`;

    // Act: the invocation, then the two receives SQS hands out again.
    let response: Awaited<ReturnType<ReturnType<typeof makeConsumer>>>;
    try {
      response = await makeConsumer(env, {
        ledger: lateAnswer,
        callDeadline: setup.callDeadline,
        persistenceStore: setup.store,
      })(eventOf(first, copy), setup.contextFor('req-unrun-copy'));
    } finally {
      setup.cutClient.destroy();
    }
    await makeConsumer(env)(eventOf(redelivered(first, 2), redelivered(copy, 2)), {
      ...context,
      awsRequestId: 'req-unrun-copy-again',
    } as Context);

    // Assess: the copy's not-attempted failure, not final, names the invocation; the report
    // then takes the first receive as left undeleted, so of the two receives #2 one is its
    // retry and the other the copy's. Without that failure the ledger held nothing of the copy
    // and both were queue copies, as if SQS had delivered the message twice on its own.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([first.messageId]);
    const run = await readRun('unrun-copy');
    expect(run.failures).toHaveLength(1);
    expect(run.failures[0]).toMatchObject({
      notAttempted: true,
      final: false,
      invocationId: 'req-unrun-copy',
      messageId: first.messageId,
      receiveCount: 1,
      notStarted: { cutRoomMs: 1_000 },
    });
    expect(run.deliveries.map((d) => `${d.receiveCount}:${d.outcome}`).sort()).toEqual([
      '1:applied',
      '2:suppressed',
      '2:suppressed',
    ]);
    expect(
      analyzeDuplicates(run.deliveries, undefined, undefined, {
        failures: run.failures,
        producerIds: new Map(),
      }).causes,
    ).toEqual({ producerResend: 0, queueCopy: 1, retryAfterFailure: 1, dlqRedrive: 0 });
  });

  it('records a record whose first call came past the cut, sending nothing, as not started: at its last receive a not-attempted failure says so', async () => {
    // Prepare: idempotency off, so the apply turn is a record's first call; the first order's
    // turn is held until 100 ms past the records' cut before it is made, so no try of it is
    // sent. The order is at its last allowed receive (3), so SQS moves it to the DLQ next.
    const setup = await cutSetup();
    const slowTurn = turnsPastCut(setup);
    const first = redelivered(record('past-cut-first-call', 0), 3);
    const { events, metrics } = eventLog();

    // Act
    let response: Awaited<ReturnType<ReturnType<typeof makeConsumer>>>;
    try {
      response = await makeConsumer(
        {
          QUEUE_KIND: 'standard',
          BATCH_PROCESSING: 'sequential',
          IDEMPOTENCY_ENABLED: 'false',
          MAX_RECEIVE_COUNT: '3',
        },
        { ledger: slowTurn, callDeadline: setup.callDeadline, metrics },
      )(eventOf(first), setup.contextFor('req-past-cut-first-call'));
    } finally {
      setup.cutClient.destroy();
    }

    // Assess: handed back; no delivery, no failed metric; one final not-attempted failure
    // naming the cut, with the time left as the cut counts it (at most its 1 s). It had been a
    // failed attempt at its last receive, ranOutOfTime, and its delivery `failed`.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([first.messageId]);
    const run = await readRun('past-cut-first-call');
    expect(run.deliveries).toEqual([]);
    expect(run.effects).toEqual([]);
    expect(events).toEqual([]);
    expect(run.failures).toHaveLength(1);
    const [failure] = run.failures as [FailureRecord];
    expect(failure).toMatchObject({
      final: true,
      notAttempted: true,
      invocationId: 'req-past-cut-first-call',
      notStarted: { cutRoomMs: 1_000 },
    });
    expect(failure.ranOutOfTime).toBeUndefined();
    const left = (failure.notStarted as { leftMs: number }).leftMs;
    expect(left).toBeGreaterThanOrEqual(0);
    expect(left).toBeLessThanOrEqual(1_000);
    expect(failure.error).toMatch(
      /^NotAttempted: not started, \d+ ms left of the invocation, past the cut on a record's DynamoDB calls \(1000 ms before its deadline\)/,
    );
    // The receipt's stamps, which the soak check judges it by: the runtime's deadline (2.5 s
    // from the receive here) and a failure written, at the end, no more than the cut's 1 s before it.
    expect(typeof failure.receivedAt).toBe('number');
    expect(failure.deadlineAt! - failure.receivedAt!).toBeGreaterThan(2_000);
    expect(failure.deadlineAt! - failure.receivedAt!).toBeLessThanOrEqual(2_500);
    expect(failure.deadlineAt! - failure.failedAt).toBeLessThanOrEqual(1_000);
  });

  it('keeps a record that sent its first call and was then cut a failed attempt', async () => {
    // Prepare: the same held turn, idempotency on: Powertools' IN_PROGRESS put went out first.
    const setup = await cutSetup();
    const slowTurn = turnsPastCut(setup);
    const first = record('past-cut-started', 0);

    // Act
    let response: Awaited<ReturnType<ReturnType<typeof makeConsumer>>>;
    try {
      response = await makeConsumer(
        { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'sequential' },
        { ledger: slowTurn, callDeadline: setup.callDeadline, persistenceStore: setup.store },
      )(eventOf(first), setup.contextFor('req-past-cut-started'));
    } finally {
      setup.cutClient.destroy();
    }

    // Assess: a failed attempt that ran out of time (the retry after it is a retryAfterFailure).
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([first.messageId]);
    const run = await readRun('past-cut-started');
    expect(run.deliveries.map((d) => d.outcome)).toEqual(['failed']);
    expect(run.failures).toHaveLength(1);
    expect(run.failures[0]).toMatchObject({ ranOutOfTime: true });
    expect(run.failures[0]?.notAttempted).toBeUndefined();
    expect(run.failures[0]?.error).toMatch(/InvocationDeadlineError/);
  });
});

describe('a crash right after each write of the consumer, then SQS redelivers the batch', () => {
  /** Resolves when the injected crash has happened; `dead` is what a crashed write answers. */
  function crashSwitch() {
    let crashed: () => void = () => undefined;
    const happened = new Promise<void>((resolve) => {
      crashed = resolve;
    });
    const dead = (): Promise<never> => {
      crashed();
      return new Promise<never>(() => undefined);
    };
    return { happened, dead };
  }

  function crashingLedger(point: CrashPoint, dead: () => Promise<never>): DynamoConsumerLedger {
    return new (class extends DynamoConsumerLedger {
      override async recordReceipts(r: Parameters<DynamoConsumerLedger['recordReceipts']>[0]) {
        await super.recordReceipts(r);
        if (point === 'receipts') await dead();
      }
      override async takeApplyTurn(...args: Parameters<DynamoConsumerLedger['takeApplyTurn']>) {
        const turn = await super.takeApplyTurn(...args);
        if (point === 'apply-turn') await dead();
        return turn;
      }
      override async putEffectIfAbsent(effect: Effect) {
        const write = await super.putEffectIfAbsent(effect);
        if (point === 'effect') await dead();
        return write;
      }
      override async recordInvocationEnd(
        end: Parameters<DynamoConsumerLedger['recordInvocationEnd']>[0],
      ) {
        await super.recordInvocationEnd(end);
        if (point === 'outcomes') await dead();
      }
    })(documents, ledger.name);
  }

  function crashingStore(
    point: CrashPoint,
    dead: () => Promise<never>,
  ): OwnWriteDynamoDBPersistenceLayer {
    return new (class extends OwnWriteDynamoDBPersistenceLayer {
      protected override async _putRecord(
        r: Parameters<OwnWriteDynamoDBPersistenceLayer['_putRecord']>[0],
      ) {
        await super._putRecord(r);
        if (point === 'in-progress') await dead();
      }
      protected override async _updateRecord(
        r: Parameters<OwnWriteDynamoDBPersistenceLayer['_updateRecord']>[0],
      ) {
        await super._updateRecord(r);
        if (point === 'completed-held') await dead();
      }
    })({ tableName: idempotency.name, client });
  }

  const retryContext = { ...context, awsRequestId: 'req-retry' } as Context;

  it.each<[CrashPoint, string, number, string]>([
    // point, how the redelivery ends, apply index gaps, why the report says it came
    ['receipts', 'applied:-', 0, 'retryAfterFailure'],
    ['in-progress', 'applied:-', 0, 'retryAfterFailure'],
    ['apply-turn', 'applied:-', 1, 'retryAfterFailure'],
    ['effect', 'suppressed:effect', 1, 'retryAfterFailure'],
    // The held COMPLETED record died with the process: the record stayed IN_PROGRESS, so the
    // redelivery ran the function again, the effect's write refused it, its turn a gap.
    ['completed-held', 'suppressed:effect', 1, 'retryAfterFailure'],
    // The outcomes were written (with the COMPLETED record, which answers the redelivery), so
    // nothing in the ledger marks the invocation as one that died: the report took SQS's
    // redelivery for a copy of its own. On FIFO, which makes no copies, it is now a retry on the
    // queue type's rule alone (fifoRetriesByQueueType, and a note); on a standard queue it is
    // still read as a copy (docs/report.md, "What the count cannot tell").
    ['outcomes', 'suppressed:record', 0, 'retryAfterFailure'],
  ])(
    'after the %s write: one effect, the redelivery %s, %i index gap(s), read as %s',
    async (point, ends, gaps, cause) => {
      // Prepare
      const runId = `crash-at-${point}`;
      const { happened, dead } = crashSwitch();
      const first = record(runId, 0);
      const env = { QUEUE_KIND: 'fifo' };

      // Act: the first environment dies at the write; SQS redelivers 61 s later, past the
      // in-progress expiry Powertools set from the invocation's remaining time (10 s).
      void makeConsumer(env, {
        ledger: crashingLedger(point, dead),
        persistenceStore: crashingStore(point, dead),
      })(eventOf(first), context);
      await happened;
      const response = await later(61_000, () =>
        makeConsumer(env)(eventOf(redelivered(first, 2)), retryContext),
      );

      // Assess
      expect(response).toEqual({ batchItemFailures: [] });
      const run = await readRun(runId);
      expect(run.effects).toHaveLength(1);
      const byReceive = [...run.deliveries].sort((a, b) => a.receiveCount - b.receiveCount);
      expect(byReceive.map((d) => d.receiveCount)).toEqual([1, 2]);
      expect(`${byReceive[1]?.outcome}:${byReceive[1]?.suppressedBy ?? '-'}`).toBe(ends);
      expect((await applyCounter(runId)) - run.effects.length).toBe(gaps);
      const { causes, fifoRetriesByQueueType } = analyzeDuplicates(run.deliveries);
      expect(Object.entries(causes).filter(([, n]) => n > 0)).toEqual([[cause, 1]]);
      expect(fifoRetriesByQueueType).toBe(point === 'outcomes' ? 1 : 0);
    },
  );
});
