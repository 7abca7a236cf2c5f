import { type RunEvidence, runViolations } from '../../../lab/soak/check';
import { skipVisibilityWhenIdle } from '../../../local/cloud';
import { queueDepth } from '../../../services/report/src/adapters/queues';
import type { ReportData } from '../../../services/report/src/domain/report';
import { generateReport } from '../../../services/report/src/generate';
import { SK_PREFIX } from '../../../shared/src/ledger';
import { QUEUE_KINDS } from '../../../shared/src/queue-kind';
import {
  type Json,
  ledgerRecords,
  order,
  postOrder,
  VISIBILITY_MS,
  waitFor,
} from '../support/pipeline-client';
import type { Target } from '../support/target';

/**
 * What every fault scenario ends with: wait until each accepted order of the run is settled on
 * both queues (applied, or finally failed into the DLQ), skipping visibility timeouts on the
 * clock where the target has one, then check the run against the client's own list of accepted
 * orders (lab/soak/check.ts) through the ledger and the report's own metrics.
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

const source = (target: Target) => ({
  documentClient: target.documents,
  sqsClient: target.sqs,
  ledgerTable: target.tableNames.ledger,
  queueUrls: target.queueUrls,
});

/**
 * The run through the report's metrics, now (no drain wait: `settle` or `drain` has done that),
 * the target's clock skips written to the run's ledger first (Target.recordClockSkips), so the
 * report notes them.
 */
export async function reportData(target: Target, runId: string): Promise<ReportData> {
  await target.recordClockSkips(runId);
  return generateReport({
    runId,
    target: target.name,
    config: target.config,
    waitTimeoutMs: 0,
    source: source(target),
  });
}

/**
 * Waits until both queues are empty (nothing visible, in flight or delayed) and the run's ledger
 * has stopped growing, skipping the visibility timeout whenever nothing is being processed: what
 * a crash or a surviving copy left behind has come back and been handled. Returns the report.
 */
export async function drain(
  target: Target,
  runId: string,
  { timeoutMs = 60_000 }: { timeoutMs?: number } = {},
): Promise<ReportData> {
  const skip = skipWhenIdle(target, 3);
  // A skip made while the wait polls writes its item to the run's ledger before it resolves
  // (recordClockSkips below registers the run): the first that failed fails the report, which
  // reads the ledger only once every one has settled.
  const skipping: Promise<void>[] = [];
  let skipError: unknown;
  await target.recordClockSkips(runId);
  return generateReport({
    runId,
    target: target.name,
    config: target.config,
    waitTimeoutMs: timeoutMs,
    pollIntervalMs: 200,
    source: source(target),
    onProgress: () => {
      skipping.push(
        skip().catch((err: unknown) => {
          skipError ??= err;
        }),
      );
    },
    beforeRead: async () => {
      await Promise.all(skipping);
      if (skipError !== undefined) throw skipError;
    },
  });
}

/** Every broken promise of the run, one line each (empty when it kept them all). */
export async function runCheck(
  target: Target,
  runId: string,
  acceptedIds: readonly string[],
  expectedInDlq?: RunEvidence['expectedInDlq'],
): Promise<string[]> {
  return runViolations(await runEvidence(target, runId, acceptedIds, expectedInDlq));
}

/** What runCheck judges the run by: its report (reportData) and how the target ran it. */
export async function runEvidence(
  target: Target,
  runId: string,
  acceptedIds: readonly string[],
  expectedInDlq?: RunEvidence['expectedInDlq'],
): Promise<RunEvidence> {
  const data = await reportData(target, runId);
  return {
    acceptedIds,
    report: data.report,
    ledger: data.ledger,
    // The function timeout the target deployed each consumer with (a scenario may change it), which
    // a hand-back's deadline is held to.
    functionTimeoutMs: {
      fifo: target.config.consumers.fifo.timeoutSeconds * 1000,
      standard: target.config.consumers.standard.timeoutSeconds * 1000,
    },
    // The scenario's advances of the functions' clock, which move an outcome's stamp past its
    // deadline when one comes while an invocation runs.
    clockSkips: target.clockSkips(),
    // The record budget the target's consumers ran with (a scenario may change their
    // environment: the largest of each), which a hand-back after a stall is held to.
    recordBudgetMs: target.recordBudgetMs(),
    ...(expectedInDlq ? { expectedInDlq } : {}),
  };
}

/**
 * Each order the client got a 202 for applied exactly once on each queue, nothing else applied,
 * FIFO in every customer's sequence, no order left in a DLQ and no applied order's copy there
 * that SQS's redrive rule does not explain (the DLQ depths as SQS reports them), and the
 * report's numbers agreeing.
 */
export async function expectExactlyOnce(
  target: Target,
  runId: string,
  acceptedIds: readonly string[],
): Promise<void> {
  expect(await runCheck(target, runId, acceptedIds)).toEqual([]);
}

/**
 * Posts `perCustomer` orders for each of `customers` customers, each customer's in sequence,
 * with Idempotency-Keys `<prefix>-c<i>-<n>`; returns the order ids that got a 202 (the client's
 * own list the checks compare against).
 */
export async function postOrders(
  target: Target,
  runId: string,
  { prefix, customers, perCustomer }: { prefix: string; customers: number; perCustomer: number },
): Promise<string[]> {
  const accepted: string[] = [];
  await Promise.all(
    Array.from({ length: customers }, async (_, c) => {
      for (let n = 1; n <= perCustomer; n++) {
        const key = `${prefix}-c${c + 1}-${n}-${runId}`;
        const res = await postOrder(target, order(`${prefix}-cust-${c + 1}`, n), {
          runId,
          idempotencyKey: key,
        });
        if (res.status === 202) accepted.push(res.json.orderId as string);
      }
    }),
  );
  return accepted;
}

/** Visible + in flight + delayed messages of each of the pipeline's two queues, as SQS reports it. */
export async function queueDepths(target: Target): Promise<Record<'fifo' | 'standard', number>> {
  const [fifo, standard] = await Promise.all(
    QUEUE_KINDS.map((q) => queueDepth(target.sqs, target.queueUrls[q])),
  );
  return { fifo: fifo ?? 0, standard: standard ?? 0 };
}

/**
 * Proves no message of the run is on its way to a consumer, without sleeping: first both queues
 * are empty (nothing visible, in flight or delayed), then the ledger's deliveries are counted. A
 * message sent before the first read is either still queued (the depth shows it) or was received
 * earlier, and a consumer writes the delivery record before it deletes a message, so the count
 * read afterwards includes it.
 */
export async function deliveriesOnceQuiet(
  target: Target,
  runId: string,
): Promise<Record<'fifo' | 'standard', Json[]>> {
  await waitFor(
    'both queues empty',
    () => queueDepths(target),
    (d) => d.fifo === 0 && d.standard === 0,
    { onPoll: skipWhenIdle(target, 3), intervalMs: 200 },
  );
  const [fifo, standard] = await Promise.all(
    QUEUE_KINDS.map((q) => ledgerRecords(target, runId, SK_PREFIX.delivery(q))),
  );
  return { fifo: fifo ?? [], standard: standard ?? [] };
}
