import { parseMetricLine } from '../../../local/live/emf';
import { LiveState } from '../../../local/live/state';
import { analyzeCustomers } from '../../../services/report/src/domain/metrics';
import type { EffectRecord } from '../../../shared/src/ledger';
import { CONSUMER_METRICS, METRICS_NAMESPACE } from '../../../shared/src/metrics';
import { applied, emfLine, suppressed } from './emf-lines';

const feed = (state: LiveState, line: string) => {
  const parsed = parseMetricLine(line);
  if (!parsed) throw new Error(`not a metric line: ${line}`);
  return state.ingest(parsed);
};

describe('parseMetricLine', () => {
  it('reads the queue, the metric values and the order events of a pipeline EMF line', () => {
    const line = emfLine('standard', [applied('c1', 2, { late: true }), suppressed('c1', 1)]);
    const parsed = parseMetricLine(line);
    expect(parsed?.queue).toBe('standard');
    expect(parsed?.values[CONSUMER_METRICS.ordersApplied.name]).toEqual([1]);
    expect(parsed?.values[CONSUMER_METRICS.outOfOrderApplies.name]).toEqual([1]);
    expect(parsed?.values[CONSUMER_METRICS.copiesSuppressed.name]).toEqual([1]);
    expect(parsed?.events.map((e) => e.event)).toEqual(['applied', 'suppressed']);
  });

  it.each([
    ['a plain log line', '{"level":"WARN","message":"delivery failed"}'],
    ['half a line', emfLine('fifo', [applied('c1', 1)]).slice(0, 40)],
    ['another namespace', emfLine('fifo', [applied('c1', 1)]).replace(METRICS_NAMESPACE, 'Other')],
    [
      'an unknown queue',
      emfLine('fifo', [applied('c1', 1)]).replace('"queue":"fifo"', '"queue":"x"'),
    ],
    ['not JSON at all', 'CloudWatchMetrics'],
  ])('ignores %s', (_name, line) => {
    expect(parseMetricLine(line)).toBeUndefined();
  });

  it('drops malformed values and events instead of trusting them', () => {
    const doc = JSON.parse(emfLine('fifo', [applied('c1', 1)]));
    doc[CONSUMER_METRICS.ordersApplied.name] = 'many';
    doc.orderEvents.push({ event: 'applied', customerId: { toString: 1 } }, 'x', null);
    const parsed = parseMetricLine(JSON.stringify(doc));
    expect(parsed?.values[CONSUMER_METRICS.ordersApplied.name]).toBeUndefined();
    expect(parsed?.events).toHaveLength(1);
  });

  it('takes metric values only in the range CloudWatch accepts (-2^360 to 2^360)', () => {
    const doc = JSON.parse(emfLine('fifo', [applied('c1', 1)]));
    doc[CONSUMER_METRICS.ordersApplied.name] = 1e308;
    doc[CONSUMER_METRICS.acceptedToAppliedLatency.name] = [2 ** 360, -(2 ** 360)];
    const parsed = parseMetricLine(JSON.stringify(doc));
    // Summed, two such values go past the largest double: the page got null for the counter.
    const state = new LiveState();
    feed(state, JSON.stringify(doc));
    feed(state, JSON.stringify(doc));
    const sent = JSON.parse(JSON.stringify(state.snapshot()));
    expect(sent.queues.fifo.counters.applied).toBe(0);
    expect(parsed?.values[CONSUMER_METRICS.ordersApplied.name]).toBeUndefined();
    expect(parsed?.values[CONSUMER_METRICS.acceptedToAppliedLatency.name]).toEqual([
      2 ** 360,
      -(2 ** 360),
    ]);
  });

  it.each<[string, { sequence?: string; receiveCount?: string }]>([
    ['a sequence JSON reads as Infinity', { sequence: '1e999' }],
    ['a receive count JSON reads as Infinity', { receiveCount: '1e999' }],
    ['a fractional sequence', { sequence: '1.5' }],
    ['a sequence beyond the safe integers', { sequence: '1e300' }],
  ])('drops an order event with %s: no delivery of an order has one', (_name, raw) => {
    const line = emfLine('fifo', [applied('c1', 7), applied('c2', 1)])
      .replace('"sequence":7', `"sequence":${raw.sequence ?? 7}`)
      .replace('"receiveCount":1', `"receiveCount":${raw.receiveCount ?? 1}`);
    const parsed = parseMetricLine(line);
    expect(parsed?.events.map((e) => e.customerId)).toEqual(['c2']);
    // What is kept crosses JSON to the page unchanged.
    expect(JSON.parse(JSON.stringify(parsed?.events))).toEqual(parsed?.events);
  });
});

