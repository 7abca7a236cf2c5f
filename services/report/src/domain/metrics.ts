import type { QueueKind } from '../../../../shared/src/config/pipeline';
import {
  type AcceptedSummary,
  type ApplyCounterRecord,
  type DeliveryRecord,
  type EffectRecord,
  type FailureRecord,
  SK_PREFIX,
} from '../../../../shared/src/ledger';
import { countInversions, countOutOfOrder } from './inversions';
import { type LatencySummary, summarizeLatency } from './percentiles';

/** Everything one run wrote to the ledger, split by record type. */
export interface RunLedger {
  /** From the `byRun` index: what it projects of each accepted order. */
  accepted: AcceptedSummary[];
  deliveries: DeliveryRecord[];
  effects: EffectRecord[];
  failures: FailureRecord[];
  /**
   * The per-customer apply counters: the last index each customer's applies took per queue.
   * Without them only the gaps between effects are seen, not an index taken after the last one.
   */
  counters?: ApplyCounterRecord[];
  /** What each queue's DLQ holds, read from the DLQ itself; absent: read as empty. */
  dlq?: Partial<Record<QueueKind, DlqRead>>;
  /**
   * The message ids the producer recorded for orders delivered under more than one message id
   * (read by key from their accepted items: the `byRun` index does not project them); absent, or
   * an order missing: the producer's ids are unknown for it (see DuplicateCauses.dlqRedrive).
   */
  producerSends?: ProducerSends[];
}

/** What the producer recorded of an order's sends (AcceptedRecord). */
export interface ProducerSends {
  orderId: string;
  /** Every id SQS answered its sends with (`sentMessageIds`); absent on records older than it. */
  sentMessageIds?: string[];
  /** The latest id per queue (`messageIds`; '' while a send's outcome is unknown). */
  messageIds?: Partial<Record<QueueKind, string>>;
}

/** One DLQ, read without consuming it (adapters/queues.ts readDlq). */
export interface DlqRead {
  /** Messages in the DLQ as SQS reports it (visible + in flight), any run's. */
  depth: number;
  /** Order ids of this run among the messages read (a copy read twice counts once). */
  orderIds: string[];
  /**
   * The same messages with their SQS message ids (a message keeps its id when SQS moves it to
   * the DLQ), so a copy in the DLQ can be matched with the receives the ledger holds of it.
   */
  messages?: Array<{ orderId: string; messageId: string }>;
  /** Messages the reader could not get to without consuming them (see readDlq). */
  unread: number;
}

/**
 * Why a delivery after an order's first came, from what the ledger holds, not from the receive
 * count (a copy made by the queue can carry any receive count):
 * - `dlqRedrive`: a message id no earlier delivery of the order had, which the producer did not
 *   record as one it sent, after an earlier message of the order went to the DLQ (a final failure
 *   record: its last allowed receive failed, or was handed back unrun; or a delivery at
 *   maxReceiveCount that failed, or whose attempt or invocation never finished): a DLQ redrive
 *   (StartMessageMoveTask, or a move by hand) put it back. SQS gives a redriven message a new
 *   message id ("All redriven messages are considered new messages with a new messageID and
 *   enqueueTime", SQS Developer Guide, DLQ redrive), and nothing on the message says it was
 *   redriven, so the producer's record of what it sent is what tells the two apart.
 * - `producerResend`: a message id no earlier delivery of the order had, otherwise: the producer
 *   sent the order again (a client retried a send whose outcome it did not know). With no
 *   dead-lettered message before it, an id the producer did not record is a send whose answer
 *   was lost, so it is one too.
 * - `queueCopy`: the same message id again while no earlier attempt at it had failed or timed
 *   out: SQS delivered it once more on its own (at-least-once: a copy on another host, a copy
 *   that survived a delete, a visibility timeout that ran out under a running attempt).
 * - `retryAfterFailure`: the same message id after an attempt at it failed, or never finished
 *   within the function timeout, or ran in an invocation that never ended (crash, timeout: SQS
 *   deletes nothing of that batch, records that succeeded included): SQS's retry. A failed
 *   attempt hands the message back once, so it explains one later delivery; another delivery
 *   after the same failure (a copy of the retry, or a copy that survived the retry's delete) is
 *   a queue copy.
 * They add up to `duplicateDeliveries`.
 */
