import { orderHistory, ordersNamed, runFindings, runViolations } from '../../../../lab/soak/check';
import { buildReport } from '../../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../../shared/src/config/pipeline';
import {
  fifoRedelivery,
  LedgerBuilder,
  numberFifoMessages,
  readDlqs,
  sqsNumber,
} from '../../report/ledger-fixture';

/** The receive after which SQS moves a standard message to the DLQ, as the pipeline sets it. */
const LAST = pipelineConfig.queues.standard.dlq.maxReceiveCount;

/** Two customers, each order delivered and applied once on both queues, in sequence. */
function cleanRun(): LedgerBuilder {
  const b = new LedgerBuilder()
    .accept('a1', 'a', 1, 1000)
    .accept('a2', 'a', 2, 1010)
    .accept('b1', 'b', 1, 1020);
  let t = 2000;
  for (const q of ['fifo', 'standard'] as const) {
    for (const id of ['a1', 'a2', 'b1']) b.deliver(q, id, t++, 'applied').apply(q, id, t++);
  }
  return b;
}

/**
 * The report the pipeline would build from the fixture's ledger, once its FIFO receives carry
 * SQS's SequenceNumbers (numberFifoMessages: a test that set them keeps its own).
 */
const reportOf = (b: LedgerBuilder) =>
  buildReport({
    runId: 'r',
    target: 'local',
    config: pipelineConfig,
    ledger: readDlqs(numberFifoMessages(b)).ledger,
  }).report;

/**
 * What the check says of customer a's a2 when a copy of it sits in the standard DLQ that SQS's
 * redrive rule does not explain (`why`), and the DLQ's depth it does not account for.
 */
const unexplainedCopy = (why: string) => [
  `standard: order a2 was applied, yet a copy of it is in the DLQ that SQS's redrive rule does not explain (maxReceiveCount ${LAST}): ${why}`,
  'standard: the DLQ holds 1 messages as SQS reports it, expected 0',
];

/** unexplainedCopy's why for a last allowed receive that succeeded and was never deleted. */
const SUCCESS_NOT_DELETED = `standard-a2 (receive #${LAST} ended suppressed and nothing lost its delete)`;

const check = (
  b: LedgerBuilder,
  acceptedIds: string[],
  expectedInDlq?: Parameters<typeof runViolations>[0]['expectedInDlq'],
) =>
  runViolations({
    acceptedIds,
    ledger: b.ledger,
    report: reportOf(b),
    ...(expectedInDlq ? { expectedInDlq } : {}),
  });

/** A FIFO order the order rule's lines name: [order id, its sequence, its SequenceNumber]. */
type Placed = [orderId: string, sequence: number, sequenceNumber: string];

/** The line naming customer `customer`'s apply of `applied` after `later`, which SQS took later. */
const appliedAfter = (customer: string, [o, s, n]: Placed, [lo, ls, ln]: Placed) =>
  `fifo: customer ${customer} applied order ${o} (sequence ${s}, SQS SequenceNumber ${n}) after order ${lo} (sequence ${ls}, SequenceNumber ${ln}), which SQS took later`;

/**
 * The line naming customer a's apply of `applied` while message fifo-<order> of `earlier`, which
 * SQS took earlier, was not done with: its receive #`receive` `when`.
 */
const appliedPast = (
  [o, s, n]: Placed,
  [eo, es, en]: Placed,
  receive: number,
  when: 'was in the same batch' | 'came after' | 'came in the same millisecond, in another batch',
) =>
  `fifo: customer a applied order ${o} (sequence ${s}, SQS SequenceNumber ${n}) while message fifo-${eo} of order ${eo} (sequence ${es}, SequenceNumber ${en}), which SQS took earlier, was not done with: its receive #${receive} ${when}, and order ${eo} had not been applied`;

/** The one line saying FIFO order cannot be checked for `messages` messages, the first `messageId`. */
const cannotCheck = (messages: number, receives: number, messageId: string, orderId: string) =>
  `fifo: FIFO order cannot be checked for ${messages} messages (${receives} receives; the first, ${messageId} of order ${orderId}): none of their receives carries an SQS SequenceNumber (a decimal integer), as a ledger from an older consumer or a transport that does not return it lacks; this is no order violation, but a run the check cannot judge does not pass`;

/**
 * The check of the fixture's ledger as `change` leaves it, against the report of the ledger before
 * the change: records the pipeline wrote and the report read, then lost or garbled (reportOf, read
 * after, would number again the FIFO receives the change took their numbers from).
 */
function checkChanged(
  b: LedgerBuilder,
  acceptedIds: string[],
  change: (ledger: LedgerBuilder['ledger']) => void,
): string[] {
  const report = reportOf(b);
  change(b.ledger);
  return runViolations({ acceptedIds, ledger: b.ledger, report });
}

