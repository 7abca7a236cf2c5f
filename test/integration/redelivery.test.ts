import { SK_PREFIX } from '../../shared/src/ledger';
import { describeWhere } from './support/differences';
import {
  getOrder,
  ledgerRecords,
  newRunId,
  order,
  postOrder,
  VISIBILITY_MS,
  waitFor,
} from './support/pipeline-client';
import { stopsAfterAll } from './support/stop-after-all';
import { startTarget, type Target } from './support/target';

describeWhere('consumerEnv', 'clock')(
  'a failing record is retried after the visibility timeout',
  () => {
    let target: Target;

    const keep = stopsAfterAll();
    beforeAll(async () => {
      target = await keep(
        startTarget({
          seed: 7,
          faults: 'none',
          consumerEnv: {
            fifo: { FAULT_FIRST_ATTEMPT_FAILURE_RATE: '1' },
            standard: { FAULT_FIRST_ATTEMPT_FAILURE_RATE: '1' },
          },
        }),
      );
    }, 60_000);

    it('processes every order on its second receive and keeps the FIFO group order', async () => {
      // Prepare
      const runId = newRunId('redeliver');
      const customerId = 'cust-order';
      const ids: string[] = [];

      // Act
      for (const sequence of [1, 2, 3]) {
        const posted = await postOrder(target, order(customerId, sequence), { runId });
        expect(posted.status).toBe(202);
        ids.push(posted.json.orderId as string);
      }
      // Every first attempt fails; nothing is processed until the visibility timeout passes.
      await waitFor(
        'first attempts failed on both queues',
        async () => [
          await ledgerRecords(target, runId, SK_PREFIX.failure('fifo')),
          await ledgerRecords(target, runId, SK_PREFIX.failure('standard')),
        ],
        ([fifo, standard]) => (fifo?.length ?? 0) >= 1 && (standard?.length ?? 0) >= 3,
      );
      expect(await ledgerRecords(target, runId, SK_PREFIX.effect('fifo'))).toHaveLength(0);

      // Assess: skip the visibility timeout on the SQS clock, but not on every poll, so a batch in
      // flight is not made visible again while its invocation still runs.
      let polls = 0;
      const advanceEveryFewPolls = async () => {
        if (polls++ % 5 === 0) await target.advanceClock(VISIBILITY_MS);
      };
      await waitFor(
        'all three processed on both queues',
        () => Promise.all(ids.map((id) => getOrder(target, id))),
        (views) =>
          views.every(
            (v) => v.json.fifo?.status === 'processed' && v.json.standard?.status === 'processed',
          ),
        { timeoutMs: 30_000, intervalMs: 300, onPoll: advanceEveryFewPolls },
      );
      const fifoEffects = await ledgerRecords(target, runId, SK_PREFIX.effect('fifo'));
      const applied = [...fifoEffects]
        .sort((a, b) => a.applyIndex - b.applyIndex)
        .map((e) => e.sequence);
      expect(applied).toEqual([1, 2, 3]);
      const fifoDeliveries = await ledgerRecords(target, runId, SK_PREFIX.delivery('fifo'));
      expect(fifoDeliveries.some((d) => d.receiveCount >= 2)).toBe(true);
      const standardEffects = await ledgerRecords(target, runId, SK_PREFIX.effect('standard'));
      expect(standardEffects).toHaveLength(3);
    }, 60_000);
  },
);
