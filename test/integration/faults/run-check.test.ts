import { recordBudgetMsFromEnv } from '../../../services/consumer/src/config';
import { where } from '../support/differences';
import { newRunId } from '../support/pipeline-client';
import { stopsAfterAll } from '../support/stop-after-all';
import { startTarget, type Target } from '../support/target';
import { postOrders, runEvidence, settle } from './run-check';

/**
 * What every fault scenario's check is given of how the target ran it, read from the target and
 * not from the repository's defaults: the record budget its consumers were deployed with.
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
});
