import { QUEUE_KINDS } from '../../../shared/src/queue-kind';
import { describeWhere } from '../support/differences';
import { type Json, newRunId, order, postOrder } from '../support/pipeline-client';
import { stopsAfterAll } from '../support/stop-after-all';
import { startTarget, type Target } from '../support/target';
import { deliveriesOnceQuiet, expectExactlyOnce, settle } from './run-check';

/**
 * A client that did not hear the answer sends the same order again with the same
 * Idempotency-Key. The producer re-sends it to a queue only where it cannot show the order is
 * already there (domain/resend.ts): a retry of an order whose sends are recorded is answered from
 * the record, before and after it was applied; a send whose answer was lost is sent again, FIFO
 * drops that copy by its deduplication id within 5 minutes, the standard queue delivers it and the
 * consumer's idempotency suppresses it. A key reused for another order is refused.
 */
/** Distinct message ids delivered per queue: copies SQS makes share their message's id. */
const messageIds = (deliveries: Record<'fifo' | 'standard', Json[]>, q: 'fifo' | 'standard') =>
  new Set(deliveries[q].map((d) => d.messageId as string));

/**
 * Each runs with the standard queue's fault model off and on (`chaos`): a copy the queue makes
 * shares its message's id, so what the producer sent is counted in message ids, not deliveries.
 */
describe.each(['none', 'chaos'] as const)(
  'client retries of one order (standard queue faults %s)',
  (faults) => {
    let target: Target;

    const keep = stopsAfterAll();
    beforeAll(async () => {
      target = await keep(startTarget({ seed: 515, faults }));
    }, 60_000);

    it('answers every retry of an order whose sends are recorded from the record: one message per queue', async () => {
      // Prepare
      const runId = newRunId('client-retry');
      const key = `retry-${runId}`;
      const body = order('cust-retry', 1);

      // Act: the first POST, an immediate retry, and a retry after it was processed.
      const first = await postOrder(target, body, { runId, idempotencyKey: key });
      const early = await postOrder(target, body, { runId, idempotencyKey: key });
      await settle(target, runId, [key]);
      const late = await postOrder(target, body, { runId, idempotencyKey: key });
      const deliveries = await deliveriesOnceQuiet(target, runId);

      // Assess: one order, three identical answers, and each queue got it once.
      for (const res of [first, early, late]) {
        expect(res.status).toBe(202);
        expect(res.json).toEqual(first.json);
      }
      for (const q of QUEUE_KINDS) {
        expect({ q, sent: [...messageIds(deliveries, q)] }).toEqual({
          q,
          sent: [first.json.messageIds[q]],
        });
      }
      if (faults === 'none') {
        for (const q of QUEUE_KINDS) {
          expect({ q, deliveries: deliveries[q].length }).toEqual({ q, deliveries: 1 });
        }
      }
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
      const deliveries = await deliveriesOnceQuiet(target, runId);

      // Assess
      expect(reused.status).toBe(422);
      expect(reused.json.message).toContain(key);
      for (const q of QUEUE_KINDS) {
        expect({ q, sent: [...messageIds(deliveries, q)] }).toEqual({
          q,
          sent: [posted.json.messageIds[q]],
        });
      }
      await expectExactlyOnce(target, runId, [key]);
    }, 60_000);
  },
);

describeWhere('consumerEnv')(
  'a client retry after SQS took the send but its answer was lost',
  () => {
    describe.each(['none', 'chaos'] as const)('standard queue faults %s', (faults) => {
      let target: Target;

      const keep = stopsAfterAll();
      beforeAll(async () => {
        // Every order's first sends reach both queues, and both answers are lost on the way back.
        target = await keep(
          startTarget({
            seed: 516,
            faults,
            producerEnv: { FAULT_LOST_SEND_ANSWER_RATE: '1' },
          }),
        );
      }, 60_000);

      it('re-sends to both queues: FIFO drops the copy within 5 minutes, standard delivers it and idempotency suppresses it', async () => {
        // Prepare
        const runId = newRunId('lost-answer');
        const key = `lost-${runId}`;
        const body = order('cust-lost', 1);

        // Act
        const first = await postOrder(target, body, { runId, idempotencyKey: key });
        const retry = await postOrder(target, body, { runId, idempotencyKey: key });
        await settle(target, runId, [key]);
        const deliveries = await deliveriesOnceQuiet(target, runId);

        // Assess
        expect(first.status).toBe(503);
        expect(first.json.idempotencyKey).toBe(key);
        expect(retry.status).toBe(202);
        expect(messageIds(deliveries, 'fifo')).toEqual(new Set([retry.json.messageIds.fifo]));
        expect(messageIds(deliveries, 'standard').size).toBe(2);
        expect(messageIds(deliveries, 'standard')).toContain(retry.json.messageIds.standard);
        const outcomes = deliveries.standard.map((d) => d.outcome as string);
        expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
        await expectExactlyOnce(target, runId, [key]);
      }, 60_000);
    });
  },
);
