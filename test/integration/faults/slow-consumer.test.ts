import { QUEUE_KINDS, type QueueKind } from '../../../shared/src/queue-kind';
import { describeWhere } from '../support/differences';
import { readIdempotencyRecord } from '../support/idempotency-record';
import { newRunId, order, postOrder, VISIBILITY_MS, waitFor } from '../support/pipeline-client';
import { stopsAfterAll } from '../support/stop-after-all';
import { startTarget, type Target } from '../support/target';
import { expectExactlyOnce, queueRecords, reportData, settle, skipWhenIdle } from './run-check';

/**
 * The stall must outlast what brings the second copy (the test's own polls, a clock advance or a
 * client retry with its ledger reads and re-send, the standard mapping's 1 s batching window)
 * even on a busy machine; the consumers get a function timeout with room for it. That timeout
 * breaks Lambda's visibility guidance (6 x 25 s is more than the queues' 60 s) on purpose: a
 * consumer outliving its message's visibility timeout is the case under test.
 */
const STALL_MS = 10_000;
const TIMEOUT = { timeoutSeconds: 25 };
const SLOW = { pipeline: { fifo: TIMEOUT, standard: TIMEOUT }, waiveVisibilityGuidance: true };

/** Whether an order's idempotency record on one queue's consumer is INPROGRESS. */
async function inProgress(target: Target, queue: QueueKind, orderId: string): Promise<boolean> {
  const record = await readIdempotencyRecord(
    target.documents,
    queue,
    orderId,
    target.tableNames.idempotency,
  );
  return record?.status === 'INPROGRESS';
}

const inProgressOnBoth = (target: Target, orderId: string) =>
  waitFor(
    'the first receive on both queues inside its (stalled) effect',
    () => Promise.all(QUEUE_KINDS.map((q) => inProgress(target, q, orderId))),
    (states) => states.every(Boolean),
    { timeoutMs: 20_000, intervalMs: 50 },
  );

/**
 * After the first run has completed: skips the visibility timeout until a later copy was
 * suppressed by the completed idempotency record on each of `queues`.
 */
const suppressedEverywhere = (target: Target, runId: string, queues: readonly QueueKind[]) =>
  waitFor(
    'a later copy suppressed by the completed record',
    () => Promise.all(queues.map((q) => queueRecords(target, runId, q))),
    (all) => all.every((r) => r.deliveries.some((d) => d.outcome === 'suppressed')),
    // Only while nothing is processed: a skip under the batch that suppresses the copy would
    // hand it out again, spending receives until an applied order's copy is dead-lettered
    // (the check's DLQ depth catches exactly that).
    { onPoll: skipWhenIdle(target, 3), intervalMs: 300 },
  );

/**
 * Every order's first receive stalls inside its effect (after Powertools has saved the
 * INPROGRESS record) for a few seconds. Two ways a second copy arrives meanwhile, both answered
 * by Powertools with IdempotencyAlreadyInProgressError: the copy fails, goes back to the queue and
 * is suppressed once the first run has completed.
 */
