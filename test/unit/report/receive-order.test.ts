import fc from 'fast-check';
import {
  analyzeQueue,
  type DuplicateCauses,
  LedgerDataError,
  receiveCountOf,
} from '../../../services/report/src/domain/metrics';
import { renderMarkdown, renderTable } from '../../../services/report/src/domain/render-text';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import type { DeliveryRecord } from '../../../shared/src/ledger';
import { LedgerBuilder } from './ledger-fixture';

/**
 * Retry or queue copy, decided in SQS's order: a message's receives by their
 * ApproximateReceiveCount, not by the consumers' receive times (docs/report.md, "Retry or
 * queue copy"). Each ledger is one order on the standard queue; the consumer's function timeout
 * is 10 s.
 */

const SEED = 31;
const TIMEOUT = { attemptTimeoutMs: 10_000 };

const causes = (some: Partial<DuplicateCauses>): DuplicateCauses => ({
  producerResend: 0,
  queueCopy: 0,
  retryAfterFailure: 0,
  dlqRedrive: 0,
  ...some,
});

const one = () => new LedgerBuilder().accept('o1', 'c', 1, 1000);
const analysis = (b: LedgerBuilder) => analyzeQueue(b.ledger, 'standard', undefined, TIMEOUT);
const causesOf = (b: LedgerBuilder) => analysis(b).metrics.duplicateCauses;

/** Sets a field of the ledger's n-th delivery to what a damaged or foreign ledger might hold. */
function spoil(b: LedgerBuilder, n: number, fields: Record<string, unknown>): LedgerBuilder {
  const d = b.ledger.deliveries[n] as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) delete d[k];
    else d[k] = v;
  }
  return b;
}

