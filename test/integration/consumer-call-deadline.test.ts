import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { pipelineConfig } from '../../shared/src/config/pipeline';
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

/**
 * A DynamoDB that stalls inside a record after its first call, or in the invocation's end write:
 * the consumer's calls are cut from the invocation's deadline (services/consumer/src/adapters/
 * call-deadline.ts): a record's calls 1 s before it, the end write 250 ms before it. The standard
 * consumer's handler module (its own clients, a cold start, default timeouts: 4 tries of 1 s)
 * runs against a local DynamoDB behind a real HTTP proxy on 127.0.0.1 that holds chosen requests
 * without an answer. Before the cut, a stalled apply turn (4.2 s) and Powertools' deletion of
 * the record after it (4.2 s more) ran the invocation past its deadline, where Lambda ends it and
 * writes nothing (the completed records' COMPLETED items lost with the outcomes); a stalled end
 * write ran 4.2 s whatever time was left.
 */
const { ledger, idempotency } = pipelineConfig.tables;
/** The deadlines the tests' contexts give (the function's own is 10 s: shorter keeps them quick). */
const RECORDS_DEADLINE_MS = 7_000;
const END_DEADLINE_MS = 3_000;

interface Sent {
  TableName?: string;
  Item?: { type?: { S?: string } };
  Key?: { sk?: { S?: string } };
  RequestItems?: Record<string, unknown>;
}

