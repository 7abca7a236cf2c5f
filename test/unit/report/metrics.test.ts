import fc from 'fast-check';
import {
  type AnalyzeOptions,
  analyzeQueue,
  type DuplicateCauses,
} from '../../../services/report/src/domain/metrics';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { LedgerBuilder } from './ledger-fixture';

const SEED = 5;

/** Every duplicate cause, the ones not given at 0: what a report of one order's deliveries says. */
const causes = (some: Partial<DuplicateCauses>): DuplicateCauses => ({
  producerResend: 0,
  queueCopy: 0,
  retryAfterFailure: 0,
  dlqRedrive: 0,
  ...some,
});
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
    .fail('standard', 'b2', 3, true)
    .dead('standard', 'b2');
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
      refusedByEffectGuard: 0,
      dlqUnread: 0,
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
    // The DLQ was read to its end: nothing unread; and the copies were refused by their
    // idempotency records, none by the effect guard.
    expect([m.dlqDepth, m.dlqUnread, m.refusedByEffectGuard]).toEqual([1, 0, 0]);
  });

  it('reports the DLQ messages the report could not read as unread, as many as there were', () => {
    const b = scenario();
    b.ledger.dlq = { standard: { depth: 5, orderIds: ['b2'], unread: 4 } };
    const m = analyzeQueue(b.ledger, 'standard').metrics;
    expect([m.inDlq, m.dlqDepth, m.dlqUnread]).toEqual([1, 5, 4]);
  });

  it('counts an order in the DLQ from the DLQ itself, not from its failure records', () => {
    // Prepare: b2's final failure is recorded, but the DLQ (read from SQS) no longer holds it:
    // redriven and not yet back, it is lost as far as anyone can show.
    const b = scenario();
    b.ledger.dlq = {};

    // Act
    const m = analyzeQueue(b.ledger, 'standard').metrics;

    // Assess
    expect([m.inDlq, m.lost, m.dlqDepth]).toEqual([0, 1, 0]);
  });

  it('counts an applied order with a copy still in the DLQ apart, neither in DLQ nor lost', () => {
    const b = scenario();
    b.deliver('standard', 'b2', 1400, 'applied', 1).apply('standard', 'b2', 1405);
    const m = analyzeQueue(b.ledger, 'standard').metrics;
    expect([m.inDlq, m.appliedInDlq, m.lost, m.processed, m.dlqDepth]).toEqual([0, 1, 0, 6, 1]);
  });

  it("ignores DLQ messages of orders this run did not accept (another run's)", () => {
    const b = scenario();
    b.ledger.dlq = { standard: { depth: 3, orderIds: ['b2', 'other-run-order'], unread: 1 } };
    const m = analyzeQueue(b.ledger, 'standard').metrics;
    expect([m.inDlq, m.dlqDepth, m.dlqUnread]).toEqual([1, 3, 1]);
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

  it('measures latency percentiles and throughput from varied samples, not one repeated value', () => {
    // Prepare: x0 accepted first and never applied; x1, x2, x3 applied 50, 500 and 20 ms after
    // acceptance; x1 applied a second time (a duplicate effect, not a second order).
    const b = new LedgerBuilder()
      .accept('x0', 'c', 1, 1000)
      .accept('x1', 'c', 2, 1100)
      .accept('x2', 'c', 3, 1200)
      .accept('x3', 'c', 4, 1300)
      .apply('fifo', 'x1', 1150)
      .apply('fifo', 'x3', 1320)
      .apply('fifo', 'x1', 1400)
      .apply('fifo', 'x2', 1700);

    // Act
    const m = analyzeQueue(b.ledger, 'fifo').metrics;

    // Assess: nearest rank over [20, 50, 500]; 3 orders from the first acceptance (x0's, 1000)
    // to the last first commit (1700): 3 / 0.7 s, to two decimals.
    expect(m.latencyMs).toEqual({ p50: 50, p95: 500, p99: 500, max: 500 });
    expect(m.throughputPerSec).toBe(4.29);
    expect([m.processed, m.duplicateEffects, m.lost]).toEqual([3, 1, 1]);
  });

  it("orders each customer's applies by apply index, whatever order the ledger lists the effects in", () => {
    // Prepare: a1, a3, a2 applied in that order; the ledger is read back in key order, not
    // apply order (here the reverse).
    const b = new LedgerBuilder()
      .accept('a1', 'a', 1, 1000)
      .accept('a2', 'a', 2, 1010)
      .accept('a3', 'a', 3, 1020)
      .apply('standard', 'a1', 1100)
      .apply('standard', 'a3', 1110)
      .apply('standard', 'a2', 1120);
    b.ledger.effects.reverse();

    // Act
    const a = analyzeQueue(b.ledger, 'standard');

    // Assess
    expect(a.customers).toEqual([
      { customerId: 'a', sequences: [1, 3, 2], outOfOrder: 1, inversions: 1 },
    ]);
    expect([a.metrics.outOfOrder, a.metrics.inversions]).toEqual([1, 1]);
  });

  it("reports as unread only what the reader could not get to, not other runs' messages it read", () => {
    // SQS reports 5; the reader read all 5, of which one is this run's order.
    const b = scenario();
    b.ledger.dlq = { standard: { depth: 5, orderIds: ['b2'], unread: 0 } };
    const m = analyzeQueue(b.ledger, 'standard').metrics;
    expect([m.inDlq, m.dlqDepth, m.dlqUnread]).toEqual([1, 5, 0]);
  });

  it('splits the scenario duplicates by cause, whatever their receive counts say', () => {
    // a1's copy and b1's redelivery (receive count 2) came while nothing had failed: queue
    // copies; b2's second and third receives came after a failed attempt.
    const a = analyzeQueue(scenario().ledger, 'standard');
    expect(a.metrics.duplicateCauses).toEqual(causes({ queueCopy: 2, retryAfterFailure: 2 }));
    expect(a.duplicates.causes).toEqual(a.metrics.duplicateCauses);
    expect(a.duplicates.byOutcome).toEqual({ applied: 0, suppressed: 2, failed: 2, pending: 0 });
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
          const c = m.duplicateCauses;
          expect(c.producerResend + c.queueCopy + c.retryAfterFailure + c.dlqRedrive).toBe(
            m.duplicateDeliveries,
          );
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

describe('duplicate causes from the ledger (hand-built, one order each)', () => {
  const TIMEOUT = { attemptTimeoutMs: 10_000 };
  const causesOf = (b: LedgerBuilder) =>
    analyzeQueue(b.ledger, 'standard', undefined, TIMEOUT).metrics.duplicateCauses;
  const one = () => new LedgerBuilder().accept('o1', 'c', 1, 1000);

  it('counts a second message id of an order as a producer re-send', () => {
    // The producer never heard SQS's answer, and the client's retry sent the order again.
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2001)
      .deliver('standard', 'o1', 2500, 'suppressed', 1, { messageId: 'm2' });
    expect(causesOf(b)).toEqual(causes({ producerResend: 1 }));
  });

  it('counts the same message again, with no failed attempt before it, as a queue copy', () => {
    // A copy served to a concurrent receive (while the first still ran), then one that survived
    // the delete and came back with receive count 2: both the queue's own doing.
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1', outcomeAt: 2050 })
      .apply('standard', 'o1', 2040)
      .deliver('standard', 'o1', 2010, 'failed', 1, { messageId: 'm1', outcomeAt: 2020 })
      .deliver('standard', 'o1', 63_000, 'suppressed', 2, { messageId: 'm1' });
    // The failed copy came before any failure; the last one came after that copy had failed.
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 1 }));
    const m = analyzeQueue(b.ledger, 'standard', undefined, TIMEOUT).metrics;
    expect(m.redeliveries).toBe(1);
  });

  it('counts the same message after a failed attempt as a retry after failure', () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 62_100, 'applied', 2, { messageId: 'm1' })
      .apply('standard', 'o1', 62_150);
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 1 }));
  });

  it('counts the same message after an attempt that never finished within the timeout as a retry after failure', () => {
    // The first attempt crashed (its delivery stays pending): the retry comes after the
    // visibility timeout; a copy received within the function timeout is the queue's.
    const crashed = one()
      .deliver('standard', 'o1', 2000, 'pending', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2050)
      .deliver('standard', 'o1', 62_500, 'suppressed', 2, {
        messageId: 'm1',
        suppressedBy: 'effect',
      });
    expect(causesOf(crashed)).toEqual(causes({ retryAfterFailure: 1 }));
    const copy = one()
      .deliver('standard', 'o1', 2000, 'pending', 1, { messageId: 'm1' })
      .deliver('standard', 'o1', 2500, 'failed', 1, { messageId: 'm1', outcomeAt: 2600 });
    expect(causesOf(copy)).toEqual(causes({ queueCopy: 1 }));
  });

  it('counts a message whose record succeeded in an invocation that never finished as a retry after failure', () => {
    // One batch, one invocation: o1's record succeeded, then the invocation timed out on o2, so
    // SQS deleted neither and both came back.
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .accept('o2', 'c', 2, 1001)
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1', invocationId: 'inv-1' })
      .apply('standard', 'o1', 2500)
      .deliver('standard', 'o2', 2600, 'pending', 1, { messageId: 'm2', invocationId: 'inv-1' })
      .deliver('standard', 'o1', 63_000, 'suppressed', 2, {
        messageId: 'm1',
        invocationId: 'inv-2',
      })
      .deliver('standard', 'o2', 63_000, 'applied', 2, { messageId: 'm2', invocationId: 'inv-2' })
      .apply('standard', 'o2', 63_100);
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 2 }));
    // Without the invocation's evidence the same receive of o1 reads as the queue's copy.
    for (const d of b.ledger.deliveries) delete d.invocationId;
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 1 }));
  });

  it('counts a message of an invocation that timed out after its last record as a retry, and a later copy as a copy', () => {
    // Every record of inv-1 succeeded, but none carries the end mark: the invocation did not
    // return (it timed out afterwards), so SQS deleted nothing; inv-2 ended normally.
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1', invocationId: 'inv-1' })
      .apply('standard', 'o1', 2500)
      .deliver('standard', 'o1', 63_000, 'suppressed', 2, {
        messageId: 'm1',
        invocationId: 'inv-2',
        invocationEnd: true,
      })
      .deliver('standard', 'o1', 130_000, 'suppressed', 3, {
        messageId: 'm1',
        invocationId: 'inv-3',
      });
    // The second receive is the retry of inv-1's batch. inv-2 ended, so SQS deleted the message:
    // the third receive is a copy that survived that delete, not a second retry of one failure.
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 1 }));
    // With the end mark on inv-1 both are the queue's copies.
    const first = b.ledger.deliveries[0];
    if (first) first.invocationEnd = true;
    expect(causesOf(b)).toEqual(causes({ queueCopy: 2 }));
  });

  it('reads the batch of an invocation that died after writing its outcomes as queue copies, as it reads deletes SQS lost (docs/report.md)', () => {
    // inv-1 applied both records and wrote their outcomes with the end mark, then timed out
    // before returning, so Lambda deleted neither and SQS handed both out again at count 2. A
    // delete SQS lost for each leaves these very records: the ledger cannot tell the two apart,
    // and the report reads them as the queue's copies.
    const b = new LedgerBuilder().accept('o1', 'c', 1, 1000).accept('o2', 'c', 2, 1001);
    for (const [order, message] of [
      ['o1', 'm1'],
      ['o2', 'm2'],
    ] as const) {
      b.deliver('standard', order, 2000, 'applied', 1, {
        messageId: message,
        invocationId: 'inv-1',
        invocationEnd: true,
        outcomeAt: 2500,
      })
        .apply('standard', order, 2400)
        .deliver('standard', order, 62_000, 'suppressed', 2, {
          messageId: message,
          invocationId: 'inv-2',
          invocationEnd: true,
          outcomeAt: 62_100,
        });
    }
    expect(causesOf(b)).toEqual(causes({ queueCopy: 2 }));
  });

  it('counts a copy of a retry as a queue copy: one failed attempt explains one retry', () => {
    // m1 failed; SQS handed it back once, and a second host served a copy of it at the same time.
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 62_100, 'applied', 2, { messageId: 'm1' })
      .apply('standard', 'o1', 62_150)
      .deliver('standard', 'o1', 62_120, 'suppressed', 1, { messageId: 'm1' });
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 1 }));
  });

  it('counts each failure of a message as one retry when the retries fail too', () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 62_100, 'failed', 2, { messageId: 'm1', outcomeAt: 62_200 })
      .deliver('standard', 'o1', 122_200, 'applied', 3, { messageId: 'm1' })
      .apply('standard', 'o1', 122_250);
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 2 }));
  });

  it('counts a copy of a re-sent message as a queue copy, not a second re-send', () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2001)
      .deliver('standard', 'o1', 2500, 'suppressed', 1, { messageId: 'm2' })
      .deliver('standard', 'o1', 2510, 'suppressed', 1, { messageId: 'm2' });
    expect(causesOf(b)).toEqual(causes({ producerResend: 1, queueCopy: 1 }));
  });

  it('counts a re-sent message retried after its own failure as a re-send, then a retry', () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2001)
      .deliver('standard', 'o1', 2500, 'failed', 1, { messageId: 'm2', outcomeAt: 2600 })
      .deliver('standard', 'o1', 62_600, 'suppressed', 2, { messageId: 'm2' });
    expect(causesOf(b)).toEqual(causes({ producerResend: 1, retryAfterFailure: 1 }));
  });

  it('counts a delivery pending forever as a failure only once the timeout has passed', () => {
    // A copy crashed (pending forever); another copy within the timeout is the queue's, the
    // receive after the timeout is its retry; nothing after the first delivery is lost sight of.
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2001)
      .deliver('standard', 'o1', 2100, 'pending', 1, { messageId: 'm1' })
      .deliver('standard', 'o1', 5000, 'suppressed', 1, { messageId: 'm1' })
      .deliver('standard', 'o1', 62_100, 'suppressed', 2, { messageId: 'm1' });
    const a = analyzeQueue(b.ledger, 'standard', undefined, TIMEOUT);
    expect(a.metrics.duplicateCauses).toEqual(causes({ queueCopy: 2, retryAfterFailure: 1 }));
    expect(a.duplicates.byOutcome).toEqual({ applied: 0, suppressed: 2, failed: 0, pending: 1 });
    // Alone, a delivery pending forever is the order's one delivery: no duplicate to explain.
    const alone = one().deliver('standard', 'o1', 2000, 'pending', 1, { messageId: 'm1' });
    const m = analyzeQueue(alone.ledger, 'standard', undefined, TIMEOUT).metrics;
    expect([m.duplicateDeliveries, m.processed, m.lost]).toEqual([0, 0, 1]);
  });

  it('counts the whole batch of a crash as retries, though the crash wrote no end mark', () => {
    // inv-1 ran o1 (applied, its outcome written) and o2, which crashed after its effect (its
    // outcome never written): no record carries the end mark. Both come back after the
    // visibility timeout; inv-2 ends normally.
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .accept('o2', 'c', 2, 1001)
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1', invocationId: 'inv-1' })
      .apply('standard', 'o1', 2010)
      .deliver('standard', 'o2', 2000, 'pending', 1, { messageId: 'm2', invocationId: 'inv-1' })
      .apply('standard', 'o2', 2020)
      .deliver('standard', 'o1', 62_000, 'suppressed', 2, {
        messageId: 'm1',
        invocationId: 'inv-2',
      })
      .deliver('standard', 'o2', 62_000, 'suppressed', 2, {
        messageId: 'm2',
        invocationId: 'inv-2',
        invocationEnd: true,
        suppressedBy: 'effect',
      });
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 2 }));
  });

  it('counts a copy received while an attempt at its message was still failing as a queue copy', () => {
    // m1's first attempt ran from 2000 and failed at 2100; a copy received at 2050 came before
    // that failure, and its delete removed the message, so no retry followed.
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 2050, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2080);
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1 }));
  });

  it('counts a copy received before a dying invocation ran out its timeout as a queue copy', () => {
    // inv-1 applied o1 and never ended (it died later); a copy received at 5000, within inv-1's
    // 10 s timeout, ran in inv-2, which ended and deleted the message.
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1', invocationId: 'inv-1' })
      .apply('standard', 'o1', 2100)
      .deliver('standard', 'o1', 5000, 'suppressed', 1, {
        messageId: 'm1',
        invocationId: 'inv-2',
        invocationEnd: true,
      });
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1 }));
  });

  it('counts the batch of an invocation that wrote its end mark yet left a record pending as retries', () => {
    // inv-1's o1 record carries the end mark, but its o2 record never got an outcome: the
    // invocation did not finish, so SQS deleted nothing of its batch and both came back.
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .accept('o2', 'c', 2, 1001)
      .deliver('standard', 'o1', 2000, 'applied', 1, {
        messageId: 'm1',
        invocationId: 'inv-1',
        invocationEnd: true,
      })
      .apply('standard', 'o1', 2100)
      .deliver('standard', 'o2', 2000, 'pending', 1, { messageId: 'm2', invocationId: 'inv-1' })
      .deliver('standard', 'o1', 63_000, 'suppressed', 2, {
        messageId: 'm1',
        invocationId: 'inv-2',
        invocationEnd: true,
      })
      .deliver('standard', 'o2', 63_000, 'applied', 2, {
        messageId: 'm2',
        invocationId: 'inv-2',
        invocationEnd: true,
      })
      .apply('standard', 'o2', 63_100);
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 2 }));
  });

  it('takes the receives in time order, whatever order the ledger lists them in (it keys them by receipt)', () => {
    // m1 applied; m2 (a re-send) failed, then came back: a re-send, then its retry, also when
    // the ledger lists m2's retry before its first receive.
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2001)
      .deliver('standard', 'o1', 62_600, 'suppressed', 2, { messageId: 'm2' })
      .deliver('standard', 'o1', 2500, 'failed', 1, { messageId: 'm2', outcomeAt: 2600 });
    expect(causesOf(b)).toEqual(causes({ producerResend: 1, retryAfterFailure: 1 }));
  });

  it('dates an invocation that never ended from its earliest receive, not its latest', () => {
    // inv-1 received o1 at 2000 and o2 at 2500 and never ended: it ran out its 10 s by 12_000,
    // so o1's receive at 12_200 is its retry.
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .accept('o2', 'c', 2, 1001)
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1', invocationId: 'inv-1' })
      .apply('standard', 'o1', 2100)
      .deliver('standard', 'o2', 2500, 'applied', 1, { messageId: 'm2', invocationId: 'inv-1' })
      .apply('standard', 'o2', 2600)
      .deliver('standard', 'o1', 12_200, 'suppressed', 2, {
        messageId: 'm1',
        invocationId: 'inv-2',
        invocationEnd: true,
      });
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 1 }));
  });

  it('never counts more retries of a message than attempts at it that ended in failure', () => {
    const outcomes = ['applied', 'suppressed', 'failed', 'pending'] as const;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            message: fc.integer({ min: 1, max: 2 }),
            gap: fc.integer({ min: 0, max: 70_000 }),
            outcome: fc.constantFrom(...outcomes),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (steps) => {
          const b = one();
          let t = 2000;
          for (const s of steps) {
            t += s.gap;
            b.deliver('standard', 'o1', t, s.outcome, 1, {
              messageId: `m${s.message}`,
              outcomeAt: t + 1,
            });
          }
          const m = analyzeQueue(b.ledger, 'standard', undefined, TIMEOUT).metrics;
          const c = m.duplicateCauses;
          const ended = steps.filter((s) => s.outcome === 'failed' || s.outcome === 'pending');
          expect(c.retryAfterFailure).toBeLessThanOrEqual(ended.length);
          expect(c.producerResend).toBe(new Set(steps.map((s) => s.message)).size - 1);
          expect(c.producerResend + c.queueCopy + c.retryAfterFailure + c.dlqRedrive).toBe(
            steps.length - 1,
          );
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('counts deliveries the effect guard refused, within suppressed', () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'pending', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2050)
      .takeIndex('standard', 'c')
      .deliver('standard', 'o1', 62_500, 'suppressed', 2, {
        messageId: 'm1',
        suppressedBy: 'effect',
      })
      .deliver('standard', 'o1', 63_000, 'suppressed', 1, {
        messageId: 'm2',
        suppressedBy: 'record',
      });
    const m = analyzeQueue(b.ledger, 'standard', undefined, TIMEOUT).metrics;
    expect([m.suppressed, m.refusedByEffectGuard]).toEqual([2, 1]);
  });

  it('counts each delivery the effect guard refused', () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2050)
      .takeIndex('standard', 'c')
      .deliver('standard', 'o1', 62_500, 'suppressed', 2, {
        messageId: 'm1',
        suppressedBy: 'effect',
      })
      .takeIndex('standard', 'c')
      .deliver('standard', 'o1', 63_000, 'suppressed', 1, {
        messageId: 'm2',
        suppressedBy: 'effect',
      });
    const m = analyzeQueue(b.ledger, 'standard', undefined, TIMEOUT).metrics;
    expect([m.suppressed, m.refusedByEffectGuard, m.applyIndexGaps]).toEqual([2, 2, 2]);
  });
});