describe('LiveState', () => {
  it('sums counters from the metric values and draws a track per customer per queue', () => {
    const state = new LiveState();
    expect(feed(state, emfLine('fifo', [applied('c1', 1), applied('c1', 2)]))).toBe('reset');
    expect(
      feed(
        state,
        emfLine('standard', [
          applied('c1', 2, { latencyMs: 30 }),
          applied('c1', 1, { late: true, latencyMs: 300, receiveCount: 2 }),
          suppressed('c1', 2),
        ]),
      ),
    ).toBe('update');
    const s = state.snapshot();
    expect(s.runId).toBe('run-1');
    expect(s.queues.fifo.counters).toEqual({
      applied: 2,
      outOfOrder: 0,
      suppressed: 0,
      retries: 0,
      failures: 0,
    });
    expect(s.queues.standard.counters).toEqual({
      applied: 2,
      outOfOrder: 1,
      suppressed: 1,
      retries: 1,
      failures: 0,
    });
    expect(s.queues.standard.customers).toEqual([
      {
        customerId: 'c1',
        points: [
          [2, 0],
          [1, 1],
        ],
        late: 1,
        dropped: 0,
      },
    ]);
    expect(s.queues.standard.caught).toEqual([
      { orderId: 'c1-2', customerId: 'c1', sequence: 2, receiveCount: 1 },
    ]);
    expect(s.queues.standard.latency.count).toBe(2);
    expect(s.queues.standard.latency.max).toBe(300);
  });

  it('calls an apply late by the report rule: a turn whose effect never committed makes nothing late', () => {
    // Prepare: standard, one customer. #5 takes turn 1 (the counter's highest sequence is now 5)
    // and its effect is refused by the guard (a copy of it) or its attempt stops before the
    // effect: no apply, no event. #3 takes turn 2: the consumer calls it late. #5 applies at 3.
    const state = new LiveState();
    const effect = (sequence: number, applyIndex: number) =>
      ({ customerId: 'c1', orderId: `c1-${sequence}`, sequence, applyIndex }) as EffectRecord;
    const report = analyzeCustomers([effect(3, 2), effect(5, 3)]);

    // Act
    feed(state, emfLine('standard', [applied('c1', 3, { late: true, applyIndex: 2 })]));
    feed(state, emfLine('standard', [applied('c1', 5, { applyIndex: 3 })]));

    // Assess: the report counts none late; neither does the view, on its cells or its counter.
    expect(report[0]?.outOfOrder).toBe(0);
    const s = state.snapshot().queues.standard;
    expect(s.customers[0]?.points).toEqual([
      [3, 0],
      [5, 0],
    ]);
    expect(s.customers[0]?.late).toBe(0);
    expect(s.counters.outOfOrder).toBe(0);
  });

  it('judges an apply reported out of index order against the applies with a lower index only', () => {
    // Prepare: #5 applied at 1, #3 at 2, #4 at 3; the report calls #3 and #4 late.
    const state = new LiveState();
    const effect = (sequence: number, applyIndex: number) =>
      ({ customerId: 'c1', orderId: `c1-${sequence}`, sequence, applyIndex }) as EffectRecord;
    const report = analyzeCustomers([effect(5, 1), effect(3, 2), effect(4, 3)]);

    // Act: #4's invocation reports first, then #5's, then #3's.
    feed(state, emfLine('standard', [applied('c1', 4, { late: true, applyIndex: 3 })]));
    feed(state, emfLine('standard', [applied('c1', 5, { applyIndex: 1 })]));
    feed(state, emfLine('standard', [applied('c1', 3, { late: true, applyIndex: 2 })]));

    // Assess: #4 came before #5 was known and stays drawn on time (the view can count fewer
    // than the report, never more); #3 is late, after #5's lower index.
    expect(report[0]?.outOfOrder).toBe(2);
    const s = state.snapshot().queues.standard;
    expect(s.customers[0]?.points).toEqual([
      [4, 0],
      [5, 0],
      [3, 1],
    ]);
    expect(s.counters.outOfOrder).toBe(1);
  });

  it('gives percentiles within one 9% bucket of the exact value', () => {
    const state = new LiveState();
    const events = Array.from({ length: 100 }, (_, i) =>
      applied('c1', i + 1, { latencyMs: (i + 1) * 10 }),
    );
    feed(state, emfLine('fifo', events));
    const { p50, p95, p99, max } = state.snapshot().queues.fifo.latency;
    for (const [got, exact] of [
      [p50, 500],
      [p95, 950],
      [p99, 990],
    ] as const) {
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got!).toBeLessThanOrEqual(exact * 1.1);
    }
    expect(max).toBe(1000);
  });

  it('hands out each apply once in a delta, then nothing until the next line', () => {
    const state = new LiveState();
    feed(state, emfLine('fifo', [applied('c1', 1)]));
    state.clearPending();
    feed(state, emfLine('fifo', [applied('c1', 2)]));
    expect(state.takeDelta()?.queues.fifo.applies).toEqual([['c1', 2, 0]]);
    expect(state.takeDelta()).toBeUndefined();
  });

  it('follows the newest run and leaves out late lines of an earlier one', () => {
    const state = new LiveState();
    feed(state, emfLine('fifo', [applied('c1', 1, { runId: 'a' })]));
    expect(feed(state, emfLine('fifo', [applied('c9', 1, { runId: 'b' })]))).toBe('reset');
    expect(feed(state, emfLine('fifo', [applied('c1', 2, { runId: 'a' })]))).toBe('ignored');
    const s = state.snapshot();
    expect(s.runId).toBe('b');
    expect(s.queues.fifo.customers.map((c) => c.customerId)).toEqual(['c9']);
    expect(s.queues.fifo.counters.applied).toBe(1);
  });

  it('stays bounded: points per track, customers and caught copies are capped', () => {
    const state = new LiveState({ pointsPerCustomer: 3, customers: 2, caught: 2 });
    feed(
      state,
      emfLine('standard', [
        ...[1, 2, 3, 4, 5].map((s) => applied('c1', s)),
        applied('c2', 1),
        applied('c3', 1),
        applied('c4', 1),
        ...[1, 2, 3].map((s) => suppressed('c1', s)),
      ]),
    );
    const q = state.snapshot().queues.standard;
    expect(q.customers.find((c) => c.customerId === 'c1')).toMatchObject({
      points: [
        [3, 0],
        [4, 0],
        [5, 0],
      ],
      dropped: 2,
    });
    expect(q.customers).toHaveLength(2);
    expect(q.hiddenCustomers).toBe(2);
    expect(q.caught.map((c) => c.sequence)).toEqual([2, 3]);
    expect(q.counters.applied).toBe(8);
  });

  it('counts hidden customers up to a bound, then says "at least", and sends the count in deltas', () => {
    const state = new LiveState({ customers: 1, hiddenIds: 2 });
    feed(state, emfLine('fifo', [applied('c1', 1), applied('c2', 1), applied('c2', 2)]));
    state.clearPending();
    feed(state, emfLine('fifo', [applied('c3', 1)]));
    expect(state.takeDelta()?.queues.fifo).toMatchObject({
      hiddenCustomers: 2,
      hiddenAtLeast: false,
    });
    // c2 is remembered, c4 is not: the set is full, so c4 may or may not be new.
    feed(state, emfLine('fifo', [applied('c2', 3)]));
    expect(state.snapshot().queues.fifo).toMatchObject({
      hiddenCustomers: 2,
      hiddenAtLeast: false,
    });
    feed(state, emfLine('fifo', [applied('c4', 1), applied('c5', 1)]));
    expect(state.snapshot().queues.fifo).toMatchObject({ hiddenCustomers: 2, hiddenAtLeast: true });
    expect(state.takeDelta()?.queues.fifo).toMatchObject({ hiddenAtLeast: true });
  });

  it('remembers a bounded number of runs: the oldest is forgotten, the recent ones stay out', () => {
    const state = new LiveState({ runs: 2 });
    for (const runId of ['a', 'b', 'c'])
      feed(state, emfLine('fifo', [applied('c1', 1, { runId })]));
    expect(feed(state, emfLine('fifo', [applied('c1', 2, { runId: 'b' })]))).toBe('ignored');
    // 'a' fell out of the two remembered runs: a late line of it looks like a new run.
    expect(feed(state, emfLine('fifo', [applied('c1', 2, { runId: 'a' })]))).toBe('reset');
    expect(state.snapshot().pointsPerCustomer).toBe(500);
  });
});
