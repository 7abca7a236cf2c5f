import fc from 'fast-check';
import { analyzeQueue } from '../../../services/report/src/domain/metrics';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { LedgerBuilder } from './ledger-fixture';

const SEED = 5;
console.log(`fast-check seed ${SEED}`);

/** 4 orders of customer a, 2 of b; FIFO in order once each, standard with trouble. */
function scenario(): LedgerBuilder {
  const b = new LedgerBuilder()
    .accept('a1', 'a', 1, 1000)
    .accept('a2', 'a', 2, 1010, 2)
    .accept('a3', 'a', 3, 1020)
    .accept('a4', 'a', 4, 1030)
    .accept('b1', 'b', 1, 1040)
    .accept('b2', 'b', 2, 1050);
  for (const [id, t] of [
    ['a1', 1100],
    ['a2', 1110],
    ['a3', 1120],
    ['a4', 1130],
    ['b1', 1140],
    ['b2', 1150],
  ] as const) {
    b.deliver('fifo', id, t, 'applied').apply('fifo', id, t + 5);
  }
  // standard: a3 before a2, a4 before a2 (a2 applied late: 1 out of order, 2 inversions);
  // a1 delivered twice (copy, suppressed), b1 redelivered after its visibility timeout (suppressed);
  // b2 failed three times and went to the DLQ.
  b.deliver('standard', 'a1', 1200, 'applied')
    .apply('standard', 'a1', 1205)
    .deliver('standard', 'a3', 1210, 'applied')
    .apply('standard', 'a3', 1215)
    .deliver('standard', 'a4', 1220, 'applied')
    .apply('standard', 'a4', 1225)
    .deliver('standard', 'a2', 1230, 'applied')
    .apply('standard', 'a2', 1235)
    .deliver('standard', 'a1', 1240, 'suppressed')
    .deliver('standard', 'b1', 1250, 'applied')
    .apply('standard', 'b1', 1255)
    .deliver('standard', 'b1', 1300, 'suppressed', 2)
    .deliver('standard', 'b2', 1260, 'failed')
    .fail('standard', 'b2', 1, false)
    .deliver('standard', 'b2', 1270, 'failed', 2)
    .fail('standard', 'b2', 2, false)
    .deliver('standard', 'b2', 1280, 'failed', 3)
    .fail('standard', 'b2', 3, true);
  return b;
}

