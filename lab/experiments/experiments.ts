import { sendAnswerLost } from '../../services/producer/src/domain/faults';
import type { QueueMetrics } from '../../services/report/src/domain/metrics';
import type { Report } from '../../services/report/src/domain/report';
import { ENV } from '../../shared/src/config/function-env';
import { QUEUE_KINDS, type QueueKind } from '../../shared/src/queue-kind';
import type { QueueConsumption } from '../consumption';
import type { LoadSummary } from '../loadgen/run-load';
import { type LocalRunOptions, type LocalRunResult, runOnLocalCloud } from '../local-run';

/**
 * The experiments a user runs to see what shapes the difference between the queues: a sweep
 * over message groups x maximum concurrency x batch size, and the idempotency key (orderId vs
 * messageId). Each run is a fresh in-process local cloud (runOnLocalCloud); `run` is injectable
 * so the orchestration is unit-tested without one.
 *
 * The sweep measures the queues, not the load generator: both queues are filled before any
 * consumer runs, then each queue's consumers drain it alone, and every effect takes a fixed
 * service time (simulated work), so the rate is bound by how many messages the queue type lets
 * the consumers work on at once: on FIFO one batch per message group, on standard up to the
 * maximum concurrency whatever the groups.
 */

export type RunOnCloud = (options: LocalRunOptions) => Promise<LocalRunResult>;

export interface ExperimentLoad {
  orders: number;
  retryRate: number;
  seed: number;
  faults?: LocalRunOptions['faults'];
}

/**
 * The sweep's own default service time: long enough that the work, not the pipeline's overhead,
 * sets the pace. Every order also costs its consumer five DynamoDB requests, whose CPU (mostly
 * the AWS SDK's, and DynamoDB's own thread) a 2-core machine shared with other work runs out of
 * at some 10-20 orders/s whatever the queue type (docs/benchmarks.md). One FIFO group must stay
 * well below that for ten groups to show what the queue allows: at 500 ms one group drains
 * about 2 orders/s, five batches in flight about 9.
 */
export const DEFAULT_SERVICE_MS = 500;

/**
 * Consumer environment that gives every effect `ms` of simulated work: the consumer's slow-work
 * switch on for every order (rate 1), which stalls inside the idempotent effect on its first
 * receive, where real work would run.
 */
export function serviceTimeEnv(ms: number): Record<QueueKind, Record<string, string>> {
  const env: Record<string, string> =
    ms > 0 ? { [ENV.FAULT_SLOW_RATE]: '1', [ENV.FAULT_SLOW_MS]: String(ms) } : {};
  return { fifo: { ...env }, standard: { ...env } };
}

/** The idempotency-key experiment's load: the client retries and the lost send answers. */
export interface KeyExperimentLoad extends ExperimentLoad {
  customers: number;
  /**
   * Fraction of orders whose first send SQS takes while its answer is lost (injected in the
   * producer): the only way a second SQS message of one order comes to be, since a client retry
   * of an order whose sends are recorded is answered from the record.
   */
  lostAnswerRate: number;
}

export interface SweepPoint {
  /** Message groups = customers of the load. */
  groups: number;
  maximumConcurrency: number;
  batchSize: number;
}

export type PointMetrics = Pick<
  QueueMetrics,
  | 'throughputPerSec'
  | 'outOfOrder'
  | 'inversions'
  | 'duplicateDeliveries'
  | 'duplicateEffects'
  | 'lost'
> & {
  latencyP95Ms: number | null;
  /**
   * Orders/s the queue's consumers applied from a full queue: distinct orders applied / (last
   * effect - first receive - skippedMs), on the functions' clock. What the sweep compares. (`throughputPerSec` is the report's
   * end-to-end figure: first acceptance to last effect, so here it also holds the preload.)
   */
  consumptionPerSec: number;
  /**
   * The queue's batches at work at once while it drained (mean, max) and how long one took
   * (batchMs): what bound the rate. FIFO lets one batch per message group run, so `max` is at
   * most min(groups, maximum concurrency); a rate that stops rising while `max` rises is bound by
   * the work per batch (`batchMs`, which a CPU-starved machine stretches), not by the queue.
   */
  batches: QueueConsumption['batches'];
  /** Clock time skipped inside the rate's window, left out of it (QueueConsumption.skippedMs). */
  skippedMs: number;
  /** Invocations that timed out or died (QueueConsumption.unendedInvocations). */
  unendedInvocations: number;
};

