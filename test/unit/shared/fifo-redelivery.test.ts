import { runFindings } from '../../../lab/soak/check';
import { LedgerDataError } from '../../../services/report/src/domain/metrics';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { CLOCK_STEP_MS, judgeFifoRedeliveries } from '../../../shared/src/fifo-redelivery';
import type { DeliveryRecord, FailureRecord } from '../../../shared/src/ledger';
import {
  fifoRedelivery,
  type LedgerBuilder,
  numberFifoMessages,
  readDlqs,
} from '../report/ledger-fixture';

/**
 * The report and the run check judge a FIFO redelivery by one rule (shared/src/fifo-redelivery.ts):
 * fed the same ledgers, the report's FIFO retries on the queue type's rule alone and its FIFO
 * queue copies are the receives the check names, and a ledger the rule cannot judge by is
 * refused by the report and named by the check.
 */

const VISIBILITY_MS = pipelineConfig.queues.fifo.visibilityTimeoutSeconds * 1000;

/**
 * The fixture's FIFO redelivery of o1 (fifoRedelivery: received at #1 in i1, applied, and again
 * at #2 in i2, suppressed); `change` adds or alters what the ledger holds of it.
 */
function redelivered(change?: (b: LedgerBuilder, fifo: DeliveryRecord[]) => void): LedgerBuilder {
  const b = fifoRedelivery();
  change?.(
    b,
    b.ledger.deliveries.filter((d) => d.queue === 'fifo'),
  );
  return readDlqs(numberFifoMessages(b));
}

const report = (b: LedgerBuilder) =>
  buildReport({ runId: 'r', target: 'local', config: pipelineConfig, ledger: b.ledger });

/**
 * The check's lines of FIFO redeliveries it does not pass, by kind; `functionTimeoutMs`, the
 * FIFO consumer's timeout as the run deployed it (absent: the config's).
 */
function checkLines(b: LedgerBuilder, built = report(b).report, functionTimeoutMs?: number) {
  const { violations } = runFindings({
    acceptedIds: ['o1'],
    ledger: b.ledger,
    report: built,
    ...(functionTimeoutMs !== undefined ? { functionTimeoutMs: { fifo: functionTimeoutMs } } : {}),
  });
  return {
    violations,
    unexplained: violations.filter((l) => l.endsWith('so this redelivery is unexplained')),
    copies: violations.filter((l) => l.includes('a FIFO queue makes no copies, and SQS counts')),
  };
}

