import { runFindings } from '../../../lab/soak/check';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { LedgerBuilder, numberFifoMessages, readDlqs } from '../report/ledger-fixture';

/**
 * A hole in a customer's server-assigned sequence: the producer's counter (`nextSequence`, an
 * `ADD value :one`) counts twice when the SDK sends the update again after a try whose answer was
 * lost had committed (test/integration/producer-sequence-answer-late.test.ts), so the customer's
 * orders take 1, 3, 4, 5 where they would have taken 1, 2, 3, 4. What the report and the run
 * check say of a run must not change with it: they compare sequences (which came later, which
 * pairs are inverted), never count them or look for the next one (docs/guarantees.md, Ordering).
 */

/** The customer's orders, in the order the producer took their sequences. */
const ORDERS = ['a1', 'a2', 'a3', 'a4'] as const;

/**
 * One run: customer a's four orders (sequences from `sequenceOf`, by the order's place 1..4) and
 * customer b's two; FIFO applies each in order, standard applies a3 before a2 and b2 before b1
 * (late ones), and delivers a2 a second time (a queue copy, suppressed).
 */
function run(sequenceOf: (place: number) => number): LedgerBuilder {
  const b = new LedgerBuilder();
  ORDERS.forEach((id, i) => {
    b.accept(id, 'a', sequenceOf(i + 1), 1000 + i);
  });
  b.accept('b1', 'b', 1, 1010).accept('b2', 'b', 2, 1011);
  let t = 2000;
  for (const id of [...ORDERS, 'b1', 'b2'])
    b.deliver('fifo', id, t++, 'applied').apply('fifo', id, t++);
  for (const id of ['a1', 'a3', 'a2', 'a4', 'b2', 'b1'])
    b.deliver('standard', id, t++, 'applied').apply('standard', id, t++);
  b.deliver('standard', 'a2', t++, 'suppressed', 1, { suppressedBy: 'record' });
  // SQS's SequenceNumber of each FIFO message, in the order the producer sent them; and a read
  // of each DLQ (empty), as the report makes of every run.
  return readDlqs(numberFifoMessages(b));
}

const report = (b: LedgerBuilder) =>
  buildReport({
    runId: 'r',
    target: 'local',
    config: pipelineConfig,
    ledger: b.ledger,
    now: new Date(0),
  });

describe("a hole in a customer's server-assigned sequence (the counter counted twice)", () => {
  const contiguous = report(run((place) => place));
  const holed = report(run((place) => (place === 1 ? 1 : place + 1)));

  it('changes no number of the report: the ordering metrics compare sequences, never count them', () => {
    // Assess: the run was read as intended (the holed sequences are in the applies), and
    // every metric of both queues, the notes and the counts beside them are the same.
    expect(holed.analysis.standard.customers.find((c) => c.customerId === 'a')?.sequences).toEqual([
      1, 4, 3, 5,
    ]);
    expect(
      contiguous.analysis.standard.customers.find((c) => c.customerId === 'a')?.sequences,
    ).toEqual([1, 3, 2, 4]);
    expect(holed.report).toEqual(contiguous.report);
    expect(holed.report.queues.standard).toMatchObject({
      outOfOrder: 2,
      inversions: 2,
      customersAffected: 2,
      processed: 6,
      duplicateDeliveries: 1,
      lost: 0,
    });
    expect(holed.report.queues.fifo).toMatchObject({ outOfOrder: 0, inversions: 0 });
    const perCustomer = (r: typeof holed) =>
      (['fifo', 'standard'] as const).map((q) =>
        r.analysis[q].customers.map(({ sequences: _s, ...rest }) => rest),
      );
    expect(perCustomer(holed)).toEqual(perCustomer(contiguous));
  });

  it('changes nothing the run check says: FIFO is judged by SQS SequenceNumbers, applies by order id', () => {
    // Act
    const acceptedIds = [...ORDERS, 'b1', 'b2'];
    const findings = (r: typeof holed) =>
      runFindings({ acceptedIds, report: r.report, ledger: r.ledger });

    // Assess: a clean run either way.
    expect(findings(holed)).toEqual(findings(contiguous));
    expect(findings(holed).violations).toEqual([]);
  });
});