export interface DuplicateCauses {
  producerResend: number;
  queueCopy: number;
  retryAfterFailure: number;
  dlqRedrive: number;
}

/** The per-queue metrics (docs/report.md, "The metrics"); the field names are a contract. */
export interface QueueMetrics {
  deliveries: number;
  duplicateDeliveries: number;
  duplicateCauses: DuplicateCauses;
  redeliveries: number;
  suppressed: number;
  /** Suppressed deliveries the record let through and the effect's conditional write refused. */
  refusedByEffectGuard: number;
  processed: number;
  duplicateEffects: number;
  outOfOrder: number;
  inversions: number;
  customersAffected: number;
  /**
   * Apply indexes taken with no effect written: one per refusal of the effect guard, plus one
   * per attempt that stopped between taking its index and writing its effect.
   */
  applyIndexGaps: number;
  /** Accepted orders, not applied, whose message is in the queue's DLQ (read from the DLQ). */
  inDlq: number;
  /**
   * Applied orders of which a copy is still in the DLQ (a copy that survived its delete past
   * maxReceiveCount, or an order applied and then failing): nothing to redo, and a redrive is
   * refused by the effect guard, but the DLQ is not empty because of it.
   */
  appliedInDlq: number;
  /** The DLQ's depth as SQS reports it (all runs'), read before the report read it. */
  dlqDepth: number;
  /** DLQ messages the report could not read without consuming them; 0 means it read them all. */
  dlqUnread: number;
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
  /** Extra deliveries by cause (see DuplicateCauses). */
  causes: DuplicateCauses;
  /** Extra deliveries by outcome. */
  byOutcome: Record<DeliveryRecord['outcome'], number>;
}

export interface AnalyzeOptions {
  /**
   * The consumer's function timeout: an attempt still `pending` this long after its receive
   * never finished (it timed out, or its process died).
   */
  attemptTimeoutMs: number;
  /**
   * The queue's maxReceiveCount: a delivery at it that ended in failure sent its message to the
   * DLQ. Absent: only the consumers' final failure records say a message was dead-lettered.
   */
  maxReceiveCount?: number;
}

const DEFAULT_OPTIONS: AnalyzeOptions = { attemptTimeoutMs: 10_000 };

/** What tells a redriven message from a producer's (see DuplicateCauses.dlqRedrive). */
export interface RedriveEvidence {
  /** The queue's failures: after a final one (FailureRecord.final) SQS dead-letters the message. */
  failures: readonly FailureRecord[];
  /** Per order, the message ids the producer recorded (ProducerSends); absent: none known. */
  producerIds: ReadonlyMap<string, ReadonlySet<string>>;
}

const NO_EVIDENCE: RedriveEvidence = { failures: [], producerIds: new Map() };

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

/**
 * Invocations that never ended (none of their records carries the end mark, or one is still
 * pending), each with its first receive: they timed out or died, so SQS deleted nothing of
 * their batch.
 */
export function unendedInvocations(deliveries: readonly DeliveryRecord[]): Map<string, number> {
  const started = new Map<string, number>();
  const ended = new Set<string>();
  const pending = new Set<string>();
  for (const d of deliveries) {
    if (!d.invocationId) continue;
    const at = started.get(d.invocationId);
    if (at === undefined || d.receivedAt < at) started.set(d.invocationId, d.receivedAt);
    if (d.invocationEnd) ended.add(d.invocationId);
    if (d.outcome === 'pending') pending.add(d.invocationId);
  }
  const out = new Map<string, number>();
  for (const [id, at] of started) if (!ended.has(id) || pending.has(id)) out.set(id, at);
  return out;
}

/**
 * Unended invocations with the time by which they had run out their function timeout: every
 * message of their batch, also one whose record succeeded, comes back as a retry.
 */
function deadInvocations(
  deliveries: readonly DeliveryRecord[],
  options: AnalyzeOptions,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, at] of unendedInvocations(deliveries)) out.set(id, at + options.attemptTimeoutMs);
  return out;
}

/**
 * When `attempt` had failed, or its invocation had timed out or died (epoch ms); undefined when
 * it did neither.
 */
function failedBy(
  attempt: DeliveryRecord,
  options: AnalyzeOptions,
  dead: Map<string, number>,
): number | undefined {
  if (attempt.outcome === 'failed') return attempt.outcomeAt ?? attempt.receivedAt;
  if (attempt.outcome === 'pending') return attempt.receivedAt + options.attemptTimeoutMs;
  return attempt.invocationId ? dead.get(attempt.invocationId) : undefined;
}

