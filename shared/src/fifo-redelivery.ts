import { type DeliveryRecord, type FailureRecord, shownValue } from './ledger';
import { LATEST_TIME_MS } from './order-message';

/**
 * The FIFO redelivery rule, one judgement for the report (services/report/src/domain/metrics.ts:
 * its `retryAfterFailure`, `queueCopy` and `fifoRetriesByQueueType` of a FIFO queue) and the run
 * check (lab/soak/check.ts: its unexplained FIFO redeliveries), so the two cannot read one ledger
 * two ways. Pure: it reads the records it is given and nothing else.
 *
 * A FIFO queue makes no copies (SQS Developer Guide, exactly-once processing; the local
 * emulator's faults leave FIFO alone): SQS hands a message out again, one receive count higher,
 * only when the receive before was not deleted. So each receive of a message above its first (by
 * SQS's ApproximateReceiveCount) is judged by what the ledger holds at the count one below:
 * - `retry`: something there says that receive ended without a delete: it failed or never ended
 *   (`pending`), a visibility timeout ran out under it (it ran as long as the queue's visibility
 *   timeout, or the receive above came before it ended: SQS's receive can precede the
 *   invocation's start, by a batching window, so a receive above can come within the deadline;
 *   an outcome past the deadline is a problem, below), it names no invocation and no end, its
 *   invocation never ended (no receive of it carries the end mark, or one is still pending) or
 *   the consumer gave its end write up (an `endGivenUp` failure names it, of a receive the
 *   ledger holds it made), a failure record of that receive (failureCounts: a give-up mark naming an
 *   invocation only beside that invocation's receive of the message at that count; a hand-back
 *   naming one only beside that invocation's receive there that does not read applied or
 *   suppressed and ended, the consumer removing a hand-back's own receipt; a failed attempt's,
 *   which names none, only while no receive at that count reads applied or suppressed and
 *   ended, and so any other failure, whatever it names), or a
 *   delete the emulator lost at that count (evidence only the emulator has; the report has
 *   none). A count below of which the ledger holds no receive at all (its invocation left no
 *   record of it) is taken as ended without a delete too: nothing there says it was deleted.
 * - `unexplained`: the ledger holds receives at the count below and none of them, nor anything
 *   else, says the message was left undeleted. The report counts it a retry on the queue type's
 *   rule alone (`fifoRetriesByQueueType`, and a note); the check names it.
 * - `copy`: a second receive of the message at one count, which a FIFO queue does not make. The
 *   report counts it a queue copy; the check names it.
 *
 * Ledger data the rule reads and cannot judge by is a problem, never a guess: a FIFO record with
 * a field of the wrong kind (an end mark of "true" read as no end would explain a redelivery), or
 * a message received more than once with a receive that has no usable receive count (its
 * receives cannot be put in SQS's order). The report refuses the ledger on the first
 * (LedgerDataError); the check names each. The check also holds each receive's outcome to its
 * invocation's deadline (outcomePastDeadline, given the run's clock skips: `clockSkips`): read
 * as written, an outcome past it ran as long as the visibility timeout and explained any
 * redelivery; and the deadline to the function's timeout as deployed (deadlinePastTimeout,
 * `functionTimeoutMs`), or a deadline stamped far out let such an outcome within it. The report reads outcomes as written: it shows the skips a local run wrote to the ledger (ClockSkipRecord, a note) and does not judge by them. A message received as more than one order is judged
 * by neither: the check names it on its own (receivedAsMore), the report reads its receives by
 * order as on a standard queue.
 */

