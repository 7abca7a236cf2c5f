import { runOnLocalCloud } from '../../lab/local-run';
import { recordBudgetMsFromEnv } from '../../services/consumer/src/config';
import { ENV } from '../../shared/src/config/function-env';

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

  it('writes each advance of the clock it makes to the ledger, and the report says how many', async () => {
    // Every first receive on the standard queue fails: each waits out its visibility timeout,
    // which the run skips on the cloud's clock once nothing is in flight.
    const result = await runOnLocalCloud({
      runId: 'skips-1',
      seed: 6,
      orders: 2,
      customers: 1,
      retryRate: 0,
      faults: 'none',
      consumerEnv: { standard: { [ENV.FAULT_FIRST_ATTEMPT_FAILURE_RATE]: '1' } },
      skipVisibilityWaits: true,
    });

    const skips = result.clockSkips ?? [];
    expect(skips.length).toBeGreaterThan(0);
    expect(result.data.ledger.clockSkips?.map(({ at, ms }) => ({ at, ms }))).toEqual(skips);
    const totalS = (skips.reduce((n, s) => n + s.ms, 0) / 1000).toFixed(1);
    expect(
      result.data.report.notes.filter((n) => n.includes("advanced the functions' clock")),
    ).toEqual([
      expect.stringMatching(
        new RegExp(
          `^the run's runner advanced the functions' clock ${skips.length} times?, ${totalS} s in all, the first at ${new Date(skips[0]!.at).toISOString()} on that clock`,
        ),
      ),
    ]);
    // The orders were applied once each all the same.
    expect(result.data.report.queues.standard.duplicateEffects).toBe(0);
  }, 120_000);
});