describe('the exactly-once check', () => {
  it('passes a run where every accepted order was applied once on each queue, in order', () => {
    expect(check(cleanRun(), ['a1', 'a2', 'b1'])).toEqual([]);
  });

  it('fails an empty run', () => {
    expect(check(new LedgerBuilder(), [])).toEqual([
      'the client got no 202: a run that accepted nothing proves nothing',
    ]);
  });

  it('names an order the client got a 202 for that the ledger never accepted or applied', () => {
    expect(check(cleanRun(), ['a1', 'a2', 'b1', 'c9'])).toEqual([
      'the report counts 3 accepted, the client got 202 for 4',
      'fifo: order c9 was never applied',
      'fifo: the report counts 0 lost, 1 accepted orders have no effect and are not in the DLQ',
      'standard: order c9 was never applied',
      'standard: the report counts 0 lost, 1 accepted orders have no effect and are not in the DLQ',
    ]);
  });

  it('names an accepted order missing from one queue', () => {
    // Prepare: b1 accepted, applied on FIFO only.
    const b = new LedgerBuilder().accept('a1', 'a', 1, 1000).accept('b1', 'b', 1, 1010);
    b.deliver('fifo', 'a1', 2000, 'applied').apply('fifo', 'a1', 2001);
    b.deliver('fifo', 'b1', 2002, 'applied').apply('fifo', 'b1', 2003);
    b.deliver('standard', 'a1', 2004, 'applied').apply('standard', 'a1', 2005);

    // Act / Assess
    expect(check(b, ['a1', 'b1'])).toEqual(['standard: order b1 was never applied']);
  });

  it('names a doubled effect', () => {
    const b = cleanRun();
    b.deliver('standard', 'a2', 3000, 'applied').apply('standard', 'a2', 3001);
    expect(check(b, ['a1', 'a2', 'b1'])).toEqual(['standard: order a2 was applied 2 times']);
  });

  /**
   * The orders `accepted` ([order id, customer, sequence], accepted 10 ms apart in that order),
   * each applied once on FIFO in `applied` order, then each once on standard.
   */
  function appliedInOrder(
    accepted: Array<[orderId: string, customerId: string, sequence: number]>,
    applied: string[],
  ): LedgerBuilder {
    const b = new LedgerBuilder();
    accepted.forEach(([id, customer, sequence], i) => {
      b.accept(id, customer, sequence, 1000 + 10 * i);
    });
    let t = 2000;
    for (const id of applied) b.deliver('fifo', id, t++, 'applied').apply('fifo', id, t++);
    for (const [id] of accepted)
      b.deliver('standard', id, t++, 'applied').apply('standard', id, t++);
    return b;
  }

  /**
   * Customer a's orders a1 (sequence 1) and a2 (sequence 2), SQS taking their FIFO messages in
   * `took` order and the consumer applying them in `applied` order; both applied on standard.
   */
  function sentAndApplied(took: string[], applied: string[]): LedgerBuilder {
    const b = appliedInOrder(
      [
        ['a1', 'a', 1],
        ['a2', 'a', 2],
      ],
      applied,
    );
    return numberFifoMessages(
      b,
      took.map((id) => `fifo-${id}`),
    );
  }

  it('names a FIFO inversion with the customer, both orders and the order SQS took them in', () => {
    // SQS took a1's message, then a2's; on FIFO, a2 applied before a1.
    expect(check(sentAndApplied(['a1', 'a2'], ['a2', 'a1']), ['a1', 'a2'])).toEqual([
      appliedAfter('a', ['a1', 1, sqsNumber(0)], ['a2', 2, sqsNumber(1)]),
    ]);
  });

  it("passes FIFO applying a customer's orders in the order SQS took them, against their sequence", () => {
    // The client (or a retry that re-sent a1 after a2 went out) sent a2 first: FIFO applying a2
    // before a1 is FIFO keeping its promise, whatever the sequence says.
    expect(check(sentAndApplied(['a2', 'a1'], ['a2', 'a1']), ['a1', 'a2'])).toEqual([]);
  });

  it('fails FIFO applying in sequence when SQS took the messages the other way round', () => {
    // In sequence, yet not the order they were sent: a reordering the sequence would hide.
    expect(check(sentAndApplied(['a2', 'a1'], ['a1', 'a2']), ['a1', 'a2'])).toEqual([
      appliedAfter('a', ['a2', 2, sqsNumber(0)], ['a1', 1, sqsNumber(1)]),
    ]);
  });

  it("compares SQS's SequenceNumbers as numbers, past a double's precision and across lengths", () => {
    // 2^64 + 1 after 2^64 (the same double), and a 20-digit number after a 19-digit one (before
    // it as text): each pair applied in SQS's order passes, the other way round fails.
    for (const [first, second] of [
      ['18446744073709551616', '18446744073709551617'],
      ['9999999999999999999', '10000000000000000000'],
    ] as const) {
      const inOrder = sentAndApplied(['a1', 'a2'], ['a1', 'a2']);
      const reversed = sentAndApplied(['a1', 'a2'], ['a2', 'a1']);
      for (const b of [inOrder, reversed]) {
        for (const d of b.ledger.deliveries) {
          if (d.queue === 'fifo') d.sequenceNumber = d.orderId === 'a1' ? first : second;
        }
      }
      expect(check(inOrder, ['a1', 'a2'])).toEqual([]);
      expect(check(reversed, ['a1', 'a2'])).toEqual([
        appliedAfter('a', ['a1', 1, first], ['a2', 2, second]),
      ]);
    }
  });

  it("says FIFO order cannot be checked when an applied order's message no receive gives SQS's SequenceNumber, rather than pass it", () => {
    const b = sentAndApplied(['a1', 'a2'], ['a1', 'a2']);
    const unnumbered = checkChanged(b, ['a1', 'a2'], (ledger) => {
      for (const d of ledger.deliveries) if (d.orderId === 'a2') delete d.sequenceNumber;
    });
    expect(unnumbered).toEqual([cannotCheck(1, 1, 'fifo-a2', 'a2')]);
  });

  /**
   * cleanRun's ledger (customers a and b) as a consumer that records no SequenceNumber leaves it:
   * an older version of it, or a transport that does not return the attribute. `keep`: the
   * customers whose FIFO receives keep theirs.
   */
  const withoutNumbers = (b: LedgerBuilder, acceptedIds: string[], keep: string[] = []) =>
    checkChanged(b, acceptedIds, (ledger) => {
      for (const d of ledger.deliveries) {
        if (d.queue === 'fifo' && !keep.includes(d.customerId)) delete d.sequenceNumber;
      }
    });

  it('fails a ledger whose FIFO receives carry no SequenceNumber with one line that says the order cannot be checked', () => {
    // Nothing else in the ledger proves the order SQS took the messages in (the client's
    // sequence is not it), so the rule can neither pass nor name a violation: one line, not one
    // per apply, and none that reads as an order broken.
    const b = cleanRun();
    // b1's message received a second time (a retry after a receive that names no invocation and
    // no end, answered by the record: FIFO makes no copies, so at the next receive count).
    b.deliver('fifo', 'b1', 2100, 'suppressed', 2);
    expect(withoutNumbers(b, ['a1', 'a2', 'b1'])).toEqual([cannotCheck(3, 4, 'fifo-a1', 'a1')]);
  });

  it('still names a FIFO inversion among the messages SequenceNumbers place, beside messages none places', () => {
    // Customer a's orders applied the other way round from the order SQS took them; customer b's
    // receives carry no number.
    const b = sentAndApplied(['a1', 'a2'], ['a2', 'a1']).accept('b1', 'b', 1, 1020);
    b.deliver('fifo', 'b1', 5000, 'applied').apply('fifo', 'b1', 5001);
    b.deliver('standard', 'b1', 5002, 'applied').apply('standard', 'b1', 5003);
    expect(withoutNumbers(b, ['a1', 'a2', 'b1'], ['a'])).toEqual([
      cannotCheck(1, 1, 'fifo-b1', 'b1'),
      appliedAfter('a', ['a1', 1, sqsNumber(0)], ['a2', 2, sqsNumber(1)]),
    ]);
  });

  /**
   * Customer a's a1 (its FIFO message fifo-a1, SequenceNumber 100) and a2 (fifo-a2, 200), each
   * received with the number SQS gave it; `a1` its FIFO receives in turn, as [invocation, outcome].
   * A consumer that applies a2 while a1 fails in the same batch breaks FIFO: a1 is retried, dead-
   * lettered at its last receive, redriven as a new message (a new id and a later SequenceNumber,
   * fifo-a1-redriven, 300) and applied from it after a2.
   */
  function redrivenAfter(a1: Array<[string, 'failed' | 'applied']>, a2Invocation: string) {
    const b = new LedgerBuilder().accept('a1', 'a', 1, 1000).accept('a2', 'a', 2, 1010);
    const numbered = (sequenceNumber: string) => {
      b.ledger.deliveries.at(-1)!.sequenceNumber = sequenceNumber;
    };
    let t = 2000;
    a1.forEach(([invocationId, outcome], i) => {
      b.deliver('fifo', 'a1', t, outcome, i + 1, { invocationId, invocationEnd: true });
      numbered('100');
      if (invocationId === a2Invocation) {
        b.deliver('fifo', 'a2', t, 'applied', 1, { invocationId, invocationEnd: true });
        numbered('200');
        b.apply('fifo', 'a2', t + 1);
      }
      t += 60_000;
    });
    if (!a1.some(([id]) => id === a2Invocation)) {
      b.deliver('fifo', 'a2', t, 'applied', 1, { invocationId: a2Invocation, invocationEnd: true });
      numbered('200');
      b.apply('fifo', 'a2', t + 1);
      t += 1000;
    }
    b.deliver('fifo', 'a1', t, 'applied', 1, {
      messageId: 'fifo-a1-redriven',
      invocationId: 'i-redrive',
      invocationEnd: true,
    });
    numbered('300');
    b.apply('fifo', 'a1', t + 1);
    b.ledger.effects.at(-1)!.messageId = 'fifo-a1-redriven';
    for (const id of ['a1', 'a2'])
      b.deliver('standard', id, t + 10, 'applied').apply('standard', id, t + 11);
    return b;
  }

  /** redrivenAfter with a1 failing in i1, i2 and i3, a2 applied in `a2Invocation`. */
  const failedThrice = (a2Invocation: string) =>
    redrivenAfter(
      [
        ['i1', 'failed'],
        ['i2', 'failed'],
        ['i3', 'failed'],
      ],
      a2Invocation,
    );

  it('names a FIFO apply made while an earlier message of the customer was still to come, though a redrive later applied that order after it', () => {
    // a2 applied in i1 while a1 failed in that very batch; a1 then failed twice more.
    const b = failedThrice('i1');
    expect(check(b, ['a1', 'a2'])).toEqual([
      appliedPast(['a2', 2, '200'], ['a1', 1, '100'], 1, 'was in the same batch'),
    ]);
    // The same when a2 is applied in a batch of its own, and a1 is received again after it.
    const later = redrivenAfter(
      [
        ['i1', 'failed'],
        ['i3', 'failed'],
      ],
      'i2',
    );
    later.ledger.deliveries.find((d) => d.invocationId === 'i3')!.receivedAt = 2000 + 120_000;
    const a2 = later.ledger.deliveries.find((d) => d.orderId === 'a2' && d.queue === 'fifo')!;
    a2.receivedAt = 2000 + 60_000;
    fifoEffect(later, 'a2').committedAt = 2000 + 60_001;
    expect(check(later, ['a1', 'a2'])).toEqual([
      appliedPast(['a2', 2, '200'], ['a1', 1, '100'], 2, 'came after'),
    ]);
  });

  it('passes a redriven order applied after a later one when its message was dead-lettered before the later one was received', () => {
    // a1 failed at each of its receives, alone; a2 came after it was dead-lettered; then the
    // redrive: FIFO as SQS keeps it (a DLQ breaks the group's order, as AWS warns).
    const b = failedThrice('i4');
    expect(check(b, ['a1', 'a2'])).toEqual([]);
  });

  it('passes a batch that died after both effects: its messages come back, the earlier one after the later was applied', () => {
    const b = new LedgerBuilder().accept('a1', 'a', 1, 1000).accept('a2', 'a', 2, 1010);
    const numbered = (n: string) => {
      b.ledger.deliveries.at(-1)!.sequenceNumber = n;
    };
    b.deliver('fifo', 'a1', 2000, 'pending', 1, { invocationId: 'i1' });
    numbered('100');
    b.deliver('fifo', 'a2', 2000, 'pending', 1, { invocationId: 'i1' });
    numbered('200');
    b.apply('fifo', 'a1', 2001).apply('fifo', 'a2', 2002);
    b.deliver('fifo', 'a1', 70_000, 'suppressed', 2, { invocationId: 'i2', invocationEnd: true });
    numbered('100');
    b.deliver('fifo', 'a2', 70_000, 'suppressed', 2, { invocationId: 'i2', invocationEnd: true });
    numbered('200');
    for (const id of ['a1', 'a2'])
      b.deliver('standard', id, 80_000, 'applied').apply('standard', id, 80_001);
    expect(check(b, ['a1', 'a2'])).toEqual([]);
  });

  it('names a FIFO message received with two SequenceNumbers, and places no apply by it', () => {
    // SQS gives a message one number; two in the ledger are a recording fault, and whichever the
    // check kept would decide the order rule's verdict.
    const b = sentAndApplied(['a1', 'a2'], ['a2', 'a1']);
    const a1 = b.ledger.deliveries.find((d) => d.queue === 'fifo' && d.orderId === 'a1')!;
    b.deliver('fifo', 'a1', 9000, 'suppressed', 2);
    b.ledger.deliveries.at(-1)!.sequenceNumber = '10000000000000009000';
    expect(check(b, ['a1', 'a2'])).toEqual([
      `fifo: order a1 was received from message fifo-a1 with SQS SequenceNumbers ${a1.sequenceNumber} and 10000000000000009000; SQS gives a message one`,
    ]);
  });

  it('names an effect of an order the client never got a 202 for', () => {
    expect(check(cleanRun(), ['a1', 'a2'])).toEqual([
      'the report counts 3 accepted, the client got 202 for 2',
      'fifo: order b1 was applied, yet the client never got a 202 for it',
      'fifo: the report counts 3 processed, the ledger holds effects of 2 accepted orders',
      'standard: order b1 was applied, yet the client never got a 202 for it',
      'standard: the report counts 3 processed, the ledger holds effects of 2 accepted orders',
    ]);
  });

  it('names an order in a DLQ, and counts the DLQ depth SQS reports', () => {
    // Prepare: b1 failed into the standard DLQ.
    const b = new LedgerBuilder().accept('a1', 'a', 1, 1000).accept('b1', 'b', 1, 1010);
    for (const q of ['fifo', 'standard'] as const) {
      b.deliver(q, 'a1', 2000, 'applied').apply(q, 'a1', 2001);
    }
    b.deliver('fifo', 'b1', 2002, 'applied').apply('fifo', 'b1', 2003);
    b.deliver('standard', 'b1', 2004, 'failed').dead('standard', 'b1');

    // Act / Assess
    expect(check(b, ['a1', 'b1'])).toEqual([
      'standard: order b1 is in the DLQ',
      'standard: the DLQ holds 1 messages as SQS reports it, expected 0',
    ]);
    // A scenario that means to leave it there says so, and the check then passes...
    expect(check(b, ['a1', 'b1'], { standard: ['b1'] })).toEqual([]);
    // ...and fails when the order it expects there is not.
    expect(check(b, ['a1', 'b1'], { standard: ['b1'], fifo: ['a1'] })).toEqual([
      'fifo: order a1 was applied, yet the run expected it only in the DLQ',
      'fifo: order a1 should be in the DLQ and is not',
      'fifo: the DLQ holds 0 messages as SQS reports it, expected 1',
    ]);
  });

  it('names an applied order whose copy sits in a DLQ before its message used its last receive', () => {
    // a2's message was received once (and applied): SQS moves a message only on the receive
    // after maxReceiveCount, so this copy has no business in the DLQ.
    const b = cleanRun().dead('standard', 'a2');
    expect(check(b, ['a1', 'a2', 'b1'])).toEqual(
      unexplainedCopy('standard-a2 (highest receive #1)'),
    );
  });

  it('names a poison order the run expected only in the DLQ that was applied after all', () => {
    const b = cleanRun().dead('standard', 'a2');
    expect(check(b, ['a1', 'a2', 'b1'], { standard: ['a2'] })).toEqual([
      'standard: order a2 was applied, yet the run expected it only in the DLQ',
    ]);
  });

  /**
   * a2 on standard: applied on its first receive, every later receive up to `lastReceive` ended
   * with `lastOutcome` (answered by the record, failed, or its invocation never ended), then its
   * copy dead-lettered.
   */
  function deadAfter(
    lastReceive: number,
    lastOutcome: 'suppressed' | 'failed' | 'pending',
  ): LedgerBuilder {
    const b = new LedgerBuilder()
      .accept('a1', 'a', 1, 1000)
      .accept('a2', 'a', 2, 1010)
      .accept('b1', 'b', 1, 1020);
    let t = 2000;
    for (const id of ['a1', 'a2', 'b1'])
      b.deliver('fifo', id, t++, 'applied').apply('fifo', id, t++);
    for (const id of ['a1', 'b1'])
      b.deliver('standard', id, t++, 'applied').apply('standard', id, t++);
    b.deliver('standard', 'a2', t++, 'applied').apply('standard', 'a2', t++);
    for (let n = 2; n <= lastReceive; n++) b.deliver('standard', 'a2', t++, lastOutcome, n);
    return b.dead('standard', 'a2');
  }

  const findings = (
    b: LedgerBuilder,
    lostDeletes?: { messageId: string; receiveCount: number }[],
  ) => {
    const report = reportOf(b);
    return runFindings({
      acceptedIds: ['a1', 'a2', 'b1'],
      ledger: b.ledger,
      report,
      ...(lostDeletes ? { lostDeletes: { standard: lostDeletes } } : {}),
    });
  };

  it.each([
    ['failed', 'failed'],
    ['pending', 'never ended'],
  ] as const)(
    "accepts an applied order's copy in the DLQ once its last allowed receive %s, and says so",
    (outcome, said) => {
      // SQS's rule: the receive after maxReceiveCount moves a message no receive deleted.
      const b = deadAfter(LAST, outcome);
      expect(findings(b)).toEqual({
        violations: [],
        explainedDlqCopies: [
          `standard: order a2 was applied; its message standard-a2 is in the DLQ after its receive #${LAST} ${said} (maxReceiveCount ${LAST})`,
        ],
        notAttemptedInDlq: [],
      });
    },
  );

  it("accepts a copy whose last allowed receive succeeded only when the emulator lost that message's delete", () => {
    const b = deadAfter(LAST, 'suppressed');
    expect(findings(b, [{ messageId: 'standard-a2', receiveCount: LAST }])).toEqual({
      violations: [],
      explainedDlqCopies: [
        `standard: order a2 was applied; its message standard-a2 is in the DLQ after its receive #${LAST} succeeded and SQS lost its delete (maxReceiveCount ${LAST})`,
      ],
      notAttemptedInDlq: [],
    });
    // The same ledger with no lost delete is a consumer whose successes are never deleted.
    expect(findings(b, [{ messageId: 'standard-other', receiveCount: LAST }]).violations).toEqual(
      unexplainedCopy(SUCCESS_NOT_DELETED),
    );
  });

  it.each([1, LAST - 1])(
    'does not take a delete lost at receive #%i for why a copy whose last allowed receive succeeded is in the DLQ',
    (lostAt) => {
      // A delete lost at receive #k brings the message back once, at #k + 1; the receives after
      // it succeeded and were never deleted (a consumer or mapping bug), not SQS's doing.
      const b = deadAfter(LAST, 'suppressed');
      expect(findings(b, [{ messageId: 'standard-a2', receiveCount: lostAt }]).violations).toEqual(
        unexplainedCopy(SUCCESS_NOT_DELETED),
      );
    },
  );

  /**
   * a2 on standard as deadAfter leaves it up to receive #LAST - 1 (answered by the record), then
   * SQS hands two copies of its one message into one batch: one at receive #LAST - 1 that ends
   * `lowerOutcome` in invocation `lowerIn`, one at #LAST answered by the record in inv-x.
   */
  function twoCopiesInBatch(lowerOutcome: 'failed' | 'pending', lowerIn: string): LedgerBuilder {
    const b = deadAfter(LAST - 1, 'suppressed');
    b.deliver('standard', 'a2', 5000, lowerOutcome, LAST - 1, {
      invocationId: lowerIn,
      invocationEnd: true,
    });
    b.deliver('standard', 'a2', 5000, 'suppressed', LAST, {
      invocationId: 'inv-x',
      invocationEnd: true,
    });
    return b;
  }

  it.each([
    ['failed', 'failed'],
    ['pending', 'never ended'],
  ] as const)(
    "accepts an applied order's copy in the DLQ whose last allowed receive succeeded beside a copy of it that %s in the same batch",
    (outcome, said) => {
      // A batch response names failures by message id: the copy that failed names the message,
      // so neither copy is deleted, and SQS moves it on its next receive.
      expect(findings(twoCopiesInBatch(outcome, 'inv-x'))).toEqual({
        violations: [],
        explainedDlqCopies: [
          `standard: order a2 was applied; its message standard-a2 is in the DLQ after its receive #${LAST} succeeded beside a copy of it at receive #${LAST - 1} that ${said} in the same batch (invocation inv-x) (maxReceiveCount ${LAST})`,
        ],
        notAttemptedInDlq: [],
      });
    },
  );

  it("accepts an applied order's copy in the DLQ whose last allowed receive succeeded beside a copy of it handed back unrun in the same batch", () => {
    // The copy handed back unrun left no delivery, only its not-attempted failure (not final, at
    // receive #LAST - 1): the batch response named the message failed all the same, so neither
    // copy was deleted. Before the consumer wrote that failure the ledger held nothing of it.
    const b = deadAfter(LAST - 1, 'suppressed');
    b.deliver('standard', 'a2', 5000, 'suppressed', LAST, {
      invocationId: 'inv-x',
      invocationEnd: true,
    });
    b.notAttempted('standard', 'a2', LAST - 1, 'inv-x');
    const unrun = b.ledger.failures.at(-1)!;
    unrun.final = false;
    unrun.error = 'NotAttempted: not started, 600 ms left of the invocation';
    expect(findings(b)).toEqual({
      violations: [],
      explainedDlqCopies: [
        `standard: order a2 was applied; its message standard-a2 is in the DLQ after its receive #${LAST} succeeded beside a copy of it at receive #${LAST - 1} handed back unrun in the same batch (invocation inv-x) (maxReceiveCount ${LAST})`,
      ],
      notAttemptedInDlq: [],
    });
    // Handed back in another invocation: nothing names this one's message failed.
    unrun.invocationId = 'inv-y';
    expect(findings(b).violations).toEqual(unexplainedCopy(SUCCESS_NOT_DELETED));
  });

  it("accepts an applied order's copy in the DLQ whose last allowed receive ran in an invocation whose end write the consumer gave up, though that write committed late", () => {
    // The end write's late commit reads the receive as ended (suppressed, invocationEnd); the
    // consumer's final endGivenUp failure of it says the invocation failed, so SQS deleted
    // nothing of the batch and moved the message on its next receive (the report's
    // leftUndeleted reads it so).
    const b = deadAfter(LAST - 1, 'suppressed');
    b.deliver('standard', 'a2', 5000, 'suppressed', LAST, {
      invocationId: 'inv-x',
      invocationEnd: true,
      outcomeAt: 5100,
      deadlineAt: 15000,
    });
    b.endGivenUp('standard', 'a2', LAST, 'inv-x', 14750);
    const gaveUp = b.ledger.failures.at(-1)!;
    gaveUp.final = true;
    expect(findings(b)).toEqual({
      violations: [],
      explainedDlqCopies: [
        `standard: order a2 was applied; its message standard-a2 is in the DLQ after its receive #${LAST} ran in invocation inv-x, whose end write the consumer gave up (its failure of receive #${LAST}), so SQS deleted nothing of that batch (maxReceiveCount ${LAST})`,
      ],
      notAttemptedInDlq: [],
    });
    // Given up in another invocation: nothing says this one failed.
    gaveUp.invocationId = 'inv-y';
    expect(findings(b).violations).toEqual(unexplainedCopy(SUCCESS_NOT_DELETED));
  });

  it("accepts an applied order's copy in the DLQ whose last allowed receive was a copy handed back unrun beside a copy of it that ran at the receive before, in one batch", () => {
    // SQS handed the message into one batch twice, at #LAST - 1 and #LAST: the first ran, the
    // second was handed back unrun (final not-attempted failure, no delivery). The receives the
    // ledger holds stop at #LAST - 1, yet SQS counted #LAST and moved the message on the next.
    const b = deadAfter(LAST - 2, 'suppressed');
    b.deliver('standard', 'a2', 5000, 'suppressed', LAST - 1, {
      invocationId: 'inv-x',
      invocationEnd: true,
    });
    b.notAttempted('standard', 'a2', LAST, 'inv-x');
    const unrun = b.ledger.failures.at(-1)!;
    unrun.error = 'NotAttempted: not started, 600 ms left of the invocation';
    expect(findings(b)).toEqual({
      violations: [],
      explainedDlqCopies: [
        `standard: order a2 was applied; its message standard-a2 is in the DLQ after a copy of it at receive #${LAST} was handed back unrun beside its receive #${LAST - 1} in the same batch (invocation inv-x) (maxReceiveCount ${LAST})`,
      ],
      notAttemptedInDlq: [],
    });
    // Handed back in an invocation that holds no receive of the message: no batch shows it.
    unrun.invocationId = 'inv-y';
    expect(findings(b).violations).toEqual(
      unexplainedCopy(`standard-a2 (highest receive #${LAST - 1})`),
    );
    // Handed back at #LAST - 1 only: the message never reached its last allowed receive.
    unrun.invocationId = 'inv-x';
    unrun.receiveCount = LAST - 1;
    expect(findings(b).violations).toEqual(
      unexplainedCopy(`standard-a2 (highest receive #${LAST - 1})`),
    );
  });

  /**
   * a2 on FIFO: failed at receives #1 to #`appliedAt` - 1 (each in its own invocation), applied at
   * #`appliedAt` in inv-x, which ended, and its copy in the FIFO DLQ; every other order applied
   * once on both queues. A hand-back of a2 naming inv-x is what each test adds.
   */
  function fifoAppliedThenDead(appliedAt: number): LedgerBuilder {
    const b = new LedgerBuilder()
      .accept('a1', 'a', 1, 1000)
      .accept('a2', 'a', 2, 1010)
      .accept('b1', 'b', 1, 1020);
    let t = 2000;
    for (const id of ['a1', 'b1']) b.deliver('fifo', id, t++, 'applied').apply('fifo', id, t++);
    for (let n = 1; n < appliedAt; n++) {
      b.deliver('fifo', 'a2', t++, 'failed', n, { invocationId: `inv-${n}`, invocationEnd: true });
      b.fail('fifo', 'a2', n, false);
    }
    b.deliver('fifo', 'a2', t++, 'applied', appliedAt, {
      invocationId: 'inv-x',
      invocationEnd: true,
    });
    b.apply('fifo', 'a2', t++);
    for (const id of ['a1', 'a2', 'b1'])
      b.deliver('standard', id, t++, 'applied').apply('standard', id, t++);
    return b.dead('fifo', 'a2');
  }

  /** What the check says of fifoAppliedThenDead's a2 copy when nothing explains it (`why`). */
  const unexplainedFifoCopy = (why: string) => [
    `fifo: order a2 was applied, yet a copy of it is in the DLQ that SQS's redrive rule does not explain (maxReceiveCount ${FIFO_LAST}): ${why}`,
    'fifo: the DLQ holds 1 messages as SQS reports it, expected 0',
  ];

  it("fails an applied FIFO order's copy in the DLQ whose last allowed receive succeeded beside a hand-back naming its invocation", () => {
    // On standard the same ledger is two copies of the message in one batch, one run and one
    // handed back (accepted above). On FIFO the consumer hands back only a receive it did not
    // run, removing its receipt in the same end write, and FIFO hands a message into a batch
    // once: a hand-back beside inv-x's receive that ran is not what the consumer writes, and
    // says nothing of that receive's delete.
    const b = fifoAppliedThenDead(FIFO_LAST);
    b.notAttempted('fifo', 'a2', FIFO_LAST - 1, 'inv-x');
    b.ledger.failures.at(-1)!.final = false;
    expect(findings(b).violations).toEqual(
      unexplainedFifoCopy(
        `fifo-a2 (receive #${FIFO_LAST} ended applied and nothing lost its delete)`,
      ),
    );
  });

  it("fails an applied FIFO order's copy in the DLQ whose last allowed receive succeeded beside a receive of it that failed in the same invocation", () => {
    // The standard shape of "succeeded beside a copy of it that failed in the same batch"
    // (accepted above), on FIFO: inv-x holds a2 at #LAST - 1 (failed) and at #LAST (applied),
    // two receives of one message in one invocation, which FIFO never hands out.
    const b = fifoAppliedThenDead(FIFO_LAST);
    b.ledger.deliveries.find(
      (d) => d.queue === 'fifo' && d.orderId === 'a2' && d.receiveCount === FIFO_LAST - 1,
    )!.invocationId = 'inv-x';
    expect(findings(b).violations).toEqual(
      unexplainedFifoCopy(
        `fifo-a2 (receive #${FIFO_LAST} ended applied and nothing lost its delete)`,
      ),
    );
  });

  it("accepts an applied FIFO order's copy in the DLQ whose last allowed receive was handed back unrun behind a failed message of its group", () => {
    // What the consumer writes: inv-0 applied p1 and a2 and gave its end write up, so both came
    // back; p1 failed at every later receive and a2 went back unrun behind it each time, its
    // receipts removed, a final not-attempted failure at the last only.
    const b = new LedgerBuilder().accept('p1', 'a', 1, 1000).accept('a2', 'a', 2, 1010);
    const first = { invocationId: 'inv-0', invocationEnd: true };
    b.deliver('fifo', 'p1', 2000, 'applied', 1, first).apply('fifo', 'p1', 2001);
    b.deliver('fifo', 'a2', 2000, 'applied', 1, first).apply('fifo', 'a2', 2002);
    b.endGivenUp('fifo', 'p1', 1, 'inv-0', 2100).endGivenUp('fifo', 'a2', 1, 'inv-0', 2100);
    let t = 70_000;
    for (let n = 2; n <= FIFO_LAST; n++, t += 70_000) {
      b.deliver('fifo', 'p1', t, 'failed', n, { invocationId: `inv-${n}`, invocationEnd: true });
      b.fail('fifo', 'p1', n, n === FIFO_LAST);
    }
    b.notAttempted('fifo', 'a2', FIFO_LAST, `inv-${FIFO_LAST}`);
    b.dead('fifo', 'p1').dead('fifo', 'a2');
    for (const id of ['p1', 'a2'])
      b.deliver('standard', id, t++, 'applied').apply('standard', id, t++);
    const { violations, explainedDlqCopies } = runFindings({
      acceptedIds: ['p1', 'a2'],
      ledger: b.ledger,
      report: reportOf(b),
    });
    expect(violations).toEqual([]);
    expect(explainedDlqCopies).toContain(
      `fifo: order a2 was applied; its message fifo-a2 is in the DLQ after its last allowed receive, above its receive #1 that ran, was handed back unrun (never attempted: at its receive #${FIFO_LAST} order p1 of its group failed in the same batch (receive #${FIFO_LAST})) (maxReceiveCount ${FIFO_LAST})`,
    );
    const a2Unexplained = () =>
      runFindings({
        acceptedIds: ['p1', 'a2'],
        ledger: b.ledger,
        report: reportOf(b),
      }).violations.some((l) => l.includes(`fifo-a2 (highest receive #1)`));
    // Nor when a2's receive #1 was deleted (nothing says inv-0 gave its end write up): nothing
    // brought it back, whatever a hand-back above it says.
    const givenUp = b.ledger.failures.filter((f) => f.endGivenUp);
    b.ledger.failures = b.ledger.failures.filter((f) => !f.endGivenUp);
    expect(a2Unexplained()).toBe(true);
    b.ledger.failures.push(...givenUp);
    expect(a2Unexplained()).toBe(false);
    // Without the hand-back's cause (no failed message of its group in that batch) it is not.
    b.ledger.deliveries.find((d) => d.invocationId === `inv-${FIFO_LAST}`)!.outcome = 'suppressed';
    expect(a2Unexplained()).toBe(true);
  });

  it("fails an applied FIFO order's copy in the DLQ said to be handed back unrun at its last allowed receive beside its receive that ran in the same batch", () => {
    // The standard shape of "a copy at #LAST handed back unrun beside its receive #LAST - 1 in
    // one batch" (accepted above), on FIFO: a second receive of the message in inv-x's batch.
    const b = fifoAppliedThenDead(FIFO_LAST - 1);
    b.notAttempted('fifo', 'a2', FIFO_LAST, 'inv-x');
    expect(findings(b).violations).toEqual(
      unexplainedFifoCopy(`fifo-a2 (highest receive #${FIFO_LAST - 1})`),
    );
  });

  it("fails an applied order's copy whose last allowed receive succeeded with no copy of it failed in its batch", () => {
    // The lower copy failed in another invocation: the success at the last receive was deleted
    // unless something lost its delete.
    expect(findings(twoCopiesInBatch('failed', 'inv-y')).violations).toEqual(
      unexplainedCopy(SUCCESS_NOT_DELETED),
    );
    // A copy of another message failed in that batch: nothing names this message failed.
    const other = twoCopiesInBatch('failed', 'inv-x');
    other.ledger.deliveries.find((d) => d.outcome === 'failed')!.messageId = 'standard-a2-other';
    expect(findings(other).violations).toEqual(unexplainedCopy(SUCCESS_NOT_DELETED));
    // Neither copy names its invocation: nothing shows they were in one batch.
    const unnamed = twoCopiesInBatch('failed', 'inv-x');
    for (const d of unnamed.ledger.deliveries) delete d.invocationId;
    expect(findings(unnamed).violations).toEqual(unexplainedCopy(SUCCESS_NOT_DELETED));
  });

  it('fails a copy whose message never reached the last allowed receive, or a second copy nothing explains', () => {
    expect(findings(deadAfter(LAST - 1, 'failed')).violations).toEqual(
      unexplainedCopy(`standard-a2 (highest receive #${LAST - 1})`),
    );
    // SQS reports two messages, one of which no read explains.
    const b = deadAfter(LAST, 'failed');
    b.ledger.dlq!.standard!.depth = 2;
    expect(findings(b).violations).toEqual([
      "standard: the DLQ holds 2 messages as SQS reports it, expected 1 (1 of them applied orders' copies)",
    ]);
  });

  /** The receive after which SQS moves a FIFO message to the DLQ, as the pipeline sets it. */
  const FIFO_LAST = pipelineConfig.queues.fifo.dlq.maxReceiveCount;

  /**
   * A poison order p1 of customer a, its later order a2 batched behind it on FIFO, and b1 of
   * customer b in the same batches: p1 failed every receive (invocations inv-1..inv-LAST), b1
   * was applied, a2 was handed back unrun each time and is in the FIFO DLQ with p1. On
   * standard, p1 failed into the DLQ and the others were applied. `unrun` writes a2's final
   * not-attempted failure, naming the invocation it was handed back in.
   */
  function poisonBatch(unrun?: { receiveCount: number; invocationId: string }): LedgerBuilder {
    const b = new LedgerBuilder()
      .accept('p1', 'a', 1, 1000)
      .accept('a2', 'a', 2, 1010)
      .accept('b1', 'b', 1, 1020);
    let t = 2000;
    for (let n = 1; n <= FIFO_LAST; n++) {
      const at = t++;
      b.deliver('fifo', 'p1', at, 'failed', n, { invocationId: `inv-${n}`, invocationEnd: true });
      b.fail('fifo', 'p1', n, n === FIFO_LAST);
    }
    b.deliver('fifo', 'b1', 2001, 'applied', 1, { invocationId: 'inv-1', invocationEnd: true });
    b.apply('fifo', 'b1', 2002);
    if (unrun) b.notAttempted('fifo', 'a2', unrun.receiveCount, unrun.invocationId);
    b.dead('fifo', 'p1').dead('fifo', 'a2');
    for (let n = 1; n <= LAST; n++) b.deliver('standard', 'p1', t++, 'failed', n);
    b.fail('standard', 'p1', LAST, true).dead('standard', 'p1');
    for (const id of ['a2', 'b1'])
      b.deliver('standard', id, t++, 'applied').apply('standard', id, t++);
    return b;
  }

  /**
   * What the check says of poisonBatch's a2 in the FIFO DLQ when nothing explains it (`why`, when
   * the check says why not), and the DLQ's depth it does not account for.
   */
  const unexplainedA2 = (why?: string) => [
    why ? `fifo: order a2 is in the DLQ: ${why}` : 'fifo: order a2 is in the DLQ',
    'fifo: the DLQ holds 2 messages as SQS reports it, expected 1',
  ];

  /** poisonBatch with a2 handed back unrun at its last allowed receive, in that receive's batch. */
  const unrunAtLast = () =>
    poisonBatch({ receiveCount: FIFO_LAST, invocationId: `inv-${FIFO_LAST}` });

  const poisonFindings = (b: LedgerBuilder) =>
    runFindings({
      acceptedIds: ['p1', 'a2', 'b1'],
      ledger: b.ledger,
      report: reportOf(b),
      expectedInDlq: { fifo: ['p1'], standard: ['p1'] },
    });

  it('accepts a FIFO order in the DLQ never attempted behind a failure of its group at its last receive, and says so', () => {
    const b = unrunAtLast();
    expect(poisonFindings(b)).toEqual({
      violations: [],
      explainedDlqCopies: [],
      notAttemptedInDlq: [
        `fifo: order a2 is in the DLQ never attempted: at its receive #${FIFO_LAST} order p1 of its group failed in the same batch (receive #${FIFO_LAST}); its message fifo-a2 (maxReceiveCount ${FIFO_LAST})`,
      ],
    });
    // The report counts it in the DLQ and not as a failed delivery.
    expect(reportOf(b).queues.fifo.inDlq).toBe(2);
  });

  it("finds its group's failure anywhere among its invocation's receives, which the ledger lists by order id, not in batch order", () => {
    // b0 of customer b was applied in the last batch too, and the ledger lists its receive first.
    const b = unrunAtLast();
    b.accept('b0', 'b', 2, 1030);
    b.deliver('fifo', 'b0', 2100, 'applied', 1, {
      invocationId: `inv-${FIFO_LAST}`,
      invocationEnd: true,
    });
    b.apply('fifo', 'b0', 2101);
    b.deliver('standard', 'b0', 2102, 'applied').apply('standard', 'b0', 2103);
    b.ledger.deliveries.unshift(b.ledger.deliveries.splice(-2, 1)[0]!);
    const found = runFindings({
      acceptedIds: ['p1', 'a2', 'b1', 'b0'],
      ledger: b.ledger,
      report: reportOf(b),
      expectedInDlq: { fifo: ['p1'], standard: ['p1'] },
    });
    expect(found.violations).toEqual([]);
    expect(found.notAttemptedInDlq).toEqual([
      `fifo: order a2 is in the DLQ never attempted: at its receive #${FIFO_LAST} order p1 of its group failed in the same batch (receive #${FIFO_LAST}); its message fifo-a2 (maxReceiveCount ${FIFO_LAST})`,
    ]);
  });

  it('fails a FIFO order in the DLQ with no not-attempted failure, or one its batch does not explain', () => {
    // No trace of it at all (the consumer before it recorded one): an unexplained dead letter.
    expect(poisonFindings(poisonBatch()).violations).toEqual(unexplainedA2());
    // Not attempted in an invocation where nothing of its group failed.
    expect(
      poisonFindings(poisonBatch({ receiveCount: FIFO_LAST, invocationId: 'inv-other' }))
        .violations,
    ).toEqual(
      unexplainedA2(
        `fifo-a2 (not attempted at receive #${FIFO_LAST}, yet no delivery of its group failed in invocation inv-other)`,
      ),
    );
    // Not attempted before its last allowed receive: SQS would have handed it back, not moved it.
    expect(
      poisonFindings(poisonBatch({ receiveCount: FIFO_LAST - 1, invocationId: 'inv-1' }))
        .violations,
    ).toEqual(unexplainedA2(`fifo-a2 (not attempted at receive #${FIFO_LAST - 1} only)`));
    // The invocation it names holds a failure, but not one that blocks its group: another
    // customer's order failed there, its own customer's order there was applied, or the order of
    // its customer that failed there comes after it.
    const blockedBy = (
      orderId: string,
      customerId: string,
      sequence: number,
      outcome: 'failed' | 'applied',
    ) => {
      const x = poisonBatch({ receiveCount: FIFO_LAST, invocationId: 'inv-x' });
      x.accept(orderId, customerId, sequence, 1030);
      x.deliver('fifo', orderId, 3000, outcome, 1, { invocationId: 'inv-x', invocationEnd: true });
      return runFindings({
        acceptedIds: ['p1', 'a2', 'b1', orderId],
        ledger: x.ledger,
        report: reportOf(x),
        expectedInDlq: { fifo: ['p1'], standard: ['p1'] },
      }).violations;
    };
    const unexplained = `fifo: order a2 is in the DLQ: fifo-a2 (not attempted at receive #${FIFO_LAST}, yet no delivery of its group failed in invocation inv-x)`;
    expect(blockedBy('b0', 'b', 0, 'failed')).toContain(unexplained);
    expect(blockedBy('a0', 'a', 0, 'applied')).toContain(unexplained);
    expect(blockedBy('a3', 'a', 3, 'failed')).toContain(unexplained);
    // The same invocation with a failed earlier order of its customer explains it.
    expect(blockedBy('a0', 'a', 0, 'failed')).not.toContain(unexplained);
    // Explained, yet SQS reports one more message than the check accounts for.
    const b = unrunAtLast();
    b.ledger.dlq!.fifo!.depth = 3;
    expect(poisonFindings(b).violations).toEqual([
      'fifo: the DLQ holds 3 messages as SQS reports it, expected 2 (1 never attempted behind a failure of their group)',
    ]);
  });

  it('fails a FIFO order in the DLQ whose batch wrote its failures and not its outcomes, and says the failure is recorded and the delivery reads pending', () => {
    // The last invocation died after its failures request (p1's final failure, a2's hand-back)
    // and before its outcomes request: both deliveries read pending, a2's receipt delete went
    // with the outcomes. It was named as "no delivery of its group failed", which p1's recorded
    // failure contradicts.
    const b = unrunAtLast();
    const last = b.ledger.deliveries.find(
      (d) => d.queue === 'fifo' && d.orderId === 'p1' && d.receiveCount === FIFO_LAST,
    )!;
    last.outcome = 'pending';
    delete last.invocationEnd;
    b.deliver('fifo', 'a2', last.receivedAt, 'pending', FIFO_LAST, {
      invocationId: `inv-${FIFO_LAST}`,
    });
    expect(poisonFindings(b).violations).toEqual(
      unexplainedA2(
        `fifo-a2 (not attempted at receive #${FIFO_LAST}, yet no delivery of its group reads failed in invocation inv-${FIFO_LAST}: order p1's failure at receive #${FIFO_LAST} is recorded and its delivery reads pending: that invocation wrote its failures and never its outcomes, it did not end)`,
      ),
    );
  });

  it("names each of the report's numbers that disagrees with the ledger", () => {
    // Prepare: a ledger the check passes, and a report of it whose numbers were each got wrong.
    const b = deadAfter(LAST, 'failed');
    const report = reportOf(b);
    report.accepted = 4;
    report.queues.fifo.processed = 2;
    report.queues.fifo.duplicateEffects = 1;
    report.queues.fifo.lost = 1;
    report.queues.fifo.inDlq = 1;
    report.queues.fifo.appliedInDlq = 1;

    // Act
    const lines = runViolations({
      acceptedIds: ['a1', 'a2', 'b1'],
      ledger: b.ledger,
      report,
    });

    // Assess: one line per wrong number (the standard side, an explained DLQ copy, passes).
    expect(lines).toEqual([
      'the report counts 4 accepted, the client got 202 for 3',
      'fifo: the report counts 2 processed, the ledger holds effects of 3 accepted orders',
      'fifo: the report counts 1 duplicate effects, the ledger holds 0',
      'fifo: the report counts 1 lost, 0 accepted orders have no effect and are not in the DLQ',
      'fifo: the report counts 1 in the DLQ, the DLQ holds 0',
      'fifo: the report counts 1 applied orders with a copy in the DLQ, the DLQ holds 0',
    ]);
  });

  it('counts an order the client got two 202s for once', () => {
    // A client retry answered from the record is a second 202 for the same order id.
    expect(check(cleanRun(), ['a1', 'a2', 'a2', 'b1'])).toEqual([]);
  });

  it('names ten problems of a kind and sums up the rest', () => {
    const b = new LedgerBuilder();
    const ids = Array.from({ length: 13 }, (_, i) => `o${i}`);
    for (const id of ids) b.accept(id, 'c', 1, 1000);
    const found = check(b, ids).filter((l) => l.startsWith('fifo: '));
    expect(found).toHaveLength(11);
    expect(found[10]).toBe('fifo: 3 more orders were never applied');
  });

  it('sums up FIFO order lines past ten as FIFO order problems, not all of which are applies out of order', () => {
    // Twelve applies whose receives the ledger lost: none is out of send order, each cannot be
    // checked, and the summing-up line must not call the last two applies out of send order.
    const b = new LedgerBuilder();
    const ids = Array.from({ length: 12 }, (_, i) => `o${i + 10}`);
    let t = 2000;
    for (const [i, id] of ids.entries()) {
      b.accept(id, 'c', i + 1, 1000 + i);
      for (const q of ['fifo', 'standard'] as const)
        b.deliver(q, id, t++, 'applied').apply(q, id, t++);
    }
    const found = checkChanged(b, ids, (ledger) => {
      ledger.deliveries = ledger.deliveries.filter((d) => d.queue !== 'fifo');
    });
    expect(found).toHaveLength(11);
    expect(found[9]).toMatch(
      /^fifo: customer c applied order o19 from message fifo-o19, yet no receive/,
    );
    expect(found[10]).toBe('fifo: 2 more FIFO order problems');
  });

  it('exactly ten problems of a kind are all named, with no summing-up line', () => {
    const b = new LedgerBuilder();
    const ids = Array.from({ length: 10 }, (_, i) => `o${i}`);
    for (const id of ids) b.accept(id, 'c', 1, 1000);
    const found = check(b, ids).filter((l) => l.startsWith('fifo: '));
    expect(found).toEqual(ids.map((id) => `fifo: order ${id} was never applied`));
  });

  it('fails a run whose ledger holds nothing at all, though the client got 202s', () => {
    // The pipeline wrote nothing (the wrong table, or a run id that never reached it).
    expect(check(new LedgerBuilder(), ['a1', 'b1'])).toEqual([
      'the report counts 0 accepted, the client got 202 for 2',
      'fifo: order a1 was never applied',
      'fifo: order b1 was never applied',
      'fifo: the report counts 0 lost, 2 accepted orders have no effect and are not in the DLQ',
      'standard: order a1 was never applied',
      'standard: order b1 was never applied',
      'standard: the report counts 0 lost, 2 accepted orders have no effect and are not in the DLQ',
    ]);
  });

  it('fails a run whose ledger holds effects and none of their receives, on either queue', () => {
    // The receives were lost (or never written) after the report read them: FIFO named each
    // apply as one it cannot place; standard passed.
    const gone = checkChanged(cleanRun(), ['a1', 'a2', 'b1'], (ledger) => {
      ledger.deliveries = [];
    });
    const standard = gone.filter((l) => l.startsWith('standard: '));
    expect(standard).toEqual(
      ['a1', 'a2', 'b1'].map(
        (id) =>
          `standard: order ${id} was applied from message standard-${id}, yet the ledger holds no receive of that message: the consumer records every receive before it runs a record, so the ledger lost records or the effect names another message`,
      ),
    );
    expect(gone.filter((l) => l.startsWith('fifo: '))).toHaveLength(3);
    // One effect naming a message nobody received, beside its order's real receive.
    expect(
      checkChanged(cleanRun(), ['a1', 'a2', 'b1'], (ledger) => {
        ledger.effects.find((e) => e.queue === 'standard' && e.orderId === 'a2')!.messageId =
          'standard-elsewhere';
      }),
    ).toEqual([
      'standard: order a2 was applied from message standard-elsewhere, yet the ledger holds no receive of that message: the consumer records every receive before it runs a record, so the ledger lost records or the effect names another message',
    ]);
  });

  it("fails a run whose standard effect names another order's message, one the ledger received", () => {
    // a2's effect re-pointed at a1's message: a receive of it is there, as order a1. It passed.
    expect(
      checkChanged(cleanRun(), ['a1', 'a2', 'b1'], (ledger) => {
        ledger.effects.find((e) => e.queue === 'standard' && e.orderId === 'a2')!.messageId =
          'standard-a1';
      }),
    ).toEqual([
      "standard: order a2 of customer a was applied from message standard-a1, yet the ledger received that message as order a1 of customer a: the consumer writes an effect's order from the message it applied, so the effect names another order's message",
    ]);
  });

  it.each(['fifo', 'standard'] as const)(
    'fails a run whose ledger holds no read of the %s DLQ: what sits in it cannot be checked',
    (queue) => {
      // The report always reads both DLQs; a ledger without a read (a caller that skipped it, a
      // read lost on the way) would otherwise pass as an empty DLQ of depth 0.
      const b = cleanRun();
      const report = reportOf(b);
      delete b.ledger.dlq![queue];
      expect(runViolations({ acceptedIds: ['a1', 'a2', 'b1'], ledger: b.ledger, report })).toEqual([
        `${queue}: the ledger holds no read of the DLQ: what sits in it, and its depth, cannot be checked`,
      ]);
      delete b.ledger.dlq;
      expect(
        runViolations({ acceptedIds: ['a1', 'a2', 'b1'], ledger: b.ledger, report }),
      ).toHaveLength(2);
    },
  );

  it("reads FIFO's order from the apply index, not from the order the ledger lists effects in", () => {
    // Prepare: on FIFO a1 applied (index 1), a2 (index 2), then a1 again (index 3). The ledger
    // is read back in key order, not apply order: here a2 first, then a1's second effect, then
    // its first.
    const b = new LedgerBuilder().accept('a1', 'a', 1, 1000).accept('a2', 'a', 2, 1010);
    b.deliver('fifo', 'a1', 2000, 'applied').apply('fifo', 'a1', 2001);
    b.deliver('fifo', 'a2', 2002, 'applied').apply('fifo', 'a2', 2003);
    // A retry of a1's message (FIFO makes no copies: its next receive count).
    b.deliver('fifo', 'a1', 2004, 'applied', 2).apply('fifo', 'a1', 2005);
    for (const id of ['a1', 'a2'])
      b.deliver('standard', id, 2100, 'applied').apply('standard', id, 2101);
    const [a1First, a2, a1Again] = b.ledger.effects.splice(0, 3);
    b.ledger.effects.unshift(a2!, a1Again!, a1First!);

    // Act / Assess: a1 twice, and nothing out of sequence (a1's first effect came before a2's).
    expect(check(b, ['a1', 'a2'])).toEqual(['fifo: order a1 was applied 2 times']);
  });

  it('names every FIFO apply that came after an order SQS took later, not only the first', () => {
    // SQS took a1, a2, a3; a3 applied first, then a1 and a2: both came after a3.
    const b = appliedInOrder(
      [
        ['a1', 'a', 1],
        ['a2', 'a', 2],
        ['a3', 'a', 3],
      ],
      ['a3', 'a1', 'a2'],
    );
    expect(check(b, ['a1', 'a2', 'a3'])).toEqual([
      appliedAfter('a', ['a1', 1, sqsNumber(0)], ['a3', 3, sqsNumber(2)]),
      appliedAfter('a', ['a2', 2, sqsNumber(1)], ['a3', 3, sqsNumber(2)]),
    ]);
  });

  it('holds two orders a client gave the same sequence to the order SQS took them in', () => {
    // The client sent a2 and a3 both with sequence 2, a3 first: applied a3 before a2, in send
    // order, passes; the sequence has no say.
    const b = appliedInOrder(
      [
        ['a1', 'a', 1],
        ['a2', 'a', 2],
        ['a3', 'a', 2],
      ],
      ['a1', 'a3', 'a2'],
    );
    numberFifoMessages(b, ['fifo-a1', 'fifo-a3', 'fifo-a2']);
    expect(check(b, ['a1', 'a2', 'a3'])).toEqual([]);
    // The same applies with SQS having taken a2 first: a2 came after a3.
    numberFifoMessages(b, ['fifo-a1', 'fifo-a2', 'fifo-a3']);
    expect(check(b, ['a1', 'a2', 'a3'])).toEqual([
      appliedAfter('a', ['a2', 2, sqsNumber(1)], ['a3', 2, sqsNumber(2)]),
    ]);
  });

  it.each([
    ['the failed copy first', ['failed', 'suppressed']],
    ['the suppressed copy first', ['suppressed', 'failed']],
  ] as const)(
    'explains an applied copy whose last allowed receive came twice (a queue copy), one of them failed: %s',
    (_, [first, second]) => {
      // Two receives of the message at its last allowed count: whichever the ledger lists first,
      // the failed one ended without a delete, so SQS moved the message on.
      const b = deadAfter(LAST - 1, 'suppressed');
      b.deliver('standard', 'a2', 9000, first, LAST).deliver('standard', 'a2', 9001, second, LAST);
      expect(findings(b)).toEqual({
        violations: [],
        explainedDlqCopies: [
          `standard: order a2 was applied; its message standard-a2 is in the DLQ after its receive #${LAST} failed (maxReceiveCount ${LAST})`,
        ],
        notAttemptedInDlq: [],
      });
    },
  );

  /**
   * poisonBatch with a2 handed back unrun at its last receive, its not-attempted failure carrying
   * SQS's SequenceNumber `a2Number` (as the consumer records it) and p1's receives theirs:
   * 10^19, taken first.
   */
  function poisonBatchNumbered(a2Number: bigint): LedgerBuilder {
    const b = numberFifoMessages(unrunAtLast());
    b.ledger.failures.find((f) => f.notAttempted)!.sequenceNumber = String(a2Number);
    return b;
  }

  it("accepts a FIFO order never attempted behind its group's failure that SQS took first, though the client gave it a later sequence", () => {
    // The customer sent sequence 3 (p1, poison) before sequence 2 (a2), as a client may: FIFO's
    // order is the order SQS took them, so a2 was rightly held behind p1.
    const b = poisonBatchNumbered(10n ** 19n + 500n);
    for (const r of [...b.ledger.accepted, ...b.ledger.deliveries, ...b.ledger.failures]) {
      if (r.orderId === 'p1') r.sequence = 3;
    }
    expect(poisonFindings(b)).toEqual({
      violations: [],
      explainedDlqCopies: [],
      notAttemptedInDlq: [
        `fifo: order a2 is in the DLQ never attempted: at its receive #${FIFO_LAST} order p1 of its group failed in the same batch (receive #${FIFO_LAST}); its message fifo-a2 (maxReceiveCount ${FIFO_LAST})`,
      ],
    });
  });

  it("fails a FIFO order never attempted when its group's failure in that batch came from a message SQS took later, whatever their sequence", () => {
    // p1 (sequence 1) failed beside a2 (sequence 2), but SQS took a2's message first: nothing
    // held a2 back, and a consumer that hands back a record ahead of its group's failure is wrong.
    const later = poisonBatchNumbered(10n ** 19n - 500n);
    const unexplained = unexplainedA2(
      `fifo-a2 (not attempted at receive #${FIFO_LAST}, yet no delivery of its group failed in invocation inv-${FIFO_LAST})`,
    );
    expect(poisonFindings(later).violations).toEqual(unexplained);
    // Compared as integers: a shorter number is the smaller, though it sorts after as text.
    expect(poisonFindings(poisonBatchNumbered(9n * 10n ** 18n)).violations).toEqual(unexplained);
    // p1's failed receive records no SequenceNumber: the failure's own cannot be placed against it.
    const unnumbered = poisonBatchNumbered(10n ** 19n + 500n);
    for (const d of unnumbered.ledger.deliveries) {
      if (d.orderId === 'p1') d.sequenceNumber = '';
    }
    expect(poisonFindings(unnumbered).violations).toContain(unexplained[0]);
  });

  it('does not explain a FIFO order in the DLQ by a not-attempted failure that names no invocation', () => {
    // Records from before invocations were named: the failure and p1's failed receives carry no
    // invocation id, so nothing shows they were in one batch.
    const b = unrunAtLast();
    for (const f of b.ledger.failures) delete f.invocationId;
    for (const d of b.ledger.deliveries) delete d.invocationId;
    expect(poisonFindings(b).violations).toEqual(
      unexplainedA2(
        `fifo-a2 (not attempted at receive #${FIFO_LAST}, yet no delivery of its group failed in invocation (none named))`,
      ),
    );
  });

  it('fails a never-applied FIFO order with two copies in the DLQ of which only one is explained', () => {
    // a2's message is explained; a second message of a2 (a re-send) is in the DLQ too, with no
    // trace of why.
    const b = unrunAtLast();
    const dlq = b.ledger.dlq!.fifo!;
    dlq.depth++;
    dlq.messages!.push({ orderId: 'a2', messageId: 'fifo-a2-again' });
    expect(poisonFindings(b)).toEqual({
      violations: [
        'fifo: order a2 is in the DLQ: fifo-a2-again (no not-attempted failure)',
        'fifo: the DLQ holds 3 messages as SQS reports it, expected 1',
      ],
      explainedDlqCopies: [],
      notAttemptedInDlq: [],
    });
  });

  it('explains no DLQ copy whose message id the DLQ read did not give', () => {
    // An applied order's copy: without its message id nothing ties it to its receives.
    const applied = deadAfter(LAST, 'failed');
    delete applied.ledger.dlq!.standard!.messages;
    expect(findings(applied).violations).toEqual(unexplainedCopy('(message id not read)'));
    // A never-applied FIFO order: without its message id no not-attempted failure explains it.
    const unrun = unrunAtLast();
    delete unrun.ledger.dlq!.fifo!.messages;
    expect(poisonFindings(unrun).violations).toEqual(unexplainedA2());
  });

  it('does not take a failed attempt for a not-attempted one: a poison order of a group is in the DLQ unexplained', () => {
    // p1 failed every receive into the FIFO DLQ, and the run did not expect it there.
    const b = unrunAtLast();
    const run = (ledger: typeof b.ledger) =>
      runViolations({
        acceptedIds: ['p1', 'a2', 'b1'],
        ledger,
        report: reportOf(b),
        expectedInDlq: { standard: ['p1'] },
      });
    expect(run(b.ledger)).toEqual([
      'fifo: order p1 is in the DLQ',
      'fifo: the DLQ holds 2 messages as SQS reports it, expected 1 (1 never attempted behind a failure of their group)',
    ]);
    // Even were its final failure to name its invocation, where an earlier order of its
    // customer failed too, an attempt that failed is no hand-back.
    const x = unrunAtLast();
    x.accept('p0', 'a', 0, 990);
    x.deliver('fifo', 'p0', 1990, 'failed', FIFO_LAST, {
      invocationId: `inv-${FIFO_LAST}`,
      invocationEnd: true,
    });
    const p1Final = x.ledger.failures.find((f) => f.orderId === 'p1' && f.final)!;
    p1Final.invocationId = `inv-${FIFO_LAST}`;
    expect(
      runViolations({
        acceptedIds: ['p0', 'p1', 'a2', 'b1'],
        ledger: x.ledger,
        report: reportOf(x),
        expectedInDlq: { standard: ['p1'] },
      }),
    ).toContain('fifo: order p1 is in the DLQ');
  });

  it("holds each queue to its own maxReceiveCount, as the report's config says", () => {
    // The standard queue allowed more receives than FIFO in this run: a2's not-attempted failure
    // at FIFO's last receive still explains it.
    const b = unrunAtLast();
    const report = reportOf(b);
    report.config.queues.standard.maxReceiveCount = FIFO_LAST + 2;
    expect(
      runFindings({
        acceptedIds: ['p1', 'a2', 'b1'],
        ledger: b.ledger,
        report,
        expectedInDlq: { fifo: ['p1'], standard: ['p1'] },
      }),
    ).toEqual(poisonFindings(b));
    expect(poisonFindings(b).violations).toEqual([]);
  });

  /** A receive that records no SequenceNumber, for receive()'s number. */
  const UNNUMBERED = undefined;

  /**
   * One FIFO receive of order `orderId` at `at`, from its message fifo-<orderId> (`more.messageId`
   * another), numbered `sequenceNumber` by SQS (UNNUMBERED: a receive that records no number),
   * ending `outcome` in invocation `invocationId`, at receive count 1 unless `more` says; `applied`
   * also writes the effect from that message `more.applyLag` ms (1 unless it says) after the receive.
   */
  function receive(
    b: LedgerBuilder,
    orderId: string,
    at: number,
    sequenceNumber: string | undefined,
    outcome: 'applied' | 'failed' | 'suppressed',
    invocationId: string,
    more: { messageId?: string; receiveCount?: number; applyLag?: number } = {},
  ): LedgerBuilder {
    const messageId = more.messageId ?? `fifo-${orderId}`;
    b.deliver('fifo', orderId, at, outcome, more.receiveCount ?? 1, {
      messageId,
      invocationId,
      invocationEnd: true,
    });
    const d = b.ledger.deliveries.at(-1)!;
    if (sequenceNumber !== undefined) d.sequenceNumber = sequenceNumber;
    else delete d.sequenceNumber;
    if (outcome === 'applied') {
      b.apply('fifo', orderId, at + (more.applyLag ?? 1));
      b.ledger.effects.at(-1)!.messageId = messageId;
    }
    return b;
  }

  /**
   * Invocation `invocationId` as one that never ended (it died or timed out after its records
   * ran): no receive of it carries the end mark. FIFO makes no copies, so a FIFO message received
   * again after a receive of it that ended well needs this evidence, or the check names it.
   */
  function neverEnded(b: LedgerBuilder, invocationId: string): LedgerBuilder {
    for (const d of b.ledger.deliveries)
      if (d.invocationId === invocationId) delete d.invocationEnd;
    return b;
  }

  /** The FIFO effect of order `orderId`, to write it as a faulty consumer would. */
  const fifoEffect = (b: LedgerBuilder, orderId: string) =>
    b.ledger.effects.find((e) => e.queue === 'fifo' && e.orderId === orderId)!;

  /**
   * Customer a's a1 (fifo-a1, SequenceNumber 100) and a2 (fifo-a2, 200) received in one batch
   * i1, a2 applied first: an inversion.
   */
  function invertedInOneBatch(): LedgerBuilder {
    const b = customerA(['a1', 'a2']);
    receive(b, 'a2', 2000, '200', 'applied', 'i1');
    return receive(b, 'a1', 2000, '100', 'applied', 'i1', { applyLag: 2 });
  }

  /** Customer a's orders `ids` (sequence 1, 2, ...), each applied once on standard. */
  function customerA(ids: string[]): LedgerBuilder {
    const b = new LedgerBuilder();
    ids.forEach((id, i) => {
      b.accept(id, 'a', i + 1, 1000 + i);
    });
    ids.forEach((id, i) => {
      b.deliver('standard', id, 900_000 + i, 'applied').apply('standard', id, 900_500 + i);
    });
    return b;
  }

  /** The check of a ledger whose FIFO receives carry the numbers the test gave them, and only those. */
  const checkAsNumbered = (b: LedgerBuilder, acceptedIds: string[]) => {
    const unnumbered = b.ledger.deliveries.filter(
      (d) => d.queue === 'fifo' && d.sequenceNumber === undefined,
    );
    return checkChanged(b, acceptedIds, () => {
      for (const d of unnumbered) delete d.sequenceNumber;
    });
  };

  it("names an applied order's DLQ copy whose message no receive in the ledger was of", () => {
    // SQS moves a message to the DLQ only on a receive past maxReceiveCount: a message the ledger
    // never saw received has no business there, however the order itself fared.
    const b = deadAfter(LAST, 'failed');
    b.ledger.dlq!.standard!.messages = [{ orderId: 'a2', messageId: 'standard-a2-unseen' }];
    expect(findings(b).violations).toEqual(unexplainedCopy('standard-a2-unseen (never received)'));
  });

  it('names the highest receive a not-attempted failure came at when none came at the last allowed one', () => {
    // A consumer told a lower maxReceiveCount than the queue's RedrivePolicy writes a final
    // not-attempted failure at each receive from its own last on, all too early for SQS's rule.
    const b = poisonBatch({ receiveCount: FIFO_LAST - 2, invocationId: 'inv-1' });
    b.notAttempted('fifo', 'a2', FIFO_LAST - 1, 'inv-2');
    expect(poisonFindings(b).violations).toEqual(
      unexplainedA2(`fifo-a2 (not attempted at receive #${FIFO_LAST - 1} only)`),
    );
  });

  it('accounts for every message of a never-applied FIFO order that sits explained in the DLQ', () => {
    // a2 was sent twice (a producer re-send past FIFO's deduplication): both its messages were
    // handed back unrun behind p1 at their last receive, and both are in the DLQ.
    const b = unrunAtLast();
    const first = b.ledger.failures.find((f) => f.notAttempted)!;
    b.ledger.failures.push({ ...first, sk: `${first.sk}-again`, messageId: 'fifo-a2-again' });
    const dlq = b.ledger.dlq!.fifo!;
    dlq.depth++;
    dlq.messages!.push({ orderId: 'a2', messageId: 'fifo-a2-again' });
    const found = poisonFindings(b);
    expect(found.violations).toEqual([]);
    expect(found.notAttemptedInDlq).toHaveLength(2);
  });

  /**
   * The consumer's cut-off on standard: s1's DynamoDB call ran out of time at every receive
   * (invocations std-1..std-LAST), and c2, another customer's order in the same batches, was not
   * started at its last allowed receive, 4,000 ms left where a record needs 5,175: it is in the
   * DLQ beside s1 without an attempt. Each invocation had 10 s from its receive (the deadline its
   * receives carry), and the last wrote c2's failure 4,000 ms before its deadline. FIFO applied
   * both. `change` spoils the evidence.
   */
  function cutOffBatch(
    change?: (ledger: LedgerBuilder['ledger']) => void,
    evidence: Partial<Parameters<typeof runFindings>[0]> = {},
  ) {
    const b = new LedgerBuilder().accept('s1', 'a', 1, 1000).accept('c2', 'b', 1, 1010);
    for (const id of ['s1', 'c2']) b.deliver('fifo', id, 1500, 'applied').apply('fifo', id, 1501);
    for (let n = 1; n <= LAST; n++) {
      b.deliver('standard', 's1', 2000 + n, 'failed', n, {
        invocationId: `std-${n}`,
        invocationEnd: true,
        deadlineAt: 12_000 + n,
      });
      b.fail('standard', 's1', n, n === LAST);
      b.ledger.failures.at(-1)!.ranOutOfTime = true;
    }
    b.notAttempted('standard', 'c2', LAST, `std-${LAST}`);
    const cut = b.ledger.failures.at(-1)!;
    cut.notStarted = { leftMs: 4_000, budgetMs: 5_175 };
    cut.error = 'NotAttempted: not started, 4000 ms left of the invocation';
    cut.receivedAt = 2000 + LAST;
    cut.deadlineAt = 12_000 + LAST;
    cut.failedAt = cut.deadlineAt - 4_000;
    b.dead('standard', 's1').dead('standard', 'c2');
    change?.(b.ledger);
    return runFindings({
      acceptedIds: ['s1', 'c2'],
      ledger: b.ledger,
      report: reportOf(b),
      expectedInDlq: { standard: ['s1'] },
      ...evidence,
    });
  }

  it('accepts an order in the DLQ the consumer did not start at its last receive after a DynamoDB call ran out of time, and says so', () => {
    expect(cutOffBatch()).toEqual({
      violations: [],
      explainedDlqCopies: [],
      notAttemptedInDlq: [
        `standard: order c2 is in the DLQ never attempted: at its receive #${LAST} its invocation had less than the 5175 ms a record needs left (it wrote the hand-back 4000 ms before its deadline), after order s1's DynamoDB call ran out of time (receive #${LAST}); its message standard-c2 (maxReceiveCount ${LAST})`,
      ],
    });
  });

  it('fails an order the consumer did not start when the ledger does not bear the cut-off out', () => {
    const unexplained = (why: string) => [
      `standard: order c2 is in the DLQ: ${why}`,
      'standard: the DLQ holds 2 messages as SQS reports it, expected 1',
    ];
    const noTimeoutThere = unexplained(
      `standard-c2 (not started at receive #${LAST}, yet no delivery ran out of time in invocation std-${LAST})`,
    );
    // The failure in its invocation was no timeout.
    expect(
      cutOffBatch((ledger) => {
        for (const f of ledger.failures) delete f.ranOutOfTime;
      }).violations,
    ).toEqual(noTimeoutThere);
    // The timeout was in another invocation than the one that did not start it.
    expect(
      cutOffBatch((ledger) => {
        for (const f of ledger.failures) if (f.receiveCount === LAST) delete f.ranOutOfTime;
      }).violations,
    ).toEqual(noTimeoutThere);
    // It had the time a record needs.
    expect(
      cutOffBatch((ledger) => {
        ledger.failures.at(-1)!.notStarted = { leftMs: 5_175, budgetMs: 5_175 };
      }).violations,
    ).toEqual(
      unexplained(
        `standard-c2 (not started at receive #${LAST} with 5175 ms left, no less than the 5175 ms a record needs)`,
      ),
    );
    // Not started before its last allowed receive: SQS would have handed it back.
    expect(
      cutOffBatch((ledger) => {
        ledger.failures.at(-1)!.receiveCount = LAST - 1;
      }).violations,
    ).toEqual(unexplained(`standard-c2 (not attempted at receive #${LAST - 1} only)`));
    // Explained, yet SQS reports one more message than the check accounts for.
    expect(
      cutOffBatch((ledger) => {
        ledger.dlq!.standard!.depth = 3;
      }).violations,
    ).toEqual([
      'standard: the DLQ holds 3 messages as SQS reports it, expected 2 (1 not started after a DynamoDB call ran out of time)',
    ]);
  });

  it("fails an order not started after a stall when the ledger's times say it had the time a record needs, whatever its own leftMs says", () => {
    const why = (detail: string) => [
      `standard: order c2 is in the DLQ: standard-c2 (not started at receive #${LAST}${detail})`,
      'standard: the DLQ holds 2 messages as SQS reports it, expected 1',
    ];
    // It says 4,000 ms left, but was written 8,000 ms before its deadline: the hand-back had at
    // least that, more than the 5,175 a record needs.
    expect(
      cutOffBatch((ledger) => {
        ledger.failures.at(-1)!.failedAt = 12_000 + LAST - 8_000;
      }).violations,
    ).toEqual(
      why(
        ', yet its invocation wrote it 8000 ms before its deadline, no less than the 5175 ms a record needs',
      ),
    );
    // 5,274 ms before passes (the clock's slack), 5,275 does not.
    for (const [left, named] of [
      [5_274, 0],
      [5_275, 2],
    ] as const) {
      expect(
        cutOffBatch((ledger) => {
          ledger.failures.at(-1)!.failedAt = 12_000 + LAST - left;
        }).violations,
      ).toHaveLength(named);
    }
    // No deadline anywhere in the ledger: nothing to judge its time left by.
    expect(
      cutOffBatch((ledger) => {
        for (const d of ledger.deliveries) delete d.deadlineAt;
        delete ledger.failures.at(-1)!.deadlineAt;
      }).violations,
    ).toEqual(why(`, yet the ledger holds no deadline of invocation std-${LAST} to judge it by`));
    // A record budget no function timeout leaves.
    expect(
      cutOffBatch((ledger) => {
        ledger.failures.at(-1)!.notStarted = { leftMs: 4_000, budgetMs: 60_000 };
      }).violations,
    ).toEqual(
      why(", yet the 60000 ms it says a record needs is more than the function's 10000 ms timeout"),
    );
  });

  it('holds the record budget a hand-back after a stall gives to the one the consumer is configured with, not to its own figure', () => {
    // Written 8,900 ms before its deadline, saying a record needs 9,900 ms (no more than the 10 s
    // timeout): held to its own figure, the hand-back had less than a record needs, and passed.
    // The consumer is configured with 5,175 ms (one stalled call and the records' room).
    const inflated = (ledger: LedgerBuilder['ledger']) => {
      const f = ledger.failures.at(-1)!;
      f.notStarted = { leftMs: 4_000, budgetMs: 9_900 };
      f.failedAt = f.deadlineAt! - 8_900;
    };
    expect(cutOffBatch(inflated).violations).toEqual([
      `standard: order c2 is in the DLQ: standard-c2 (not started at receive #${LAST}, yet the 9900 ms it says a record needs is more than the 5175 ms the consumer is configured with)`,
      'standard: the DLQ holds 2 messages as SQS reports it, expected 1',
    ]);
    // A run that deployed the consumer with a budget that large says so, and the hand-back passes.
    expect(cutOffBatch(inflated, { recordBudgetMs: { standard: 9_900 } }).violations).toEqual([]);
    // Its figure at the configured budget, the ledger's times name it as before.
    expect(
      cutOffBatch((ledger) => {
        inflated(ledger);
        ledger.failures.at(-1)!.notStarted = { leftMs: 4_000, budgetMs: 5_175 };
      }).violations,
    ).toContain(
      `standard: order c2 is in the DLQ: standard-c2 (not started at receive #${LAST}, yet its invocation wrote it 8900 ms before its deadline, no less than the 5175 ms a record needs)`,
    );
  });

  it("holds a hand-back's deadline to the function timeout the run deployed, not to the one the report reads from the same stamps", () => {
    // Every receive of the invocation, and the failure, say the deadline came 58 s after the
    // receive: the report's function timeout, read from those stamps, is 58 s, so held to it the
    // deadline passed.
    const far = (ledger: LedgerBuilder['ledger']) => {
      for (const d of ledger.deliveries) if (d.deadlineAt !== undefined) d.deadlineAt += 48_000;
      const f = ledger.failures.at(-1)!;
      f.deadlineAt! += 48_000;
      f.failedAt += 48_000;
    };
    const line = `standard: order c2 is in the DLQ: standard-c2 (not started at receive #${LAST}, yet its invocation's deadline came 58000 ms after its receive, more than the function's 10000 ms timeout)`;
    expect(cutOffBatch(far).violations).toContain(line);
    // The runner's word for the timeout it deployed replaces the config's.
    expect(cutOffBatch(far, { functionTimeoutMs: { standard: 60_000 } }).violations).toEqual([]);
    // Past the cut, the same: all its stamps 58 s out.
    expect(pastCutBatch(far).violations).toContain(
      `standard: order c2 is in the DLQ: standard-c2 (not started past the cut at receive #${LAST}, yet its invocation's deadline came 58000 ms after its receive, more than the function's 10000 ms timeout)`,
    );
  });

  /**
   * The consumer past the cut on a record's calls: c2 was not started at its last allowed
   * receive in an invocation where no call ran out of time (the record before it ran past the
   * records' cut, 1 s before the deadline, on its work alone), 640 ms left: no call of it could
   * be sent. The invocation received both at 2,000 with a 10 s deadline (12,000), c1 ended at
   * 11,300 and the invocation wrote c2's failure at 11,360, 640 ms before the deadline. `change`
   * spoils the evidence.
   */
  function pastCutBatch(change?: (ledger: LedgerBuilder['ledger']) => void) {
    const b = new LedgerBuilder().accept('c1', 'a', 1, 1000).accept('c2', 'b', 1, 1010);
    for (const id of ['c1', 'c2']) b.deliver('fifo', id, 1500, 'applied').apply('fifo', id, 1501);
    b.deliver('standard', 'c1', 2000, 'applied', LAST, {
      invocationId: `std-${LAST}`,
      invocationEnd: true,
      outcomeAt: 11_300,
      deadlineAt: 12_000,
    }).apply('standard', 'c1', 2001);
    b.notAttempted('standard', 'c2', LAST, `std-${LAST}`);
    const cut = b.ledger.failures.at(-1)!;
    cut.notStarted = { leftMs: 640, cutRoomMs: 1_000 };
    cut.error = 'NotAttempted: not started, 640 ms left of the invocation';
    cut.failedAt = 11_360;
    cut.receivedAt = 2000;
    cut.deadlineAt = 12_000;
    b.dead('standard', 'c2');
    change?.(b.ledger);
    return runFindings({
      acceptedIds: ['c1', 'c2'],
      ledger: b.ledger,
      report: reportOf(b),
    });
  }

  /** The findings' violations when the cut's failure was written at `failedAt`. */
  const writtenAt = (failedAt: number) =>
    pastCutBatch((ledger) => {
      ledger.failures.at(-1)!.failedAt = failedAt;
    }).violations;

  it('accepts an order in the DLQ the consumer did not start at its last receive past the cut on its calls, and says so, with no call run out of time', () => {
    expect(pastCutBatch()).toEqual({
      violations: [],
      explainedDlqCopies: [],
      notAttemptedInDlq: [
        `standard: order c2 is in the DLQ never attempted: at its receive #${LAST} its invocation was past the cut on a record's DynamoDB calls (1000 ms before its deadline; it wrote the hand-back 640 ms before it); its message standard-c2 (maxReceiveCount ${LAST})`,
      ],
    });
    // A failure without the receipt's stamps (written before they were kept): the deadline
    // its invocation's receives carry.
    expect(
      pastCutBatch((ledger) => {
        delete ledger.failures.at(-1)!.deadlineAt;
        delete ledger.failures.at(-1)!.receivedAt;
      }).violations,
    ).toEqual([]);
  });

  it('fails an order not started past the cut when the ledger’s times say more time was left than the cut leaves, whatever the failure’s own figures say', () => {
    const unexplained = (why: string) => [
      `standard: order c2 is in the DLQ: standard-c2 (not started past the cut at receive #${LAST}, ${why})`,
      'standard: the DLQ holds 1 messages as SQS reports it, expected 0',
    ];
    // The failure says 640 ms were left, but the invocation wrote it 5 s before its deadline:
    // it was handed back with 5 s left at least (a hand-back on the consumer's word alone).
    expect(writtenAt(7_000)).toEqual(
      unexplained(
        "yet its invocation wrote it 5000 ms before its deadline, more than the cut's 1000 ms",
      ),
    );
    // The same from the invocation's receives when the failure carries no stamp.
    expect(
      pastCutBatch((ledger) => {
        const f = ledger.failures.at(-1)!;
        f.failedAt = 7_000;
        delete f.deadlineAt;
        delete f.receivedAt;
      }).violations,
    ).toEqual(
      unexplained(
        "yet its invocation wrote it 5000 ms before its deadline, more than the cut's 1000 ms",
      ),
    );
    // Just inside the slack: 1,100 ms before it passes, 1,101 does not.
    expect(writtenAt(10_900)).toEqual([]);
    expect(writtenAt(10_899)).toEqual(
      unexplained(
        "yet its invocation wrote it 1101 ms before its deadline, more than the cut's 1000 ms",
      ),
    );
    // A deadline no function timeout allows is no deadline of this invocation (the failure's
    // own, where the invocation's receives carry none: one they carry is judged below).
    expect(
      pastCutBatch((ledger) => {
        const f = ledger.failures.at(-1)!;
        f.deadlineAt = 60_000;
        f.failedAt = 59_500;
        for (const d of ledger.deliveries) delete d.deadlineAt;
      }).violations,
    ).toEqual(
      unexplained(
        "yet its invocation's deadline came 58000 ms after its receive, more than the function's 10000 ms timeout",
      ),
    );
    // No deadline anywhere in the ledger to judge it by.
    expect(
      pastCutBatch((ledger) => {
        delete ledger.failures.at(-1)!.deadlineAt;
        for (const d of ledger.deliveries) delete d.deadlineAt;
      }).violations,
    ).toEqual(
      unexplained(`yet the ledger holds no deadline of invocation std-${LAST} to judge it by`),
    );
  });

  it('fails an order not started past the cut whose deadline came before its receive, or before the hand-back was written', () => {
    const unexplained = (why: string) => [
      `standard: order c2 is in the DLQ: standard-c2 (not started past the cut at receive #${LAST}, ${why})`,
      'standard: the DLQ holds 1 messages as SQS reports it, expected 0',
    ];
    // The deadline a second before the receive: the consumer stamps it as the receive's time
    // plus what is left, never less than nothing. The failure's own deadline, where the
    // invocation's receives carry none (the report refuses a receive stamped so)...
    expect(
      pastCutBatch((ledger) => {
        const f = ledger.failures.at(-1)!;
        f.deadlineAt = 1_000;
        f.failedAt = 700;
        for (const d of ledger.deliveries) delete d.deadlineAt;
      }).violations,
    ).toEqual(unexplained("yet its invocation's deadline came 1000 ms before its receive"));
    // ...or the receives' deadline, before the receive the failure says it replaces.
    expect(
      pastCutBatch((ledger) => {
        const f = ledger.failures.at(-1)!;
        f.receivedAt = 13_000;
      }).violations,
    ).toEqual(unexplained("yet its invocation's deadline came 1000 ms before its receive"));
    const deadline = (at: number) => (ledger: LedgerBuilder['ledger']) => {
      const f = ledger.failures.at(-1)!;
      f.deadlineAt = at;
      for (const d of ledger.deliveries) if (d.invocationId === f.invocationId) d.deadlineAt = at;
    };
    // The hand-back written 6 s after its deadline, when Lambda had ended the invocation.
    expect(
      pastCutBatch((ledger) => {
        deadline(3_000)(ledger);
        ledger.failures.at(-1)!.failedAt = 9_000;
      }).violations,
    ).toEqual(
      unexplained(
        'yet its invocation wrote it 6000 ms after its deadline, when Lambda had ended it',
      ),
    );
    // Within the clock's slack after it passes; past it does not.
    expect(writtenAt(12_100)).toEqual([]);
    expect(writtenAt(12_101)).toEqual(
      unexplained(
        'yet its invocation wrote it 101 ms after its deadline, when Lambda had ended it',
      ),
    );
  });

  it("fails an order not started past the cut whose own deadline is not the one its invocation's receives carry", () => {
    // The failure says its deadline was 500 ms after its write, inside the cut's room; the
    // receives of its invocation say 12,000, 5 s after it. The consumer's own figure is not
    // trusted over the runtime's stamp on the receives.
    expect(
      pastCutBatch((ledger) => {
        const f = ledger.failures.at(-1)!;
        f.failedAt = 7_000;
        f.deadlineAt = 7_500;
      }).violations,
    ).toEqual([
      `standard: order c2 is in the DLQ: standard-c2 (not started past the cut at receive #${LAST}, yet its own deadline (7500) is not the one its invocation's receives carry (12000))`,
      'standard: the DLQ holds 1 messages as SQS reports it, expected 0',
    ]);
  });

  it('fails an order not started past the cut when SQS holds more than the check accounts for', () => {
    expect(
      pastCutBatch((ledger) => {
        ledger.dlq!.standard!.depth = 2;
      }).violations,
    ).toEqual([
      'standard: the DLQ holds 2 messages as SQS reports it, expected 1 (1 not started past the cut on their calls)',
    ]);
  });

  it.each(['', 'ab', '12ab', '1e3'])(
    'says FIFO order cannot be checked when a message was recorded with %j for its SequenceNumber, rather than place it',
    (bad) => {
      const b = sentAndApplied(['a1', 'a2'], ['a1', 'a2']);
      const garbled = checkChanged(b, ['a1', 'a2'], (ledger) => {
        for (const d of ledger.deliveries) {
          if (d.queue === 'fifo' && d.orderId === 'a2') d.sequenceNumber = bad;
        }
      });
      expect(garbled).toEqual([cannotCheck(1, 1, 'fifo-a2', 'a2')]);
    },
  );

  it('places an apply by the SequenceNumber one receive of its message gives, though another receive of it records none', () => {
    // a1's message was received first by a consumer that recorded no number, then again.
    const b = customerA(['a1', 'a2']);
    receive(b, 'a1', 2000, UNNUMBERED, 'failed', 'i1');
    receive(b, 'a1', 62_000, '100', 'applied', 'i2', { receiveCount: 2 });
    receive(b, 'a2', 63_000, '200', 'applied', 'i3');
    expect(checkAsNumbered(b, ['a1', 'a2'])).toEqual([]);
  });

  it('names the inversions of every customer, one customer after the other in customer id order', () => {
    // Customer b's applies come first in the ledger; each customer's two orders are inverted.
    const b = appliedInOrder(
      [
        ['a1', 'a', 1],
        ['a2', 'a', 2],
        ['b1', 'b', 1],
        ['b2', 'b', 2],
      ],
      ['b2', 'b1', 'a2', 'a1'],
    );
    expect(check(b, ['a1', 'a2', 'b1', 'b2'])).toEqual([
      appliedAfter('a', ['a1', 1, sqsNumber(0)], ['a2', 2, sqsNumber(1)]),
      appliedAfter('b', ['b1', 1, sqsNumber(2)], ['b2', 2, sqsNumber(3)]),
    ]);
  });

  it('does not pass two orders whose messages carry one SequenceNumber: the number is named, and neither is placed after the other', () => {
    // SQS numbers each message of a group apart; one number for two is a recording fault, and
    // passing it would pass an order the check cannot see. Placed, a2 read as applied after an
    // order SQS took later, which nothing in the ledger shows.
    const b = sentAndApplied(['a1', 'a2'], ['a1', 'a2']);
    for (const d of b.ledger.deliveries) {
      if (d.queue === 'fifo') d.sequenceNumber = sqsNumber(0);
    }
    expect(check(b, ['a1', 'a2'])).toEqual([oneNumber('a1', sqsNumber(0), [['fifo-a2', 'a2']])]);
  });

  it('holds no apply to a message it cannot place, and no apply it cannot place to the messages after it, and says FIFO order cannot be checked', () => {
    // a2's first message was recorded with no number (received after a1 was applied, failed);
    // a2 was then applied from its re-send. Nothing places that first message: had SQS taken it
    // before a1's, a1 was applied past it, and the check cannot tell, so it says it cannot.
    const unplaced = customerA(['a1', 'a2']);
    receive(unplaced, 'a1', 2000, '100', 'applied', 'i1');
    receive(unplaced, 'a2', 3000, UNNUMBERED, 'failed', 'i2');
    receive(unplaced, 'a2', 4000, '200', 'applied', 'i3', { messageId: 'fifo-a2-again' });
    expect(checkAsNumbered(unplaced, ['a1', 'a2'])).toEqual([cannotCheck(1, 1, 'fifo-a2', 'a2')]);
    // a1 applied from a message with no number: the one line, and a2's messages received after
    // it are not held against an apply whose place is unknown.
    const unplacedApply = customerA(['a1', 'a2']);
    receive(unplacedApply, 'a1', 2000, UNNUMBERED, 'applied', 'i1');
    receive(unplacedApply, 'a2', 3000, '200', 'failed', 'i2');
    receive(unplacedApply, 'a2', 4000, '300', 'applied', 'i3', { messageId: 'fifo-a2-again' });
    expect(checkAsNumbered(unplacedApply, ['a1', 'a2'])).toEqual([
      cannotCheck(1, 1, 'fifo-a1', 'a1'),
    ]);
  });

  it('fails a FIFO apply the ledger holds no receive of its message for that can have applied it', () => {
    // The consumer records every receive before any record of its batch runs: an apply with no
    // receive that can have made it is a ledger that lost records, and what it was applied past (the rest of
    // its batch) cannot be checked. Here a1's only receive left is a later copy the record answered.
    const lateOnly = customerA(['a1', 'a2']);
    receive(lateOnly, 'a1', 2000, '100', 'applied', 'i1');
    receive(lateOnly, 'a2', 3000, '200', 'applied', 'i2');
    receive(lateOnly, 'a1', 4000, '100', 'suppressed', 'i3', { receiveCount: 2 });
    const drop = (b: LedgerBuilder, at: number) => {
      b.ledger.deliveries = b.ledger.deliveries.filter(
        (d) => !(d.queue === 'fifo' && d.receivedAt === at),
      );
    };
    drop(lateOnly, 2000);
    const missing = (id: string) =>
      `fifo: customer a applied order ${id} from message fifo-${id}, yet no receive of that message in the ledger can have applied it (none ended applied, and none that was not suppressed came before its commit or within a second after it): the ledger lacks the receive it was applied from, so what it was applied past cannot be checked`;
    expect(checkAsNumbered(lateOnly, ['a1', 'a2'])).toEqual([missing('a1')]);
    // With no receive of a2's message at all, the same line, and nothing places a2.
    const none = customerA(['a1', 'a2']);
    receive(none, 'a1', 2000, '100', 'applied', 'i1');
    none.deliver('fifo', 'a2', 3000, 'applied').apply('fifo', 'a2', 3001);
    drop(none, 3000);
    expect(checkAsNumbered(none, ['a1', 'a2'])).toEqual([missing('a2')]);
  });

  it("fails two FIFO applies of a customer at one apply index, whose order the ledger's order of effects would otherwise decide", () => {
    // The inversion in one batch, both effects holding apply index 1, which the customer's atomic
    // counter never hands out twice. The ledger lists effects by key (a1's first): read in that
    // order, the inversion would pass.
    const b = invertedInOneBatch();
    const fifo = b.ledger.effects.filter((e) => e.queue === 'fifo');
    for (const e of fifo) e.applyIndex = 1;
    b.ledger.effects = [...fifo.reverse(), ...b.ledger.effects.filter((e) => e.queue !== 'fifo')];
    expect(checkAsNumbered(b, ['a1', 'a2'])).toEqual([
      'fifo: customer a applied order a2 at apply index 1, the index order a1 was applied at: the counter hands each index of a customer out once, so which of them came first cannot be told',
    ]);
  });

  it('fails a FIFO apply from a message the ledger received as another order or customer, rather than place it by that message', () => {
    expect(checkAsNumbered(invertedInOneBatch(), ['a1', 'a2'])).toEqual([
      appliedAfter('a', ['a1', 1, '100'], ['a2', 2, '200']),
    ]);
    // Each effect written with the other's message id: taken at its word, each would read as
    // applied in SQS's order.
    const swapped = invertedInOneBatch();
    fifoEffect(swapped, 'a1').messageId = 'fifo-a2';
    fifoEffect(swapped, 'a2').messageId = 'fifo-a1';
    expect(checkAsNumbered(swapped, ['a1', 'a2'])).toEqual([
      'fifo: customer a applied order a2 from message fifo-a1, yet the ledger received that message as order a1 of customer a: the effect does not name the message it was applied from, so its place in the send order cannot be told',
      'fifo: customer a applied order a1 from message fifo-a2, yet the ledger received that message as order a2 of customer a: the effect does not name the message it was applied from, so its place in the send order cannot be told',
    ]);
    // a2's effect written for another customer: taken at its word, a2 has no order of its own
    // customer to come after.
    const elsewhere = invertedInOneBatch();
    fifoEffect(elsewhere, 'a2').customerId = 'z';
    expect(checkAsNumbered(elsewhere, ['a1', 'a2'])).toEqual([
      'fifo: customer z applied order a2 from message fifo-a2, yet the ledger received that message as order a2 of customer a: the effect does not name the message it was applied from, so its place in the send order cannot be told',
    ]);
    // a1 applied first, legitimately, with its effect naming a3's message (300), received in the
    // batch where a2's (200) failed; a2 was dead-lettered, a3 applied, a2 redriven and applied.
    // Placed by a3's message, a1 would also read as applied past a2's.
    const misnamed = customerA(['a1', 'a2', 'a3']);
    receive(misnamed, 'a1', 2000, '100', 'applied', 'i1');
    receive(misnamed, 'a2', 2000, '200', 'failed', 'i1');
    receive(misnamed, 'a3', 2000, '300', 'failed', 'i1');
    receive(misnamed, 'a2', 3000, '200', 'failed', 'i2', { receiveCount: 2 });
    receive(misnamed, 'a3', 4000, '300', 'applied', 'i3', { receiveCount: 2 });
    receive(misnamed, 'a2', 5000, '400', 'applied', 'i4', { messageId: 'fifo-a2-redriven' });
    expect(checkAsNumbered(misnamed, ['a1', 'a2', 'a3'])).toEqual([]);
    fifoEffect(misnamed, 'a1').messageId = 'fifo-a3';
    expect(checkAsNumbered(misnamed, ['a1', 'a2', 'a3'])).toEqual([
      'fifo: customer a applied order a1 from message fifo-a3, yet the ledger received that message as order a3 of customer a: the effect does not name the message it was applied from, so its place in the send order cannot be told',
    ]);
  });

  /**
   * A receive of message `messageId` forged (or corrupted) as another order or customer, `as`,
   * listed before the ledger's other receives: the first receive a reader of the ledger meets.
   */
  function forgeReceive(
    b: LedgerBuilder,
    messageId: string,
    as: { orderId?: string; customerId?: string },
  ): LedgerBuilder {
    const real = b.ledger.deliveries.find((d) => d.messageId === messageId)!;
    b.ledger.deliveries.unshift({ ...real, ...as, sk: `${real.sk}-forged` });
    return b;
  }

  /** The line naming a message the ledger received as more than one order or customer. */
  const receivedAsTwo = (
    queue: 'fifo' | 'standard',
    messageId: string,
    [order, customer]: [string, string],
    [alsoOrder, alsoCustomer]: [string, string],
  ) =>
    `${queue}: order ${order} of customer ${customer} was received from message ${messageId}, which the ledger also received as order ${alsoOrder} of customer ${alsoCustomer}: a message belongs to one order, so the ledger's receives of it are corrupt or forged${queue === 'fifo' ? ', and no apply is placed in the send order by them' : ''}`;

  it('names a message the ledger received as two orders, and places no apply by it, where its first receive decided its order', () => {
    // The inversion, each effect written with the other's message id, and a receive of each
    // message forged as the order applied from it, listed first: read by its first receive, each
    // message is of the order applied from it, and a2 (from fifo-a1, 100) came before a1 (from
    // fifo-a2, 200).
    const b = invertedInOneBatch();
    fifoEffect(b, 'a1').messageId = 'fifo-a2';
    fifoEffect(b, 'a2').messageId = 'fifo-a1';
    forgeReceive(b, 'fifo-a1', { orderId: 'a2' });
    forgeReceive(b, 'fifo-a2', { orderId: 'a1' });
    expect(checkAsNumbered(b, ['a1', 'a2'])).toEqual([
      receivedAsTwo('fifo', 'fifo-a2', ['a1', 'a'], ['a2', 'a']),
      receivedAsTwo('fifo', 'fifo-a1', ['a2', 'a'], ['a1', 'a']),
    ]);
    // a1 (100) and a2 (200) applied in SQS's order in one batch, then a3 (300), with a receive of
    // a1's message forged as a3's, listed first: read by it, a2 was applied past a message of a3,
    // an order not yet applied, in its own batch.
    const leftBehind = customerA(['a1', 'a2', 'a3']);
    receive(leftBehind, 'a1', 2000, '100', 'applied', 'i1');
    receive(leftBehind, 'a2', 2000, '200', 'applied', 'i1', { applyLag: 2 });
    receive(leftBehind, 'a3', 3000, '300', 'applied', 'i2');
    forgeReceive(leftBehind, 'fifo-a1', { orderId: 'a3' });
    expect(checkAsNumbered(leftBehind, ['a1', 'a2', 'a3'])).toEqual([
      receivedAsTwo('fifo', 'fifo-a1', ['a3', 'a'], ['a1', 'a']),
    ]);
  });

  it('names a message the ledger received as two customers, and no other line of the apply from it', () => {
    // fifo-a2's first receive forged as customer z's: the effect of a2 (customer a) would read as
    // naming another order's message.
    const fifo = forgeReceive(invertedInOneBatch(), 'fifo-a2', { customerId: 'z' });
    expect(checkAsNumbered(fifo, ['a1', 'a2'])).toEqual([
      receivedAsTwo('fifo', 'fifo-a2', ['a2', 'z'], ['a2', 'a']),
    ]);
    // On standard too: a message is of one order on either queue.
    const standard = forgeReceive(cleanRun(), 'standard-a1', { orderId: 'b1', customerId: 'b' });
    expect(check(standard, ['a1', 'a2', 'b1'])).toEqual([
      receivedAsTwo('standard', 'standard-a1', ['b1', 'b'], ['a1', 'a']),
    ]);
  });

  it('finds the receive an apply came from, and the message it left behind, whatever order the ledger lists receives in', () => {
    // The ledger comes back in key order (order id, then a random receipt id), not in time
    // order. a1 (fifo-a1, 100) and a2 (fifo-a2, 200) both failed in i0; in i1 a1 failed again
    // while a2 was applied past it; a1 was dead-lettered, redriven and applied from its new
    // message. The apply came from a2's receive in i1 (the one that ended applied), not
    // from the one listed last; and a1's message is held against it though a2's receives are
    // listed first of the customer's.
    const b = customerA(['a1', 'a2']);
    receive(b, 'a2', 2000, '200', 'applied', 'i1', { receiveCount: 2 });
    receive(b, 'a1', 1500, '100', 'failed', 'i0');
    receive(b, 'a1', 2000, '100', 'failed', 'i1', { receiveCount: 2 });
    receive(b, 'a1', 9000, '300', 'applied', 'i2', { messageId: 'fifo-a1-redriven' });
    receive(b, 'a2', 1500, '200', 'failed', 'i0');
    expect(checkAsNumbered(b, ['a1', 'a2'])).toEqual([
      appliedPast(['a2', 2, '200'], ['a1', 1, '100'], 2, 'was in the same batch'),
    ]);
  });

  it('names an apply made beside a failure of its group when the effect committed in the millisecond of the receive', () => {
    const b = failedThrice('i1');
    fifoEffect(b, 'a2').committedAt = 2000;
    expect(check(b, ['a1', 'a2'])).toEqual([
      appliedPast(['a2', 2, '200'], ['a1', 1, '100'], 1, 'was in the same batch'),
    ]);
  });

  it('names an apply whose receive came in the millisecond of a receive of an earlier message in another batch', () => {
    // a1 (100) failed in i1 and a2 (200) was received in i2 in the same millisecond and applied;
    // a1 was redriven and applied after. Whichever receive came first, a1 was not done with when
    // a2 was received: deleted it was not (its order was not applied), and dead-lettered it could
    // not be within the millisecond (SQS moves it only on a receive after its visibility timeout).
    const b = customerA(['a1', 'a2']);
    receive(b, 'a1', 2000, '100', 'failed', 'i1');
    receive(b, 'a2', 2000, '200', 'applied', 'i2');
    receive(b, 'a1', 500_000, '300', 'applied', 'i5', { messageId: 'fifo-a1-redriven' });
    expect(check(b, ['a1', 'a2'])).toEqual([
      appliedPast(
        ['a2', 2, '200'],
        ['a1', 1, '100'],
        1,
        'came in the same millisecond, in another batch',
      ),
    ]);
  });

  it('judges an unstamped apply by the receive of its message that ended applied, not its failed receive in an earlier batch nor one after the commit', () => {
    // a1 fails in i1 and i2; a2 fails beside it in i1 and is applied beside it in i2. a1 is
    // redriven and applied after. Then a2's message comes back once more (its invocation died
    // after the effect), after every receive of a1.
    const b = customerA(['a1', 'a2']);
    receive(b, 'a1', 2000, '100', 'failed', 'i1');
    receive(b, 'a2', 2000, '200', 'failed', 'i1');
    receive(b, 'a1', 62_000, '100', 'failed', 'i2', { receiveCount: 2 });
    receive(b, 'a2', 62_000, '200', 'applied', 'i2', { receiveCount: 2 });
    receive(b, 'a1', 200_000, '300', 'applied', 'i4', { messageId: 'fifo-a1-redriven' });
    receive(b, 'a2', 300_000, '200', 'suppressed', 'i5', { receiveCount: 3 });
    neverEnded(b, 'i2');
    expect(check(b, ['a1', 'a2'])).toEqual([
      appliedPast(['a2', 2, '200'], ['a1', 1, '100'], 2, 'was in the same batch'),
    ]);
  });

  it('passes an apply beside a later message of an order already applied (a producer re-send the record answers)', () => {
    // a1 applied from its message; its re-send, which SQS took before a2's, came in a2's batch.
    const b = customerA(['a1', 'a2']);
    receive(b, 'a1', 2000, '100', 'applied', 'i1');
    receive(b, 'a1', 400_000, '150', 'suppressed', 'i2', { messageId: 'fifo-a1-again' });
    receive(b, 'a2', 400_000, '200', 'applied', 'i2');
    expect(check(b, ['a1', 'a2'])).toEqual([]);
  });

  it('takes no two receives for one batch when neither names its invocation', () => {
    // Records from before invocations were named: a1 dead-lettered before a2 was received is
    // still FIFO as SQS keeps it.
    const b = failedThrice('i4');
    for (const d of b.ledger.deliveries) delete d.invocationId;
    expect(check(b, ['a1', 'a2'])).toEqual([]);
  });

  it('passes a later order dead-lettered and redriven after an earlier one was applied', () => {
    // a1 applied; a2's message then failed its every receive, was dead-lettered, and was
    // redriven and applied: FIFO as SQS keeps it, with nothing earlier left behind.
    const b = customerA(['a1', 'a2']);
    receive(b, 'a1', 2000, '100', 'applied', 'i1');
    for (let n = 1; n <= FIFO_LAST; n++) {
      receive(b, 'a2', 3000 + n * 60_000, '200', 'failed', `i-a2-${n}`, { receiveCount: n });
    }
    receive(b, 'a2', 900_000, '300', 'applied', 'i-redrive', { messageId: 'fifo-a2-redriven' });
    expect(check(b, ['a1', 'a2'])).toEqual([]);
  });

  it("reads a message's last receive by its count, whatever order the ledger lists its receives in", () => {
    // The ledger comes back in key order, not time order: a2's failed first receive listed after
    // its last allowed one, which succeeded and was never deleted, does not explain the copy.
    const b = deadAfter(LAST, 'suppressed');
    b.deliver('standard', 'a2', 1500, 'failed', 1);
    expect(findings(b).violations).toEqual(unexplainedCopy(SUCCESS_NOT_DELETED));
  });

  it('explains a FIFO order in the DLQ by its not-attempted failure at the last receive, whatever other one the ledger lists after it', () => {
    // A consumer told a lower maxReceiveCount also wrote one a receive earlier, listed after.
    const b = unrunAtLast();
    b.notAttempted('fifo', 'a2', FIFO_LAST - 1, `inv-${FIFO_LAST - 1}`);
    expect(poisonFindings(b).violations).toEqual([]);
  });

  it("judges an applied order's DLQ copy by its own messages, not by another order's in that DLQ", () => {
    // p1, a poison order the run expected in the standard DLQ, beside a2's explained copy.
    const b = deadAfter(LAST, 'failed').accept('p1', 'p', 1, 1030);
    b.deliver('fifo', 'p1', 5000, 'applied').apply('fifo', 'p1', 5001);
    for (let n = 1; n <= LAST; n++) b.deliver('standard', 'p1', 5000 + n, 'failed', n);
    b.dead('standard', 'p1');
    const found = runFindings({
      acceptedIds: ['a1', 'a2', 'b1', 'p1'],
      ledger: b.ledger,
      report: reportOf(b),
      expectedInDlq: { standard: ['p1'] },
    });
    expect(found.violations).toEqual([]);
    expect(found.explainedDlqCopies).toEqual([
      `standard: order a2 was applied; its message standard-a2 is in the DLQ after its receive #${LAST} failed (maxReceiveCount ${LAST})`,
    ]);
  });

  /**
   * The line naming SQS SequenceNumber `number`, which the ledger received message fifo-<order>
   * of `order` with and also each of `also` ([message id, order]), messages of customer a.
   */
  const oneNumber = (order: string, number: string, also: Array<[string, string]>) =>
    `fifo: order ${order} was received from message fifo-${order} with SQS SequenceNumber ${number}, and so ${also.length > 1 ? 'were messages' : 'was message'} ${also.map(([id, o]) => `${id} of order ${o}`).join(' and ')}: SQS numbers each later message of a group (customer a) higher, so the ledger's receives of them are corrupt or forged, and no apply is placed in the send order by them`;

  it('names two messages of a customer received with one SequenceNumber, where a1 applied past a2 at that number passed', () => {
    // a1 applied from fifo-a1 (100) while fifo-a2, of the same group, failed beside it in i1
    // with that number too; a2 then applied from its redriven message (300). Which of fifo-a1
    // and fifo-a2 SQS took first cannot be told, so a2's message neither passes nor fails a1's
    // apply: the number is named, and neither message places an apply.
    const b = customerA(['a1', 'a2']);
    receive(b, 'a1', 2000, '100', 'applied', 'i1');
    receive(b, 'a2', 2000, '100', 'failed', 'i1');
    receive(b, 'a2', 500_000, '300', 'applied', 'i5', { messageId: 'fifo-a2-redriven' });
    expect(check(b, ['a1', 'a2'])).toEqual([oneNumber('a1', '100', [['fifo-a2', 'a2']])]);
  });

  it("names one number on three messages of a customer in one line, and not a number another customer's message also carries", () => {
    // AWS raises the number within a message group (the customer) and says nothing across groups.
    const b = customerA(['a1', 'a2', 'a3']).accept('b1', 'b', 1, 1003);
    b.deliver('standard', 'b1', 900_003, 'applied').apply('standard', 'b1', 900_503);
    for (const id of ['a1', 'a2', 'a3', 'b1']) receive(b, id, 2000, '100', 'applied', `i-${id}`);
    expect(check(b, ['a1', 'a2', 'a3', 'b1'])).toEqual([
      oneNumber('a1', '100', [
        ['fifo-a2', 'a2'],
        ['fifo-a3', 'a3'],
      ]),
    ]);
  });

  it('names ten numbers received on two messages of a customer and sums up the rest', () => {
    const b = new LedgerBuilder();
    const ids: string[] = [];
    for (let c = 0; c < 12; c++) {
      for (const n of [1, 2]) {
        const id = `c${c}-${n}`;
        ids.push(id);
        b.accept(id, `c${c}`, n, 1000 + ids.length);
        b.deliver('standard', id, 5000 + ids.length, 'applied').apply('standard', id, 6000);
        receive(b, id, 2000 + c, String(100 + c), 'applied', `i${c}`);
      }
    }
    const found = check(b, ids);
    expect(found).toHaveLength(11);
    expect(found[9]).toMatch(
      /^fifo: order c9-1 was received from message fifo-c9-1 with SQS SequenceNumber 109, and so was message fifo-c9-2 of order c9-2: /,
    );
    expect(found[10]).toBe(
      'fifo: 2 more SequenceNumbers were each received with more than one message of a customer',
    );
  });

  it('names an apply made past two failures of its group once, by the first', () => {
    const b = customerA(['a1', 'a2', 'a3']);
    receive(b, 'a1', 2000, '100', 'failed', 'i1');
    receive(b, 'a2', 2000, '200', 'failed', 'i1');
    receive(b, 'a3', 2000, '300', 'applied', 'i1');
    receive(b, 'a1', 500_000, '400', 'applied', 'i5', { messageId: 'fifo-a1-redriven' });
    receive(b, 'a2', 500_000, '500', 'applied', 'i5', { messageId: 'fifo-a2-redriven' });
    expect(check(b, ['a1', 'a2', 'a3'])).toEqual([
      appliedPast(['a3', 3, '300'], ['a1', 1, '100'], 1, 'was in the same batch'),
    ]);
  });

  type ReceiveOutcome = 'applied' | 'failed' | 'suppressed' | 'pending';

  /**
   * One FIFO receive of order `orderId` from its message fifo-<orderId>, numbered `sequenceNumber`,
   * ending `outcome` (pending: its invocation never ended) in invocation `invocationId`, with no
   * effect written: for a receive whose effect a test writes itself, or that wrote none.
   */
  function receiveOnly(
    b: LedgerBuilder,
    orderId: string,
    at: number,
    sequenceNumber: string,
    outcome: ReceiveOutcome,
    invocationId: string,
    receiveCount = 1,
  ): LedgerBuilder {
    b.deliver('fifo', orderId, at, outcome, receiveCount, {
      messageId: `fifo-${orderId}`,
      invocationId,
      ...(outcome === 'pending' ? {} : { invocationEnd: true }),
    });
    b.ledger.deliveries.at(-1)!.sequenceNumber = sequenceNumber;
    return b;
  }

  /**
   * a1 (100, ending `beside`) and a2 (200, ending `applying`) received in one batch i1 at 2000,
   * a2's effect committed at 7000 (unstamped); a copy of a2's message received in i2 at 5000
   * (receive #2, ending `copy`); a1 redriven and applied from its new message at 500_000.
   */
  function appliedPastWithCopy(
    beside: ReceiveOutcome,
    applying: ReceiveOutcome,
    copy: ReceiveOutcome,
  ): LedgerBuilder {
    const b = customerA(['a1', 'a2']);
    receiveOnly(b, 'a1', 2000, '100', beside, 'i1');
    receiveOnly(b, 'a2', 2000, '200', applying, 'i1');
    b.apply('fifo', 'a2', 7000);
    receiveOnly(b, 'a2', 5000, '200', copy, 'i2', 2);
    receive(b, 'a1', 500_000, '300', 'applied', 'i5', { messageId: 'fifo-a1-redriven' });
    return b;
  }

  it.each([
    ['applied', 'failed', 'failed'],
    ['pending', 'pending', 'suppressed'],
  ] as const)(
    'judges an apply by the receive that made it (%s), not by a copy of its message received while that invocation still ran (%s beside it, copy %s)',
    (applying, beside, copy) => {
      // a1 (100) and a2 (200) in one batch i1: a1 did not succeed, yet a2 was applied past it and
      // committed at 7000. Meanwhile a2's message was received again in i2 at 5000 (a copy while i1
      // still ran: it failed on the idempotency record in progress, or ran after the commit and the
      // effect's guard refused it). a1 was redriven and applied after. The apply came from a2's
      // receive in i1, the one that ended applied or, where none did, the one that did not end; the
      // latest receive before the commit is the copy, in a batch without a1, after a1's receive.
      // i1 timed out after the commit (FIFO handed a2's message out again only so).
      const b = neverEnded(appliedPastWithCopy(beside, applying, copy), 'i1');
      expect(check(b, ['a1', 'a2'])).toEqual([
        appliedPast(['a2', 2, '200'], ['a1', 1, '100'], 1, 'was in the same batch'),
      ]);
    },
  );

  it('finds the receive each apply of a message applied twice came from, with the guard off, when the first failed after its effect', () => {
    // fifo-a1 applied in i1, whose receive then failed (after the effect), and applied again from
    // its next receive in i2. Fewer receives ended applied than effects name the message, so the
    // first effect is read among the receives not suppressed: i1's, before its commit.
    const b = customerA(['a1']);
    receiveOnly(b, 'a1', 2000, '100', 'failed', 'i1');
    b.apply('fifo', 'a1', 2001);
    receive(b, 'a1', 62_000, '100', 'applied', 'i2', { receiveCount: 2 });
    expect(check(b, ['a1'])).toEqual(['fifo: order a1 was applied 2 times']);
  });

  it("finds the receive an apply came from when the consumer's clock stepped back between the receive's stamp and the commit", () => {
    // The consumer stamps a receive when its invocation begins and the commit when the effect is
    // written, on one clock: a step back of 300 ms between them puts the commit before the
    // receive. a1's receive ended applied, so it is the one, whatever the stamps say.
    const stepped = customerA(['a1', 'a2']);
    receive(stepped, 'a1', 2000, '100', 'applied', 'i1', { applyLag: -300 });
    receive(stepped, 'a2', 3000, '200', 'applied', 'i2');
    expect(check(stepped, ['a1', 'a2'])).toEqual([]);
    // The same when the receive failed after the effect committed (no receive ended applied): one
    // stamped up to a second after the commit is taken as the step it can be.
    const failedAfter = (stepMs: number) => {
      const b = customerA(['a1', 'a2']);
      receiveOnly(b, 'a1', 2000, '100', 'failed', 'i1');
      b.apply('fifo', 'a1', 2000 - stepMs);
      receiveOnly(b, 'a1', 62_000, '100', 'suppressed', 'i2', 2);
      receive(b, 'a2', 62_000, '200', 'applied', 'i2');
      return check(b, ['a1', 'a2']);
    };
    expect(failedAfter(300)).toEqual([]);
    expect(failedAfter(1000)).toEqual([]);
    // More than a second is no step the check allows for: the ledger lacks the receive.
    expect(failedAfter(1001)).toEqual([
      'fifo: customer a applied order a1 from message fifo-a1, yet no receive of that message in the ledger can have applied it (none ended applied, and none that was not suppressed came before its commit or within a second after it): the ledger lacks the receive it was applied from, so what it was applied past cannot be checked',
    ]);
  });

  it('judges an apply whose receive failed after the effect, stamped after the commit by a clock step, by that receive and not by a copy stamped later still', () => {
    // a1 (100) and a2 (200) in i1, stamped 2300; a2 was applied past a1 and committed at 2000 (the
    // clock stepped back 300 ms), then failed. A copy of a2's message came in i2, stamped 2800.
    // Neither ended applied, and neither is stamped at or before the commit: the earlier is the
    // receive it came from, and a1 was in its batch.
    const b = customerA(['a1', 'a2']);
    receiveOnly(b, 'a1', 2300, '100', 'failed', 'i1');
    receiveOnly(b, 'a2', 2300, '200', 'failed', 'i1');
    b.apply('fifo', 'a2', 2000);
    receiveOnly(b, 'a2', 2800, '200', 'failed', 'i2', 2);
    receive(b, 'a1', 500_000, '300', 'applied', 'i5', { messageId: 'fifo-a1-redriven' });
    expect(check(b, ['a1', 'a2'])).toEqual([
      appliedPast(['a2', 2, '200'], ['a1', 1, '100'], 1, 'was in the same batch'),
    ]);
  });

  it('passes an apply received a visibility timeout after the last receive of an earlier message dead-lettered, though the clock stepped back a second between the two stamps', () => {
    // a1 (100) failed at each allowed receive, the last at 2000 + 2 * 60 s; SQS moved it to the DLQ
    // on a receive a visibility timeout (60 s) later, and only then handed out a2 (200). A step
    // back of a second between a1's last stamp and a2's leaves a2's 59 s after it: not in its
    // millisecond or before it, so nothing is left behind.
    const b = customerA(['a1', 'a2']);
    for (let n = 1; n <= FIFO_LAST; n++) {
      receive(b, 'a1', 2000 + (n - 1) * 60_000, '100', 'failed', `i${n}`, { receiveCount: n });
    }
    const lastA1 = 2000 + (FIFO_LAST - 1) * 60_000;
    receive(b, 'a2', lastA1 + 60_000 - 1000, '200', 'applied', 'i-a2');
    receive(b, 'a1', 900_000, '300', 'applied', 'i-redrive', { messageId: 'fifo-a1-redriven' });
    expect(check(b, ['a1', 'a2'])).toEqual([]);
  });

  it("does not take an unstamped apply from a receive whose invocation's deadline had passed before the commit, though it is the latest stamped before it", () => {
    // i0 received a1 (100, at its last allowed receive) and a2 (200) at 1500 and died: both
    // pending, its deadline 11_500. SQS dead-lettered a1 and handed a2 out again in i1 at 62_000;
    // a2's effect committed there, stamped 61_800 (the clock stepped back 200 ms, within the
    // second the check allows), and its receive then failed. i0's receive of a2 is the latest
    // before the commit, but i0 had ended an minute before: it cannot have run the effect, and
    // a1, in its batch, was not left behind by this apply.
    const b = customerA(['a1', 'a2']);
    receiveOnly(b, 'a1', 1500, '100', 'pending', 'i0', FIFO_LAST);
    b.ledger.deliveries.at(-1)!.deadlineAt = 11_500;
    receiveOnly(b, 'a2', 1500, '200', 'pending', 'i0');
    b.ledger.deliveries.at(-1)!.deadlineAt = 11_500;
    receiveOnly(b, 'a2', 62_000, '200', 'failed', 'i1', 2);
    b.ledger.deliveries.at(-1)!.deadlineAt = 72_000;
    b.apply('fifo', 'a2', 61_800);
    receive(b, 'a1', 500_000, '300', 'applied', 'i5', { messageId: 'fifo-a1-redriven' });
    expect(check(b, ['a1', 'a2'])).toEqual([]);
  });

  /** Stamps order `orderId`'s FIFO effect with the receive it names as the one that applied it. */
  function stamp(b: LedgerBuilder, orderId: string, invocationId: string, receiveCount: number) {
    Object.assign(fifoEffect(b, orderId), { invocationId, receiveCount });
    return b;
  }

  /**
   * a1 (100) and a2 (200) received in one batch i1 at 2000, a1 failed there; a2's effect committed
   * at 7000, and its receive in i1 failed after it; a copy of a2's message came in i2 at 5000
   * (receive #2) and failed too; a1 was redriven and applied later. Which of a2's receives ran
   * its effect the receives cannot tell: `effectFrom` says, as the consumer's stamp would.
   */
  function twoCandidates(effectFrom?: [invocationId: string, receiveCount: number]) {
    const b = appliedPastWithCopy('failed', 'failed', 'failed');
    if (effectFrom) stamp(b, 'a2', ...effectFrom);
    return b;
  }

  it("judges an apply by the receive its effect names (invocation and receive count), where the receives' outcomes leave two that could have run it", () => {
    // Unstamped, the later candidate is taken (i2's copy, in a batch without a1): it passes.
    expect(check(twoCandidates(), ['a1', 'a2'])).toEqual([]);
    // The effect says i1's receive #1 ran it: a1 was in that batch and had not been applied.
    expect(check(twoCandidates(['i1', 1]), ['a1', 'a2'])).toEqual([
      appliedPast(['a2', 2, '200'], ['a1', 1, '100'], 1, 'was in the same batch'),
    ]);
    // The effect says i2's receive #2 ran it: a1 was not in that batch and came before it.
    expect(check(twoCandidates(['i2', 2]), ['a1', 'a2'])).toEqual([]);
  });

  it('passes a stamped apply whose receive its clock stamped more than a second after the commit: the stamp names it, no time is read', () => {
    // a1's receive in i1 stamped 5000, its commit 3000 (the clock stepped back 2 s between them),
    // and the receive failed after the effect; a copy in i2 (receive #2) was suppressed.
    const b = customerA(['a1', 'a2']);
    receiveOnly(b, 'a1', 5000, '100', 'failed', 'i1');
    b.apply('fifo', 'a1', 3000);
    receiveOnly(b, 'a1', 65_000, '100', 'suppressed', 'i2', 2);
    receive(b, 'a2', 65_000, '200', 'applied', 'i2');
    stamp(b, 'a2', 'i2', 1);
    // Unstamped, no receive within a second of the commit: the check cannot judge it.
    expect(check(b, ['a1', 'a2'])).toEqual([
      'fifo: customer a applied order a1 from message fifo-a1, yet no receive of that message in the ledger can have applied it (none ended applied, and none that was not suppressed came before its commit or within a second after it): the ledger lacks the receive it was applied from, so what it was applied past cannot be checked',
    ]);
    expect(check(stamp(b, 'a1', 'i1', 1), ['a1', 'a2'])).toEqual([]);
  });

  /** The line for a2's effect naming receive #`count` in `invocation`, of which the ledger holds no receive of its message. */
  const namesNoReceive = (invocation: string, count: number) =>
    `fifo: customer a applied order a2 from message fifo-a2, and its effect names receive #${count} in invocation ${invocation} as the one that applied it, yet the ledger holds no such receive of that message: the ledger lacks the receive it was applied from, or the effect names one that never was, so what it was applied past cannot be checked`;

  it.each([
    ['a receive count its invocation did not receive the message at', 'i2', 2],
    [
      'an invocation that never received the message, at a receive count one of its receives had',
      'i9',
      1,
    ],
    ['an invocation that did not receive it, though another received it at that count', 'i1', 1],
  ] as const)(
    'names an apply whose effect names %s (%s, receive #%s): the ledger lacks the receive or the effect is forged',
    (_, invocation, count) => {
      // a1 applied in i1 (receive #1), a2 in i2 (receive #1), each stamped with its own receive; then
      // a2's stamp is broken. The ledger is otherwise clean.
      const b = customerA(['a1', 'a2']);
      receive(b, 'a1', 2000, '100', 'applied', 'i1');
      receive(b, 'a2', 3000, '200', 'applied', 'i2');
      stamp(b, 'a1', 'i1', 1);
      expect(check(stamp(b, 'a2', 'i2', 1), ['a1', 'a2'])).toEqual([]);
      const line =
        invocation === 'i1'
          ? `fifo: customer a applied order a2 from message fifo-a2, and its effect names receive #1 in invocation i1 as the one that applied it, yet the ledger holds that receive as one of message fifo-a1 (order a1 of customer a) and none of message fifo-a2 so: the effect or the ledger is broken, so what it was applied past cannot be checked`
          : namesNoReceive(invocation, count);
      expect(check(stamp(b, 'a2', invocation, count), ['a1', 'a2'])).toEqual([line]);
    },
  );

  it('names an apply whose effect names a receive of its message that ended suppressed, which writes no effect', () => {
    // a1 applied in i1, a2 in i2 (receive #1), each stamped with its own receive; a copy of a2's
    // message came in i3 (receive #2) and was suppressed. a2's effect naming that copy is a broken
    // effect or ledger: a suppressed receive is one idempotency answered or whose write the guard
    // refused, so it wrote no effect.
    const b = customerA(['a1', 'a2']);
    receive(b, 'a1', 2000, '100', 'applied', 'i1');
    receive(b, 'a2', 3000, '200', 'applied', 'i2');
    receiveOnly(b, 'a2', 70_000, '200', 'suppressed', 'i3', 2);
    // i2 died after its outcomes: FIFO handed a2's message out again only so.
    neverEnded(b, 'i2');
    stamp(b, 'a1', 'i1', 1);
    expect(check(stamp(b, 'a2', 'i2', 1), ['a1', 'a2'])).toEqual([]);
    expect(check(stamp(b, 'a2', 'i3', 2), ['a1', 'a2'])).toEqual([
      'fifo: customer a applied order a2 from message fifo-a2, and its effect names receive #2 in invocation i3 as the one that applied it, yet the ledger holds that receive as suppressed, which writes no effect (idempotency answered it, or the effect guard refused its write): the effect or the ledger is broken, so what it was applied past cannot be checked',
    ]);
  });

  it('names a stamped apply whose message the ledger never received, by its stamp', () => {
    const b = customerA(['a1', 'a2']);
    receive(b, 'a1', 2000, '100', 'applied', 'i1');
    receive(b, 'a2', 3000, '200', 'applied', 'i2');
    b.ledger.deliveries = b.ledger.deliveries.filter((d) => d.messageId !== 'fifo-a2');
    expect(check(stamp(b, 'a2', 'i2', 1), ['a1', 'a2'])).toEqual([namesNoReceive('i2', 1)]);
  });
});

