import { CustomerApplyOrder } from '../../shared/src/apply-order';
import { CONSUMER_METRICS } from '../../shared/src/metrics';
import { QUEUE_KINDS, type QueueKind } from '../../shared/src/queue-kind';
import type { MetricLine } from './emf';

/**
 * What the live page shows, built from the consumers' metric lines: per queue, counters summed
 * from the metric values (the numbers CloudWatch would graph), a latency distribution, one
 * sequence track per customer from the lines' order events, and the copies idempotency caught.
 * It follows one run at a time: the newest run id seen; lines of earlier runs are left out.
 * Memory is bounded whatever the load: tracks keep their latest points; drawn customers, hidden
 * customer ids, caught copies and remembered run ids are capped; latency goes into fixed
 * logarithmic buckets.
 */

export interface QueueCounters {
  applied: number;
  /**
   * Late applies on the drawn tracks, by the report's rule (shared/src/apply-order.ts), not the
   * consumers' outOfOrderApplies metric: a consumer calls an apply late when a higher sequence
   * took its turn before it, even one whose effect then never committed (no apply).
   */
  outOfOrder: number;
  suppressed: number;
  retries: number;
  failures: number;
}

const COUNTER_OF: Record<string, keyof QueueCounters> = {
  [CONSUMER_METRICS.ordersApplied.name]: 'applied',
  [CONSUMER_METRICS.copiesSuppressed.name]: 'suppressed',
  [CONSUMER_METRICS.retriesAfterFailure.name]: 'retries',
  [CONSUMER_METRICS.deliveryFailures.name]: 'failures',
};

export interface LatencyView {
  count: number;
  /** Upper edge of the bucket holding the percentile (buckets are 9% wide), ms. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** One apply on a track: [sequence, 1 when it came after a higher sequence]. */
export type TrackPoint = [sequence: number, late: 0 | 1];

export interface CustomerTrack {
  customerId: string;
  points: TrackPoint[];
  /** Late applies on this track, including dropped points. */
  late: number;
  /** Oldest points dropped to keep the track bounded. */
  dropped: number;
}

export interface CaughtCopy {
  orderId: string;
  customerId: string;
  sequence: number;
  receiveCount: number;
}

export interface QueueView {
  counters: QueueCounters;
  latency: LatencyView;
  customers: CustomerTrack[];
  /** Customers beyond the cap: counted, not drawn. */
  hiddenCustomers: number;
  /**
   * True once so many customers were hidden that counting them exactly would cost memory per
   * customer: `hiddenCustomers` is then a lower bound.
   */
  hiddenAtLeast: boolean;
  /** Newest last. */
  caught: CaughtCopy[];
}

export interface LiveSnapshot {
  runId: string | null;
  /** Points the server keeps per track: the page keeps no more, so it matches a fresh snapshot. */
  pointsPerCustomer: number;
  queues: Record<QueueKind, QueueView>;
}

/** What changed since the last delta; the page applies it to its snapshot. */
export interface LiveDelta {
  runId: string;
  queues: Record<
    QueueKind,
    {
      counters: QueueCounters;
      latency: LatencyView;
      /** [customerId, sequence, late] in apply order. */
      applies: Array<[string, number, 0 | 1]>;
      caught: CaughtCopy[];
      hiddenCustomers: number;
      hiddenAtLeast: boolean;
    }
  >;
}

export interface LiveLimits {
  pointsPerCustomer: number;
  customers: number;
  caught: number;
  /** Hidden customer ids remembered (to count each once); past it the count is a lower bound. */
  hiddenIds: number;
  /** Run ids remembered (to leave out late lines of an earlier run); the oldest are forgotten. */
  runs: number;
}

export const DEFAULT_LIMITS: LiveLimits = {
  pointsPerCustomer: 500,
  customers: 200,
  caught: 50,
  hiddenIds: 10_000,
  runs: 256,
};

/** 2^(1/8): each latency bucket is about 9% wider than the one below. */
const BUCKET_BASE = 2 ** (1 / 8);
const LOG_BASE = Math.log(BUCKET_BASE);

class LatencyHistogram {
  private readonly buckets = new Map<number, number>();
  count = 0;
  max: number | null = null;

  add(ms: number): void {
    const index = ms <= 1 ? 0 : Math.ceil(Math.log(ms) / LOG_BASE);
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count++;
    if (this.max === null || ms > this.max) this.max = ms;
  }

  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.ceil(p * this.count);
    let seen = 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(index) ?? 0;
      if (seen >= rank) return Math.min(Math.round(BUCKET_BASE ** index), this.max ?? 0);
    }
    return this.max;
  }

  view(): LatencyView {
    return {
      count: this.count,
      p50: this.percentile(0.5),
      p95: this.percentile(0.95),
      p99: this.percentile(0.99),
      max: this.max,
    };
  }
}

class QueueState {
  readonly counters: QueueCounters = {
    applied: 0,
    outOfOrder: 0,
    suppressed: 0,
    retries: 0,
    failures: 0,
  };
  readonly latency = new LatencyHistogram();
  readonly tracks = new Map<string, CustomerTrack>();
  /** Per drawn customer: its applies by index, to judge each as the report does. */
  private readonly orders = new Map<string, CustomerApplyOrder>();
  hiddenCustomers = 0;
  hiddenAtLeast = false;
  private readonly hidden = new Set<string>();
  caught: CaughtCopy[] = [];
  pendingApplies: Array<[string, number, 0 | 1]> = [];
  pendingCaught: CaughtCopy[] = [];

  constructor(private readonly limits: LiveLimits) {}

