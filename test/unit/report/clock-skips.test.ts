import { LedgerDataError } from '../../../services/report/src/domain/metrics';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { type ClockSkipRecord, clockSkipSk } from '../../../shared/src/ledger';
import { fifoRedelivery, readDlqs } from './ledger-fixture';

/**
 * The advances of the functions' clock a local run's runner wrote to the ledger
 * (ClockSkipRecord): the report shows them in a note, reads every stamp as written, and refuses
 * an item that holds no skip.
 */
const skip = (n: number, at: unknown, ms: unknown): ClockSkipRecord =>
  ({ pk: 'RUN#r', sk: clockSkipSk(n), type: 'clockSkip', runId: 'r', at, ms }) as ClockSkipRecord;

function reportWith(clockSkips?: ClockSkipRecord[]) {
  const b = readDlqs(fifoRedelivery());
  if (clockSkips) b.ledger.clockSkips = clockSkips;
  return buildReport({ runId: 'r', target: 'local', config: pipelineConfig, ledger: b.ledger });
}

const skipNotes = (notes: readonly string[]) => notes.filter((n) => n.includes('CLOCKSKIP'));

describe("the report on the run's clock skips", () => {
  it('says how many, how far in all and when the first came, and counts nothing else differently', () => {
    const plain = reportWith();
    const skipped = reportWith([skip(1, 70_000, 61_000), skip(2, 140_000, 61_000)]);
    expect(skipNotes(plain.report.notes)).toEqual([]);
    expect(skipNotes(skipped.report.notes)).toEqual([
      "the run's runner advanced the functions' clock 2 times, 122.0 s in all, the first at 1970-01-01T00:01:10.000Z on that clock (a local run skipping visibility timeouts once nothing was in flight; the ledger's CLOCKSKIP items): every time the consumers stamped after a skip is that much later than the wall clock, so a latency across one includes it, as a retry's wait for its visibility timeout would, and an invocation that ran across one has its outcome stamp moved and not its deadline; the report reads every stamp as written",
    ]);
    expect(skipped.report.queues).toEqual(plain.report.queues);
    expect(skipped.report.notes.filter((n) => !n.includes('CLOCKSKIP'))).toEqual(
      plain.report.notes,
    );
  });

  it.each<[string, unknown, unknown, string]>([
    ['no time', 'soon', 61_000, 'has at "soon", not a time in epoch ms'],
    ['a time past any a ledger holds', 1e300, 61_000, 'has at 1e+300, not a time in epoch ms'],
    ['no length', 70_000, undefined, 'has ms missing, not a whole number of ms above 0'],
    ['a length of 0', 70_000, 0, 'has ms 0, not a whole number of ms above 0'],
    ['a fraction of a ms', 70_000, 0.5, 'has ms 0.5, not a whole number of ms above 0'],
  ])('refuses a skip with %s, naming its item', (_, at, ms, problem) => {
    expect(() => reportWith([skip(1, 70_000, 61_000), skip(2, at, ms)])).toThrow(LedgerDataError);
    expect(() => reportWith([skip(1, 70_000, 61_000), skip(2, at, ms)])).toThrow(
      `ledger item CLOCKSKIP#000000002 ${problem}: the report cannot read the run`,
    );
  });
});