describe('a FIFO redelivery', () => {
  /**
   * The fixture's FIFO redelivery of o1 (fifoRedelivery: receive #1 applied in i1, which ended,
   * and SQS handed it out again at #2, in i2, answered by the record). `evidence` adds what the
   * ledger holds of why #1 was not deleted; `functionTimeoutMs`, the FIFO consumer's timeout as
   * the run deployed it (absent: the config's).
   */
  function redelivered(evidence?: (b: LedgerBuilder) => void, functionTimeoutMs?: number) {
    const b = fifoRedelivery();
    evidence?.(b);
    return runFindings({
      acceptedIds: ['o1'],
      ledger: b.ledger,
      report: reportOf(b),
      ...(functionTimeoutMs !== undefined
        ? { functionTimeoutMs: { fifo: functionTimeoutMs } }
        : {}),
    });
  }

  it('fails a FIFO message received again after a receive that ended well, with nothing in the ledger to say why', () => {
    // The report counts it a retry after failure on the queue type's rule alone (its
    // fifoRetriesByQueueType, and a note); the check does not pass it.
    const found = redelivered();
    expect(found.violations).toEqual([
      'fifo: order o1 was received again from message fifo-o1 at receive #2, yet nothing in the ledger says its receive #1 ended without a delete (no failure, no end write given up, no invocation that never ended, no visibility timeout run out under it, no copy named failed in its batch, no lost delete): a FIFO queue makes no copies, so this redelivery is unexplained',
    ]);
  });

  it.each<[string, (b: LedgerBuilder) => void]>([
    [
      'the invocation never ended',
      (b) => {
        delete b.ledger.deliveries[0]!.invocationEnd;
      },
    ],
    [
      'the invocation gave its end write up',
      (b) => void b.endGivenUp('fifo', 'o1', 1, 'i1', 11_500),
    ],
  ])('passes a FIFO message received again after a receive of which %s', (_, evidence) => {
    expect(redelivered(evidence).violations).toEqual([]);
  });

  it("fails a FIFO message received again after a receive that applied and ended, beside a hand-back naming that receive's invocation at its count", () => {
    // The consumer removes a hand-back's own receipt in the end write that writes the hand-back,
    // so beside i1's receive #1, which ran, applied and ended, it would be a second receive of
    // the message in i1's batch at #1: a copy a FIFO queue does not make. It explains nothing.
    const found = redelivered((b) => void b.notAttempted('fifo', 'o1', 1, 'i1'));
    expect(found.violations).toEqual([
      'fifo: order o1 was received again from message fifo-o1 at receive #2, yet nothing in the ledger says its receive #1 ended without a delete (no failure, no end write given up, no invocation that never ended, no visibility timeout run out under it, no copy named failed in its batch, no lost delete): a FIFO queue makes no copies, so this redelivery is unexplained',
    ]);
  });

  it('passes a FIFO message received again while the receive before still ran, or after it ran past the visibility timeout', () => {
    // The copy at #2 came at 63,000, before #1 ended (outcomeAt 64,000) within its deadline: SQS
    // handed #1 out at about 2,000 and its invocation began at 54,000 (a batching window held the
    // batch), so its visibility timeout ran out under it.
    expect(
      redelivered((b) => {
        Object.assign(b.ledger.deliveries[0]!, {
          receivedAt: 54_000,
          deadlineAt: 64_500,
          outcomeAt: 64_000,
        });
        b.ledger.effects.find((e) => e.queue === 'fifo')!.committedAt = 63_900;
      }).violations,
    ).toEqual([]);
    // #1 ran the visibility timeout out, ending after #2 was received: a function whose timeout
    // is as long as the visibility timeout (the run says it deployed one), ending at its deadline.
    const visibilityMs = pipelineConfig.queues.fifo.visibilityTimeoutSeconds * 1000;
    const endedAt = (outcomeAt: number) => (b: LedgerBuilder) => {
      Object.assign(b.ledger.deliveries[0]!, { deadlineAt: 2000 + visibilityMs, outcomeAt });
    };
    expect(redelivered(endedAt(2000 + visibilityMs), visibilityMs).violations).toEqual([]);
    // Ended a millisecond inside it, before #2: nothing says it was not deleted.
    expect(redelivered(endedAt(2000 + visibilityMs - 1), visibilityMs).violations).toHaveLength(1);
    // The run deployed the config's 10 s timeout: a deadline stamped 60 s after the receive is
    // none that function's runtime gave, and an outcome within it says nothing of the visibility
    // timeout (it passed before: the outcome was held to the deadline, not the deadline to the
    // timeout).
    const { violations } = redelivered(endedAt(2000 + visibilityMs));
    expect(violations).toHaveLength(2);
    expect(violations[0]).toMatch(
      new RegExp(
        `^fifo: ledger item \\S+ has deadlineAt ${2000 + visibilityMs}, ${visibilityMs} ms after its receive \\(receivedAt 2000\\), more than the function's 10000 ms timeout`,
      ),
    );
    expect(violations[1]).toMatch(/so this redelivery is unexplained$/);
  });

  it('fails a FIFO message received again after a receive whose outcome is stamped past its own deadline, unless the clock skipped that far', () => {
    // #1's outcome at 62,000, 50 s after its invocation's deadline (12,000), when Lambda had ended
    // it: read as written, #1 ran as long as the visibility timeout and explained #2. It passed.
    const visibilityMs = pipelineConfig.queues.fifo.visibilityTimeoutSeconds * 1000;
    let sk = '';
    let b = new LedgerBuilder();
    const found = redelivered((l) => {
      l.ledger.deliveries[0]!.outcomeAt = 2000 + visibilityMs;
      sk = String(l.ledger.deliveries[0]!.sk);
      b = l;
    });
    expect(found.violations).toEqual([
      `fifo: ledger item ${sk} has outcomeAt ${2000 + visibilityMs}, ${2000 + visibilityMs - 12_000} ms after its invocation's deadline (deadlineAt 12000): Lambda had ended that invocation, so it wrote no outcome then: the FIFO redelivery rule takes no visibility timeout run out under it from that time (the report reads it as written)`,
      'fifo: order o1 was received again from message fifo-o1 at receive #2, yet nothing in the ledger says its receive #1 ended without a delete (no failure, no end write given up, no invocation that never ended, no visibility timeout run out under it, no copy named failed in its batch, no lost delete): a FIFO queue makes no copies, so this redelivery is unexplained',
    ]);
    // The run moved the functions' clock a visibility timeout forward while #1 ran: its outcome's
    // stamp moved with it, its deadline did not, and the timeout ran out under it.
    expect(
      runFindings({
        acceptedIds: ['o1'],
        ledger: b.ledger,
        report: reportOf(b),
        clockSkips: [{ at: 2050, ms: visibilityMs }],
      }).violations,
    ).toEqual([]);
  });

  it('sums up past the first ten each kind of FIFO redelivery line on its own, counting what it says', () => {
    // Twelve orders, each its own customer, received again at #2 after a #1 that applied and
    // ended (unexplained); the first with #1's outcome stamped past its deadline; and one more
    // whose #1 failed and whose #2 came twice (a copy).
    const b = new LedgerBuilder();
    const ids: string[] = [];
    const fifoReceives = (id: string, k: number, first: 'applied' | 'failed') => {
      b.deliver('fifo', id, 2000 + k, first, 1, {
        invocationId: `i${k}`,
        invocationEnd: true,
        outcomeAt: 2100 + k,
        deadlineAt: 12_000 + k,
      });
      b.deliver('fifo', id, 63_000 + k, first === 'failed' ? 'applied' : 'suppressed', 2, {
        invocationId: `j${k}`,
        invocationEnd: true,
        outcomeAt: 63_100 + k,
        deadlineAt: 73_000 + k,
      });
    };
    for (let k = 1; k <= 13; k++) {
      const id = `o${k}`;
      ids.push(id);
      b.accept(id, `c${k}`, 1, 1000 + k);
      fifoReceives(id, k, k === 13 ? 'failed' : 'applied');
      b.apply('fifo', id, k === 13 ? 63_050 + k : 2050 + k);
      b.deliver('standard', id, 2000 + k, 'applied').apply('standard', id, 2050 + k);
    }
    b.deliver('fifo', 'o13', 63_500, 'suppressed', 2, {
      invocationId: 'j13b',
      invocationEnd: true,
      outcomeAt: 63_600,
      deadlineAt: 73_500,
    });
    b.ledger.deliveries.find((d) => d.queue === 'fifo' && d.orderId === 'o1')!.outcomeAt = 40_000;
    const { violations } = runFindings({ acceptedIds: ids, ledger: b.ledger, report: reportOf(b) });
    const unexplained = violations.filter((l) => l.endsWith('so this redelivery is unexplained'));
    expect(unexplained).toHaveLength(10);
    expect(violations.filter((l) => l.includes('more FIFO'))).toEqual([
      'fifo: 2 more FIFO redeliveries nothing in the ledger explains',
    ]);
    expect(violations.filter((l) => l.includes("after its invocation's deadline"))).toHaveLength(1);
    expect(violations.filter((l) => l.includes('twice at receive #2'))).toHaveLength(1);
    expect(violations).toHaveLength(13);
  });

  it('passes it when the emulator lost the delete of the receive before, and not one two receives before', () => {
    const b = new LedgerBuilder().accept('o1', 'c', 1, 1000);
    b.deliver('fifo', 'o1', 2000, 'applied', 1, { invocationId: 'i1', invocationEnd: true })
      .apply('fifo', 'o1', 2050)
      .deliver('fifo', 'o1', 63_000, 'suppressed', 2, { invocationId: 'i2', invocationEnd: true })
      .deliver('standard', 'o1', 2000, 'applied', 1)
      .apply('standard', 'o1', 2050);
    const lost = (receiveCount: number) =>
      runFindings({
        acceptedIds: ['o1'],
        ledger: b.ledger,
        report: reportOf(b),
        lostDeletes: { fifo: [{ messageId: 'fifo-o1', receiveCount }] },
      }).violations;
    expect(lost(1)).toEqual([]);
    expect(lost(2)).toHaveLength(1);
  });
});

