import { decideFaults, NO_FAULTS } from '../../../services/consumer/src/domain/faults';
import { describeWhere } from '../support/differences';
import { newRunId, order, postOrder } from '../support/pipeline-client';
import { startTarget, type Target } from '../support/target';
import { deliveriesOnceQuiet, expectExactlyOnce, queueRecords, settle } from './run-check';

const RATE = 0.3;
const ORDERS = 10;
const keys = (runTag: string) =>
  Array.from({ length: ORDERS }, (_, i) => `mb-${runTag}-${String(i + 1).padStart(2, '0')}`);

/**
 * A seed whose first-attempt failures land in the middle of the customer's orders: the first
 * order succeeds, some later one fails, and at least one after that one succeeds. Found by a
 * deterministic search with the consumer's own fault function, so the test knows which fail.
 */
function seedFailingMidway(ids: string[]): { seed: number; failing: Set<string> } {
  for (let seed = 1; seed < 10_000; seed++) {
    const config = { ...NO_FAULTS, seed, firstAttemptFailureRate: RATE };
    const fails = ids.map((id) => decideFaults(config, id, 1).failure === 'first-attempt');
    const firstFail = fails.indexOf(true);
    if (firstFail > 0 && fails.slice(firstFail + 1).includes(false)) {
      return { seed, failing: new Set(ids.filter((_, i) => fails[i])) };
    }
  }
  throw new Error('no seed found');
}

/**
 * With the standard queue's fault model off, every delivery is accounted for exactly. With it on
 * (`chaos`: copies, copies that survive a delete, reordering) the standard queue may deliver any
 * order again as a copy, so there the scenario checks what copies cannot change: which orders
 * failed, FIFO (which the model does not touch) exactly, and exactly-once through the check.
 */
describeWhere('consumerEnv', 'clock')('a consumer that fails mid-batch', () => {
  describe.each(['none', 'chaos'] as const)('standard queue faults %s', (faults) => {
    const runTag = 'fixed';
    const ids = keys(runTag);
    const { seed, failing } = seedFailingMidway(ids);
    let target: Target;

    beforeAll(async () => {
      process.stdout.write(
        `mid-batch: fault seed ${seed}, failing first attempts ${[...failing]}\n`,
      );
      const env = { FAULT_FIRST_ATTEMPT_FAILURE_RATE: String(RATE) };
      target = await startTarget({
        seed,
        faults,
        consumerEnv: { fifo: env, standard: env },
      });
    }, 60_000);

    afterAll(async () => {
      await target?.stop();
    }, 30_000);

    it('reports only the failed records, keeps FIFO order, and applies every order once', async () => {
      // Prepare
      const runId = newRunId('mid-batch');
      const customerId = 'cust-mid-batch';

      // Act: one customer's orders in sequence; the consumer's seeded faults fail some first receives.
      for (const [i, key] of ids.entries()) {
        const posted = await postOrder(target, order(customerId, i + 1), {
          runId,
          idempotencyKey: key,
        });
        expect(posted.status).toBe(202);
      }
      await settle(target, runId, ids);
      // Both queues empty before the deliveries are counted: a record the batch response wrongly
      // reported failed would be back in the queue (visible or in flight) until received again.
      const quiet = await deliveriesOnceQuiet(target, runId);

      // Assess
      const fifo = await queueRecords(target, runId, 'fifo');
      const standard = await queueRecords(target, runId, 'standard');

      // Standard: every failing order failed its first receive (a copy of one fails its own first
      // receive too) and no other order failed.
      const standardFailed = new Set(standard.failures.map((f) => f.orderId as string));
      expect(standardFailed).toEqual(failing);
      if (faults === 'none') {
        // Only the failed records came back: the others were deleted after one delivery.
        for (const id of ids.filter((k) => !failing.has(k))) {
          const copies = quiet.standard.filter((d) => d.orderId === id);
          expect({ id, deliveries: copies.length }).toEqual({ id, deliveries: 1 });
        }
      }

      // FIFO: the first failing order in sequence failed; records behind a failure in its batch
      // were handed back without running (no failure record of their own), so failures are a
      // subset of the seeded ones and the group's apply order is the sequence.
      const fifoFailed = new Set(fifo.failures.map((f) => f.orderId as string));
      const firstFailing = ids.find((k) => failing.has(k));
      expect(fifoFailed.has(firstFailing!)).toBe(true);
      for (const id of fifoFailed) expect(failing.has(id)).toBe(true);
      const applied = [...fifo.effects]
        .sort((a, b) => (a.applyIndex as number) - (b.applyIndex as number))
        .map((e) => e.sequence as number);
      expect(applied).toEqual(Array.from({ length: ORDERS }, (_, i) => i + 1));

      // Both: nothing lost, no effect twice (the report's own metrics).
      await expectExactlyOnce(target, runId, ids);
    }, 90_000);
  });
});