describe('the FIFO redelivery rule, as the report and the run check both judge by it', () => {
  it.each<[string, (b: LedgerBuilder, fifo: DeliveryRecord[]) => void, number, number, number?]>([
    ['nothing says #1 was not deleted', () => {}, 1, 0],
    [
      '#1 failed',
      (_, [r1]) => {
        r1!.outcome = 'failed';
      },
      0,
      0,
    ],
    [
      '#1 never ended',
      (_, [r1]) => {
        r1!.outcome = 'pending';
      },
      0,
      0,
    ],
    ["#1's invocation never ended", (_, [r1]) => void delete r1!.invocationEnd, 0, 0],
    [
      "#1's invocation gave its end write up",
      (b) => void b.endGivenUp('fifo', 'o1', 1, 'i1', 11_500),
      0,
      0,
    ],
    [
      // A function whose timeout is as long as the queue's visibility timeout (the longest an
      // event source mapping takes), #1 ending at its deadline; the run says it deployed it so.
      '#1 ran as long as the visibility timeout, within its deadline',
      (_, [r1]) => {
        r1!.deadlineAt = 2000 + VISIBILITY_MS;
        r1!.outcomeAt = 2000 + VISIBILITY_MS;
      },
      0,
      0,
      VISIBILITY_MS,
    ],
    [
      // SQS handed #1 out at about 2,000 and its invocation began at 54,000 (a batching window
      // held the batch): its visibility timeout ran out at 62,000, #2 came at 63,000, and #1
      // ended at 63,500, within its deadline.
      '#2 came before #1 ended, within its deadline',
      (b, [r1]) => {
        r1!.receivedAt = 54_000;
        r1!.deadlineAt = 64_000;
        r1!.outcomeAt = 63_500;
        b.ledger.effects.find((e) => e.queue === 'fifo')!.committedAt = 63_400;
      },
      0,
      0,
    ],
    [
      // Past its deadline by no more than the clock step the checks allow: not a ledger problem,
      // and nothing else says #1 was not deleted.
      '#1 ended a clock step past its deadline',
      (_, [r1]) => {
        r1!.outcomeAt = 12_000 + CLOCK_STEP_MS;
      },
      1,
      0,
    ],
    [
      '#1 names no invocation and no end',
      (_, [r1]) => {
        delete r1!.invocationId;
        delete r1!.invocationEnd;
      },
      0,
      0,
    ],
    [
      'the ledger holds no #1 (the receive above is #3)',
      (_, [, r2]) => {
        r2!.receiveCount = 3;
      },
      0,
      0,
    ],
    [
      '#2 twice (a copy FIFO does not make), #1 failed',
      (b, [r1]) => {
        r1!.outcome = 'failed';
        b.deliver('fifo', 'o1', 63_000, 'suppressed', 2, {
          invocationId: 'i3',
          invocationEnd: true,
          outcomeAt: 63_200,
        });
      },
      0,
      1,
    ],
    // A failure record explains a redelivery only as the consumer writes it: a mark naming an
    // invocation (a give-up of the end write, a hand-back) beside that invocation's receive of
    // the message at that count; a failed attempt's (which names none) only while no receive at
    // that count reads applied or suppressed and ended. Each below explained #2 before.
    [
      'a give-up mark at #1 names an invocation that received nothing',
      (b) => void b.endGivenUp('fifo', 'o1', 1, 'i-nobody', 11_500),
      1,
      0,
    ],
    [
      "a give-up mark at #1 names #2's invocation",
      (b) => void b.endGivenUp('fifo', 'o1', 1, 'i2', 11_500),
      1,
      0,
    ],
    [
      "a give-up mark names #1's invocation at #2, a receive it did not make",
      (b) => void b.endGivenUp('fifo', 'o1', 2, 'i1', 73_500),
      1,
      0,
    ],
    [
      'a hand-back at #1 names an invocation that received nothing',
      (b) => void b.notAttempted('fifo', 'o1', 1, 'i-nobody'),
      1,
      0,
    ],
    [
      "a hand-back names #1's invocation at #2, a receive it did not make",
      (b) => void b.notAttempted('fifo', 'o1', 2, 'i1'),
      1,
      0,
    ],
    [
      // The consumer removes a hand-back's receipt: #1 of i1 reads applied and ended, so i1 ran
      // it, and a hand-back of it in the same batch would be a second receive of the message at
      // #1, a copy FIFO does not make. #2 is the queue type's retry (the note), not explained.
      "a hand-back names #1's invocation at #1, which applied in it and ended",
      (b) => void b.notAttempted('fifo', 'o1', 1, 'i1'),
      1,
      0,
    ],
    [
      // #2 said to be received in #1's invocation i1 and failed there: two receives of one
      // message in one invocation, which FIFO never hands out. It explained itself as "a copy
      // of it failed in its batch" beside #1, which applied and ended.
      "#2 failed in #1's invocation, beside #1 that applied and ended",
      (_, [, r2]) => {
        r2!.invocationId = 'i1';
        r2!.outcome = 'failed';
      },
      1,
      0,
    ],
    [
      "a failed attempt's failure at #1, which applied in an invocation that ended",
      (b) => void b.fail('fifo', 'o1', 1, false, { failedAt: 2080 }),
      1,
      0,
    ],
    [
      // The consumer names an invocation only on a hand-back or a give-up mark, never on a failed
      // attempt's failure: naming #1's own invocation does not make one speak for #1.
      "a failed attempt's failure at #1 naming #1's invocation, which applied in it and ended",
      (b) => {
        b.fail('fifo', 'o1', 1, false, { failedAt: 2080 });
        b.ledger.failures.at(-1)!.invocationId = 'i1';
      },
      1,
      0,
    ],
    [
      'a give-up mark naming no invocation at #1, which names one',
      (b) => {
        b.endGivenUp('fifo', 'o1', 1, 'i1', 11_500);
        delete b.ledger.failures.at(-1)!.invocationId;
      },
      1,
      0,
    ],
    // As the consumer writes them, they still explain it.
    [
      "a failed attempt's failure at #1, which failed",
      (b, [r1]) => {
        r1!.outcome = 'failed';
        b.fail('fifo', 'o1', 1, false, { failedAt: 2080 });
      },
      0,
      0,
    ],
    [
      // The invocation wrote its failures, then died before its outcomes.
      "a failed attempt's failure at #1, which never ended",
      (b, [r1]) => {
        r1!.outcome = 'pending';
        delete r1!.outcomeAt;
        delete r1!.invocationEnd;
        b.fail('fifo', 'o1', 1, false, { failedAt: 2080 });
      },
      0,
      0,
    ],
    [
      // A runtime that gave no request id: the receipt and the give-up mark both name none, and a
      // try of the end write given up committed after all (#1 reads applied and ended).
      'a give-up mark naming no invocation at #1, which names none either',
      (b, [r1]) => {
        delete r1!.invocationId;
        b.endGivenUp('fifo', 'o1', 1, 'i1', 11_500);
        delete b.ledger.failures.at(-1)!.invocationId;
      },
      0,
      0,
    ],
  ])('agree when %s', (_, change, unexplained, copies, functionTimeoutMs = undefined) => {
    // (A default, so the test function takes the rows' four arguments: a fifth would be `done`.)
    const b = redelivered(change);
    const { duplicates } = report(b).analysis.fifo;
    const lines = checkLines(b, undefined, functionTimeoutMs);
    expect([duplicates.fifoRetriesByQueueType, duplicates.causes.queueCopy]).toEqual([
      unexplained,
      copies,
    ]);
    expect([lines.unexplained.length, lines.copies.length]).toEqual([unexplained, copies]);
    // Nothing else in the run is wrong.
    expect(lines.violations).toEqual([...lines.unexplained, ...lines.copies]);
  });

  it.each<[string, (fifo: DeliveryRecord[], failures: FailureRecord[]) => void, string]>([
    [
      'an end mark that is no boolean',
      ([r1]) => {
        (r1 as unknown as { invocationEnd: string }).invocationEnd = 'true';
      },
      'has invocationEnd "true", not true or false',
    ],
    [
      'an outcome that is none',
      ([r1]) => {
        (r1 as unknown as { outcome: string }).outcome = 'done';
      },
      'has outcome "done", not one of applied, suppressed, failed, pending',
    ],
    [
      'a receive count that is none, on a message received twice',
      ([, r2]) => {
        (r2 as unknown as { receiveCount: string }).receiveCount = 'x';
      },
      `has receiveCount "x", not a receive count, on a FIFO message received 2 times: its receives cannot be put in SQS's order`,
    ],
    [
      'an end-given-up mark that is not true',
      (_, [f]) => {
        (f as unknown as { endGivenUp: string }).endGivenUp = 'yes';
      },
      'has endGivenUp "yes", not true',
    ],
  ])('both fail on %s', (_, spoil, problem) => {
    // The report the pipeline built before the record was spoiled, as the check reads it: #1's
    // invocation gave its end write up, which explains #2.
    const b = redelivered((l) => void l.endGivenUp('fifo', 'o1', 1, 'i1', 11_500));
    const before = report(b).report;
    spoil(
      b.ledger.deliveries.filter((d) => d.queue === 'fifo'),
      b.ledger.failures,
    );
    expect(() => report(b)).toThrow(LedgerDataError);
    expect(() => report(b)).toThrow(problem);
    expect(checkLines(b, before).violations.some((l) => l.includes(problem))).toBe(true);
    expect(judgeFifoRedeliveries(b.ledger.deliveries, b.ledger.failures).problems).toHaveLength(1);
  });

  it("the report's note on a FIFO retry the rule leaves unexplained says what the rule ruled out, a visibility timeout that ran out among it", () => {
    const fifoNotes = (b: LedgerBuilder) =>
      report(b).report.notes.filter((n) => n.startsWith('fifo: ') && n.includes('rule alone'));
    // #1 applied in 100 ms in an invocation that ended, long before #2 came: unexplained.
    expect(fifoNotes(redelivered())).toEqual([
      "fifo: 1 of its retries after failure follow a receive the ledger shows ending well: applied or suppressed, in an invocation that ended, in less than the queue's visibility timeout and before the message was received again, with no failure record of it as the consumer writes one (a hand-back of its invocation beside a receive that ran and ended is none), and a receive of it failing or left unended in the same invocation explains nothing (two receives of one message in one batch); a FIFO queue makes no copies, so each is counted a retry on that rule alone; SQS received the message again because that receive was not deleted, for a reason the ledger does not show (an invocation that died or failed after its end write committed, with no mark of it; a delete Lambda could not make or SQS lost)",
    ]);
    // A visibility timeout that ran out under #1 (a function whose timeout is as long) is the
    // rule's retry: no note.
    expect(
      fifoNotes(
        redelivered((_, [r1]) => {
          r1!.deadlineAt = 2000 + VISIBILITY_MS;
          r1!.outcomeAt = 2000 + VISIBILITY_MS;
        }),
      ),
    ).toEqual([]);
  });

  it("the check holds an outcome to its invocation's deadline, less the run's clock skips; the report reads it as written", () => {
    // #1's outcome at 62,000, 50 s after its invocation's deadline (12,000), when Lambda had ended
    // it: read as written, #1 ran as long as the visibility timeout and explained #2. The check
    // passed it.
    const b = redelivered((_, [r1]) => {
      r1!.outcomeAt = 2000 + VISIBILITY_MS;
    });
    const problem = `has outcomeAt ${2000 + VISIBILITY_MS}, ${2000 + VISIBILITY_MS - 12_000} ms after its invocation's deadline (deadlineAt 12000): Lambda had ended that invocation, so it wrote no outcome then`;
    const lines = checkLines(b);
    expect(lines.violations).toHaveLength(2);
    expect(lines.violations[0]).toContain(problem);
    expect(lines.unexplained).toHaveLength(1);
    const judged = judgeFifoRedeliveries(b.ledger.deliveries, b.ledger.failures, {
      visibilityMs: VISIBILITY_MS,
      clockSkips: [],
    });
    expect(judged.problems.map((p) => [p.kind, p.problem])).toEqual([['deadline', problem]]);
    // The report does not judge by a run's clock skips: it reads the outcome as written.
    expect(report(b).analysis.fifo.duplicates.fifoRetriesByQueueType).toBe(0);
    // A run that moved the functions' clock 60 s forward while #1's invocation ran (its outcome's
    // stamp moved, its deadline did not): nothing wrong, and the timeout explains #2.
    const built = report(b).report;
    expect(
      runFindings({
        acceptedIds: ['o1'],
        ledger: b.ledger,
        report: built,
        clockSkips: [{ at: 2050, ms: 60_000 }],
      }).violations,
    ).toEqual([]);
    // A skip over before the receive, or too short, leaves it named.
    for (const skip of [
      { at: 500, ms: 1000 },
      { at: 2050, ms: 40_000 },
    ]) {
      expect(
        runFindings({ acceptedIds: ['o1'], ledger: b.ledger, report: built, clockSkips: [skip] })
          .violations,
      ).toHaveLength(2);
    }
  });
});