describe('retry or queue copy, by SQS receive count', () => {
  it('counts a receive with a higher count than a failed attempt as its retry, though it reached its handler before that attempt failed', () => {
    // Visibility timeout 2 s, shorter than the batching window (1 s) plus the function's 2.5 s:
    // SQS handed m1 out again at 2 s while its first attempt still ran; that attempt then
    // failed at 3.5 s and deleted nothing, so the second receive is what its failure brought.
    const b = one()
      .deliver('standard', 'o1', 1000, 'failed', 1, { messageId: 'm1', outcomeAt: 3500 })
      .deliver('standard', 'o1', 3000, 'applied', 2, { messageId: 'm1', outcomeAt: 3100 })
      .apply('standard', 'o1', 3050);
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 1 }));
  });

  it('counts each retry of a chain of short-visibility failures as a retry', () => {
    // Each attempt outlived the visibility timeout and failed after the next receive began.
    const b = one()
      .deliver('standard', 'o1', 1000, 'failed', 1, { messageId: 'm1', outcomeAt: 3500 })
      .deliver('standard', 'o1', 3000, 'failed', 2, { messageId: 'm1', outcomeAt: 5500 })
      .deliver('standard', 'o1', 5000, 'applied', 3, { messageId: 'm1', outcomeAt: 5100 })
      .apply('standard', 'o1', 5050);
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 2 }));
  });

  it("takes the lowest count as the order's delivery, though another receive's handler clock reads earlier", () => {
    // Receive #2 ran on a poller whose batch closed first: its receivedAt is before #1's.
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2600 })
      .deliver('standard', 'o1', 1900, 'applied', 2, { messageId: 'm1', outcomeAt: 1950 })
      .apply('standard', 'o1', 1940);
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 1 }));
    expect(analysis(b).duplicates.byOutcome).toEqual({
      applied: 1,
      suppressed: 0,
      failed: 0,
      pending: 0,
    });
  });

  it('counts a higher count after an attempt whose invocation never ended as a retry, however soon it came', () => {
    // inv-1 applied o1 and never ended; SQS deleted nothing and handed m1 out again at 3000,
    // before inv-1's 10 s timeout had run out: its count says it came after inv-1's receive.
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1', invocationId: 'inv-1' })
      .apply('standard', 'o1', 2100)
      .deliver('standard', 'o1', 3000, 'suppressed', 2, {
        messageId: 'm1',
        invocationId: 'inv-2',
        invocationEnd: true,
      });
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 1 }));
  });

  it('counts a higher count after an attempt that never finished (pending) as a retry', () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'pending', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 2050)
      .deliver('standard', 'o1', 2500, 'suppressed', 2, {
        messageId: 'm1',
        suppressedBy: 'effect',
      });
    expect(causesOf(b)).toEqual(causes({ retryAfterFailure: 1 }));
  });

  it('counts a higher count after attempts that all deleted the message as a queue copy', () => {
    // m1 was applied and its invocation ended (Lambda deleted it); it came back with count 2:
    // the delete was lost, or the visibility timeout ran out under that successful attempt.
    const b = one()
      .deliver('standard', 'o1', 2000, 'applied', 1, {
        messageId: 'm1',
        invocationId: 'inv-1',
        invocationEnd: true,
      })
      .apply('standard', 'o1', 2050)
      .deliver('standard', 'o1', 1500, 'suppressed', 2, {
        messageId: 'm1',
        invocationId: 'inv-2',
        invocationEnd: true,
      });
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1 }));
  });

  it('counts two receives with the same count as copies of one receive, even when the earlier one failed first', () => {
    // A copy on another host with the same count: neither is the other's retry.
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2010 })
      .deliver('standard', 'o1', 70_000, 'applied', 1, { messageId: 'm1' })
      .apply('standard', 'o1', 70_050);
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1 }));
  });

  it('lets one failed attempt explain one retry: a second receive above it is a copy', () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 62_100, 'applied', 2, { messageId: 'm1' })
      .apply('standard', 'o1', 62_150)
      .deliver('standard', 'o1', 62_050, 'suppressed', 2, { messageId: 'm1' })
      .deliver('standard', 'o1', 122_200, 'suppressed', 3, { messageId: 'm1' });
    expect(causesOf(b)).toEqual(causes({ queueCopy: 2, retryAfterFailure: 1 }));
  });

  it("counts the retries of two hosts' copies that each failed as two retries", () => {
    // The emulator's copy on another host counts its own receives: two chains 1, 2 of one id.
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 2050, 'failed', 1, { messageId: 'm1', outcomeAt: 2150 })
      .deliver('standard', 'o1', 62_100, 'applied', 2, { messageId: 'm1' })
      .apply('standard', 'o1', 62_150)
      .deliver('standard', 'o1', 62_200, 'suppressed', 2, { messageId: 'm1' });
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 2 }));
  });

  it('counts both copies of a message in one batch as not deleted when one failed: Lambda reports a failure by message id', () => {
    // A copy on another host came in the same batch as the message (inv-1): one copy failed, the
    // other applied the order. The batch response names the failure by its message id, which
    // both copies carry, so Lambda deleted neither (local/event-source.ts messagesToDelete, as
    // Lambda's itemIdentifier): each came back, a retry apiece, and the second copy at count 1
    // was the copy.
    // The failed copy came in inv-1; the applied copy in `appliedIn`.
    const batch = (b: LedgerBuilder, appliedIn = 'inv-1') =>
      b
        .deliver('standard', 'o1', 2000, 'failed', 1, {
          messageId: 'm1',
          outcomeAt: 2100,
          invocationId: 'inv-1',
          invocationEnd: true,
        })
        .deliver('standard', 'o1', 2000, 'applied', 1, {
          messageId: 'm1',
          outcomeAt: 2300,
          invocationId: appliedIn,
          invocationEnd: true,
        })
        .apply('standard', 'o1', 2200)
        .deliver('standard', 'o1', 62_300, 'suppressed', 2, {
          messageId: 'm1',
          invocationId: 'inv-2',
          invocationEnd: true,
        })
        .deliver('standard', 'o1', 62_400, 'suppressed', 2, {
          messageId: 'm1',
          invocationId: 'inv-3',
          invocationEnd: true,
        });
    expect(causesOf(batch(one()))).toEqual(causes({ queueCopy: 1, retryAfterFailure: 2 }));
    // Read in time order (no counts), the same: the applied copy ended without a delete when its
    // batch's response was written.
    const timeOrdered = batch(one());
    for (const n of [0, 1, 2, 3]) spoil(timeOrdered, n, { receiveCount: undefined });
    expect(causesOf(timeOrdered)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 2 }));
    // Copies in different batches: the applied one was deleted, its batch failed nothing.
    const apart = batch(one(), 'inv-0');
    expect(causesOf(apart)).toEqual(causes({ queueCopy: 2, retryAfterFailure: 1 }));
  });

  it('counts the copy that ran as not deleted when another receive of its message in the batch was handed back unrun (its not-attempted failure)', () => {
    // Two copies of m1 in one batch (inv-1): one applied the order, the consumer handed the other
    // back unrun (past the cut on its calls), leaving no delivery, only a not-attempted failure
    // naming the invocation. The batch response named m1 failed, so Lambda deleted neither:
    // both came back at count 2, the applied one's a retry, the other the copy's.
    const batch = () => {
      const b = one()
        .deliver('standard', 'o1', 2000, 'applied', 1, {
          messageId: 'm1',
          outcomeAt: 2300,
          invocationId: 'inv-1',
          invocationEnd: true,
        })
        .apply('standard', 'o1', 2200)
        .notAttempted('standard', 'o1', 1, 'inv-1')
        .deliver('standard', 'o1', 62_300, 'suppressed', 2, {
          messageId: 'm1',
          invocationId: 'inv-2',
          invocationEnd: true,
        })
        .deliver('standard', 'o1', 62_400, 'suppressed', 2, {
          messageId: 'm1',
          invocationId: 'inv-2',
          invocationEnd: true,
        });
      const f = b.ledger.failures.at(-1)!;
      f.messageId = 'm1';
      f.final = false;
      f.failedAt = 2400;
      return b;
    };
    expect(causesOf(batch())).toEqual(causes({ queueCopy: 1, retryAfterFailure: 1 }));
    // Read in time order (no counts), the same.
    const timeOrdered = batch();
    for (const n of [0, 1, 2]) spoil(timeOrdered, n, { receiveCount: undefined });
    expect(causesOf(timeOrdered)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 1 }));
    // Handed back in another invocation: the applied one was deleted.
    const apart = batch();
    apart.ledger.failures.at(-1)!.invocationId = 'inv-0';
    expect(causesOf(apart)).toEqual(causes({ queueCopy: 2 }));
  });

  it('takes a batch that named a copy failed as having left the other undeleted from that failure on, though the invocation then died', () => {
    // Time order (no counts): inv-1 never ended (its 10 s run out at 12_000), but its response
    // had named m1 failed at 2100; both receives at 5000 came after that, so both are retries.
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, {
        messageId: 'm1',
        outcomeAt: 2100,
        invocationId: 'inv-1',
      })
      .deliver('standard', 'o1', 2000, 'applied', 1, { messageId: 'm1', invocationId: 'inv-1' })
      .apply('standard', 'o1', 2050)
      .deliver('standard', 'o1', 5000, 'suppressed', 2, { messageId: 'm1', invocationId: 'inv-2' })
      .deliver('standard', 'o1', 5000, 'suppressed', 2, { messageId: 'm1', invocationId: 'inv-3' });
    for (const n of [0, 1, 2, 3]) spoil(b, n, { receiveCount: undefined });
    expect(causesOf(b)).toEqual(causes({ queueCopy: 1, retryAfterFailure: 2 }));
  });

  it("keeps each message's own count: a re-sent message's count 1 is its first receive, not a copy of the first message's", () => {
    const b = one()
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .deliver('standard', 'o1', 2500, 'applied', 1, { messageId: 'm2' })
      .apply('standard', 'o1', 2550)
      .deliver('standard', 'o1', 62_100, 'suppressed', 2, { messageId: 'm1' });
    expect(causesOf(b)).toEqual(causes({ producerResend: 1, retryAfterFailure: 1 }));
  });

  it("decides a message's causes from its counts alone: the consumers' clocks change nothing", () => {
    const outcomes = ['applied', 'suppressed', 'failed', 'pending'] as const;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            count: fc.integer({ min: 1, max: 5 }),
            outcome: fc.constantFrom(...outcomes),
            ended: fc.boolean(),
          }),
          { minLength: 2, maxLength: 10 },
        ),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 10, maxLength: 10 }),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 10, maxLength: 10 }),
        (steps, timesA, timesB) => {
          const build = (times: number[]) => {
            const b = one();
            steps.forEach((s, i) => {
              const at = 2000 + times[i]!;
              b.deliver('standard', 'o1', at, s.outcome, s.count, {
                messageId: 'm1',
                outcomeAt: at + 1,
                invocationId: `inv-${i}`,
                ...(s.ended ? { invocationEnd: true } : {}),
              });
            });
            return analysis(b).metrics.duplicateCauses;
          };
          const a = build(timesA);
          expect(build(timesB)).toEqual(a);
          // Never more retries than attempts that ended without a delete.
          const ended = steps.filter(
            (s) => !s.ended || s.outcome === 'failed' || s.outcome === 'pending',
          ).length;
          expect(a.retryAfterFailure).toBeLessThanOrEqual(ended);
          expect(a.queueCopy + a.retryAfterFailure).toBe(steps.length - 1);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('receive counts a ledger may hold', () => {
  it('reads a positive integer, or a string of digits, and nothing else', () => {
    for (const [raw, read] of [
      [1, 1],
      [7, 7],
      ['3', 3],
      ['10', 10],
      [0, undefined],
      [-1, undefined],
      [1.5, undefined],
      [Number.NaN, undefined],
      [Number.POSITIVE_INFINITY, undefined],
      ['', undefined],
      ['2.0', undefined],
      [' 2', undefined],
      ['0x2', undefined],
      ['1e3', undefined],
      [null, undefined],
      [undefined, undefined],
      [{ N: '2' }, undefined],
      [[2], undefined],
      [true, undefined],
      ['99999999999999999999', undefined],
      // Leading zeros are no digits of the count.
      ['00000000000000000003', 3],
      ['00000000000000000000', undefined],
    ] as const) {
      expect({ raw, read: receiveCountOf({ receiveCount: raw }) }).toEqual({ raw, read });
    }
  });

  it('orders counts held as strings by their number, not their text ("10" after "9")', () => {
    // Receives 9 and 10 of m1, the 10th stamped first: read as text "10" < "9" and the retry
    // would be taken for the delivery.
    const b = one()
      .deliver('standard', 'o1', 5000, 'failed', 9, { messageId: 'm1', outcomeAt: 5100 })
      .deliver('standard', 'o1', 4000, 'applied', 10, { messageId: 'm1' })
      .apply('standard', 'o1', 4050);
    spoil(b, 0, { receiveCount: '9' });
    spoil(b, 1, { receiveCount: '10' });
    const a = analysis(b);
    expect(a.metrics.duplicateCauses).toEqual(causes({ retryAfterFailure: 1 }));
    expect(a.duplicates.byOutcome.applied).toBe(1);
    expect(a.metrics.redeliveries).toBe(2);
    expect(a.duplicates.timeOrderedMessages).toBe(0);
  });

  it('takes a message whose receives lack a usable count in time order, as before the counts were used, and says so', () => {
    // The same receives as the first rule's, without counts: by time the second receive came
    // before the failure, so it reads as a copy; the report notes the weaker reading.
    for (const bad of [undefined, null, 0, 'two', { N: '2' }, Number.NaN]) {
      const b = one()
        .deliver('standard', 'o1', 1000, 'failed', 1, { messageId: 'm1', outcomeAt: 3500 })
        .deliver('standard', 'o1', 3000, 'applied', 2, { messageId: 'm1' })
        .apply('standard', 'o1', 3050);
      spoil(b, 1, { receiveCount: bad });
      const a = analysis(b);
      expect({ bad, causes: a.metrics.duplicateCauses }).toEqual({
        bad,
        causes: causes({ queueCopy: 1 }),
      });
      expect(a.duplicates.timeOrderedMessages).toBe(1);
      expect(a.metrics.redeliveries).toBe(0);
      const { report } = buildReport({
        runId: 'r',
        target: 'local',
        config: pipelineConfig,
        ledger: b.ledger,
      });
      expect(report.notes).toEqual([
        "standard: 1 message received more than once had no usable ApproximateReceiveCount in the ledger; their retries and queue copies were told apart by the consumers' receive times, not by SQS's order",
      ]);
      expect(renderTable(report)).toContain(`note: ${report.notes[0]}`);
      expect(renderMarkdown(report)).toContain(`## Notes\n\n- ${report.notes[0]}`);
    }
  });

  it('adds no note when every repeated message has its counts, nor for a message received once without one', () => {
    const b = one()
      .deliver('standard', 'o1', 1000, 'failed', 1, { messageId: 'm1', outcomeAt: 3500 })
      .deliver('standard', 'o1', 3000, 'applied', 2, { messageId: 'm1' })
      .apply('standard', 'o1', 3050)
      .deliver('standard', 'o1', 4000, 'suppressed', 1, { messageId: 'm2' });
    spoil(b, 2, { receiveCount: undefined });
    const data = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    });
    expect(data.report.notes).toEqual([]);
    expect(data.report.queues.standard.duplicateCauses).toEqual(
      causes({ producerResend: 1, retryAfterFailure: 1 }),
    );
  });

  it.each([
    ['messageId', undefined, 'has messageId missing, not an SQS message id'],
    ['messageId', '', 'has messageId "", not an SQS message id'],
    ['orderId', 42, 'has orderId 42, not an order id'],
    ['outcome', 'done', 'has outcome "done", not one of applied, suppressed, failed, pending'],
    ['outcome', undefined, 'has outcome missing, not one of applied, suppressed, failed, pending'],
    ['receivedAt', '3000', 'has receivedAt "3000", not a time in epoch ms'],
    ['receivedAt', undefined, 'has receivedAt missing, not a time in epoch ms'],
    // Optional fields that, there and malformed, changed a cause unannounced: an outcomeAt that
    // is no number made the failure's time NaN (no retry matched it), a string invocationEnd
    // "false" read as ended, an unknown suppressedBy as the record's.
    ['outcomeAt', 'later', 'has outcomeAt "later", not a time in epoch ms'],
    ['outcomeAt', null, 'has outcomeAt null, not a time in epoch ms'],
    ['invocationEnd', 'false', 'has invocationEnd "false", not true or false'],
    ['invocationId', 5, 'has invocationId 5, not an invocation id'],
    ['suppressedBy', 'Effect', 'has suppressedBy "Effect", not one of record, effect'],
  ])('refuses a delivery whose %s is %p with an error naming the item', (field, value, problem) => {
    const b = one()
      .deliver('standard', 'o1', 1000, 'failed', 1, { messageId: 'm1', outcomeAt: 3500 })
      .deliver('standard', 'o1', 3000, 'applied', 2, { messageId: 'm1' })
      .apply('standard', 'o1', 3050);
    spoil(b, 1, { [field]: value });
    const sk = (b.ledger.deliveries[1] as DeliveryRecord).sk;
    const report = () =>
      buildReport({ runId: 'r', target: 'local', config: pipelineConfig, ledger: b.ledger });
    expect(report).toThrow(LedgerDataError);
    expect(report).toThrow(`ledger item ${sk} ${problem}: the report cannot read the run`);
    // One line for the terminal, no stack (shared/src/cli/args.ts runMain prints `expose` errors so).
    try {
      report();
    } catch (err) {
      expect((err as { expose?: boolean }).expose).toBe(true);
    }
  });
});