describe("an order's history, printed for the orders a failed soak names", () => {
  it('lists receives, failures and effects of that order on that queue in time order', () => {
    // Prepare: a2 failed twice on standard, then applied; other orders and queues around it.
    const b = new LedgerBuilder().accept('a1', 'a', 1, 1000).accept('a2', 'a', 2, 1010);
    const t0 = Date.UTC(2026, 11, 2, 1, 0, 0);
    b.deliver('standard', 'a2', t0, 'failed', 1, { invocationId: 'i1', invocationEnd: true });
    b.fail('standard', 'a2', 1, false);
    b.ledger.failures[0]!.failedAt = t0 + 5;
    b.deliver('standard', 'a2', t0 + 60_000, 'pending', 2, { invocationId: 'i2' });
    b.deliver('standard', 'a2', t0 + 120_000, 'suppressed', 3, {
      suppressedBy: 'effect',
      outcomeAt: t0 + 120_010,
      invocationId: 'i3',
      invocationEnd: true,
    });
    b.apply('standard', 'a2', t0 + 60_005);
    b.deliver('fifo', 'a2', t0 + 1, 'applied').apply('fifo', 'a2', t0 + 2);
    b.deliver('standard', 'a1', t0 + 3, 'applied').apply('standard', 'a1', t0 + 4);
    b.fail('standard', 'a1', 1, false).fail('fifo', 'a2', 1, false);

    // Act
    const lines = orderHistory(b.ledger, 'standard', 'a2');

    // Assess: only a2 on standard, oldest first, each record's own facts.
    expect(lines).toEqual([
      '01:00:00.000 receive #1 of standard-a2: failed invocation i1',
      '01:00:00.005 failure of standard-a2 receive #1: boom',
      '01:01:00.000 receive #2 of standard-a2: pending invocation i2 (did not end)',
      '01:01:00.005 effect from standard-a2, apply index 1',
      '01:02:00.000 receive #3 of standard-a2: suppressed by effect at 01:02:00.010 invocation i3',
    ]);
  });
});

