import { IdempotencyPersistenceLayerError } from '@aws-lambda-powertools/idempotency';
import type { Context, SQSEvent } from 'aws-lambda';
import { InvocationDeadlineError } from '../../../services/consumer/src/adapters/call-deadline';
import { createConsumerHandler } from '../../../services/consumer/src/app';
import { loadConsumerConfig } from '../../../services/consumer/src/config';
import type { ApplyTurn } from '../../../services/consumer/src/domain/ports';
import {
  failureText,
  ranOutOfTime,
  startsRecord,
} from '../../../services/consumer/src/domain/record-handling';
import type { QueueKind } from '../../../shared/src/queue-kind';
import fifoFixture from '../../events/sqs/fifo-batch.json';
import standardFixture from '../../events/sqs/standard-batch.json';
import {
  handlerOverFakes,
  InMemoryConsumerLedger,
  NOW,
  PermissivePersistence,
  silent,
} from './fakes';

/**
 * The cut-off: once a DynamoDB call of the invocation has run out of time, a record starts only
 * while the invocation has what one record needs (one stalled call and room for its end); the
 * record and every later one go back unrun otherwise. The rule alone, then the handler over
 * in-memory fakes, where a turn "stalls" by moving the invocation's clock and throwing the SDK's
 * TimeoutError. The real clients against a stalled DynamoDB: test/integration/faults/stalled-batch.test.ts.
 */

const BUDGET_MS = 5_175;

describe('startsRecord', () => {
  it.each([
    // [remaining, budget, a call ran out, starts]
    [9_000, BUDGET_MS, false, true],
    [1_000, BUDGET_MS, false, true], // a long batch, no stall: every record starts
    [5_175, BUDGET_MS, true, true],
    [5_174, BUDGET_MS, true, false],
    [0, BUDGET_MS, true, false],
    [-5, BUDGET_MS, true, false],
    [1_000, undefined, true, true], // no budget given: every record starts
    [undefined, BUDGET_MS, true, true], // no time told: every record starts
    [Number.NaN, BUDGET_MS, true, true],
  ])(
    'remaining %p, budget %p, a call ran out %p: starts %p',
    (remainingMs, recordBudgetMs, callRanOut, starts) => {
      expect(startsRecord({ remainingMs, recordBudgetMs, callRanOut })).toBe(starts);
    },
  );
});

describe('ranOutOfTime', () => {
  const timeout = Object.assign(new Error('Request timed out'), { name: 'TimeoutError' });
  it("finds the SDK's TimeoutError as thrown and as the cause Powertools wraps it in", () => {
    expect(ranOutOfTime(timeout)).toBe(true);
    const wrapped = new Error('Failed to save in progress record to idempotency store', {
      cause: timeout,
    });
    wrapped.name = 'IdempotencyPersistenceLayerError';
    expect(ranOutOfTime(wrapped)).toBe(true);
  });
  it("finds the cut the invocation's deadline puts on a call, as thrown and wrapped", () => {
    const cut = new InvocationDeadlineError();
    expect(ranOutOfTime(cut)).toBe(true);
    expect(ranOutOfTime(new Error('Failed to delete record', { cause: cut }))).toBe(true);
  });
  it('is false for any other failure', () => {
    expect(ranOutOfTime(new Error('ConditionalCheckFailedException'))).toBe(false);
    expect(ranOutOfTime('TimeoutError')).toBe(false);
    expect(ranOutOfTime(undefined)).toBe(false);
  });
});