/** What of a run's load summary the CLI's verdict reads (loadFailure, cutOffLine). */
export type LoadVerdict = Pick<
  LoadSummary,
  'errors' | 'retryMismatches' | 'retriesUnanswered' | 'retriesNotMade'
> &
  Partial<Pick<LoadSummary, 'unreachable'>>;

/** `load`'s LoadVerdict fields, `unreachable` only when the client cut the load off. */
export function loadVerdictOf(load: LoadSummary): LoadVerdict {
  return {
    errors: load.errors,
    retryMismatches: load.retryMismatches,
    retriesUnanswered: load.retriesUnanswered,
    retriesNotMade: load.retriesNotMade,
    ...(load.unreachable ? { unreachable: load.unreachable } : {}),
  };
}

export interface SweepResult {
  point: SweepPoint;
  runId: string;
  /**
   * What the load client got through: the orders accepted, and every order it gave up on (no
   * 202 after its retries; the API may hold it all the same, `atApi`). One the API does not hold
   * never reached a queue, so the point's queues were filled with fewer orders. With what the
   * CLI fails a point's load for (loadFailure): its errors, client retries answered wrongly or
   * not at all, and the cut-off (`unreachable`) with the planned client retries it left unmade.
   */
  load: Pick<LoadSummary, 'accepted' | 'givenUp'> & LoadVerdict;
  queues: Record<QueueKind, PointMetrics>;
}

/** The grid of a sweep: every combination, in a stable order. */
export function sweepGrid(
  groups: number[],
  concurrency: number[],
  batchSizes: number[],
): SweepPoint[] {
  const out: SweepPoint[] = [];
  for (const g of groups)
    for (const c of concurrency)
      for (const b of batchSizes) out.push({ groups: g, maximumConcurrency: c, batchSize: b });
  return out;
}

/** The consumer overrides of one point, for both queues. */
export function pointOverrides(p: SweepPoint) {
  const o = { maximumConcurrency: p.maximumConcurrency, batchSize: p.batchSize };
  return { fifo: o, standard: o };
}

const NO_BATCHES: QueueConsumption['batches'] = { count: 0, mean: 0, max: 0, batchMs: 0 };

function pick(m: QueueMetrics, consumption: QueueConsumption | undefined): PointMetrics {
  return {
    consumptionPerSec: consumption?.ordersPerSec ?? 0,
    batches: consumption?.batches ?? NO_BATCHES,
    skippedMs: consumption?.skippedMs ?? 0,
    unendedInvocations: consumption?.unendedInvocations ?? 0,
    throughputPerSec: m.throughputPerSec,
    outOfOrder: m.outOfOrder,
    inversions: m.inversions,
    duplicateDeliveries: m.duplicateDeliveries,
    duplicateEffects: m.duplicateEffects,
    lost: m.lost,
    latencyP95Ms: m.latencyMs.p95,
  };
}

const perQueue = (r: Report, consumption: LocalRunResult['consumption']) =>
  Object.fromEntries(QUEUE_KINDS.map((q) => [q, pick(r.queues[q], consumption?.[q])])) as Record<
    QueueKind,
    PointMetrics
  >;

export async function runSweep(
  points: SweepPoint[],
  load: ExperimentLoad & { serviceMs?: number },
  {
    run = runOnLocalCloud,
    onPoint,
  }: { run?: RunOnCloud; onPoint?: (r: SweepResult, index: number) => void } = {},
): Promise<SweepResult[]> {
  const results: SweepResult[] = [];
  for (const [i, point] of points.entries()) {
    const runId = `sweep-${load.seed}-${i + 1}`;
    const {
      data,
      load: loadSummary,
      consumption,
    } = await run({
      runId,
      seed: load.seed,
      orders: load.orders,
      customers: point.groups,
      retryRate: load.retryRate,
      pipeline: pointOverrides(point),
      consumerEnv: serviceTimeEnv(load.serviceMs ?? DEFAULT_SERVICE_MS),
      preload: true,
      skipVisibilityWaits: true,
      ...(load.faults !== undefined ? { faults: load.faults } : {}),
    });
    const result: SweepResult = {
      point,
      runId,
      load: {
        accepted: loadSummary.accepted,
        givenUp: loadSummary.givenUp,
        ...loadVerdictOf(loadSummary),
      },
      queues: perQueue(data.report, consumption),
    };
    results.push(result);
    onPoint?.(result, i);
  }
  return results;
}