/** Whether `attempt` had failed, or its invocation had timed out or died, by time `at`. */
function endedInFailure(
  attempt: DeliveryRecord,
  at: number,
  options: AnalyzeOptions,
  dead: Map<string, number>,
): boolean {
  const by = failedBy(attempt, options, dead);
  return by !== undefined && by <= at;
}

/** The final failures of each order (FailureRecord.final), for the orders that have one. */
function finalFailuresByOrder(failures: readonly FailureRecord[]): Map<string, FailureRecord[]> {
  const out = new Map<string, FailureRecord[]>();
  for (const f of failures) {
    if (!f.final) continue;
    const list = out.get(f.orderId);
    if (list) list.push(f);
    else out.set(f.orderId, [f]);
  }
  return out;
}

const byReceive = (a: DeliveryRecord, b: DeliveryRecord) =>
  a.receivedAt - b.receivedAt || a.receiveCount - b.receiveCount;

export function analyzeDuplicates(
  deliveries: readonly DeliveryRecord[],
  earliest: Map<string, DeliveryRecord> = earliestDeliveries(deliveries),
  options: AnalyzeOptions = DEFAULT_OPTIONS,
  evidence: RedriveEvidence = NO_EVIDENCE,
): DuplicateBreakdown {
  const out: DuplicateBreakdown = {
    causes: { producerResend: 0, queueCopy: 0, retryAfterFailure: 0, dlqRedrive: 0 },
    byOutcome: { applied: 0, suppressed: 0, failed: 0, pending: 0 },
  };
  // Lists only for the orders delivered more than once (a few percent): most orders cost one
  // map lookup, which at a few hundred thousand deliveries keeps garbage collection in check.
  const dead = deadInvocations(deliveries, options);
  const finalFailures = finalFailuresByOrder(evidence.failures);
  const { maxReceiveCount } = options;
  const repeated = new Map<string, DeliveryRecord[]>();
  for (const d of deliveries) {
    const first = earliest.get(d.orderId);
    if (!first || first === d) continue;
    const list = repeated.get(d.orderId);
    if (list) list.push(d);
    else repeated.set(d.orderId, [d]);
  }
  for (const [orderId, later] of repeated) {
    later.sort(byReceive);
    // Per message id: its attempts so far, and how many of their failures a retry already used.
    // An attempt that has ended in failure by one receive has by every later one, so taking the
    // receives in order and matching each to any unused failure counts the most retries the
    // evidence allows, and never more than there were failures.
    const attempts = new Map<string, { list: DeliveryRecord[]; retried: number }>();
    const first = earliest.get(orderId)!;
    attempts.set(first.messageId, { list: [first], retried: 0 });
    // Whether another message of the order had gone to the DLQ by `d`'s receive.
    const deadLettered = (d: DeliveryRecord): boolean =>
      (finalFailures.get(orderId) ?? []).some(
        (f) => f.messageId !== d.messageId && f.failedAt <= d.receivedAt,
      ) ||
      (maxReceiveCount !== undefined &&
        [...attempts.entries()].some(
          ([messageId, a]) =>
            messageId !== d.messageId &&
            a.list.some(
              (e) =>
                e.receiveCount >= maxReceiveCount && endedInFailure(e, d.receivedAt, options, dead),
            ),
        ));
    for (const d of later) {
      const earlier = attempts.get(d.messageId);
      if (!earlier) {
        const sentByProducer = evidence.producerIds.get(orderId)?.has(d.messageId) ?? false;
        if (!sentByProducer && deadLettered(d)) out.causes.dlqRedrive++;
        else out.causes.producerResend++;
        attempts.set(d.messageId, { list: [d], retried: 0 });
      } else {
        const failed = count(earlier.list, (e) => endedInFailure(e, d.receivedAt, options, dead));
        if (failed > earlier.retried) {
          out.causes.retryAfterFailure++;
          earlier.retried++;
        } else out.causes.queueCopy++;
        earlier.list.push(d);
      }
      out.byOutcome[d.outcome]++;
    }
  }
  return out;
}

