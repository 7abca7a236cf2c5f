import { newRunId, order, postOrder, waitFor } from '../support/pipeline-client';
import { startTarget, type Target } from '../support/target';
import { expectExactlyOnce, queueRecords, reportData, settle, skipWhenIdle } from './run-check';

/**
 * A client that did not hear the answer sends the same order again with the same
 * Idempotency-Key: before it was processed and after. The producer re-sends it to both queues
 * (the first attempt might have reached only one); FIFO drops the copy by its deduplication id,
 * the standard queue delivers it and idempotency suppresses it. A key reused for another order
 * is refused.
 */
describe('client retries of one order', () => {
  let target: Target;

  beforeAll(async () => {
    target = await startTarget({ seed: 515, faults: 'none' });
  }, 60_000);

  afterAll(async () => {
    await target?.stop();
  }, 30_000);

  it('applies the order once on each queue however often the client retries', async () => {
    // Prepare
    const runId = newRunId('client-retry');
    const key = `retry-${runId}`;
    const body = order('cust-retry', 1);

    // Act: the first POST, an immediate retry, and a retry after it was processed.
    const first = await postOrder(target, body, { runId, idempotencyKey: key });
    const early = await postOrder(target, body, { runId, idempotencyKey: key });
    await settle(target, runId, [key]);
    const late = await postOrder(target, body, { runId, idempotencyKey: key });
    await waitFor(
      'the late retry delivered and suppressed on the standard queue',
      () => queueRecords(target, runId, 'standard'),
      (r) => r.deliveries.filter((d) => d.outcome === 'suppressed').length >= 2,
      {
        // A retry copy that met the in-progress record comes back after the visibility
        // timeout: skip it when nothing is being processed (where the target has a clock).
        onPoll: skipWhenIdle(target, 3),
        intervalMs: 300,
      },
    );

    // Assess: one order, three answers with the same id and sequence.
    for (const res of [first, early, late]) {
      expect(res.status).toBe(202);
      expect(res.json).toMatchObject({ orderId: key, sequence: 1 });
    }
    const fifo = await queueRecords(target, runId, 'fifo');
    expect(new Set(fifo.deliveries.map((d) => d.messageId as string)).size).toBe(1);
    expect(fifo.effects).toHaveLength(1);
    const standard = await queueRecords(target, runId, 'standard');
    expect(new Set(standard.deliveries.map((d) => d.messageId as string)).size).toBe(3);
    expect(standard.effects).toHaveLength(1);
    // One delivery applied it; every other one was suppressed, or (a copy that arrived while
    // the first was still applying) failed on the in-progress record and was suppressed later.
    const outcomes = standard.deliveries.map((d) => d.outcome as string);
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'applied' && o !== 'suppressed' && o !== 'failed')).toEqual(
      [],
    );
    for (const f of standard.failures) {
      expect(f.error).toContain('IdempotencyAlreadyInProgressError');
    }
    const { report } = await reportData(target, runId);
    expect(report.queues.standard.suppressed).toBe(
      outcomes.filter((o) => o === 'suppressed').length,
    );
    await expectExactlyOnce(target, runId, [key]);
  }, 60_000);

  it('refuses the same key for a different order with 422 and sends nothing', async () => {
    // Prepare
    const runId = newRunId('key-reuse');
    const key = `reuse-${runId}`;
    const posted = await postOrder(target, order('cust-reuse', 1, 5), {
      runId,
      idempotencyKey: key,
    });
    expect(posted.status).toBe(202);
    await settle(target, runId, [key]);

    // Act
    const reused = await postOrder(target, order('cust-reuse', 1, 7), {
      runId,
      idempotencyKey: key,
    });

    // Assess
    expect(reused.status).toBe(422);
    expect(reused.json.message).toContain(key);
    await new Promise((r) => setTimeout(r, 1500));
    for (const q of ['fifo', 'standard'] as const) {
      const { deliveries } = await queueRecords(target, runId, q);
      expect({ q, deliveries: deliveries.length }).toEqual({ q, deliveries: 1 });
    }
    await expectExactlyOnce(target, runId, [key]);
  }, 60_000);
});