describe("a FIFO order's history when it was handed back unrun", () => {
  it('says its last receive was not attempted, and in which invocation', () => {
    const b = new LedgerBuilder().accept('p1', 'a', 1, 1000).accept('a2', 'a', 2, 1010);
    b.notAttempted('fifo', 'a2', 5, 'inv-5');
    b.ledger.failures[0]!.failedAt = Date.UTC(2026, 11, 2, 1, 0, 0);
    expect(orderHistory(b.ledger, 'fifo', 'a2')).toEqual([
      '01:00:00.000 receive #5 of fifo-a2 not attempted (final) invocation inv-5: NotAttempted: an earlier message of its group failed in the same batch',
    ]);
  });
});

describe('the orders a failed soak prints the history of', () => {
  it('reads the queue and order of each line the check writes, once each, up to the limit', () => {
    const lines = [
      'fifo: customer cust-7 applied order a1 (sequence 1, SQS SequenceNumber 1) after order z9 (sequence 2, SequenceNumber 2), which SQS took later',
      'standard: order b2 was applied; its message m is in the DLQ after its receive #5 failed',
      'fifo: order a1 was never applied',
      'standard: the DLQ holds 1 messages as SQS reports it, expected 0',
      'standard: order c3 was applied 2 times',
    ];
    expect(ordersNamed(lines, 5)).toEqual([
      { queue: 'fifo', orderId: 'a1' },
      { queue: 'standard', orderId: 'b2' },
      { queue: 'standard', orderId: 'c3' },
    ]);
    expect(ordersNamed(lines, 2)).toHaveLength(2);
  });
});