describe('a DLQ redrive told from a producer re-send', () => {
  const TIMEOUT = { attemptTimeoutMs: 10_000 };
  const causesOf = (b: LedgerBuilder, options: Partial<AnalyzeOptions> = {}) =>
    analyzeQueue(b.ledger, 'standard', undefined, { ...TIMEOUT, ...options }).metrics
      .duplicateCauses;

  /**
   * o1's message m1 fails its 3 allowed receives (the last a final failure) and goes to the DLQ;
   * after the fix a redrive puts it back as a new message, `redriven`, received at 500_000.
   */
  function deadLettered(redriven: string): LedgerBuilder {
    const b = new LedgerBuilder().accept('o1', 'c', 1, 1000);
    for (let n = 1; n <= 3; n++) {
      const at = 2000 + (n - 1) * 60_000;
      b.deliver('standard', 'o1', at, 'failed', n, { messageId: 'm1', outcomeAt: at + 100 });
      b.fail('standard', 'o1', n, n === 3, { messageId: 'm1', failedAt: at + 100 });
    }
    return b
      .deliver('standard', 'o1', 500_000, 'applied', 1, { messageId: redriven })
      .apply('standard', 'o1', 500_050);
  }

  it('counts a new message the producer never sent, after its order went to the DLQ, as a DLQ redrive', () => {
    const b = deadLettered('m-redriven').sent('o1', ['m1', 'f1'], { fifo: 'f1', standard: 'm1' });
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 2, dlqRedrive: 1 }));
  });

  it('counts a message the producer recorded as a producer re-send, even after a dead letter', () => {
    // A client retry sent the order again once the queue's retention had passed (queue-lost-it):
    // the producer recorded m2 (and it is the latest id, or only in the set).
    for (const latest of ['m2', 'm1']) {
      const b = deadLettered('m2').sent('o1', ['m1', 'm2'], { standard: latest });
      expect({ latest, causes: causesOf(b) }).toEqual({
        latest,
        causes: { producerResend: 1, queueCopy: 0, retryAfterFailure: 2, dlqRedrive: 0 },
      });
    }
  });

  it('counts a new message the producer did not record, with no dead letter before it, as a producer re-send (its answer was lost)', () => {
    const applied = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .sent('o1', ['m1'], { standard: 'm1' })
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2050)
      .deliver('standard', 'o1', 2500, 'suppressed', 1, { messageId: 'm-lost-answer' });
    expect(causesOf(applied)).toEqual(causes({ producerResend: 1 }));
    // A final failure after the new message's receive did not send it back: still a re-send.
    const failedLater = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .sent('o1', ['m1'])
      .deliver('standard', 'o1', 2000, 'failed', 3, { messageId: 'm1', outcomeAt: 9000 })
      .fail('standard', 'o1', 3, true, { messageId: 'm1', failedAt: 9000 })
      .deliver('standard', 'o1', 2500, 'applied', 1, { messageId: 'm-lost-answer' })
      .apply('standard', 'o1', 2550);
    expect(causesOf(failedLater)).toEqual(causes({ producerResend: 1 }));
  });

  it("takes no message's own last receive as evidence that it was redriven", () => {
    // m-lost-answer (a send whose answer was lost) is first in the ledger at its receive #3, the
    // queue's last (its earlier receives died before the handler wrote them), and fails in the
    // same millisecond: that sends m-lost-answer itself to the DLQ, not another message of the
    // order, so it is still a re-send.
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .sent('o1', ['m1'], { standard: 'm1' })
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2050)
      .deliver('standard', 'o1', 3000, 'failed', 3, {
        messageId: 'm-lost-answer',
        outcomeAt: 3000,
      });
    expect(causesOf(b, { maxReceiveCount: 3 })).toEqual(causes({ producerResend: 1 }));
  });

  it('misreads the redrive of a message dead-lettered after its delete was lost as a producer re-send (docs/report.md)', () => {
    // m1's last allowed receive applied the order and its invocation ended, but SQS lost the
    // delete, so it went to the DLQ all the same: nothing in the ledger says so.
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .sent('o1', ['m1'], { standard: 'm1' })
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 62_000, 'failed', 2, { messageId: 'm1', outcomeAt: 62_100 })
      .deliver('standard', 'o1', 122_000, 'applied', 3, {
        messageId: 'm1',
        invocationId: 'i3',
        invocationEnd: true,
      })
      .apply('standard', 'o1', 122_050)
      .deliver('standard', 'o1', 500_000, 'suppressed', 1, { messageId: 'm-redriven' });
    expect(causesOf(b, { maxReceiveCount: 3 })).toEqual(
      causes({ producerResend: 1, retryAfterFailure: 2 }),
    );
  });

  it('counts a new message the producer did not record as a re-send while the dead-lettered message is still in the DLQ', () => {
    // m1's send lost its answer (the producer holds no standard id), m1 failed into the DLQ, and
    // a client retry sent the order again: m2, whose answer was lost too. Nothing moved m1 out
    // of the DLQ (the report reads it there), so m2 is no redrive of it.
    const b = deadLettered('m2')
      .sent('o1', ['f1'], { fifo: 'f1', standard: '' })
      .dead('standard', 'o1', 'm1');
    expect(causesOf(b)).toEqual(causes({ producerResend: 1, retryAfterFailure: 2 }));
    // The DLQ read and m1 not in it: something moved it out, and m2 may be its redrive.
    const gone = deadLettered('m2').sent('o1', ['f1'], { fifo: 'f1', standard: '' });
    gone.ledger.dlq = { standard: { depth: 0, orderIds: [], messages: [], unread: 0 } };
    expect(causesOf(gone)).toEqual(causes({ retryAfterFailure: 2, dlqRedrive: 1 }));
  });

  it('counts one redrive per dead-lettered message: a second new message the producer did not record is a re-send', () => {
    // m1 was dead-lettered and redriven once (m-redriven); a client retry's send whose answer
    // was lost put m-lost on the queue too. One message out of the DLQ makes one new message.
    const b = deadLettered('m-redriven')
      .sent('o1', ['f1'], { fifo: 'f1', standard: '' })
      .deliver('standard', 'o1', 510_000, 'suppressed', 1, { messageId: 'm-lost' });
    expect(causesOf(b)).toEqual(causes({ producerResend: 1, retryAfterFailure: 2, dlqRedrive: 1 }));
  });

  it("takes an order's first delivery as the redrive of a message dead-lettered unrun: a later new message the producer did not record is a re-send", () => {
    // a2's FIFO message (its send's answer lost) was handed back unrun behind a failure of its
    // group at every receive, so the ledger holds no delivery of it, only the final not-attempted
    // failure, and SQS dead-lettered it. A redrive put it back as a2-redriven, a2's first
    // delivery. Later a client retry sent a2 again, its answer lost too: a2-lost. The one
    // dead-lettered message made one new message, the first delivery, so a2-lost is a re-send.
    const b = new LedgerBuilder()
      .accept('a2', 'a', 2, 10)
      .sent('a2', ['s-a2'], { fifo: '', standard: 's-a2' })
      .notAttempted('fifo', 'a2', 5, 'i5')
      .deliver('fifo', 'a2', 500_000, 'applied', 1, { messageId: 'a2-redriven' })
      .apply('fifo', 'a2', 500_050)
      .deliver('fifo', 'a2', 900_000, 'suppressed', 1, { messageId: 'a2-lost' });
    // The DLQ read whole, and the dead-lettered message no longer in it.
    b.ledger.dlq = { fifo: { depth: 0, orderIds: [], messages: [], unread: 0 } };
    const fifo = analyzeQueue(b.ledger, 'fifo', undefined, TIMEOUT).metrics;
    expect(fifo.duplicateCauses).toEqual(causes({ producerResend: 1 }));
  });

  it("judges a new message by its earliest receive, not by its lowest count's, against a dead letter", () => {
    // m1's last allowed receive failed at 122_100. m-lost (a send whose answer was lost) was
    // received at 122_050, count 2, before that: its receive #1 reached a handler only at
    // 122_200 (held in a batching window past its visibility timeout). m-lost was on the queue
    // before m1 went to the DLQ, so no redrive of m1 made it: a re-send.
    const b = new LedgerBuilder().accept('o1', 'c', 1, 1000).sent('o1', ['m1'], { standard: 'm1' });
    for (let n = 1; n <= 3; n++) {
      const at = 2000 + (n - 1) * 60_000;
      b.deliver('standard', 'o1', at, 'failed', n, { messageId: 'm1', outcomeAt: at + 100 });
      b.fail('standard', 'o1', n, n === 3, { messageId: 'm1', failedAt: at + 100 });
    }
    b.deliver('standard', 'o1', 122_050, 'applied', 2, { messageId: 'm-lost', outcomeAt: 122_080 })
      .apply('standard', 'o1', 122_070)
      .deliver('standard', 'o1', 122_200, 'suppressed', 1, {
        messageId: 'm-lost',
        outcomeAt: 122_250,
      });
    expect(causesOf(b)).toEqual(causes({ producerResend: 1, queueCopy: 1, retryAfterFailure: 2 }));
  });

  it('counts a copy of the redriven message as a queue copy', () => {
    const copy = deadLettered('m-redriven')
      .sent('o1', ['m1'])
      .deliver('standard', 'o1', 500_020, 'suppressed', 1, { messageId: 'm-redriven' });
    expect(causesOf(copy)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 2, dlqRedrive: 1 }));
  });

  it('reads a ledger from before the producer kept every id by the dead letter and the latest id it holds', () => {
    // No `sentMessageIds`: only the latest id per queue is known.
    const latestIsIt = deadLettered('m2').sent('o1', undefined, { standard: 'm2' });
    expect(causesOf(latestIsIt).producerResend).toBe(1);
    const unknown = deadLettered('m-redriven').sent('o1', undefined, { standard: 'm1' });
    expect(causesOf(unknown).dlqRedrive).toBe(1);
    // Nothing read of the producer's record at all (a ledger without producerSends): the dead
    // letter alone decides.
    const nothing = deadLettered('m-redriven');
    expect(nothing.ledger.producerSends).toBeUndefined();
    expect(causesOf(nothing)).toEqual(causes({ retryAfterFailure: 2, dlqRedrive: 1 }));
  });

  it('takes a delivery at maxReceiveCount whose invocation died as a dead letter when the queue limit is known', () => {
    // m1's third receive never finished (no outcome, no failure record): SQS dead-letters it on
    // its next receive all the same.
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .sent('o1', ['m1'])
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 62_000, 'failed', 2, { messageId: 'm1', outcomeAt: 62_100 })
      .deliver('standard', 'o1', 122_000, 'pending', 3, { messageId: 'm1', invocationId: 'i3' })
      .deliver('standard', 'o1', 500_000, 'applied', 1, { messageId: 'm-redriven' })
      .apply('standard', 'o1', 500_050);
    expect(causesOf(b, { maxReceiveCount: 3 }).dlqRedrive).toBe(1);
    // A limit of 4: its third receive was not its last, so the new message is no redrive.
    expect(causesOf(b, { maxReceiveCount: 4 })).toMatchObject({ dlqRedrive: 0, producerResend: 1 });
    expect(causesOf(b)).toMatchObject({ dlqRedrive: 0, producerResend: 1 });
  });

  it('notes that the redrives may include re-sends when some of the DLQ was not read', () => {
    // m1 went to the DLQ; the report could read none of the DLQ's 2 messages (a FIFO group held
    // behind a batch, say), so m1 may still be there, and m-new a re-send whose answer was lost.
    const b = deadLettered('m-new').sent('o1', ['m1']);
    b.ledger.dlq = { standard: { depth: 2, orderIds: [], messages: [], unread: 2 } };
    const report = (ledger: typeof b.ledger) =>
      buildReport({ runId: 'r', target: 'local', config: pipelineConfig, ledger }).report;
    const r = report(b.ledger);
    expect([r.queues.standard.dlqUnread, r.queues.standard.duplicateCauses.dlqRedrive]).toEqual([
      2, 1,
    ]);
    expect(r.notes).toEqual([
      'standard: 2 DLQ messages were not read, so the 1 DLQ redrive may include producer re-sends: a dead letter not read counts as gone from the DLQ, and a message of its order the producer sent but could not record (its answer lost) then reads as its redrive',
    ]);
    // All of the DLQ read: no note.
    b.ledger.dlq = { standard: { depth: 0, orderIds: [], messages: [], unread: 0 } };
    expect(report(b.ledger).notes).toEqual([]);
    // Unread messages but no redrive counted: nothing to doubt, no note.
    const resend = deadLettered('m2').sent('o1', ['m1', 'm2'], { standard: 'm2' });
    resend.ledger.dlq = { standard: { depth: 2, orderIds: [], messages: [], unread: 2 } };
    expect(report(resend.ledger).queues.standard.duplicateCauses.dlqRedrive).toBe(0);
    expect(report(resend.ledger).notes).toEqual([]);
  });

  it("reads the producer's ids and each queue's maxReceiveCount in the report", () => {
    const b = deadLettered('m-redriven').sent('o1', ['m1']);
    const data = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    });
    expect(data.report.queues.standard.duplicateCauses.dlqRedrive).toBe(1);
    expect(Object.keys(data.report.queues.standard.duplicateCauses)).toEqual([
      'producerResend',
      'queueCopy',
      'retryAfterFailure',
      'dlqRedrive',
    ]);
    // Recorded by the producer: a re-send.
    const resent = deadLettered('m-resent').sent('o1', ['m1', 'm-resent']);
    const again = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: resent.ledger,
    });
    expect(again.report.queues.standard.duplicateCauses).toMatchObject({
      producerResend: 1,
      dlqRedrive: 0,
    });
  });

  it('counts a FIFO order dead-lettered unrun, then redriven, as delivered once', () => {
    // Its receives were all handed back unrun (no delivery record): the redriven message is its
    // first delivery, no duplicate.
    const b = new LedgerBuilder()
      .accept('a2', 'a', 2, 10)
      .notAttempted('fifo', 'a2', 5, 'i5')
      .deliver('fifo', 'a2', 500_000, 'applied', 1, { messageId: 'm-redriven' })
      .apply('fifo', 'a2', 500_050);
    const m = analyzeQueue(b.ledger, 'fifo', undefined, TIMEOUT).metrics;
    expect([m.deliveries, m.duplicateDeliveries, m.processed]).toEqual([1, 0, 1]);
  });
});

