import { recordBudgetMsFromEnv } from '../../../services/consumer/src/config';
import { clockSkipSk, SK_PREFIX } from '../../../shared/src/ledger';
import { where } from '../support/differences';
import { ledgerRecords, newRunId, VISIBILITY_MS } from '../support/pipeline-client';
import { stopsAfterAll } from '../support/stop-after-all';
import { startTarget, type Target } from '../support/target';
import { postOrders, reportData, runEvidence, settle } from './run-check';

/**
 * What every fault scenario's check is given of how the target ran it, read from the target and
 * not from the repository's defaults: the record budget its consumers were deployed with, and
 * its clock skips, written to the run's ledger so the run's report notes them.
 */
describe('the fault scenarios’ run check', () => {
  // The standard consumer deployed with two tries of its DynamoDB calls, not four: one stalled
  // call takes 2 x 1,000 ms + 25 ms of backoff, and a record needs that and the records' room.
  const fewerTries = { AWS_MAX_ATTEMPTS: '2' };
  let target: Target;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    target = await keep(startTarget({ seed: 811, consumerEnv: { standard: fewerTries } }));
  }, 60_000);

  where('consumerEnv')(
    "holds hand-backs to the record budget the scenario's consumers ran with",
    async () => {
      const runId = newRunId('budget');
      const accepted = await postOrders(target, runId, {
        prefix: 'budget',
        customers: 1,
        perCustomer: 1,
      });
      await settle(target, runId, accepted);

      const evidence = await runEvidence(target, runId, accepted);

      expect(evidence.recordBudgetMs).toEqual({
        fifo: recordBudgetMsFromEnv({}),
        standard: recordBudgetMsFromEnv(fewerTries),
      });
      // The figures themselves, so a change in how the budget is computed is seen here too.
      expect(evidence.recordBudgetMs).toEqual({ fifo: 5_175, standard: 3_025 });
      // A scenario that gives the consumer back its four tries, and then takes them away again,
      // may have run records under both budgets: a hand-back is held to the larger.
      await target.updateConsumerEnv('standard', { AWS_MAX_ATTEMPTS: '4' });
      await target.updateConsumerEnv('standard', fewerTries);
      expect((await runEvidence(target, runId, accepted)).recordBudgetMs).toEqual({
        fifo: 5_175,
        standard: 5_175,
      });
    },
    60_000,
  );

  where('clock')(
    "writes the target's clock skips to the run's ledger, and the report notes them",
    async () => {
      const runId = newRunId('skips');
      // One skip of SQS's clock alone (the functions' clock stays), then one of both.
      await target.advanceClock(1_000, { queuesOnly: true });
      // The skip is dated on the functions' clock, which stamps the ledger (ahead of real time
      // by the target's skips so far), not on SQS's, which the queues-only advance moved 1,000
      // ms further: dated there, an outcome past its deadline within 1,000 ms after the skip
      // read as moved by it. The skip is taken when advanceClock is called, before it awaits.
      const functionsAhead = target.clockSkips().reduce((sum, s) => sum + s.ms, 0);
      const before = Date.now();
      const advanced = target.advanceClock(VISIBILITY_MS);
      const after = Date.now();
      await advanced;
      const dated = target.clockSkips().at(-1)!.at - functionsAhead;
      expect(dated).toBeGreaterThanOrEqual(before);
      expect(dated).toBeLessThanOrEqual(after);
      const skips = [...target.clockSkips()];
      expect(skips.length).toBeGreaterThan(0);

      const { report } = await reportData(target, runId);

      const written = async () =>
        (await ledgerRecords(target, runId, SK_PREFIX.clockSkip)).map((s) => ({
          sk: s.sk,
          at: s.at,
          ms: s.ms,
        }));
      expect(await written()).toEqual(skips.map((s, i) => ({ sk: clockSkipSk(i + 1), ...s })));
      expect(report.notes.filter((n) => n.startsWith("the run's runner advanced"))).toHaveLength(1);
      // A skip after the report read: advanceClock writes it to the run's ledger itself.
      await target.advanceClock(VISIBILITY_MS);
      expect(await written()).toHaveLength(skips.length + 1);
    },
    60_000,
  );
});