/** Indexes taken minus effects written, per customer, summed (see QueueMetrics.applyIndexGaps). */
export function countApplyIndexGaps(
  effects: readonly EffectRecord[],
  counters: readonly ApplyCounterRecord[],
  queue: QueueKind,
): number {
  const taken = new Map<string, number>();
  const written = new Map<string, number>();
  for (const e of effects) {
    written.set(e.customerId, (written.get(e.customerId) ?? 0) + 1);
    taken.set(e.customerId, Math.max(taken.get(e.customerId) ?? 0, e.applyIndex));
  }
  const prefix = `${SK_PREFIX.applyCounter}${queue}#`;
  for (const c of counters) {
    if (!c.sk.startsWith(prefix)) continue;
    const customerId = c.sk.slice(prefix.length);
    taken.set(customerId, Math.max(taken.get(customerId) ?? 0, Number(c.value) || 0));
  }
  let gaps = 0;
  for (const [customerId, last] of taken)
    gaps += Math.max(0, last - (written.get(customerId) ?? 0));
  return gaps;
}

/**
 * Per order, the message ids the producer recorded: every id it was answered (`sentMessageIds`)
 * and the latest per queue (`messageIds`: all a record older than the list holds).
 */
export function producerIdsById(ledger: RunLedger): Map<string, Set<string>> {
  const byId = new Map<string, Set<string>>();
  for (const p of ledger.producerSends ?? []) {
    const ids = new Set<string>(p.sentMessageIds ?? []);
    for (const id of Object.values(p.messageIds ?? {})) if (id) ids.add(id);
    byId.set(p.orderId, ids);
  }
  return byId;
}

/** Accepted orders by id: built once per report and shared by both queues' analyses. */
export function acceptedById(ledger: RunLedger): Map<string, AcceptedSummary> {
  const byId = new Map<string, AcceptedSummary>();
  for (const a of ledger.accepted) byId.set(a.orderId, a);
  return byId;
}

export function analyzeQueue(
  ledger: RunLedger,
  queue: QueueKind,
  accepted: Map<string, AcceptedSummary> = acceptedById(ledger),
  options: AnalyzeOptions = DEFAULT_OPTIONS,
  producerIds: ReadonlyMap<string, ReadonlySet<string>> = producerIdsById(ledger),
): QueueAnalysis {
  const deliveries = forQueue(ledger.deliveries, queue);
  const effects = forQueue(ledger.effects, queue);

  const first = firstEffects(effects);
  const earliest = earliestDeliveries(deliveries);
  const customers = analyzeCustomers(effects, first);

  const dlq = ledger.dlq?.[queue] ?? { depth: 0, orderIds: [], unread: 0 };
  const inDlq = new Set<string>();
  const appliedInDlq = new Set<string>();
  for (const orderId of dlq.orderIds) {
    if (!accepted.has(orderId)) continue;
    (first.has(orderId) ? appliedInDlq : inDlq).add(orderId);
  }
  let lost = 0;
  for (const orderId of accepted.keys()) {
    if (!first.has(orderId) && !inDlq.has(orderId)) lost++;
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

  const duplicates = analyzeDuplicates(deliveries, earliest, options, {
    failures: forQueue(ledger.failures, queue),
    producerIds,
  });
  const metrics: QueueMetrics = {
    deliveries: deliveries.length,
    duplicateDeliveries: deliveries.length - earliest.size,
    duplicateCauses: duplicates.causes,
    redeliveries: count(deliveries, (d) => d.receiveCount > 1),
    suppressed: count(deliveries, (d) => d.outcome === 'suppressed'),
    refusedByEffectGuard: count(deliveries, (d) => d.suppressedBy === 'effect'),
    processed: first.size,
    duplicateEffects: effects.length - first.size,
    outOfOrder: customers.reduce((n, c) => n + c.outOfOrder, 0),
    inversions: customers.reduce((n, c) => n + c.inversions, 0),
    customersAffected: customers.filter((c) => c.outOfOrder > 0).length,
    applyIndexGaps: countApplyIndexGaps(effects, ledger.counters ?? [], queue),
    inDlq: inDlq.size,
    appliedInDlq: appliedInDlq.size,
    dlqDepth: dlq.depth,
    dlqUnread: dlq.unread,
    lost,
    latencyMs: summarizeLatency(latencies),
    throughputPerSec,
  };
  return { metrics, customers, duplicates, latencies };
}