describe('apply index gaps', () => {
  it('counts an index taken with no effect, also after the last effect (read from the counter)', () => {
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .accept('o2', 'c', 2, 1001)
      .apply('standard', 'o1', 2000)
      .takeIndex('standard', 'c')
      .apply('standard', 'o2', 2100)
      .takeIndex('standard', 'c');
    expect(analyzeQueue(b.ledger, 'standard').metrics.applyIndexGaps).toBe(2);
    expect(analyzeQueue(b.ledger, 'fifo').metrics.applyIndexGaps).toBe(0);
  });

  it('still counts the gaps between effects without the counters', () => {
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .accept('o2', 'c', 2, 1001)
      .apply('standard', 'o1', 2000)
      .takeIndex('standard', 'c')
      .apply('standard', 'o2', 2100)
      .takeIndex('standard', 'c');
    const { counters: _, ...withoutCounters } = b.ledger;
    expect(analyzeQueue(withoutCounters, 'standard').metrics.applyIndexGaps).toBe(1);
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
      'notes',
    ]);
    // Every message received more than once carries its receive counts: nothing read the weak way.
    expect(data.report.notes).toEqual([]);
    expect(data.report.accepted).toBe(6);
    expect(data.report.generatedAt).toBe('1970-01-01T00:00:00.000Z');
    expect(Object.keys(data.report.queues.fifo).sort()).toEqual([
      'appliedInDlq',
      'applyIndexGaps',
      'customersAffected',
      'deliveries',
      'dlqDepth',
      'dlqUnread',
      'duplicateCauses',
      'duplicateDeliveries',
      'duplicateEffects',
      'inDlq',
      'inversions',
      'latencyMs',
      'lost',
      'outOfOrder',
      'processed',
      'redeliveries',
      'refusedByEffectGuard',
      'suppressed',
      'throughputPerSec',
    ]);
    expect(data.report.config.queues.fifo.queueName).toBe(pipelineConfig.queues.fifo.name);
    expect(data.clientRetries).toBe(1);
  });

  it('counts an order dead-lettered unrun behind a failure of its group in the DLQ, not as a failed delivery', () => {
    // Prepare: p1 failed its 5 receives on FIFO; a2, batched behind it each time, was handed back
    // unrun (no delivery record) and got a not-attempted failure at the last; both in the DLQ.
    const b = new LedgerBuilder().accept('p1', 'a', 1, 0).accept('a2', 'a', 2, 10);
    for (let n = 1; n <= 5; n++) {
      b.deliver('fifo', 'p1', 100 * n, 'failed', n, { invocationId: `i${n}` });
      b.fail('fifo', 'p1', n, n === 5);
    }
    b.notAttempted('fifo', 'a2', 5, 'i5').dead('fifo', 'p1').dead('fifo', 'a2');

    // Act
    const data = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    });

    // Assess: deliveries and their duplicates are the handler's receives only, as before.
    expect(data.failedDeliveries.fifo).toBe(5);
    const fifo = data.report.queues.fifo;
    expect([fifo.deliveries, fifo.duplicateDeliveries, fifo.redeliveries]).toEqual([5, 4, 4]);
    expect([fifo.inDlq, fifo.processed, fifo.lost]).toEqual([2, 0, 0]);
  });

  it('counts suppressed deliveries per queue by what stopped them', () => {
    // The scenario's two standard copies name nothing (the record stopped them); one more on
    // standard the effect guard refused, one on FIFO the record answered.
    const b = scenario()
      .deliver('standard', 'a3', 1500, 'suppressed', 2, { suppressedBy: 'effect' })
      .deliver('fifo', 'a1', 1600, 'suppressed', 2, { suppressedBy: 'record' });
    const data = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    });
    expect(data.suppressedBy).toEqual({
      fifo: { record: 1, effect: 0 },
      standard: { record: 2, effect: 1 },
    });
  });

  it("takes an attempt with no deadline stamped as failed after the consumer's function timeout from the config, in ms", () => {
    // o1's attempt never finished; a copy came 1 ms before its timeout ran out (the queue's), and
    // o2's receive came exactly at it (the retry).
    const timeoutMs = pipelineConfig.consumers.standard.timeoutSeconds * 1000;
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .accept('o2', 'c', 2, 1001)
      .deliver('standard', 'o1', 2000, 'pending', 1, { messageId: 'm1' })
      .deliver('standard', 'o1', 2000 + timeoutMs - 1, 'suppressed', 1, { messageId: 'm1' })
      .deliver('standard', 'o2', 2000, 'pending', 1, { messageId: 'm2' })
      .deliver('standard', 'o2', 2000 + timeoutMs, 'suppressed', 2, { messageId: 'm2' });
    const data = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    });
    expect(data.report.queues.standard.duplicateCauses).toEqual(
      causes({ queueCopy: 1, retryAfterFailure: 1 }),
    );
  });
});