describe('failureText', () => {
  const timeout = Object.assign(new Error('Request timed out'), { name: 'TimeoutError' });
  it("shows the causes under Powertools' error, not its wrapper alone", () => {
    const wrapped = new IdempotencyPersistenceLayerError(
      'Failed to save in progress record to idempotency store',
      { cause: timeout },
    );
    expect(failureText(wrapped)).toBe(
      'IdempotencyPersistenceLayerError: Failed to save in progress record to idempotency store (cause: TimeoutError: Request timed out)',
    );
    expect(failureText(new Error('a', { cause: new Error('b', { cause: 'c' }) }))).toBe(
      'Error: a (cause: Error: b) (cause: c)',
    );
  });
  it('is the error as before when it has no cause, and the value when it is no error', () => {
    expect(failureText(timeout)).toBe('TimeoutError: Request timed out');
    expect(failureText(new Error('a', { cause: { code: 1 } }))).toBe('Error: a');
    expect(failureText('poison')).toBe('poison');
    expect(failureText(undefined)).toBe('undefined');
  });
  it('shows at most four causes, each cut to 200 characters, even a chain that loops', () => {
    const looped = new Error('top');
    const long = new Error('x'.repeat(1_000), { cause: looped });
    looped.cause = long;
    const text = failureText(looped);
    const causes = text.split(' (cause: ').slice(1);
    expect(causes).toHaveLength(4);
    expect(causes[0]).toBe(`Error: ${'x'.repeat(190)}...)`);
    expect(causes[1]).toBe('Error: top)');
    expect(text.length).toBeLessThan('Error: top'.length + 4 * (200 + ' (cause: )'.length) + 1);
  });
  it("bounds the whole text, however long the error's own message (a ledger item stays far under DynamoDB's 400 KB)", () => {
    // An error echoing a payload of megabytes, under a name and over causes as long.
    const huge = new Error('p'.repeat(4_000_000), { cause: 'c'.repeat(1_000_000) });
    huge.name = 'N'.repeat(1_000_000);
    const text = failureText(huge);
    expect(text.length).toBeLessThanOrEqual(2_000);
    expect(text.startsWith(`${'N'.repeat(100)}`)).toBe(true);
    expect(text).toMatch(/\.\.\. \(cause: c{197}\.\.\.\)$/);
    // A thrown value that is no error, as long.
    expect(failureText('q'.repeat(1_000_000)).length).toBeLessThanOrEqual(2_000);
  });
  it('does not cut a character in two', () => {
    // 996 units, then an emoji (two units) across the cut at 997.
    const text = failureText(
      new Error(`${'a'.repeat(1_000 - 'Error: '.length - 4)}\u{1F600}${'b'.repeat(50)}`),
    );
    expect(text).toBe(`Error: ${'a'.repeat(1_000 - 'Error: '.length - 4)}...`);
    const cause = `${'x'.repeat(196)}\u{1F600}${'y'.repeat(5)}`;
    expect(failureText(new Error('a', { cause }))).toBe(`Error: a (cause: ${'x'.repeat(196)}...)`);
  });
  it('shows an error whose name or message cannot be made text, and does not throw', () => {
    const odd = new Error('m');
    odd.name = Symbol('s') as unknown as string;
    expect(failureText(odd)).toBe('Symbol(s): m');
    const hostile = new Error('m');
    Object.defineProperty(hostile, 'message', {
      get() {
        throw new Error('no');
      },
    });
    expect(failureText(hostile)).toBe('(an error that cannot be shown)');
    expect(failureText(Object.create(null))).toBe('(an error that cannot be shown)');
  });
});

/** `n` FIFO records, order-k of cust-k, each in its own message group, at `receiveCount`. */
function groupsEvent(n: number, receiveCount: number): SQSEvent {
  const fixture = structuredClone(fifoFixture) as unknown as SQSEvent;
  const first = fixture.Records[0];
  if (!first) throw new Error('fixture has no record');
  const records = Array.from({ length: n }, (_, i) => {
    const k = i + 1;
    const record = structuredClone(first);
    record.messageId = `c0ffee00-0000-4000-8000-00000000000${k}`;
    record.body = first.body
      .replace('"order-1"', `"order-${k}"`)
      .replace('"cust-1"', `"cust-${k}"`);
    record.attributes.MessageGroupId = `cust-${k}`;
    record.attributes.MessageDeduplicationId = `order-${k}`;
    record.attributes.SequenceNumber = `1884949646046769612${k}`;
    record.attributes.ApproximateReceiveCount = String(receiveCount);
    return record;
  });
  return { Records: records };
}