  /**
   * One apply. Late by the report's rule when it carries its apply index; an apply without one
   * (a consumer that does not send it) is taken as the consumer judged it.
   */
  apply(
    customerId: string,
    sequence: number,
    applyIndex: number | undefined,
    judged: boolean,
  ): void {
    let track = this.tracks.get(customerId);
    if (!track) {
      if (this.tracks.size >= this.limits.customers) {
        if (this.hidden.size < this.limits.hiddenIds) {
          if (!this.hidden.has(customerId)) {
            this.hidden.add(customerId);
            this.hiddenCustomers++;
          }
        } else if (!this.hidden.has(customerId)) {
          // The set is full: a customer not in it may be new or one seen before, so the count
          // stops growing and says "at least".
          this.hiddenAtLeast = true;
        }
        return;
      }
      track = { customerId, points: [], late: 0, dropped: 0 };
      this.tracks.set(customerId, track);
      this.orders.set(customerId, new CustomerApplyOrder(this.limits.pointsPerCustomer));
    }
    const late =
      applyIndex === undefined ? judged : this.orders.get(customerId)!.add(applyIndex, sequence);
    if (late) this.counters.outOfOrder++;
    track.points.push([sequence, late ? 1 : 0]);
    if (late) track.late++;
    if (track.points.length > this.limits.pointsPerCustomer) {
      track.points.shift();
      track.dropped++;
    }
    this.pendingApplies.push([customerId, sequence, late ? 1 : 0]);
  }

  catch(copy: CaughtCopy): void {
    this.caught.push(copy);
    if (this.caught.length > this.limits.caught) this.caught.shift();
    this.pendingCaught.push(copy);
    if (this.pendingCaught.length > this.limits.caught) this.pendingCaught.shift();
  }

  view(): QueueView {
    return {
      counters: { ...this.counters },
      latency: this.latency.view(),
      customers: [...this.tracks.values()].map((t) => ({ ...t, points: t.points.slice() })),
      hiddenCustomers: this.hiddenCustomers,
      hiddenAtLeast: this.hiddenAtLeast,
      caught: this.caught.slice(),
    };
  }
}

const emptyQueues = (limits: LiveLimits) =>
  Object.fromEntries(QUEUE_KINDS.map((q) => [q, new QueueState(limits)])) as Record<
    QueueKind,
    QueueState
  >;

export class LiveState {
  private runId: string | null = null;
  private readonly seenRuns = new Set<string>();
  private queues: Record<QueueKind, QueueState>;
  private dirty = false;
  private readonly limits: LiveLimits;

  constructor(limits: Partial<LiveLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.queues = emptyQueues(this.limits);
  }

  get currentRun(): string | null {
    return this.runId;
  }

  /**
   * Takes one metric line. Returns `reset` when it started a new run (the page must reload its
   * snapshot), `update` when it changed the current run, `ignored` otherwise.
   */
  ingest(line: MetricLine): 'reset' | 'update' | 'ignored' {
    // A line is attributed to the run of its first order event: one batch rarely straddles two
    // runs, and then its counts go to the first.
    const runId = line.events[0]?.runId;
    if (runId === undefined) return 'ignored';
    let result: 'reset' | 'update' = 'update';
    if (runId !== this.runId) {
      if (this.seenRuns.has(runId)) return 'ignored';
      this.seenRuns.add(runId);
      // A Set iterates in insertion order: the first id is the oldest run.
      if (this.seenRuns.size > this.limits.runs) {
        this.seenRuns.delete(this.seenRuns.values().next().value as string);
      }
      this.runId = runId;
      this.queues = emptyQueues(this.limits);
      result = 'reset';
    }
    const q = this.queues[line.queue];
    for (const [name, values] of Object.entries(line.values)) {
      const counter = COUNTER_OF[name];
      if (counter) for (const v of values) q.counters[counter] += v;
      if (name === CONSUMER_METRICS.acceptedToAppliedLatency.name) {
        for (const v of values) q.latency.add(v);
      }
    }
    for (const e of line.events) {
      if (e.runId !== runId) continue;
      if (e.event === 'applied') q.apply(e.customerId, e.sequence, e.applyIndex, e.late === true);
      else if (e.event === 'suppressed') {
        q.catch({
          orderId: e.orderId,
          customerId: e.customerId,
          sequence: e.sequence,
          receiveCount: e.receiveCount,
        });
      }
    }
    this.dirty = true;
    return result;
  }

  snapshot(): LiveSnapshot {
    return {
      runId: this.runId,
      pointsPerCustomer: this.limits.pointsPerCustomer,
      queues: Object.fromEntries(QUEUE_KINDS.map((k) => [k, this.queues[k].view()])) as Record<
        QueueKind,
        QueueView
      >,
    };
  }

  /** The changes since the last call, or undefined when nothing changed. */
  takeDelta(): LiveDelta | undefined {
    if (!this.dirty || this.runId === null) return undefined;
    this.dirty = false;
    const queues = {} as LiveDelta['queues'];
    for (const k of QUEUE_KINDS) {
      const q = this.queues[k];
      queues[k] = {
        counters: { ...q.counters },
        latency: q.latency.view(),
        applies: q.pendingApplies,
        caught: q.pendingCaught,
        hiddenCustomers: q.hiddenCustomers,
        hiddenAtLeast: q.hiddenAtLeast,
      };
      q.pendingApplies = [];
      q.pendingCaught = [];
    }
    return { runId: this.runId, queues };
  }

  /** Drops what a delta would carry (a reset sends a full snapshot instead). */
  clearPending(): void {
    for (const k of QUEUE_KINDS) {
      this.queues[k].pendingApplies = [];
      this.queues[k].pendingCaught = [];
    }
    this.dirty = false;
  }
}
