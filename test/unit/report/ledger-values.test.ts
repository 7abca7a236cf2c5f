import { LedgerDataError } from '../../../services/report/src/domain/metrics';
import { renderHtml } from '../../../services/report/src/domain/render-html';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { LedgerBuilder } from './ledger-fixture';

/**
 * Ledger values the report computes with, other than a delivery's (receive-order.test.ts): an
 * accepted order's, an effect's, a failure's and an apply counter's. The producer and consumers
 * write each as checked here, so another value comes from another writer or a damaged table; read
 * as it is, it made a metric NaN, 0 or a string (and the HTML page threw a TypeError on a NaN
 * latency), so the report refuses it with one line naming the item.
 */

/** Two orders of customer c, each accepted, delivered, applied, on the standard queue. */
const run = () =>
  new LedgerBuilder()
    .accept('o1', 'c', 1, 1000)
    .accept('o2', 'c', 2, 1100)
    .deliver('standard', 'o1', 1200, 'applied')
    .apply('standard', 'o1', 1300)
    .deliver('standard', 'o2', 1400, 'failed', 1, { messageId: 'm2', outcomeAt: 1450 })
    .fail('standard', 'o2', 1, false, { messageId: 'm2', failedAt: 1450 })
    .deliver('standard', 'o2', 1500, 'applied', 2, { messageId: 'm2' })
    .apply('standard', 'o2', 1600);

/** Sets (or, for undefined, removes) fields of one record, as a damaged ledger might hold it. */
function spoil(record: object, fields: Record<string, unknown>): void {
  const r = record as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) delete r[k];
    else r[k] = v;
  }
}

const report = (b: LedgerBuilder) => () =>
  buildReport({ runId: 'r', target: 'local', config: pipelineConfig, ledger: b.ledger });

/** Expects the report to refuse the ledger with one line naming `item` and `problem`. */
function expectRefused(b: LedgerBuilder, item: string, problem: string): void {
  const build = report(b);
  expect(build).toThrow(LedgerDataError);
  expect(build).toThrow(`ledger item ${item} ${problem}: the report cannot read the run`);
}

const NOT_TIME = 'not a time in epoch ms';
const NOT_INDEX = 'not an apply index (a whole number from 1)';

describe('the report reads a sound ledger as before', () => {
  it('builds and renders the two-order run', () => {
    const data = report(run())();
    expect(data.report.queues.standard.processed).toBe(2);
    expect(data.report.queues.standard.applyIndexGaps).toBe(0);
    expect(data.clientRetries).toBe(0);
    expect(renderHtml(data)).toContain('<html');
  });

  it('takes an apply counter written as a string of digits, as it did', () => {
    const b = run();
    spoil(b.ledger.counters![0]!, { value: '3' });
    expect(report(b)().report.queues.standard.applyIndexGaps).toBe(1);
  });
});

describe('an effect the report cannot read', () => {
  it('is refused where a committedAt that is not a time made the latency NaN and the HTML page throw', () => {
    const b = run();
    spoil(b.ledger.effects[1]!, { committedAt: 'soon' });
    expectRefused(b, b.ledger.effects[1]!.sk, 'has committedAt "soon", not a time in epoch ms');
  });

  it.each([
    ['applyIndex', '2', 'has applyIndex "2", not an apply index (a whole number from 1)'],
    ['applyIndex', 0, 'has applyIndex 0, not an apply index (a whole number from 1)'],
    ['applyIndex', 1.5, 'has applyIndex 1.5, not an apply index (a whole number from 1)'],
    ['sequence', '10', 'has sequence "10", not a sequence number'],
    ['customerId', undefined, 'has customerId missing, not a customer id'],
    ['orderId', 7, 'has orderId 7, not an order id'],
    ['acceptedAt', null, 'has acceptedAt null, not a time in epoch ms'],
  ])('is refused when its %s is %p', (field, value, problem) => {
    const b = run();
    spoil(b.ledger.effects[0]!, { [field]: value });
    expectRefused(b, b.ledger.effects[0]!.sk, problem);
  });
});

describe('an accepted order the report cannot read', () => {
  it.each([
    ['acceptedAt', 'soon', 'has acceptedAt "soon", not a time in epoch ms'],
    ['acceptedAt', undefined, 'has acceptedAt missing, not a time in epoch ms'],
    ['orderId', '', 'has orderId "", not an order id'],
    ['requests', '3', 'has requests "3", not a number of requests (a whole number from 1)'],
    ['requests', 0, 'has requests 0, not a number of requests (a whole number from 1)'],
  ])('is refused when its %s is %p', (field, value, problem) => {
    const b = run();
    spoil(b.ledger.accepted[1]!, { [field]: value });
    expectRefused(b, 'ORDER#o2', problem);
  });

  it('is refused when the byRun index gives two items for one order, where both counted as accepted', () => {
    const b = run();
    b.ledger.accepted.push({ ...b.ledger.accepted[0]!, pk: 'ORDER#copy' });
    expectRefused(b, 'ORDER#copy', 'is a second accepted item of order "o1"');
  });
});

