import { skipVisibilityWhenIdle } from '../../../local/cloud';
import type { Report } from '../../../services/report/src/domain/report';
import { generateReport } from '../../../services/report/src/generate';
import { pipelineConfig, QUEUE_KINDS } from '../../../shared/src/config/pipeline';
import { SK_PREFIX } from '../../../shared/src/ledger';
import { type Json, ledgerRecords, VISIBILITY_MS, waitFor } from '../support/pipeline-client';
import type { Target } from '../support/target';

/**
 * What every fault scenario ends with: wait until each accepted order of the run is settled on
 * both queues (applied, or finally failed into the DLQ), skipping visibility timeouts on the SQS
 * clock where the target has one, then read the run through the report's own metrics.
 */

/** Effects, failures and deliveries of one run on one queue. */
export async function queueRecords(target: Target, runId: string, queue: 'fifo' | 'standard') {
  const [deliveries, effects, failures] = await Promise.all([
    ledgerRecords(target, runId, SK_PREFIX.delivery(queue)),
    ledgerRecords(target, runId, SK_PREFIX.effect(queue)),
    ledgerRecords(target, runId, SK_PREFIX.failure(queue)),
  ]);
  return { deliveries, effects, failures };
}

const settledOrders = (effects: Json[], failures: Json[]): Set<string> =>
  new Set([
    ...effects.map((e) => e.orderId as string),
    ...failures.filter((f) => f.final).map((f) => f.orderId as string),
  ]);

/**
 * A poll hook that skips the visibility timeout after `polls` polls in a row with no batch in
 * flight, where the target has a clock (see skipVisibilityWhenIdle); a no-op elsewhere.
 */
export function skipWhenIdle(target: Target, polls: number): () => Promise<void> {
  if (!target.capabilities.clock) return async () => undefined;
  return skipVisibilityWhenIdle(
    () => target.invocationsInFlight(),
    () => target.advanceClock(VISIBILITY_MS),
    polls,
  );
}

/**
 * Waits until every order in `orderIds` is settled on both queues, skipping the visibility
 * timeout (so failed receives come back) only when nothing is being processed.
 */
export async function settle(
  target: Target,
  runId: string,
  orderIds: string[],
  { timeoutMs = 45_000, advanceEvery = 4 }: { timeoutMs?: number; advanceEvery?: number } = {},
): Promise<void> {
  await waitFor(
    `${orderIds.length} orders settled on both queues`,
    async () =>
      Promise.all(
        QUEUE_KINDS.map(async (q) => {
          const { effects, failures } = await queueRecords(target, runId, q);
          const done = settledOrders(effects, failures);
          return orderIds.filter((id) => !done.has(id));
        }),
      ),
    (pending) => pending.every((p) => p.length === 0),
    { timeoutMs, intervalMs: 150, onPoll: skipWhenIdle(target, advanceEvery) },
  );
}

/** The run through the report's metrics (no drain wait: `settle` has done that). */
export async function reportOf(target: Target, runId: string): Promise<Report> {
  const data = await generateReport({
    runId,
    target: target.name,
    config: pipelineConfig,
    waitTimeoutMs: 0,
    source: {
      documentClient: target.documents,
      sqsClient: target.sqs,
      ledgerTable: target.tableNames.ledger,
      queueUrls: target.queueUrls,
    },
  });
  return data.report;
}

/** Nothing lost and no effect applied twice, on both queues; FIFO also kept every group's order. */
export function expectExactlyOnce(report: Report, accepted: number): void {
  expect(report.accepted).toBe(accepted);
  for (const q of QUEUE_KINDS) {
    const m = report.queues[q];
    expect({ queue: q, lost: m.lost, duplicateEffects: m.duplicateEffects }).toEqual({
      queue: q,
      lost: 0,
      duplicateEffects: 0,
    });
  }
  expect(report.queues.fifo.outOfOrder).toBe(0);
}