/** A ledger whose turns of the given customers stall: the clock moves on, a TimeoutError. */
class StallingLedger extends InMemoryConsumerLedger {
  constructor(
    private readonly stalled: ReadonlySet<string>,
    private readonly clock: { remainingMs: number; stallMs: number; perRecordMs: number },
    private readonly wrapped = false,
  ) {
    super();
  }
  override async takeApplyTurn(
    runId: string,
    queue: QueueKind,
    customerId: string,
    sequence: number,
  ): Promise<ApplyTurn> {
    if (this.stalled.has(customerId)) {
      this.calls.push(`turn:${customerId}:${sequence}`);
      this.clock.remainingMs -= this.clock.stallMs;
      const timeout = Object.assign(new Error('Request timed out after 4 attempts'), {
        name: 'TimeoutError',
      });
      // As Powertools' IN_PROGRESS put fails when its PutItem times out.
      if (this.wrapped) {
        throw new IdempotencyPersistenceLayerError(
          'Failed to save in progress record to idempotency store',
          { cause: timeout },
        );
      }
      throw timeout;
    }
    this.clock.remainingMs -= this.clock.perRecordMs;
    return super.takeApplyTurn(runId, queue, customerId, sequence);
  }
}

function makeHandler(
  queue: QueueKind,
  stalled: string[],
  clock: { remainingMs: number; stallMs: number; perRecordMs: number },
  wrapped = false,
) {
  const config = loadConsumerConfig({
    QUEUE_KIND: queue,
    LEDGER_TABLE_NAME: 'ledger',
    IDEMPOTENCY_ENABLED: 'false',
    MAX_RECEIVE_COUNT: '3',
    BATCH_PROCESSING: 'sequential',
  });
  const ledger = new StallingLedger(new Set(stalled), clock, wrapped);
  const { handler, metrics } = handlerOverFakes(config, ledger, { recordBudgetMs: BUDGET_MS });
  const context = {
    functionName: 'consumer',
    awsRequestId: 'req-1',
    getRemainingTimeInMillis: () => clock.remainingMs,
  } as unknown as Context;
  return { handle: (event: SQSEvent) => handler(event, context), ledger, metrics };
}