describe('a failure the report cannot read', () => {
  it.each([
    ['failedAt', '1450', 'has failedAt "1450", not a time in epoch ms'],
    ['messageId', undefined, 'has messageId missing, not an SQS message id'],
    ['orderId', 3, 'has orderId 3, not an order id'],
    // A final "true" read as not final (its dead letter unseen); notAttempted "no" read as set
    // (the failure left out of the failed deliveries).
    ['final', 'true', 'has final "true", not true or false'],
    ['final', undefined, 'has final missing, not true or false'],
    ['notAttempted', 'no', 'has notAttempted "no", not true'],
  ])('is refused when its %s is %p', (field, value, problem) => {
    const b = run();
    spoil(b.ledger.failures[0]!, { [field]: value });
    expectRefused(b, b.ledger.failures[0]!.sk, problem);
  });
});

describe('a time no ledger holds (finite, but past any Date, or before 1970)', () => {
  type Ledger = LedgerBuilder['ledger'];
  /** Each time field: the record holding it, and the key the refusal names it by. */
  const records: Array<[string, (l: Ledger) => { sk?: unknown }, string, (l: Ledger) => string]> = [
    ['an effect', (l) => l.effects[1]!, 'committedAt', (l) => l.effects[1]!.sk],
    ['an effect', (l) => l.effects[1]!, 'acceptedAt', (l) => l.effects[1]!.sk],
    ['a delivery', (l) => l.deliveries[0]!, 'receivedAt', (l) => l.deliveries[0]!.sk],
    ['a delivery', (l) => l.deliveries[1]!, 'outcomeAt', (l) => l.deliveries[1]!.sk],
    ['a failure', (l) => l.failures[0]!, 'failedAt', (l) => l.failures[0]!.sk],
    ['an accepted order', (l) => l.accepted[1]!, 'acceptedAt', () => 'ORDER#o2'],
  ];
  it.each(
    records.flatMap(([what, pick, field, named]) =>
      [1e308, 8.64e15 + 1, -1].map((value) => [what, field, value, pick, named] as const),
    ),
  )(
    'refuses %s whose %s is %p, where the report computed latencies from it (1e308 made their sums Infinity)',
    (_what, field, value, pick, named) => {
      const b = run();
      spoil(pick(b.ledger), { [field]: value });
      expectRefused(b, named(b.ledger), `has ${field} ${value}, ${NOT_TIME}`);
    },
  );

  it('reads the latest time a Date holds, 8.64e15 ms', () => {
    const b = run();
    spoil(b.ledger.effects[1]!, { committedAt: 8.64e15 });
    expect(Number.isFinite(report(b)().report.queues.standard.processed)).toBe(true);
  });
});

describe('an apply counter the report cannot read', () => {
  it.each([
    ['"many"', 'many'],
    ['0', 0],
    ['-4', -4],
    ['missing', undefined],
  ])('is refused when its value is %s, where it read as 0 and hid the gaps', (shown, value) => {
    const b = run();
    // The customer took a third index no effect was written for: one gap, unseen at 0.
    b.takeIndex('standard', 'c');
    const counter = b.ledger.counters![0]!;
    spoil(counter, { value });
    expectRefused(b, counter.sk, `has value ${shown}, not an apply index (a whole number from 1)`);
  });
});

describe('a number past 2^53, which the document client reads as a BigInt', () => {
  // 2^60: DynamoDB holds it, and the document client hands it over as a BigInt (a Number would
  // not be exact). The error named no item: JSON.stringify threw "Do not know how to serialize a
  // BigInt", a TypeError printed with its stack.
  const big = 2n ** 60n;
  it.each([
    ['an effect', 'committedAt', (b: LedgerBuilder) => b.ledger.effects[0]!, NOT_TIME],
    ['an effect', 'applyIndex', (b: LedgerBuilder) => b.ledger.effects[0]!, NOT_INDEX],
    ['a failure', 'failedAt', (b: LedgerBuilder) => b.ledger.failures[0]!, NOT_TIME],
    ['a delivery', 'receivedAt', (b: LedgerBuilder) => b.ledger.deliveries[0]!, NOT_TIME],
    ['an apply counter', 'value', (b: LedgerBuilder) => b.ledger.counters![0]!, NOT_INDEX],
  ])('is refused in %s (%s) with its digits', (_what, field, record, problem) => {
    const b = run();
    const r = record(b);
    spoil(r, { [field]: big });
    expectRefused(b, r.sk, `has ${field} 1152921504606846976, ${problem}`);
  });

  it('is refused in an accepted order (requests) with its digits', () => {
    const b = run();
    spoil(b.ledger.accepted[0]!, { requests: big });
    expectRefused(
      b,
      'ORDER#o1',
      'has requests 1152921504606846976, not a number of requests (a whole number from 1)',
    );
  });

  it('shows a DynamoDB set (read as a Set) as its members, where it showed {}', () => {
    const b = run();
    spoil(b.ledger.effects[0]!, { customerId: new Set(['c']) });
    expectRefused(b, b.ledger.effects[0]!.sk, 'has customerId ["c"], not a customer id');
  });
});
