import type { QueueKind } from '../../../../shared/src/config/pipeline';
import type {
  AcceptedRecord,
  DeliveryRecord,
  EffectRecord,
  FailureRecord,
} from '../../../../shared/src/ledger';
import { countInversions, countOutOfOrder } from './inversions';
import { type LatencySummary, summarizeLatency } from './percentiles';

/** Everything one run wrote to the ledger, split by record type. */
export interface RunLedger {
  accepted: AcceptedRecord[];
  deliveries: DeliveryRecord[];
  effects: EffectRecord[];
  failures: FailureRecord[];
}

/** The per-queue metrics of DESIGN.md ("Report metrics"); the field names are a contract. */
export interface QueueMetrics {
  deliveries: number;
  duplicateDeliveries: number;
  redeliveries: number;
  suppressed: number;
  processed: number;
  duplicateEffects: number;
  outOfOrder: number;
  inversions: number;
  customersAffected: number;
  inDlq: number;
  lost: number;
  latencyMs: LatencySummary;
  throughputPerSec: number;
}

/** One customer's applies on one queue, in apply order: what the ordering chart draws. */
export interface CustomerApplies {
  customerId: string;
  /** Sequences in the order their first effect committed (applyIndex order). */
  sequences: number[];
  outOfOrder: number;
  inversions: number;
}

/** Why an order was delivered more than once, and how each extra delivery ended. */
export interface DuplicateBreakdown {
  /** Extra deliveries of one order carrying a receive count above 1 (visibility timeout ran out or a batch failed). */
  redelivered: number;
  /** Extra deliveries with receive count 1: another stored copy of the message (at-least-once). */
  copies: number;
  /** Extra deliveries by outcome. */
  byOutcome: Record<DeliveryRecord['outcome'], number>;
}

export interface QueueAnalysis {
  metrics: QueueMetrics;
  customers: CustomerApplies[];
  duplicates: DuplicateBreakdown;
  /** Accepted to first effect, ms, one per processed order. */
  latencies: number[];
}

function forQueue<T extends { queue: QueueKind }>(records: readonly T[], queue: QueueKind): T[] {
  return records.filter((r) => r.queue === queue);
}

/** First commit per order (the lowest apply index); later commits are duplicate effects. */
function firstEffects(effects: readonly EffectRecord[]): Map<string, EffectRecord> {
  const first = new Map<string, EffectRecord>();
  for (const e of effects) {
    const seen = first.get(e.orderId);
    if (!seen || e.applyIndex < seen.applyIndex) first.set(e.orderId, e);
  }
  return first;
}

export function analyzeCustomers(effects: readonly EffectRecord[]): CustomerApplies[] {
  const byCustomer = new Map<string, EffectRecord[]>();
  for (const e of firstEffects(effects).values()) {
    const list = byCustomer.get(e.customerId);
    if (list) list.push(e);
    else byCustomer.set(e.customerId, [e]);
  }
  return [...byCustomer.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([customerId, list]) => {
      const sequences = list.sort((x, y) => x.applyIndex - y.applyIndex).map((e) => e.sequence);
      return {
        customerId,
        sequences,
        outOfOrder: countOutOfOrder(sequences),
        inversions: countInversions(sequences),
      };
    });
}

export function analyzeDuplicates(deliveries: readonly DeliveryRecord[]): DuplicateBreakdown {
  const byOrder = new Map<string, DeliveryRecord[]>();
  for (const d of deliveries) {
    const list = byOrder.get(d.orderId);
    if (list) list.push(d);
    else byOrder.set(d.orderId, [d]);
  }
  const out: DuplicateBreakdown = {
    redelivered: 0,
    copies: 0,
    byOutcome: { applied: 0, suppressed: 0, failed: 0, pending: 0 },
  };
  for (const list of byOrder.values()) {
    if (list.length < 2) continue;
    // The earliest receive is the delivery; every later one is a duplicate.
    let first = list[0]!;
    for (const d of list) if (d.receivedAt < first.receivedAt) first = d;
    for (const d of list) {
      if (d === first) continue;
      if (d.receiveCount > 1) out.redelivered++;
      else out.copies++;
      out.byOutcome[d.outcome]++;
    }
  }
  return out;
}

export function analyzeQueue(ledger: RunLedger, queue: QueueKind): QueueAnalysis {
  const deliveries = forQueue(ledger.deliveries, queue);
  const effects = forQueue(ledger.effects, queue);
  const failures = forQueue(ledger.failures, queue);
  const accepted = new Map(ledger.accepted.map((a) => [a.orderId, a]));

  const first = firstEffects(effects);
  const deliveredOrders = new Set(deliveries.map((d) => d.orderId));
  const customers = analyzeCustomers(effects);

  const dlqOrders = new Set(
    failures.filter((f) => f.final && !first.has(f.orderId)).map((f) => f.orderId),
  );
  let lost = 0;
  for (const orderId of accepted.keys()) {
    if (!first.has(orderId) && !dlqOrders.has(orderId)) lost++;
  }

  const latencies: number[] = [];
  let firstAcceptance = Number.POSITIVE_INFINITY;
  let lastEffect = Number.NEGATIVE_INFINITY;
  for (const a of accepted.values()) firstAcceptance = Math.min(firstAcceptance, a.acceptedAt);
  for (const e of first.values()) {
    const acceptedAt = accepted.get(e.orderId)?.acceptedAt ?? e.acceptedAt;
    latencies.push(e.committedAt - acceptedAt);
    firstAcceptance = Math.min(firstAcceptance, acceptedAt);
    lastEffect = Math.max(lastEffect, e.committedAt);
  }
  const spanMs = lastEffect - firstAcceptance;
  const throughputPerSec =
    first.size > 0 && spanMs > 0 ? Math.round((first.size / (spanMs / 1000)) * 100) / 100 : 0;

  const metrics: QueueMetrics = {
    deliveries: deliveries.length,
    duplicateDeliveries: deliveries.length - deliveredOrders.size,
    redeliveries: deliveries.filter((d) => d.receiveCount > 1).length,
    suppressed: deliveries.filter((d) => d.outcome === 'suppressed').length,
    processed: first.size,
    duplicateEffects: effects.length - first.size,
    outOfOrder: customers.reduce((n, c) => n + c.outOfOrder, 0),
    inversions: customers.reduce((n, c) => n + c.inversions, 0),
    customersAffected: customers.filter((c) => c.outOfOrder > 0).length,
    inDlq: dlqOrders.size,
    lost,
    latencyMs: summarizeLatency(latencies),
    throughputPerSec,
  };
  return { metrics, customers, duplicates: analyzeDuplicates(deliveries), latencies };
}
