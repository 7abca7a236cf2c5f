import { runOnLocalCloud } from '../../lab/local-run';
import { recordBudgetMsFromEnv } from '../../services/consumer/src/config';

/**
 * What runOnLocalCloud hands the soak check of how it deployed the consumers, read from the
 * functions the local cloud ran, not from the repository's defaults.
 */
describe('a local run', () => {
  it("gives the record budget each consumer's environment gave it", async () => {
    // The standard consumer deployed with two tries of its DynamoDB calls, not four: one stalled
    // call takes 2 x 1,000 ms + 25 ms of backoff, and a record needs that and the records' room.
    const fewerTries = { AWS_MAX_ATTEMPTS: '2' };

    const result = await runOnLocalCloud({
      runId: 'budget-1',
      seed: 5,
      orders: 2,
      customers: 1,
      retryRate: 0,
      faults: 'none',
      consumerEnv: { standard: fewerTries },
    });

    expect(result.load.accepted).toBe(2);
    expect(result.recordBudgetMs).toEqual({
      fifo: recordBudgetMsFromEnv({}),
      standard: recordBudgetMsFromEnv(fewerTries),
    });
    // The figures themselves, so a change in how the budget is computed is seen here too.
    expect(result.recordBudgetMs).toEqual({ fifo: 5_175, standard: 3_025 });
  }, 120_000);
});
