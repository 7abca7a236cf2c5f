import { type RunLedger, unendedInvocations } from '../services/report/src/domain/metrics';
import { QUEUE_KINDS, type QueueKind } from '../shared/src/queue-kind';

/**
 * What a preloaded local run measures of each queue's consumers, from the ledger alone (the
 * functions stamp it on the cloud's clock): how fast they drained it, and how many batches were
 * at work at once.
 */

/**
 * How fast one queue's consumers worked through a preloaded queue. Every time here is on the
 * cloud's clock, the one the functions stamp the ledger with: a local run skips visibility
 * timeouts on it (skipVisibilityWaits), so it runs ahead of the process's own `Date.now()`, and
 * the rate leaves out the skipped time inside its window.
 */
export interface QueueConsumption {
  /** Epoch ms: the consumers were enabled. */
  startedAt: number;
  /** Epoch ms: the first receive of this queue's consumers (startedAt when none). */
  firstReceivedAt: number;
  /** Epoch ms: the last effect on this queue committed. */
  lastEffectAt: number;
  /** Distinct orders applied on this queue. */
  processed: number;
  /** processed / (lastEffectAt - firstReceivedAt - skippedMs). */
  ordersPerSec: number;
  /**
   * Clock time the run skipped (visibility waits, while nothing was in flight) inside
   * [firstReceivedAt, lastEffectAt]: left out of the rate's span, since no consumer worked in it.
   * Not 0 usually means a batch timed out (see `unendedInvocations`) and its group waited out
   * its visibility timeout.
   */
  skippedMs: number;
  /**
   * The queue's invocations that did not end (no record carries the end mark, or one is still
   * pending): timed out or died, so their batch came back after its visibility timeout.
   */
  unendedInvocations: number;
  /**
   * The queue's invocations (batches) that ended, each from its receive to its last outcome, as
   * the ledger has them: `mean` is how many were at work at once on average over the rate's
   * window (first receive to last effect), `max` the most at one instant,
   * `batchMs` how long one took on average. What a queue type lets run at once shows in `max`
   * (FIFO: one batch per message group); whether the consumers' own work, or the CPU it waits
   * for, set the pace shows in `batchMs`.
   */
  batches: { count: number; mean: number; max: number; batchMs: number };
}

/**
 * One advance of the cloud's clock the run made: at `at` (the cloud's clock just before it),
 * the clock jumped `ms` ahead, so the cloud's times [at, at + ms) never passed for anyone.
 */
export interface ClockSkip {
  at: number;
  ms: number;
}

/** How much of the clock's skipped time falls inside [from, to]. */
export function skippedWithin(skips: readonly ClockSkip[], from: number, to: number): number {
  let sum = 0;
  for (const s of skips) sum += Math.max(0, Math.min(s.at + s.ms, to) - Math.max(s.at, from));
  return sum;
}

/** Invocation intervals ([receive, last outcome]) of one queue's ended invocations. */
function invocationSpans(deliveries: RunLedger['deliveries'], kind: QueueKind) {
  const spans = new Map<string, { start: number; end: number }>();
  for (const d of deliveries) {
    if (d.queue !== kind || d.invocationId === undefined || d.outcomeAt === undefined) continue;
    const span = spans.get(d.invocationId);
    if (!span) spans.set(d.invocationId, { start: d.receivedAt, end: d.outcomeAt });
    else {
      span.start = Math.min(span.start, d.receivedAt);
      span.end = Math.max(span.end, d.outcomeAt);
    }
  }
  return [...spans.values()];
}

/**
 * How many invocations were at work at once over the rate's window (first receive to last
 * effect): on average, and at most. Only invocations that started inside the window count: one
 * that started after the last effect (a copy of an order already applied, which comes back after
 * a visibility timeout the run skipped) did nothing for the rate, and its time on a skipped clock
 * would dilute the mean.
 */
export function batchesInFlight(
  spans: { start: number; end: number }[],
  window: { from: number; to: number; skippedMs?: number },
): QueueConsumption['batches'] {
  const counted = spans.filter((s) => s.start < window.to || s.start === window.from);
  if (counted.length === 0) return { count: 0, mean: 0, max: 0, batchMs: 0 };
  // An invocation that ends at the instant another starts did not overlap it: ends sort first.
  const edges = counted
    .flatMap((s) => [
      { at: s.start, step: 1 },
      { at: s.end, step: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let max = 0;
  for (const e of edges) {
    now += e.step;
    max = Math.max(max, now);
  }
  const within = counted.reduce(
    (sum, s) => sum + Math.max(0, Math.min(s.end, window.to) - Math.max(s.start, window.from)),
    0,
  );
  const busy = counted.reduce((sum, s) => sum + (s.end - s.start), 0);
  // Skipped clock time has nothing in flight (the run skips only when idle), so it is not part
  // of the time the mean averages over.
  const windowMs = window.to - window.from - (window.skippedMs ?? 0);
  return {
    count: counted.length,
    mean: windowMs > 0 ? Math.round((within / windowMs) * 100) / 100 : max,
    max,
    batchMs: Math.round(busy / counted.length),
  };
}

/**
 * Consumption per queue, from the ledger: first receive to last effect, both stamped by the
 * functions on the cloud's clock, less the clock skips (`skips`, every advance the run made)
 * inside that window. A skip before the first receive (or after the previous queue drained)
 * cannot enter the window; one inside it (a batch timed out, the run went idle and skipped its
 * visibility timeout) would count time no consumer worked in, so it is taken out and reported as
 * `skippedMs`. `startedAt` (when the consumers were enabled, on the cloud's clock) is kept as
 * the run's record.
 */
export function consumptionFromLedger(
  ledger: RunLedger,
  startedAt: Record<QueueKind, number>,
  skips: readonly ClockSkip[] = [],
): Record<QueueKind, QueueConsumption> {
  return Object.fromEntries(
    QUEUE_KINDS.map((kind) => {
      let first = Number.POSITIVE_INFINITY;
      for (const d of ledger.deliveries) {
        if (d.queue === kind) first = Math.min(first, d.receivedAt);
      }
      if (first === Number.POSITIVE_INFINITY) first = startedAt[kind];
      const orders = new Set<string>();
      let last = first;
      for (const e of ledger.effects) {
        if (e.queue !== kind) continue;
        orders.add(e.orderId);
        last = Math.max(last, e.committedAt);
      }
      const skippedMs = skippedWithin(skips, first, last);
      const spanMs = last - first - skippedMs;
      return [
        kind,
        {
          startedAt: startedAt[kind],
          firstReceivedAt: first,
          lastEffectAt: last,
          processed: orders.size,
          ordersPerSec: spanMs > 0 ? Math.round((orders.size / (spanMs / 1000)) * 100) / 100 : 0,
          skippedMs,
          unendedInvocations: unendedInvocations(ledger.deliveries.filter((d) => d.queue === kind))
            .size,
          batches: batchesInFlight(invocationSpans(ledger.deliveries, kind), {
            from: first,
            to: last,
            skippedMs,
          }),
        },
      ];
    }),
  ) as Record<QueueKind, QueueConsumption>;
}