describeWhere('consumerEnv', 'clock')('two copies of one order in flight at once', () => {
  let target: Target;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    const env = { FAULT_SLOW_RATE: '1', FAULT_SLOW_MS: String(STALL_MS) };
    target = await keep(
      startTarget({
        seed: 4242,
        faults: 'none',
        consumerEnv: { fifo: env, standard: env },
        ...SLOW,
      }),
    );
  }, 60_000);

  it('a consumer running past the visibility timeout: the redelivered copy meets the in-progress record', async () => {
    // Prepare
    const runId = newRunId('past-visibility');
    const posted = await postOrder(target, order('cust-slow', 1), { runId });
    expect(posted.status).toBe(202);
    const orderId = posted.json.orderId as string;
    await inProgressOnBoth(target, orderId);

    // Act: the visibility timeout passes once while the first run is still inside its effect
    // (SQS's time alone moves: the function is still inside its own timeout, and so inside its
    // in-progress record's expiry); the copy received meanwhile fails on the in-progress record.
    await target.advanceClock(VISIBILITY_MS, { queuesOnly: true });
    await waitFor(
      'the redelivered copy failing on the in-progress record on both queues',
      () => Promise.all(QUEUE_KINDS.map((q) => queueRecords(target, runId, q))),
      (all) => all.every((r) => r.failures.length >= 1),
    );
    // The first run completes; its delete used a receipt handle SQS had since replaced, so the
    // message stays (AWS documents the same: a standard queue answers success and keeps it, a
    // FIFO queue refuses the expired handle), comes back once more and is suppressed. Time is
    // skipped only after the first run completed: each extra skip while it still ran would spend
    // one more of the maxReceiveCount receives and could send an applied order to the DLQ.
    await settle(target, runId, [orderId], { advanceEvery: Number.POSITIVE_INFINITY });
    await suppressedEverywhere(target, runId, QUEUE_KINDS);

    // Assess
    for (const q of QUEUE_KINDS) {
      const { deliveries, effects, failures } = await queueRecords(target, runId, q);
      expect({ q, effects: effects.length }).toEqual({ q, effects: 1 });
      expect(failures.map((f) => f.error as string)).toContainEqual(
        expect.stringContaining('IdempotencyAlreadyInProgressError'),
      );
      const outcomes = deliveries.map((d) => d.outcome);
      expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
      expect(outcomes).toContain('failed');
      expect(Math.max(...deliveries.map((d) => d.receiveCount as number))).toBeGreaterThan(1);
    }
    await expectExactlyOnce(target, runId, [orderId]);
    // The report classifies with the consumers that ran (their 25 s timeout: how long a pending
    // attempt may still be running), not with the repository's static config.
    const { report } = await reportData(target, runId);
    for (const q of QUEUE_KINDS) {
      expect({ q, timeout: report.config.queues[q].functionTimeoutSeconds }).toEqual({
        q,
        timeout: TIMEOUT.timeoutSeconds,
      });
    }
  }, 60_000);
});

/**
 * The other way: the producer re-sends an order whose first sends reached SQS but whose answers
 * were lost (the injected fault), while the first copy is still inside its stalled effect.
 */
describeWhere('consumerEnv', 'clock')('a re-sent copy while the first is still applying', () => {
  let target: Target;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    const env = { FAULT_SLOW_RATE: '1', FAULT_SLOW_MS: String(STALL_MS) };
    target = await keep(
      startTarget({
        seed: 4243,
        faults: 'none',
        consumerEnv: { fifo: env, standard: env },
        producerEnv: { FAULT_LOST_SEND_ANSWER_RATE: '1' },
        ...SLOW,
      }),
    );
  }, 60_000);

  it('a client retry while the first copy is still being applied: one wins, the other is retried and suppressed', async () => {
    // Prepare
    const runId = newRunId('concurrent-copy');
    const key = `copy-${runId}`;
    const first = await postOrder(target, order('cust-copy', 1), { runId, idempotencyKey: key });
    expect(first.status).toBe(503);
    await inProgressOnBoth(target, key);

    // Act: the same order again; its sends' outcome is unknown to the producer, so it re-sends
    // it to both queues. FIFO drops the copy (same deduplication id within 5 minutes); the
    // standard queue delivers it at once, to a second consumer environment, while the first is
    // still applying.
    const retry = await postOrder(target, order('cust-copy', 1), { runId, idempotencyKey: key });
    expect(retry.status).toBe(202);
    expect(retry.json.orderId).toBe(key);
    await settle(target, runId, [key], { advanceEvery: Number.POSITIVE_INFINITY });
    await suppressedEverywhere(target, runId, ['standard']);

    // Assess
    const standard = await queueRecords(target, runId, 'standard');
    expect(standard.effects).toHaveLength(1);
    const copies = new Set(standard.deliveries.map((d) => d.messageId as string));
    expect(copies.size).toBe(2);
    expect(standard.failures.map((f) => f.error as string)).toContainEqual(
      expect.stringContaining('IdempotencyAlreadyInProgressError'),
    );
    const fifo = await queueRecords(target, runId, 'fifo');
    expect(new Set(fifo.deliveries.map((d) => d.messageId as string)).size).toBe(1);
    expect(fifo.effects).toHaveLength(1);
    await expectExactlyOnce(target, runId, [key]);
  }, 60_000);
});
