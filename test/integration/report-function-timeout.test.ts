import { generateReport } from '../../services/report/src/generate';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { QUEUE_KINDS } from '../../shared/src/queue-kind';
import { queueRecords } from './faults/run-check';
import { describeWhere } from './support/differences';
import { newRunId, order, postOrder } from './support/pipeline-client';
import { startTarget, type Target } from './support/target';

/** The consumers' function timeout as deployed here; the repository's config says another. */
const DEPLOYED_S = 6;
const CONFIG_S = pipelineConfig.consumers.standard.timeoutSeconds;

/**
 * The report's function timeout is the one the consumers ran with: each receive in the ledger
 * carries its invocation's deadline (the runtime's getRemainingTimeInMillis() at the receive,
 * local/function-runtime.ts counting down the function's configured timeout), so a report read
 * with the repository's config (as the CLI reads a run) shows the deployed one, and says so.
 */
describeWhere('consumerEnv')('the function timeout a report shows', () => {
  let target: Target;

  beforeAll(async () => {
    expect(DEPLOYED_S).not.toBe(CONFIG_S);
    expect(pipelineConfig.consumers.fifo.timeoutSeconds).toBe(CONFIG_S);
    const timeout = { timeoutSeconds: DEPLOYED_S };
    target = await startTarget({
      seed: 5151,
      faults: 'none',
      pipeline: { fifo: timeout, standard: timeout },
    });
  }, 60_000);

  afterAll(async () => {
    await target?.stop();
  }, 30_000);

  it("is the deployed consumers' (their invocations' deadlines), not the repository config's", async () => {
    // Prepare: two orders of one customer, through the producer and both queues.
    const runId = newRunId('fn-timeout');
    for (const sequence of [1, 2]) {
      const posted = await postOrder(target, order('cust-timeout', sequence), { runId });
      expect(posted.status).toBe(202);
    }

    // Act: the report, once both queues drained, with the repository's config (as the CLI).
    const { report, ledger } = await generateReport({
      runId,
      target: target.name,
      config: pipelineConfig,
      waitTimeoutMs: 60_000,
      pollIntervalMs: 200,
      source: {
        documentClient: target.documents,
        sqsClient: target.sqs,
        ledgerTable: target.tableNames.ledger,
        queueUrls: target.queueUrls,
      },
    });

    // Assess: every receive carries its invocation's deadline, a little under the deployed
    // timeout after the receive (the invocation began a moment before its receive time).
    for (const q of QUEUE_KINDS) {
      const { deliveries } = await queueRecords(target, runId, q);
      expect({ q, receives: deliveries.length }).toEqual({ q, receives: 2 });
      for (const d of deliveries) {
        const left = (d.deadlineAt as number) - (d.receivedAt as number);
        expect({ q, left }).toEqual({ q, left: expect.any(Number) });
        expect(left).toBeGreaterThan((DEPLOYED_S - 1) * 1000);
        expect(left).toBeLessThanOrEqual(DEPLOYED_S * 1000);
      }
      expect(ledger.deliveries.filter((d) => d.queue === q && d.deadlineAt === undefined)).toEqual(
        [],
      );
      expect({ q, config: report.config.queues[q] }).toMatchObject({
        q,
        config: { functionTimeoutSeconds: DEPLOYED_S, functionTimeoutSecondsFrom: 'ledger' },
      });
      expect({ q, processed: report.queues[q].processed }).toEqual({ q, processed: 2 });
    }
    expect(report.notes).toEqual(
      QUEUE_KINDS.map(
        (q) =>
          `${q}: the consumer's invocations had a ${DEPLOYED_S} s function timeout (their deadlines in the ledger), the report's config ${CONFIG_S} s: the report judges each attempt by its invocation's deadline`,
      ),
    );
  }, 90_000);
});