describe('a batch whose DynamoDB calls stall', () => {
  it('hands back the record that cannot finish and every later one, unrun, once a call ran out (FIFO, one group each)', async () => {
    // Prepare: four customers' orders, each its own group, at their last allowed receive;
    // cust-1's turn stalls 4.9 s of the invocation's 9.9 s, leaving 5 s: less than a record needs.
    const clock = { remainingMs: 9_900, stallMs: 4_900, perRecordMs: 50 };
    const { handle, ledger, metrics } = makeHandler('fifo', ['cust-1'], clock);
    const event = groupsEvent(4, 3);

    // Act
    const response = await handle(event);

    // Assess: order-1 failed; orders 2-4 never ran (no turn, no effect, no metric), go back in
    // the partial batch response, leave no receipt, and at their last receive a not-attempted
    // failure saying why.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      event.Records.map((r) => r.messageId),
    );
    expect(ledger.calls).toEqual([
      'receipts:order-1,order-2,order-3,order-4',
      'turn:cust-1:1',
      'end:order-1:failed,order-1:failure,order-2:failure,order-3:failure,order-4:failure,order-2:unrun,order-3:unrun,order-4:unrun',
    ]);
    expect(ledger.failures.map((f) => [f.orderId, f.notAttempted ?? false, f.error])).toEqual([
      ['order-1', false, 'TimeoutError: Request timed out after 4 attempts'],
      ...[2, 3, 4].map((k) => [
        `order-${k}`,
        true,
        `NotAttempted: not started, 5000 ms left of the invocation after a DynamoDB call ran out of time (a record needs ${BUDGET_MS} ms), at its receive #3 (maxReceiveCount 3)`,
      ]),
    ]);
    expect(metrics.events.map((e) => [e.event, e.orderId])).toEqual([['failed', 'order-1']]);
    // The ledger says why, for the run check: the attempt that ran out of time, and for each
    // record not started, the time left and what a record needs.
    expect(
      ledger.failures.map((f) => [f.orderId, f.ranOutOfTime ?? false, f.notStarted ?? null]),
    ).toEqual([
      ['order-1', true, null],
      ...[2, 3, 4].map((k) => [`order-${k}`, false, { leftMs: 5_000, budgetMs: BUDGET_MS }]),
    ]);
  });

  it("records the TimeoutError under Powertools' IN_PROGRESS put failure, not the wrapper alone", async () => {
    // Prepare: cust-1's first call fails as Powertools' put does when DynamoDB times out.
    const clock = { remainingMs: 9_900, stallMs: 1_000, perRecordMs: 50 };
    const { handle, ledger } = makeHandler('fifo', ['cust-1'], clock, true);

    // Act
    await handle(groupsEvent(1, 1));

    // Assess: the failure names both, and is still taken for a call that ran out of time.
    expect(ledger.failures.map((f) => [f.orderId, f.ranOutOfTime ?? false, f.error])).toEqual([
      [
        'order-1',
        true,
        'IdempotencyPersistenceLayerError: Failed to save in progress record to idempotency store (cause: TimeoutError: Request timed out after 4 attempts)',
      ],
    ]);
  });

  it('runs the next record while one still fits, and stops at the first that does not', async () => {
    // Prepare: cust-1, cust-2 and cust-4 stall 2 s each, from 9.9 s left.
    const clock = { remainingMs: 9_900, stallMs: 2_000, perRecordMs: 50 };
    const { handle, ledger } = makeHandler('fifo', ['cust-1', 'cust-2', 'cust-4'], clock);
    const event = groupsEvent(5, 1);

    // Act
    const response = await handle(event);

    // Assess: 1, 2 stalled and failed; 3 ran and applied (5.9 s left); 4 stalled (5.85 s left
    // when it started) and failed; 5 not started (3.85 s left).
    const ids = event.Records.map((r) => r.messageId);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      ids[0],
      ids[1],
      ids[3],
      ids[4],
    ]);
    expect(ledger.calls).toEqual([
      'receipts:order-1,order-2,order-3,order-4,order-5',
      'turn:cust-1:1',
      'turn:cust-2:1',
      'turn:cust-3:1',
      'effect:order-3',
      'turn:cust-4:1',
      'end:order-1:failed,order-2:failed,order-3:applied,order-4:failed,order-1:failure,order-2:failure,order-4:failure,order-5:unrun',
    ]);
  });

  it('starts every record of a long batch when no call ran out (a poison, not a stall)', async () => {
    // Prepare: 1 s left from the start, no stall; cust-1's order is a poison (no TimeoutError).
    const ledger = new InMemoryConsumerLedger();
    const poisoned = createConsumerHandler(
      loadConsumerConfig({
        QUEUE_KIND: 'fifo',
        LEDGER_TABLE_NAME: 'ledger',
        IDEMPOTENCY_ENABLED: 'false',
        FAULT_POISON_PREFIX: 'order-1',
      }),
      { ledger, logger: silent, now: () => NOW, recordBudgetMs: BUDGET_MS },
    );
    const event = groupsEvent(3, 1);

    // Act
    const response = await poisoned(event, {
      awsRequestId: 'req-2',
      getRemainingTimeInMillis: () => 1_000,
    } as unknown as Context);

    // Assess: only the poison failed; the other groups ran with 1 s left.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      event.Records[0]?.messageId,
    ]);
    expect(ledger.calls.filter((c) => c.startsWith('turn:'))).toEqual([
      'turn:cust-2:1',
      'turn:cust-3:1',
    ]);
    // A failure that is no timeout is not recorded as one.
    expect(ledger.failures.map((f) => [f.orderId, f.ranOutOfTime ?? false])).toEqual([
      ['order-1', false],
    ]);
  });

  it('cuts a sequential standard batch the same way', async () => {
    const clock = { remainingMs: 9_900, stallMs: 4_900, perRecordMs: 50 };
    const { handle, ledger } = makeHandler('standard', ['cust-1'], clock);
    const event = groupsEvent(3, 1);
    for (const r of event.Records) {
      r.eventSourceARN = 'arn:aws:sqs:eu-west-1:123456789012:orders-standard';
      const attributes = r.attributes as unknown as Record<string, unknown>;
      delete attributes.MessageGroupId;
      delete attributes.MessageDeduplicationId;
      delete attributes.SequenceNumber;
    }

    const response = await handle(event);

    expect(response.batchItemFailures).toHaveLength(3);
    expect(ledger.calls.filter((c) => c.startsWith('turn:'))).toEqual(['turn:cust-1:1']);
  });
});