export type IdempotencyKey = 'orderId' | 'messageId';

/** Consumer environment of the idempotency-key experiment: which field Powertools keys on. */
export function idempotencyKeyEnv(key: IdempotencyKey): Record<QueueKind, Record<string, string>> {
  const env = { [ENV.IDEMPOTENCY_KEY]: key };
  return { fifo: env, standard: env };
}

export interface KeyResult {
  key: IdempotencyKey;
  runId: string;
  /**
   * Requests beyond an order's first that the producer counted (the report's clientRetries): the
   * planned client retries, plus the load generator's own retries after a 503 or no answer, which
   * the lost answers cause and so can a loaded machine (a send that timed out). It can therefore
   * differ between the two runs; `load` is what is the same in both.
   */
  clientRetries: number;
  /**
   * What the load generator sent, the same in both runs by construction (the seed plans every
   * order and client retry) as long as it got a 202 for every order: `errors` 0 and nothing in
   * `givenUp` (an order given up, even one the API holds, was sent without its planned client
   * retries), and not cut off (`unreachable`: planned client retries may be left unmade with
   * every order accepted).
   */
  load: Pick<LoadSummary, 'accepted' | 'retries' | 'backoffRetries' | 'givenUp'> & LoadVerdict;
  /**
   * Per queue, accepted orders whose first send's answer was lost (decided by the producer's
   * seeded fault, so the same in both runs): each was sent again on the client's retry. The
   * re-sends the ledger shows (`duplicateCauses.producerResend`) can be more: a send retried
   * after its answer timed out on a loaded machine is one too.
   */
  lostAnswers: Record<QueueKind, number>;
  queues: Record<
    QueueKind,
    Pick<
      QueueMetrics,
      'duplicateDeliveries' | 'duplicateCauses' | 'suppressed' | 'duplicateEffects' | 'lost'
    >
  >;
}

/** Orders among `orderIds` whose first send to each queue lost its answer under `load`. */
export function lostAnswersOf(
  orderIds: readonly string[],
  load: Pick<KeyExperimentLoad, 'seed' | 'lostAnswerRate'>,
): Record<QueueKind, number> {
  const config = { seed: load.seed, lostSendAnswerRate: load.lostAnswerRate };
  const count = (q: QueueKind) => orderIds.filter((id) => sendAnswerLost(config, id, q)).length;
  return { fifo: count('fifo'), standard: count('standard') };
}

/**
 * The same load (same seed: same orders, client retries and lost answers) keyed on orderId, then
 * messageId.
 */
export async function runIdempotencyKeyExperiment(
  load: KeyExperimentLoad,
  { run = runOnLocalCloud, onRun }: { run?: RunOnCloud; onRun?: (r: KeyResult) => void } = {},
): Promise<KeyResult[]> {
  const results: KeyResult[] = [];
  for (const key of ['orderId', 'messageId'] as const) {
    // One run id for both: the load plan derives its orders and client retries from it, and
    // each run has a fresh cloud, so the two runs send exactly the same requests.
    const runId = `idem-${load.seed}`;
    const { data, load: loadSummary } = await run({
      runId,
      seed: load.seed,
      orders: load.orders,
      customers: load.customers,
      retryRate: load.retryRate,
      consumerEnv: idempotencyKeyEnv(key),
      producerEnv: { [ENV.FAULT_LOST_SEND_ANSWER_RATE]: String(load.lostAnswerRate) },
      skipVisibilityWaits: true,
      ...(load.faults !== undefined ? { faults: load.faults } : {}),
    });
    const r = data.report;
    const result: KeyResult = {
      key,
      runId,
      clientRetries: data.clientRetries,
      load: {
        accepted: loadSummary.accepted,
        retries: loadSummary.retries,
        backoffRetries: loadSummary.backoffRetries,
        givenUp: loadSummary.givenUp,
        ...loadVerdictOf(loadSummary),
      },
      lostAnswers: lostAnswersOf(loadSummary.orderIds ?? [], load),
      queues: Object.fromEntries(
        QUEUE_KINDS.map((q) => {
          const m = r.queues[q];
          return [
            q,
            {
              duplicateDeliveries: m.duplicateDeliveries,
              duplicateCauses: m.duplicateCauses,
              suppressed: m.suppressed,
              duplicateEffects: m.duplicateEffects,
              lost: m.lost,
            },
          ];
        }),
      ) as KeyResult['queues'],
    };
    results.push(result);
    onRun?.(result);
  }
  return results;
}