/** A count SQS or the ledger holds, as a number (see positiveIntegerOf in the report's metrics). */
export function positiveIntegerOf(raw: unknown): number | undefined {
  const n =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^0*\d{1,15}$/.test(raw)
        ? Number(raw)
        : Number.NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** A field's value as a problem shows it: a number as itself, else as shownValue shows it. */
export const shown = (v: unknown): string =>
  typeof v === 'number' ? String(v) : (shownValue(v) ?? 'missing');

/** A time in epoch ms, from 1970 to LATEST_TIME_MS: every time a real ledger holds is one. */
export const isLedgerTime = (v: unknown): v is number =>
  typeof v === 'number' && v >= 0 && v <= LATEST_TIME_MS;
const isId = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * How far the checks allow the consumer's clock to step back between two of its stamps (the run
 * check's appliedFrom compares a receive's deadline with a commit by it, and the FIFO rule a
 * receive's outcome with its deadline, outcomePastDeadline).
 */
export const CLOCK_STEP_MS = 1000;

/**
 * One advance of the functions' clock a local run made (lab/consumption.ts ClockSkip): at `at`,
 * on that clock, it jumped `ms` ahead.
 */
export interface ClockSkip {
  at: number;
  ms: number;
}

/**
 * What is wrong with a receive whose outcome is stamped after its own invocation's deadline, by
 * more than a clock step (CLOCK_STEP_MS) and the clock's skips between its receive and its
 * outcome (`skips`), or undefined. The consumer stamps `deadlineAt` when its invocation begins
 * (receivedAt plus the time the runtime says is left) and `outcomeAt` when a record ends, on one
 * clock, and writes the outcomes before the end write's cut, ahead of the deadline; Lambda ends
 * the invocation at its deadline. So no outcome of it is written later: read as written, it would
 * say the receive ran on past its deadline, as long as the queue's visibility timeout (or past
 * the receive above), and explain any redelivery of it. A local run that moves the functions'
 * clock forward while an invocation runs moves its outcome stamp and not its deadline (the
 * runtime counts the time left on the real clock), hence the skips. Only read on a receive whose
 * fields deliveryProblem passed; one without a deadline (a ledger older than the stamp) is not
 * held to one.
 */
export function outcomePastDeadline(
  d: DeliveryRecord,
  skips: readonly ClockSkip[] = [],
): string | undefined {
  const { outcomeAt } = d;
  const deadline: unknown = d.deadlineAt;
  if (outcomeAt === undefined || !isLedgerTime(deadline)) return undefined;
  const past = outcomeAt - deadline;
  if (past <= CLOCK_STEP_MS) return undefined;
  let skipped = 0;
  for (const s of skips) {
    skipped += Math.max(0, Math.min(s.at + s.ms, outcomeAt) - Math.max(s.at, d.receivedAt));
  }
  return past > CLOCK_STEP_MS + skipped
    ? `has outcomeAt ${outcomeAt}, ${past} ms after its invocation's deadline (deadlineAt ${deadline}): Lambda had ended that invocation, so it wrote no outcome then`
    : undefined;
}

/**
 * What is wrong with a receive whose deadline comes more than the function's timeout
 * (`timeoutMs`, as the run deployed it) and a clock step (CLOCK_STEP_MS) after its receive, or
 * undefined. The consumer stamps both from one reading when its invocation begins (receivedAt,
 * and receivedAt plus the time the runtime says is left, never more than the timeout), on one
 * clock, so no clock skip comes between them. A deadline stamped further out would let an
 * outcome stamped within it read as a receive that ran as long as the queue's visibility
 * timeout (or past the receive above), which no invocation of that function can, and explain
 * any redelivery of it (outcomePastDeadline holds the outcome to the deadline, not the deadline
 * to the timeout). Only read on a receive whose fields deliveryProblem passed; one without a
 * deadline is not held to one.
 */
export function deadlinePastTimeout(d: DeliveryRecord, timeoutMs: number): string | undefined {
  const deadline: unknown = d.deadlineAt;
  if (!isLedgerTime(deadline)) return undefined;
  const span = deadline - d.receivedAt;
  return span > timeoutMs + CLOCK_STEP_MS
    ? `has deadlineAt ${deadline}, ${span} ms after its receive (receivedAt ${d.receivedAt}), more than the function's ${timeoutMs} ms timeout: the runtime gives an invocation no more time than that`
    : undefined;
}
const NOT_A_TIME = 'not a time in epoch ms';

const OUTCOMES: readonly DeliveryRecord['outcome'][] = [
  'applied',
  'suppressed',
  'failed',
  'pending',
];

/**
 * What is wrong with a receive's fields the FIFO rule (and the report's causes) read, or
 * undefined: its order, message, outcome, times, invocation and end mark, as the consumer writes
 * them. The report's checkDelivery refuses the same, by this function.
 */
export function deliveryProblem(d: DeliveryRecord): string | undefined {
  if (!isId(d.orderId)) return `has orderId ${shown(d.orderId)}, not an order id`;
  if (!isId(d.messageId)) return `has messageId ${shown(d.messageId)}, not an SQS message id`;
  if (!OUTCOMES.includes(d.outcome))
    return `has outcome ${shown(d.outcome)}, not one of ${OUTCOMES.join(', ')}`;
  if (!isLedgerTime(d.receivedAt)) return `has receivedAt ${shown(d.receivedAt)}, ${NOT_A_TIME}`;
  const outcomeAt: unknown = d.outcomeAt;
  if (outcomeAt !== undefined && !isLedgerTime(outcomeAt))
    return `has outcomeAt ${shown(outcomeAt)}, ${NOT_A_TIME}`;
  const invocationId: unknown = d.invocationId;
  if (invocationId !== undefined && typeof invocationId !== 'string')
    return `has invocationId ${shown(invocationId)}, not an invocation id`;
  const end: unknown = d.invocationEnd;
  if (end !== undefined && typeof end !== 'boolean')
    return `has invocationEnd ${shown(end)}, not true or false`;
  return undefined;
}

/**
 * What is wrong with a failure's fields the FIFO rule (and the report's causes) read, or
 * undefined. The report's checkFailure refuses the same, by this function.
 */
export function failureProblem(f: FailureRecord): string | undefined {
  if (!isId(f.orderId)) return `has orderId ${shown(f.orderId)}, not an order id`;
  if (!isId(f.messageId)) return `has messageId ${shown(f.messageId)}, not an SQS message id`;
  if (!isLedgerTime(f.failedAt)) return `has failedAt ${shown(f.failedAt)}, ${NOT_A_TIME}`;
  const final: unknown = f.final;
  if (typeof final !== 'boolean') return `has final ${shown(final)}, not true or false`;
  const notAttempted: unknown = f.notAttempted;
  if (notAttempted !== undefined && notAttempted !== true)
    return `has notAttempted ${shown(notAttempted)}, not true`;
  const endGivenUp: unknown = f.endGivenUp;
  if (endGivenUp !== undefined && endGivenUp !== true)
    return `has endGivenUp ${shown(endGivenUp)}, not true`;
  const invocationId: unknown = f.invocationId;
  if (invocationId !== undefined && typeof invocationId !== 'string')
    return `has invocationId ${shown(invocationId)}, not a string`;
  return undefined;
}

export interface FifoRedeliveryOptions {
  /**
   * The queue's visibility timeout, ms: a receive that ran at least this long had it run out
   * under it. Absent: only a receive above that came before it ended says so.
   */
  visibilityMs?: number;
  /** Deletes the emulator's fault lost, each with the receive count of the receive it was of. */
  lostDeletes?: readonly { messageId: string; receiveCount: number }[];
  /**
   * Every advance of the functions' clock the run made (none: `[]`). Present, a receive whose
   * outcome is stamped past its invocation's deadline by more than a clock step and the skips
   * between (outcomePastDeadline) is a problem (`deadline`), and its outcome explains no
   * redelivery as a visibility timeout run out. Absent (the report, which shows the skips a local
   * run wrote to the ledger in a note and does not judge by them), outcomes are read as written.
   */
  clockSkips?: readonly ClockSkip[];
  /**
   * The function timeout the run deployed the consumer with, ms. Present, a receive whose
   * deadline comes later than that after its receive (deadlinePastTimeout) is a problem
   * (`timeout`), and its outcome explains no redelivery as a visibility timeout run out. Absent
   * (the report, which reads the function timeout from these very stamps), deadlines are read as
   * written.
   */
  functionTimeoutMs?: number;
}

export type FifoRedeliveryVerdict =
  | { kind: 'retry'; because: string }
  | { kind: 'unexplained' }
  | { kind: 'copy' };

/** One receive of a FIFO message above its first, as the rule judged it. */
export interface FifoRedelivery {
  receive: DeliveryRecord;
  /** Its receive count, and the count below it the rule read. */
  count: number;
  below: number;
  verdict: FifoRedeliveryVerdict;
}

/** A record the rule cannot judge by: the item (its sk names it) and what is wrong. */
export interface FifoRedeliveryProblem {
  item: { sk?: unknown };
  problem: string;
  /**
   * `orders`: a message received as more than one order (the check names those on its own).
   * `deadline`: an outcome past its invocation's deadline (only with `clockSkips`); `timeout`: a
   * deadline later after its receive than the function's timeout (only with
   * `functionTimeoutMs`). For both, the rest of the receive is read, its outcome's time is not.
   */
  kind: 'field' | 'count' | 'orders' | 'deadline' | 'timeout';
}

export interface FifoRedeliveryJudgement {
  /** Every FIFO receive above the first of its message, in SQS's order per message. */
  redeliveries: FifoRedelivery[];
  /** The same, by receive record. */
  verdictOf: ReadonlyMap<DeliveryRecord, FifoRedelivery>;
  problems: FifoRedeliveryProblem[];
}

/**
 * Judges every FIFO receive above the first of its message (the records given may hold both
 * queues': only `queue: 'fifo'` ones are read). Messages with a problem get no verdicts.
 */
export function judgeFifoRedeliveries(
  deliveries: readonly DeliveryRecord[],
  failures: readonly FailureRecord[],
  options: FifoRedeliveryOptions = {},
): FifoRedeliveryJudgement {
  const problems: FifoRedeliveryProblem[] = [];
  const byMessage = new Map<string, DeliveryRecord[]>();
  /**
   * Receives whose outcome is stamped past their deadline, or whose deadline is past the
   * function's timeout: the outcome's time says nothing of a visibility timeout.
   */
  const pastDeadline = new Set<DeliveryRecord>();
  const started = new Set<string>();
  const ended = new Set<string>();
  const unended = new Set<string>();
  for (const d of deliveries) {
    if (d.queue !== 'fifo') continue;
    const problem = deliveryProblem(d);
    if (problem) {
      problems.push({ item: d, problem, kind: 'field' });
      continue;
    }
    const stretched =
      options.functionTimeoutMs !== undefined
        ? deadlinePastTimeout(d, options.functionTimeoutMs)
        : undefined;
    const late =
      !stretched && options.clockSkips ? outcomePastDeadline(d, options.clockSkips) : undefined;
    if (stretched) problems.push({ item: d, problem: stretched, kind: 'timeout' });
    if (late) problems.push({ item: d, problem: late, kind: 'deadline' });
    if (stretched || late) pastDeadline.add(d);
    const list = byMessage.get(d.messageId);
    if (list) list.push(d);
    else byMessage.set(d.messageId, [d]);
    if (d.invocationId === undefined) continue;
    started.add(d.invocationId);
    if (d.invocationEnd === true) ended.add(d.invocationId);
    if (d.outcome === 'pending') unended.add(d.invocationId);
  }
  for (const inv of started) if (!ended.has(inv)) unended.add(inv);
  // Per `count#messageId#invocationId`, whether the ledger holds that receive: a failure naming
  // an invocation speaks for that invocation's receive of its message at its count, and only then.
  const receivedBy = new Set<string>();
  for (const list of byMessage.values()) {
    for (const d of list) {
      const count = positiveIntegerOf(d.receiveCount);
      if (count !== undefined && d.invocationId !== undefined)
        receivedBy.add(`${count}#${d.messageId}#${d.invocationId}`);
    }
  }
  const givenUp = new Set<string>();
  /** Per `count#messageId`, the failure records of that receive (failureCounts reads them). */
  const failedAt = new Map<string, FailureRecord[]>();
  for (const f of failures) {
    if (f.queue !== 'fifo') continue;
    const problem = failureProblem(f);
    if (problem) {
      problems.push({ item: f, problem, kind: 'field' });
      continue;
    }
    const count = positiveIntegerOf(f.receiveCount);
    if (count === undefined) continue;
    const key = `${count}#${f.messageId}`;
    const list = failedAt.get(key);
    if (list) list.push(f);
    else failedAt.set(key, [f]);
    // The consumer marks a give-up for a receive of its own invocation, so a mark whose
    // invocation the ledger holds no such receive of says nothing of that invocation.
    if (f.invocationId === undefined || !receivedBy.has(`${key}#${f.invocationId}`)) continue;
    if (f.endGivenUp === true) givenUp.add(f.invocationId);
  }
  /**
   * A receive that reads applied or suppressed and ended: on FIFO the one receive at its count,
   * and nothing in it says it was left undeleted.
   */
  const endedWell = (b: DeliveryRecord): boolean =>
    (b.outcome === 'applied' || b.outcome === 'suppressed') && b.invocationEnd === true;
  /**
   * Whether failure `f`, at the count below a redelivery, says the receive there ended without a
   * delete, given the ledger's receives at that count (`before`). The consumer writes a failure
   * naming an invocation (a hand-back unrun, a give-up of the end write) for that invocation's
   * receive of the message at that count: it counts only beside that receive. A hand-back is
   * written for a receive the invocation did not run, whose receipt it removes in the same end
   * write, so on FIFO (no copies: one receive of a message at a count) the ledger then holds no
   * receive of it at that count, which explains the redelivery on its own; beside a receive of
   * that invocation at that count that reads applied or suppressed and ended it is not what the
   * consumer writes (it would take a second receive of the message in that batch, a copy the
   * queue does not make) and explains nothing, and beside one that failed or never ended that
   * receive explains it anyway. A give-up mark naming none was written for a receive that
   * names none (its runtime gave no request id), which ended however the late end write left it:
   * it counts beside such a receive. Any other failure naming none (a failed attempt's, which
   * names no invocation) is of a receive that failed or never ended: it counts only while no
   * receive at that count reads applied or suppressed and ended, as the one receive a FIFO queue
   * hands out at a count then does not. The consumer names an invocation only on those two marks:
   * a failure naming one that is neither (no failed attempt's does) is read as a failed attempt's.
   */
  const failureCounts = (f: FailureRecord, before: readonly DeliveryRecord[]): boolean => {
    const mark = f.endGivenUp === true || f.notAttempted === true;
    if (mark && f.invocationId !== undefined)
      return before.some(
        (b) => b.invocationId === f.invocationId && !(f.notAttempted === true && endedWell(b)),
      );
    if (f.endGivenUp === true) return before.some((b) => b.invocationId === undefined);
    return !before.some(endedWell);
  };
  const lost = new Set((options.lostDeletes ?? []).map((l) => `${l.receiveCount}#${l.messageId}`));

  /** Why receive `d` ended without a delete of its message, or undefined: nothing says so. */
  const undeleted = (d: DeliveryRecord, above: readonly DeliveryRecord[]): string | undefined => {
    if (d.outcome === 'failed') return 'it failed';
    if (d.outcome === 'pending') return 'it never ended';
    const { outcomeAt } = d;
    if (outcomeAt !== undefined && !pastDeadline.has(d)) {
      if (options.visibilityMs !== undefined && outcomeAt - d.receivedAt >= options.visibilityMs)
        return 'it ran as long as the visibility timeout';
      if (above.some((n) => n.receivedAt < outcomeAt))
        return 'the receive above came before it ended (its visibility timeout ran out)';
    }
    const inv = d.invocationId;
    if (inv === undefined) return d.invocationEnd === true ? undefined : 'it names no end';
    if (unended.has(inv)) return `its invocation ${inv} never ended`;
    if (givenUp.has(inv)) return `its invocation ${inv} gave its end write up`;
    // No "a copy of it failed or never ended in its batch": that is a second receive of the
    // message in one invocation, which FIFO does not make (one message into one batch once) and
    // the consumer so never writes here. Such a receive at `d`'s count is read as a copy (and
    // explains the redelivery as itself: it failed or never ended); at another count it says
    // nothing of `d`'s delete.
    return undefined;
  };

  const redeliveries: FifoRedelivery[] = [];
  for (const [messageId, receives] of byMessage) {
    if (receives.length < 2) continue;
    const first = receives[0]!;
    const otherOrder = receives.find(
      (d) => d.orderId !== first.orderId || d.customerId !== first.customerId,
    );
    if (otherOrder) {
      problems.push({
        item: otherOrder,
        problem: `is a receive of message ${messageId} as order ${otherOrder.orderId} of customer ${otherOrder.customerId}, which the ledger also received as order ${first.orderId} of customer ${first.customerId}`,
        kind: 'orders',
      });
      continue;
    }
    const uncounted = receives.find((d) => positiveIntegerOf(d.receiveCount) === undefined);
    if (uncounted) {
      problems.push({
        item: uncounted,
        problem: `has receiveCount ${shown(uncounted.receiveCount)}, not a receive count, on a FIFO message received ${receives.length} times: its receives cannot be put in SQS's order`,
        kind: 'count',
      });
      continue;
    }
    // SQS's order: by count, equal counts in the consumers' time order, then as listed (stable),
    // as the report's receivesInSqsOrder orders them.
    const ordered = [...receives].sort(
      (a, b) =>
        positiveIntegerOf(a.receiveCount)! - positiveIntegerOf(b.receiveCount)! ||
        a.receivedAt - b.receivedAt,
    );
    const atCount = new Map<number, DeliveryRecord[]>();
    for (const d of ordered) {
      const n = positiveIntegerOf(d.receiveCount)!;
      const list = atCount.get(n);
      if (list) list.push(d);
      else atCount.set(n, [d]);
    }
    for (let i = 1; i < ordered.length; i++) {
      const d = ordered[i]!;
      const count = positiveIntegerOf(d.receiveCount)!;
      const below = count - 1;
      let verdict: FifoRedeliveryVerdict;
      const before = atCount.get(below) ?? [];
      if (positiveIntegerOf(ordered[i - 1]!.receiveCount) === count) verdict = { kind: 'copy' };
      else if ((failedAt.get(`${below}#${messageId}`) ?? []).some((f) => failureCounts(f, before)))
        verdict = { kind: 'retry', because: `a failure record of its receive #${below}` };
      else if (lost.has(`${below}#${messageId}`))
        verdict = { kind: 'retry', because: `the delete of its receive #${below} was lost` };
      else {
        const above = atCount.get(count) ?? [];
        const why =
          before.length === 0
            ? `the ledger holds no receive #${below} of it`
            : before.map((b) => undeleted(b, above)).find((w) => w !== undefined);
        verdict = why === undefined ? { kind: 'unexplained' } : { kind: 'retry', because: why };
      }
      redeliveries.push({ receive: d, count, below, verdict });
    }
  }
  return {
    redeliveries,
    verdictOf: new Map(redeliveries.map((r) => [r.receive, r])),
    problems,
  };
}