describe('a DynamoDB that stalls inside a record or in the end write: calls cut from the invocation’s deadline', () => {
  const saved = { ...process.env };
  let ledgerBehindProxy: LedgerBehindProxy;
  /** Decides, request by request, whether the proxy holds it unanswered. */
  let holds: (operation: string, sent: Sent) => boolean = () => false;
  /** Decides, request by request, whether the proxy answers it late (absent: no request is). */
  let late:
    | ((operation: string, sent: Sent) => 'answer late' | 'forward late' | undefined)
    | undefined;
  /** When the proxy answers or forwards a request `late` names. */
  let lateUntil = 0;
  /** Every request the proxy received, with when (Date.now()). */
  let seen: Array<{ operation: string; sent: Sent; at: number }> = [];

  beforeAll(async () => {
    ledgerBehindProxy = await startLedgerBehindProxy(async (received, forward) => {
      const operation = operationOf(received);
      const sent = jsonBodyOf<Sent>(received);
      seen.push({ operation, sent, at: Date.now() });
      const delay = late?.(operation, sent);
      if (delay === 'answer late') {
        const answer = await forward(received);
        await sleep(Math.max(0, lateUntil - Date.now()));
        return answer;
      }
      if (delay === 'forward late') {
        await sleep(Math.max(0, lateUntil - Date.now()));
        // A handler that gave up on it may have returned, and the test stopped the database.
        return forward(received).catch(() => 'reset' as const);
      }
      return holds(operation, sent) ? 'hold' : undefined;
    });
    await createIdempotencyTable(ledgerBehindProxy.documents);
    process.env = consumerEnv(saved, ledgerBehindProxy.endpoint, {
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
    });
  }, 60_000);

  afterEach(() => {
    holds = () => false;
    late = undefined;
    seen = [];
  });

  afterAll(async () => {
    process.env = { ...saved };
    await ledgerBehindProxy?.stop();
  });

  /** `n` orders of one run, each its own customer. */
  const orders = (runId: string, n: number): SQSRecord[] => {
    const [template] = standardBatch.Records as unknown as SQSRecord[];
    return Array.from({ length: n }, (_, i) => {
      const record = structuredClone(template) as SQSRecord;
      const body = JSON.parse(record.body) as Record<string, unknown>;
      record.messageId = `${runId}-${i + 1}`;
      record.body = JSON.stringify({
        ...body,
        runId,
        orderId: `${runId}-${i + 1}`,
        customerId: `${runId}-cust-${i + 1}`,
      });
      return record;
    });
  };

  /** Powertools' COMPLETED update of a record (sent per record with the effect guard off). */
  const isCompletedUpdate = (operation: string, sent: Sent) =>
    operation === 'UpdateItem' && sent.TableName === idempotency.name;
  /** The effect's write. */
  const isEffectWrite = (operation: string, sent: Sent) =>
    operation === 'PutItem' && sent.Item?.type?.S === 'effect';

  /**
   * How long after its invocation began `handler`'s call `isKey` reached the proxy, on this
   * machine as loaded now: `batch` (the scenario's shape, orders of a run of each pass) runs twice
   * with nothing held and a far deadline, the first a cold start, and the second, warm as the
   * scenario's invocation is, is measured. A scenario's deadline is set from it, so that its key
   * call reaches the proxy before the records' cut with the same lead on a loaded machine as on
   * a quiet one. A deadline fixed for a quiet machine had them run past the cut: beside 16 busy
   * loops on 2 cores, the calls before the effect's write, the module's cold start among them,
   * took more than the 850 ms before its answer was due, and the effect's write was cut.
   */
  const leadOf = async (
    handler: ReturnType<typeof loadConsumerHandler>,
    batch: (pass: string) => SQSRecord[],
    isKey: (operation: string, sent: Sent) => boolean,
  ): Promise<number> => {
    let leadMs = 0;
    for (const pass of ['cold', 'warm']) {
      seen = [];
      const invokedAt = Date.now();
      await quietly(() =>
        handler({ Records: batch(pass) }, contextUntil(invokedAt + 30_000, `req-lead-${pass}`)),
      );
      const key = seen.find((s) => isKey(s.operation, s.sent));
      if (!key) throw new Error('the measured run sent no key call');
      leadMs = key.at - invokedAt;
    }
    seen = [];
    return leadMs;
  };

  it('ends before the deadline with a partial batch response when a record stalls after its first call, the completed record written COMPLETED', async () => {
    // Prepare: three orders in order; the second's apply turn and Powertools' deletion of its
    // record (after the turn failed) are held unanswered.
    const runId = 'call-deadline-records';
    const batch = orders(runId, 3);
    const [first, second, third] = batch as [SQSRecord, SQSRecord, SQSRecord];
    holds = (operation, sent) =>
      (operation === 'UpdateItem' &&
        sent.TableName === ledger.name &&
        String(sent.Key?.sk?.S).includes(`${runId}-cust-2`)) ||
      (operation === 'DeleteItem' && sent.TableName === idempotency.name);
    const handler = loadConsumerHandler();
    const start = Date.now();
    const deadline = start + RECORDS_DEADLINE_MS;

    // Act
    const response: SQSBatchResponse = await quietly(() =>
      handler({ Records: batch }, contextUntil(deadline, 'req-call-deadline-records')),
    );
    const returnedAt = Date.now();

    // Assess: returned before the deadline (it took 8.5 s, past it), a wide margin: it returns
    // some 20-35 ms after the records' cut, 1 s before the deadline (965-981 ms left in the runs
    // the end write's test counts); the second order failed, the third never started (too
    // little time left once a call had run out), the first applied and its COMPLETED record
    // written with the outcomes.
    expect(returnedAt).toBeLessThan(deadline);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      second.messageId,
      third.messageId,
    ]);
    const orderOf = (r: SQSRecord) => (JSON.parse(r.body) as { orderId: string }).orderId;
    expect(
      (await readIdempotencyRecord(ledgerBehindProxy.documents, 'standard', orderOf(first)))
        ?.status,
    ).toBe('COMPLETED');
    const items = await ledgerBehindProxy.runItems(runId);
    const outcomes = items
      .filter((i) => i.type === 'delivery')
      .map((d) => `${d.orderId}:${d.outcome}`)
      .sort();
    expect(outcomes).toEqual([`${orderOf(first)}:applied`, `${orderOf(second)}:failed`]);
    const failure = items.find((i) => i.type === 'failure');
    expect(failure).toMatchObject({ orderId: orderOf(second), ranOutOfTime: true });
    expect(failure?.error).toMatch(/InvocationDeadlineError/);
  }, 30_000);

  it('fails the invocation before the deadline when its end write stalls, not a stalled call later', async () => {
    // Prepare: one order; the end write (the batch write carrying its COMPLETED record) is held.
    const runId = 'call-deadline-end';
    const batch = orders(runId, 1);
    holds = (operation, sent) =>
      operation === 'BatchWriteItem' && idempotency.name in (sent.RequestItems ?? {});
    const handler = loadConsumerHandler();
    const deadline = Date.now() + END_DEADLINE_MS;

    // Act
    const outcome = await quietly(() =>
      handler({ Records: batch }, contextUntil(deadline, 'req-call-deadline-end')).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    const endedAt = Date.now();

    // Assess: the invocation failed (every record comes back, as after a timeout), with the
    // cut's error, before its deadline (it ran 4.2 s, past it, and failed with a TimeoutError).
    // The margin is the end write's 250 ms (ANSWER_MS in handlers/sqs.ts) less the time from
    // the cut's timer to the handler's rejection: 2-6 ms of it were used in 5 runs under
    // `nice -n 19` on the shared 2 cores (244-248 ms left), 4-7 ms with three busy loops beside
    // it (243-246 ms left; 2026-12-04): some 35 times what it needs, so it stays a time.
    expect(outcome).toMatchObject({ name: 'InvocationDeadlineError' });
    expect(endedAt).toBeLessThan(deadline);
  }, 30_000);

  it('with the effect guard off, writes COMPLETED the record of an effect that committed just before the records’ cut: that update runs to the end write’s cut', async () => {
    // Prepare: the handler module with the guard off (each COMPLETED record is Powertools' own
    // update, sent as its record completes); the records' cut at least 1 s away (the deadline
    // 2 s), further when the calls before the effect's write take longer on this machine now
    // (leadOf: the cut 1.5 times their time and 250 ms after the invocation begins, so the effect's
    // answer is held about half that time, well inside the SDK's 1 s request timeout). The
    // effect's write commits and its answer comes back 150 ms before the records' cut;
    // Powertools' COMPLETED update is forwarded only 100 ms after it (past the records' cut, and
    // leaving 650 ms of the 750 to the end write's cut for the update's answer and the end
    // write: at 250 ms, a loaded machine, the tests at nice 19 beside two busy loops, had the end
    // write cut once in four runs).
    const runId = 'call-deadline-completing';
    const batch = orders(runId, 1);
    const [first] = batch as [SQSRecord];
    const saved = process.env.EFFECT_GUARD_ENABLED;
    process.env.EFFECT_GUARD_ENABLED = 'false';
    let handler: ReturnType<typeof loadConsumerHandler>;
    try {
      handler = loadConsumerHandler();
    } finally {
      if (saved === undefined) delete process.env.EFFECT_GUARD_ENABLED;
      else process.env.EFFECT_GUARD_ENABLED = saved;
    }
    const leadMs = await leadOf(handler, (pass) => orders(`${runId}-${pass}`, 1), isEffectWrite);
    const start = Date.now();
    const recordsCutAt = start + Math.max(1_000, Math.round(1.5 * leadMs) + 250);
    const deadline = recordsCutAt + 1_000;
    late = (operation, sent) => {
      if (isEffectWrite(operation, sent)) {
        lateUntil = recordsCutAt - 150;
        return 'answer late';
      }
      if (isCompletedUpdate(operation, sent)) {
        lateUntil = recordsCutAt + 100;
        return 'forward late';
      }
      return undefined;
    };

    // Act
    const response: SQSBatchResponse = await quietly(() =>
      handler({ Records: batch }, contextUntil(deadline, 'req-call-deadline-completing')),
    );
    const returnedAt = Date.now();

    // Assess: the scenario ran as set (the effect's write reached the proxy before its answer was
    // due, so it committed before the records' cut); the record applied and written COMPLETED
    // (its redelivery is answered by it), the invocation back before its deadline. Cut at the
    // records' cut, the update failed the record, whose IN_PROGRESS record let its redelivery
    // apply it a second time.
    const effectAt = seen.find((s) => isEffectWrite(s.operation, s.sent))?.at;
    expect(effectAt).toBeLessThan(recordsCutAt - 150);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(returnedAt).toBeLessThan(deadline);
    const { orderId } = JSON.parse(first.body) as { orderId: string };
    expect(
      (await readIdempotencyRecord(ledgerBehindProxy.documents, 'standard', orderId))?.status,
    ).toBe('COMPLETED');
  }, 30_000);

  it('with the effect guard off, hands back unrun a record that starts past the records’ cut (the record before ran past it on its COMPLETED update): not started, no failed attempt', async () => {
    // Prepare: as above, two orders; the first's COMPLETED update is forwarded 100 ms past the
    // records' cut, so the second starts past it, where none of its calls can be sent. The
    // second is at its last allowed receive, so the not-attempted failure is written. The
    // records' cut is at least 2 s away (the deadline 3 s): the first order's calls before its
    // update must all come before the cut, and under a heavy load (load average 10-35 on 2
    // cores) they ran past a cut 1 s away; further when they take longer on this machine now
    // (leadOf: 1.5 times their time and 250 ms). Not much further: a deadline 7 s away had the
    // first order handed back too (its update held some 6 s, past the SDK's 4 tries of 1 s).
    const runId = 'call-deadline-past-cut';
    const batch = orders(runId, 2);
    const [first, second] = batch as [SQSRecord, SQSRecord];
    second.attributes.ApproximateReceiveCount = String(
      pipelineConfig.queues.standard.dlq.maxReceiveCount,
    );
    const saved = process.env.EFFECT_GUARD_ENABLED;
    process.env.EFFECT_GUARD_ENABLED = 'false';
    let handler: ReturnType<typeof loadConsumerHandler>;
    try {
      handler = loadConsumerHandler();
    } finally {
      if (saved === undefined) delete process.env.EFFECT_GUARD_ENABLED;
      else process.env.EFFECT_GUARD_ENABLED = saved;
    }
    const leadMs = await leadOf(
      handler,
      (pass) => orders(`${runId}-${pass}`, 2),
      isCompletedUpdate,
    );
    const start = Date.now();
    const recordsCutAt = start + Math.max(2_000, Math.round(1.5 * leadMs) + 250);
    const deadline = recordsCutAt + 1_000;
    late = (operation, sent) => {
      if (isCompletedUpdate(operation, sent)) {
        lateUntil = recordsCutAt + 100;
        return 'forward late';
      }
      return undefined;
    };

    // Act
    const response: SQSBatchResponse = await quietly(() =>
      handler({ Records: batch }, contextUntil(deadline, 'req-call-deadline-past-cut')),
    );

    // Assess: the scenario ran as set (the first's update reached the proxy before the records'
    // cut, and was answered past it); the first applied and COMPLETED; the second handed back with no delivery and no
    // failed attempt, only its final not-attempted failure saying the cut had passed. It had
    // been a failed attempt (delivery `failed`, InvocationDeadlineError, ranOutOfTime) though
    // nothing of it reached DynamoDB.
    const updateAt = seen.find((s) => isCompletedUpdate(s.operation, s.sent))?.at;
    expect(updateAt).toBeLessThan(recordsCutAt);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([second.messageId]);
    const orderOf = (r: SQSRecord) => (JSON.parse(r.body) as { orderId: string }).orderId;
    expect(
      (await readIdempotencyRecord(ledgerBehindProxy.documents, 'standard', orderOf(first)))
        ?.status,
    ).toBe('COMPLETED');
    expect(
      await readIdempotencyRecord(ledgerBehindProxy.documents, 'standard', orderOf(second)),
    ).toBeUndefined();
    const items = await ledgerBehindProxy.runItems(runId);
    expect(
      items.filter((i) => i.type === 'delivery').map((d) => `${d.orderId}:${d.outcome}`),
    ).toEqual([`${orderOf(first)}:applied`]);
    const failures = items.filter((i) => i.type === 'failure');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      orderId: orderOf(second),
      final: true,
      notAttempted: true,
      notStarted: { cutRoomMs: 1_000 },
    });
    expect(failures[0]?.ranOutOfTime).toBeUndefined();
    expect(failures[0]?.notStarted?.leftMs).toBeLessThanOrEqual(1_000);
  }, 30_000);
});
