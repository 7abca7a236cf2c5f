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

function count<T>(records: readonly T[], test: (r: T) => boolean): number {
  let n = 0;
  for (const r of records) if (test(r)) n++;
  return n;
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

export function analyzeCustomers(
  effects: readonly EffectRecord[],
  first: Map<string, EffectRecord> = firstEffects(effects),
): CustomerApplies[] {
  const byCustomer = new Map<string, EffectRecord[]>();
  for (const e of first.values()) {
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

/** The earliest receive of each order: the delivery; every other receive is a duplicate. */
function earliestDeliveries(deliveries: readonly DeliveryRecord[]): Map<string, DeliveryRecord> {
  const earliest = new Map<string, DeliveryRecord>();
  for (const d of deliveries) {
    const seen = earliest.get(d.orderId);
    if (!seen || d.receivedAt < seen.receivedAt) earliest.set(d.orderId, d);
  }
  return earliest;
}

export function analyzeDuplicates(
  deliveries: readonly DeliveryRecord[],
  earliest: Map<string, DeliveryRecord> = earliestDeliveries(deliveries),
): DuplicateBreakdown {
  // Two passes over the records and one map entry per order: no per-order lists, which at a few
  // hundred thousand deliveries cost more in garbage collection than the counting itself.
  const out: DuplicateBreakdown = {
    redelivered: 0,
    copies: 0,
    byOutcome: { applied: 0, suppressed: 0, failed: 0, pending: 0 },
  };
  for (const d of deliveries) {
    if (earliest.get(d.orderId) === d) continue;
    if (d.receiveCount > 1) out.redelivered++;
    else out.copies++;
    out.byOutcome[d.outcome]++;
  }
  return out;
}

/** Accepted orders by id: built once per report and shared by both queues' analyses. */
export function acceptedById(ledger: RunLedger): Map<string, AcceptedRecord> {
  const byId = new Map<string, AcceptedRecord>();
  for (const a of ledger.accepted) byId.set(a.orderId, a);
  return byId;
}

export function analyzeQueue(
  ledger: RunLedger,
  queue: QueueKind,
  accepted: Map<string, AcceptedRecord> = acceptedById(ledger),
): QueueAnalysis {
  const deliveries = forQueue(ledger.deliveries, queue);
  const effects = forQueue(ledger.effects, queue);
  const failures = forQueue(ledger.failures, queue);

  const first = firstEffects(effects);
  const earliest = earliestDeliveries(deliveries);
  const customers = analyzeCustomers(effects, first);

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
    duplicateDeliveries: deliveries.length - earliest.size,
    redeliveries: count(deliveries, (d) => d.receiveCount > 1),
    suppressed: count(deliveries, (d) => d.outcome === 'suppressed'),
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
  return { metrics, customers, duplicates: analyzeDuplicates(deliveries, earliest), latencies };
}
