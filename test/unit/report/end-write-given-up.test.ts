import {
  analyzeQueue,
  type DuplicateCauses,
  LedgerDataError,
} from '../../../services/report/src/domain/metrics';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import type { QueueKind } from '../../../shared/src/queue-kind';
import { LedgerBuilder } from './ledger-fixture';

/**
 * An invocation whose end write was given up at the cut (250 ms before its deadline) and then
 * committed: its deliveries read ended (`invocationEnd`, outcomes written), yet the invocation
 * failed, SQS deleted nothing of its batch and handed every record out again, one receive count
 * higher. Read from the deliveries alone, each redelivery was a queue copy (the same message id,
 * no earlier attempt failed), on FIFO too, which makes no copies. The consumer now writes a
 * failure per ended receive saying the end write failed (`endGivenUp`), and the report takes
 * the redeliveries for retries after failure.
 */
const causes = (some: Partial<DuplicateCauses>): DuplicateCauses => ({
  producerResend: 0,
  queueCopy: 0,
  retryAfterFailure: 0,
  dlqRedrive: 0,
  ...some,
});
const TIMEOUT = { attemptTimeoutMs: 10_000 };
const DEADLINE = 12_000;

/** Two orders in one invocation whose end write committed late; both handed out again. */
function lateCommit(queue: QueueKind, marked: boolean): LedgerBuilder {
  const b = new LedgerBuilder().accept('o1', 'c1', 1, 1000).accept('o2', 'c2', 1, 1001);
  for (const orderId of ['o1', 'o2']) {
    b.deliver(queue, orderId, 2000, 'applied', 1, {
      invocationId: 'inv-1',
      invocationEnd: true,
      outcomeAt: 2100,
      deadlineAt: DEADLINE,
    })
      .apply(queue, orderId, 2050)
      .deliver(queue, orderId, 62_500, 'suppressed', 2, {
        invocationId: 'inv-2',
        invocationEnd: true,
        outcomeAt: 62_550,
        deadlineAt: 72_500,
      });
    if (marked) b.endGivenUp(queue, orderId, 1, 'inv-1', DEADLINE - 250);
  }
  return b;
}

const analysis = (b: LedgerBuilder, queue: QueueKind) =>
  analyzeQueue(b.ledger, queue, undefined, TIMEOUT);

describe('redeliveries after an end write that committed once the consumer had given it up', () => {
  it.each(['fifo', 'standard'] as const)(
    'on %s, counts them as retries after failure by the mark the consumer wrote, not queue copies',
    (queue) => {
      // Arrange
      const b = lateCommit(queue, true);

      // Act
      const a = analysis(b, queue);

      // Assess: two retries, explained by the mark (none on the FIFO rule alone).
      expect(a.metrics.duplicateCauses).toEqual(causes({ retryAfterFailure: 2 }));
      expect(a.duplicates.fifoRetriesByQueueType).toBe(0);
      const notes = buildReport({
        runId: 'r',
        target: 'local',
        config: pipelineConfig,
        ledger: b.ledger,
      }).report.notes;
      expect(notes.filter((n) => n.includes('makes no copies'))).toEqual([]);
    },
  );

  it('without the mark, on FIFO, counts them as retries on the queue type’s rule and says so in a note', () => {
    // Arrange: the same ledger without the mark (a consumer that died between its end write and
    // its return, or an older consumer).
    const b = lateCommit('fifo', false);

    // Act
    const a = analysis(b, 'fifo');
    const notes = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    }).report.notes;

    // Assess
    expect(a.metrics.duplicateCauses).toEqual(causes({ retryAfterFailure: 2 }));
    expect(a.duplicates.fifoRetriesByQueueType).toBe(2);
    expect(notes.filter((n) => n.startsWith('fifo: 2 of its retries after failure'))).toHaveLength(
      1,
    );
  });

  it('without the mark, on standard, still counts them as queue copies: nothing tells them from copies', () => {
    const b = lateCommit('standard', false);
    expect(analysis(b, 'standard').metrics.duplicateCauses).toEqual(causes({ queueCopy: 2 }));
  });

  it('keeps two FIFO receives of one message with the same count a queue copy (a defect of the queue, not hidden)', () => {
    // Arrange: one receive, and another of the same message with the same count.
    const b = new LedgerBuilder()
      .accept('o1', 'c1', 1, 1000)
      .deliver('fifo', 'o1', 2000, 'applied', 1, { invocationId: 'inv-1', invocationEnd: true })
      .apply('fifo', 'o1', 2050)
      .deliver('fifo', 'o1', 2010, 'suppressed', 1, { invocationId: 'inv-2', invocationEnd: true });

    // Act
    const a = analysis(b, 'fifo');

    // Assess
    expect(a.metrics.duplicateCauses).toEqual(causes({ queueCopy: 1 }));
    expect(a.duplicates.fifoRetriesByQueueType).toBe(0);
  });

  it('refuses a failure whose endGivenUp is other than true', () => {
    const b = lateCommit('fifo', true);
    (b.ledger.failures[0] as unknown as Record<string, unknown>).endGivenUp = 'yes';
    expect(() => analysis(b, 'fifo')).toThrow(LedgerDataError);
    expect(() => analysis(b, 'fifo')).toThrow(/has endGivenUp "yes", not true/);
  });
});