describe('analyzeQueue', () => {
  it('reports a clean FIFO run: every order once, in order, nothing lost', () => {
    const m = analyzeQueue(scenario().ledger, 'fifo').metrics;
    expect(m).toMatchObject({
      deliveries: 6,
      duplicateDeliveries: 0,
      redeliveries: 0,
      suppressed: 0,
      processed: 6,
      duplicateEffects: 0,
      outOfOrder: 0,
      inversions: 0,
      customersAffected: 0,
      inDlq: 0,
      lost: 0,
    });
  });

  it('counts deliveries, duplicates, redeliveries and suppressions on the standard queue', () => {
    const m = analyzeQueue(scenario().ledger, 'standard').metrics;
    expect(m.deliveries).toBe(10);
    expect(m.duplicateDeliveries).toBe(10 - 6);
    expect(m.redeliveries).toBe(3);
    expect(m.suppressed).toBe(2);
    expect(m.processed).toBe(5);
    expect(m.duplicateEffects).toBe(0);
  });

  it('counts late applies, inversions and affected customers', () => {
    const m = analyzeQueue(scenario().ledger, 'standard').metrics;
    expect(m.outOfOrder).toBe(1);
    expect(m.inversions).toBe(2);
    expect(m.customersAffected).toBe(1);
  });

  it('counts an order with a final failure and no effect as in the DLQ, not lost', () => {
    const m = analyzeQueue(scenario().ledger, 'standard').metrics;
    expect(m.inDlq).toBe(1);
    expect(m.lost).toBe(0);
  });

  it('does not count a final failure as DLQ when the order was processed later (redrive)', () => {
    const b = scenario();
    b.deliver('standard', 'b2', 1400, 'applied', 1).apply('standard', 'b2', 1405);
    const m = analyzeQueue(b.ledger, 'standard').metrics;
    expect(m.inDlq).toBe(0);
    expect(m.processed).toBe(6);
  });

  it('counts an accepted order never processed and not in the DLQ as lost', () => {
    const b = scenario().accept('c1', 'c', 1, 1500);
    expect(analyzeQueue(b.ledger, 'fifo').metrics.lost).toBe(1);
  });

  it('counts a second commit of one order as a duplicate effect and orders by the first commit', () => {
    const b = scenario();
    b.deliver('standard', 'a1', 1500, 'applied').apply('standard', 'a1', 1505);
    const a = analyzeQueue(b.ledger, 'standard');
    expect(a.metrics.duplicateEffects).toBe(1);
    expect(a.metrics.processed).toBe(5);
    expect(a.customers.find((c) => c.customerId === 'a')?.sequences).toEqual([1, 3, 4, 2]);
    expect(a.duplicates.byOutcome.applied).toBe(1);
  });

  it('measures latency from acceptance to the first commit, and throughput over the run span', () => {
    const m = analyzeQueue(scenario().ledger, 'fifo').metrics;
    // latencies: 105, 105, 105, 105, 105, 105
    expect(m.latencyMs).toEqual({ p50: 105, p95: 105, p99: 105, max: 105 });
    // 6 orders from the first acceptance (1000) to the last commit (1155): 155 ms.
    expect(m.throughputPerSec).toBeCloseTo(6 / 0.155, 1);
  });

  it('reports zero throughput and null latency when nothing was processed', () => {
    const b = new LedgerBuilder().accept('x', 'c', 1, 10);
    const m = analyzeQueue(b.ledger, 'fifo').metrics;
    expect(m.throughputPerSec).toBe(0);
    expect(m.latencyMs.p50).toBeNull();
    expect(m.lost).toBe(1);
  });

  it('splits duplicates by cause: copies (receive count 1) and redeliveries', () => {
    const d = analyzeQueue(scenario().ledger, 'standard').duplicates;
    expect(d.copies).toBe(1);
    expect(d.redelivered).toBe(3);
    expect(d.byOutcome).toEqual({ applied: 0, suppressed: 2, failed: 2, pending: 0 });
  });

  it('keeps accounting invariants for any delivery pattern', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            customer: fc.integer({ min: 0, max: 3 }),
            copies: fc.integer({ min: 0, max: 2 }),
            processed: fc.boolean(),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.array(fc.nat(), { maxLength: 40 }),
        (orders, shuffle) => {
          const b = new LedgerBuilder();
          const seq = new Map<number, number>();
          orders.forEach((o, i) => {
            const s = (seq.get(o.customer) ?? 0) + 1;
            seq.set(o.customer, s);
            b.accept(`o${i}`, `c${o.customer}`, s, i);
          });
          const idx = orders.map((_, i) => i);
          shuffle.forEach((k, i) => {
            const j = k % idx.length;
            [idx[i % idx.length], idx[j]] = [idx[j]!, idx[i % idx.length]!];
          });
          let t = 1000;
          for (const i of idx) {
            const o = orders[i]!;
            if (!o.processed) continue;
            b.deliver('standard', `o${i}`, t++, 'applied').apply('standard', `o${i}`, t++);
            for (let c = 0; c < o.copies; c++) b.deliver('standard', `o${i}`, t++, 'suppressed');
          }
          const m = analyzeQueue(b.ledger, 'standard').metrics;
          const processed = orders.filter((o) => o.processed).length;
          expect(m.processed).toBe(processed);
          expect(m.lost).toBe(orders.length - processed);
          expect(m.suppressed).toBe(m.duplicateDeliveries);
          expect(m.deliveries).toBe(processed + m.duplicateDeliveries);
          expect(m.outOfOrder).toBeLessThanOrEqual(m.inversions);
          expect(m.customersAffected).toBeLessThanOrEqual(4);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe('buildReport', () => {
  it('produces the JSON contract shape with both queues and the config', () => {
    const data = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: scenario().ledger,
      now: new Date(0),
    });
    expect(Object.keys(data.report)).toEqual([
      'runId',
      'target',
      'generatedAt',
      'config',
      'accepted',
      'queues',
    ]);
    expect(data.report.accepted).toBe(6);
    expect(data.report.generatedAt).toBe('1970-01-01T00:00:00.000Z');
    expect(Object.keys(data.report.queues.fifo).sort()).toEqual([
      'customersAffected',
      'deliveries',
      'duplicateDeliveries',
      'duplicateEffects',
      'inDlq',
      'inversions',
      'latencyMs',
      'lost',
      'outOfOrder',
      'processed',
      'redeliveries',
      'suppressed',
      'throughputPerSec',
    ]);
    expect(data.report.config.queues.fifo.queueName).toBe(pipelineConfig.queues.fifo.name);
    expect(data.clientRetries).toBe(1);
  });
});