/**
 * A ledger whose late-turn read (committedBelow, the consistent GetItem after a late turn's
 * effect committed) stalls: the clock moves on, and the read fails as `error` says.
 */
class StallingLateReadLedger extends InMemoryConsumerLedger {
  constructor(
    private readonly clock: { remainingMs: number; stallMs: number },
    private readonly error: Error,
  ) {
    super();
  }
  override async committedBelow(
    ...[, , order, , applyIndex]: Parameters<InMemoryConsumerLedger['committedBelow']>
  ): Promise<boolean> {
    this.calls.push(`committed-below:${order.orderId}:${applyIndex}`);
    this.clock.remainingMs -= this.clock.stallMs;
    throw this.error;
  }
}

describe("a late turn's read that runs out of time", () => {
  /**
   * cust-1's order-2 (sequence 2), then its order-1 (sequence 1: a late turn, whose read of
   * order-2's effect stalls 1 s), then cust-3's order-3: the standard consumer, sequential, the
   * effect guard on (idempotency over an in-memory store), 6 s left at the start.
   */
  async function run(error: Error) {
    const clock = { remainingMs: 6_000, stallMs: 1_000 };
    const ledger = new StallingLateReadLedger(clock, error);
    const config = loadConsumerConfig({
      QUEUE_KIND: 'standard',
      LEDGER_TABLE_NAME: 'ledger',
      IDEMPOTENCY_TABLE_NAME: 'idempotency',
      MAX_RECEIVE_COUNT: '3',
      BATCH_PROCESSING: 'sequential',
    });
    const { handler } = handlerOverFakes(config, ledger, {
      persistenceStore: new PermissivePersistence(),
      recordBudgetMs: BUDGET_MS,
    });
    const [first, second] = structuredClone(
      standardFixture.Records,
    ) as unknown as SQSEvent['Records'];
    if (!first || !second) throw new Error('fixture needs two records');
    const third = structuredClone(first);
    third.messageId = 'c0ffee00-0000-4000-8000-000000000003';
    third.body = first.body.replace('"order-1"', '"order-3"').replace('"cust-1"', '"cust-3"');
    const event: SQSEvent = { Records: [second, first, third] };
    const response = await handler(event, {
      awsRequestId: 'req-late',
      getRemainingTimeInMillis: () => clock.remainingMs,
    } as unknown as Context);
    return { response, ledger, event };
  }

  it("tells the cut-off a call ran out (the SDK's TimeoutError): the next record, with less left than one needs, is handed back unrun", async () => {
    // Act
    const { response, ledger, event } = await run(
      Object.assign(new Error('Request timed out'), { name: 'TimeoutError' }),
    );

    // Assess: order-1's effect committed and stands (applied, not failed; not late, unconfirmed);
    // order-3 does not start with 5 s left, and goes back unrun.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      event.Records[2]?.messageId,
    ]);
    expect(ledger.calls).toEqual([
      'receipts:order-2,order-1,order-3',
      'turn:cust-1:2',
      'effect:order-2',
      'turn:cust-1:1',
      'effect:order-1',
      'committed-below:order-2:2',
      'end:order-2:applied,order-1:applied,order-3:unrun',
    ]);
  });

  it('tells it the same of a read given up at the cut on the calls (InvocationDeadlineError)', async () => {
    const { response, event } = await run(new InvocationDeadlineError());
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      event.Records[2]?.messageId,
    ]);
  });

  it('tells it nothing of a read that failed otherwise: the next record starts', async () => {
    const { response, ledger } = await run(new Error('ProvisionedThroughputExceededException'));
    expect(response.batchItemFailures).toEqual([]);
    expect(ledger.calls.at(-1)).toBe('end:order-2:applied,order-1:applied,order-3:applied');
  });
});
