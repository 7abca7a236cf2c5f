import { QUEUE_KINDS } from '../../../shared/src/queue-kind';
import { describeWhere } from '../support/differences';
import { newRunId } from '../support/pipeline-client';
import { stopsAfterAll } from '../support/stop-after-all';
import { startTarget, type Target } from '../support/target';
import { drain, postOrders, queueRecords, reportData, runCheck } from './run-check';

const CUSTOMERS = 2;
const PER_CUSTOMER = 3;

/**
 * The function dies right after its effect committed, before Powertools marks the idempotency
 * record COMPLETED (Powertools' own docs warn about this window). The record stays IN_PROGRESS
 * until the invocation's deadline; SQS returns the whole batch after the visibility timeout;
 * by then the in-progress record has expired on the same clock, so Powertools runs the function
 * again. Only the effect's own conditional write stands between that attempt and a second effect.
 * Every order's first receive crashes, on both queues, with the standard queue's fault model off
 * and on.
 */
describeWhere('consumerEnv', 'clock')(
  'a consumer that dies between its effect and COMPLETED',
  () => {
    describe.each(['none', 'chaos'] as const)('standard queue faults %s', (faults) => {
      let target: Target;

      const keep = stopsAfterAll();
      beforeAll(async () => {
        const env = { FAULT_CRASH_AFTER_EFFECT_RATE: '1' };
        target = await keep(
          startTarget({
            seed: 1515,
            faults,
            consumerEnv: { fifo: env, standard: env },
          }),
        );
      }, 60_000);

      const run = async (label: string) => {
        const runId = newRunId(label);
        const acceptedIds = await postOrders(target, runId, {
          prefix: label,
          customers: CUSTOMERS,
          perCustomer: PER_CUSTOMER,
        });
        await drain(target, runId);
        return { runId, acceptedIds, violations: await runCheck(target, runId, acceptedIds) };
      };

      it('applies every order exactly once on each queue: the effect refuses the retried attempt', async () => {
        // Act
        const { runId, acceptedIds, violations } = await run('crash');

        // Assess
        expect(acceptedIds).toHaveLength(CUSTOMERS * PER_CUSTOMER);
        expect(violations).toEqual([]);
        // The guard did the work: on each queue some delivery ran past the expired in-progress
        // record and was refused by the effect's conditional write.
        // The report counts those refusals as the ledger holds them, and each left the apply
        // index it took unused: a gap.
        const { report } = await reportData(target, runId);
        for (const q of QUEUE_KINDS) {
          const { deliveries } = await queueRecords(target, runId, q);
          const refused = deliveries.filter((d) => d.suppressedBy === 'effect').length;
          const { refusedByEffectGuard, applyIndexGaps } = report.queues[q];
          expect({ q, refused: refused > 0 }).toEqual({ q, refused: true });
          expect({ q, refusedByEffectGuard }).toEqual({ q, refusedByEffectGuard: refused });
          expect({ q, gapsCoverRefusals: applyIndexGaps >= refused }).toEqual({
            q,
            gapsCoverRefusals: true,
          });
        }
      }, 90_000);

      it('fails that check with the effect guard switched off, naming the orders applied twice', async () => {
        // Prepare: the same consumers without the conditional write (a test of the test above).
        for (const q of QUEUE_KINDS)
          await target.updateConsumerEnv(q, { EFFECT_GUARD_ENABLED: 'false' });
        try {
          // Act
          const { violations } = await run('unguarded');

          // Assess
          for (const q of QUEUE_KINDS) {
            expect(violations).toContainEqual(
              expect.stringMatching(new RegExp(`^${q}: order \\S+ was applied 2 times$`)),
            );
          }
        } finally {
          for (const q of QUEUE_KINDS)
            await target.updateConsumerEnv(q, { EFFECT_GUARD_ENABLED: 'true' });
        }
      }, 90_000);
    });
  },
);
