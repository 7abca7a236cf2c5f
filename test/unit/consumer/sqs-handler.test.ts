import type { Context, SQSEvent } from 'aws-lambda';
import type { ConsumerDeps } from '../../../services/consumer/src/app';
import { loadConsumerConfig } from '../../../services/consumer/src/config';
import fifoFixture from '../../events/sqs/fifo-batch.json';
import standardFixture from '../../events/sqs/standard-batch.json';
import { handlerOverFakes, InMemoryConsumerLedger, NOW, PermissivePersistence } from './fakes';

// The handler over in-memory fakes of its ports: what one invocation records and in which
// order, in the domain's words. How the adapter turns that into DynamoDB items and keys is
// ledger-adapter.test.ts's; the real Powertools against dynalite, idempotency-dynalite.test.ts's.

const context = {
  functionName: 'consumer',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

const BASE_ENV = {
  LEDGER_TABLE_NAME: 'ledger',
  IDEMPOTENCY_TABLE_NAME: 'idempotency',
  IDEMPOTENCY_ENABLED: 'false',
  MAX_RECEIVE_COUNT: '3',
};

const fifoEvent = () => structuredClone(fifoFixture) as unknown as SQSEvent;

/**
 * The FIFO fixture (order-1 and order-2 of cust-1, in that group) with a third record behind
 * them: order-3, sequence 1 of cust-2, in its own message group. Every record at `receiveCount`.
 */
function twoGroupFifoEvent(receiveCount = 1): SQSEvent {
  const event = fifoEvent();
  const last = event.Records[1];
  if (!last) throw new Error('fixture needs two records');
  const other = structuredClone(last);
  other.messageId = 'c0ffee00-0000-4000-8000-000000000003';
  other.body = last.body
    .replace('"order-2"', '"order-3"')
    .replace('"cust-1"', '"cust-2"')
    .replace('"sequence":2', '"sequence":1');
  other.attributes.MessageGroupId = 'cust-2';
  other.attributes.MessageDeduplicationId = 'order-3';
  event.Records.push(other);
  for (const r of event.Records) r.attributes.ApproximateReceiveCount = String(receiveCount);
  return event;
}
const standardEvent = () => structuredClone(standardFixture) as unknown as SQSEvent;

function makeHandler(
  env: Record<string, string>,
  extra: Partial<Pick<ConsumerDeps, 'sleep' | 'crash' | 'persistenceStore' | 'logger'>> = {},
) {
  const ledger = new InMemoryConsumerLedger();
  const { handler, metrics } = handlerOverFakes(
    loadConsumerConfig({ ...BASE_ENV, ...env }),
    ledger,
    extra,
  );
  return { handler, ledger, metrics };
}

describe('consumer handler', () => {
  it('records the batch receipts before any effect and their outcomes after, one write each', async () => {
    // Prepare
    const { handler, ledger, metrics } = makeHandler({
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
    });

    // Act
    const response = await handler(standardEvent(), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(ledger.calls).toEqual([
      'receipts:order-1,order-2',
      'turn:cust-1:1',
      'effect:order-1',
      'turn:cust-1:2',
      'effect:order-2',
      'end:order-1:applied,order-2:applied',
    ]);
    // Each receipt names the invocation it ran in and ends with its outcome.
    const [first] = [...ledger.receipts.values()];
    expect(first).toEqual({
      receipt: expect.objectContaining({
        receiptId: 'id-1',
        runId: 'run-unit',
        queue: 'standard',
        orderId: 'order-1',
        invocationId: 'req-1',
        receiveCount: 1,
        sentAt: 1764050000100,
        firstReceivedAt: 1764050000200,
        receivedAt: NOW,
      }),
      outcome: { outcome: 'applied', at: NOW },
    });
    // The guard is off (idempotency off): every effect is unique on nothing.
    expect([...ledger.effects.values()][0]).toEqual(
      expect.objectContaining({
        guard: 'none',
        orderId: 'order-1',
        applyIndex: 1,
        committedAt: NOW,
        acceptedAt: 1764050000000,
      }),
    );
    expect(metrics.events.map((e) => [e.event, e.orderId, e.latencyMs])).toEqual([
      ['applied', 'order-1', NOW - 1764050000000],
      ['applied', 'order-2', NOW - 1764050000300],
    ]);
    expect(metrics.published).toBe(1);
  });

  it("stamps every receipt with its invocation's deadline, in the receipts' one write, and none where the runtime tells no remaining time", async () => {
    // The deadline the runtime gave this invocation (Lambda's context): 7.5 s left at the
    // receive, whatever the repository's config says the function timeout is.
    const { handler, ledger } = makeHandler({ QUEUE_KIND: 'standard' });
    const timed = { ...context, getRemainingTimeInMillis: () => 7_500 } as Context;
    await handler(standardEvent(), timed);
    expect(ledger.calls.filter((c) => c.startsWith('receipts:'))).toEqual([
      'receipts:order-1,order-2',
    ]);
    expect([...ledger.receipts.values()].map((r) => r.receipt.deadlineAt)).toEqual([
      NOW + 7_500,
      NOW + 7_500,
    ]);

    const other = makeHandler({ QUEUE_KIND: 'standard' });
    const untold = { ...context, getRemainingTimeInMillis: undefined } as unknown as Context;
    await other.handler(standardEvent(), untold);
    expect([...other.ledger.receipts.values()].map((r) => 'deadlineAt' in r.receipt)).toEqual([
      false,
      false,
    ]);

    // A time left that is no time (below 0, not a number) stamps nothing: a deadline before its
    // receive is one the report refuses (it stops on such a record rather than guess).
    for (const left of [-5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const odd = makeHandler({ QUEUE_KIND: 'standard' });
      await odd.handler(standardEvent(), { ...context, getRemainingTimeInMillis: () => left });
      expect([...odd.ledger.receipts.values()].map((r) => 'deadlineAt' in r.receipt)).toEqual([
        false,
        false,
      ]);
    }
  });

  it('fails the rest of a FIFO batch after the first failure without running it', async () => {
    // Prepare
    const { handler, ledger, metrics } = makeHandler({
      QUEUE_KIND: 'fifo',
      FAULT_POISON_PREFIX: 'order-1',
    });
    const event = fifoEvent();

    // Act
    const response = await handler(event, context);

    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      event.Records.map((r) => r.messageId),
    );
    // The record behind the failure never ran: its receipt goes, as if never received.
    expect(ledger.calls).toEqual([
      'receipts:order-1,order-2',
      'end:order-1:failed,order-1:failure,order-2:unrun',
    ]);
    expect([...ledger.receipts.values()].map((r) => r.receipt.orderId)).toEqual(['order-1']);
    expect(ledger.failures).toEqual([
      expect.objectContaining({
        queue: 'fifo',
        orderId: 'order-1',
        receiveCount: 1,
        final: false,
        error: 'InjectedFaultError: injected poison failure for order order-1',
        failedAt: NOW,
      }),
    ]);
    expect(metrics.events.map((e) => [e.event, e.orderId])).toEqual([['failed', 'order-1']]);
  });

  it("runs the other groups' records of a FIFO batch after a failure, handing back only the failed group's rest", async () => {
    // Prepare: order-1 (cust-1) fails; order-2 waits behind it in cust-1's group; order-3 is
    // cust-2's, in the same batch.
    const { handler, ledger, metrics } = makeHandler({
      QUEUE_KIND: 'fifo',
      FAULT_POISON_PREFIX: 'order-1',
    });
    const event = twoGroupFifoEvent();
    const [poison, behind, otherGroup] = event.Records;

    // Act
    const response = await handler(event, context);

    // Assess: cust-2's order ran and applied; only cust-1's two go back, order-2 unrun.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      poison?.messageId,
      behind?.messageId,
    ]);
    expect(otherGroup).toBeDefined();
    expect(ledger.calls).toEqual([
      'receipts:order-1,order-2,order-3',
      'turn:cust-2:1',
      'effect:order-3',
      'end:order-1:failed,order-3:applied,order-1:failure,order-2:unrun',
    ]);
    // Not at its last receive: order-2 leaves no failure; it comes back, its count one higher.
    expect(ledger.failures.map((f) => f.orderId)).toEqual(['order-1']);
    expect(metrics.events.map((e) => [e.event, e.orderId])).toEqual([
      ['failed', 'order-1'],
      ['applied', 'order-3'],
    ]);
  });

  it('stops the whole FIFO batch at a failure when a record carries no MessageGroupId (no group to skip by) (found in review)', async () => {
    // Prepare: the same batch, with order-2's group id missing (an SQS server that does not
    // return it): skipping by group would let it run ahead of the failed order-1 of its customer.
    const { handler, ledger } = makeHandler({
      QUEUE_KIND: 'fifo',
      FAULT_POISON_PREFIX: 'order-1',
    });
    const event = twoGroupFifoEvent();
    const behind = event.Records[1]!;
    const { MessageGroupId: _, ...attributes } = behind.attributes;
    behind.attributes = attributes as typeof behind.attributes;

    // Act
    const response = await handler(event, context);

    // Assess: nothing after the failure ran; all three go back.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      event.Records.map((r) => r.messageId),
    );
    expect(ledger.calls).toEqual([
      'receipts:order-1,order-2,order-3',
      'end:order-1:failed,order-1:failure,order-2:unrun,order-3:unrun',
    ]);
  });

  it('records a final not-attempted failure, with its SequenceNumber, for a FIFO record handed back unrun at its last receive', async () => {
    // Prepare: every record at receive #3 of MAX_RECEIVE_COUNT 3, so whatever goes back is
    // dead-lettered on its next receive.
    const { handler, ledger, metrics } = makeHandler({
      QUEUE_KIND: 'fifo',
      FAULT_POISON_PREFIX: 'order-1',
    });
    const event = twoGroupFifoEvent(3);
    const behind = event.Records[1];

    // Act
    const response = await handler(event, context);

    // Assess: order-1's failure is a failed attempt; order-2's says it was never attempted, in
    // the same end-of-invocation write; its receipt goes as before (no delivery is counted).
    expect(response.batchItemFailures).toHaveLength(2);
    expect(ledger.calls.at(-1)).toBe(
      'end:order-1:failed,order-3:applied,order-1:failure,order-2:failure,order-2:unrun',
    );
    expect(ledger.failures).toEqual([
      expect.objectContaining({ orderId: 'order-1', receiveCount: 3, final: true }),
      {
        failureId: expect.any(String),
        runId: 'run-unit',
        queue: 'fifo',
        orderId: 'order-2',
        customerId: 'cust-1',
        sequence: 2,
        messageId: behind?.messageId,
        receiveCount: 3,
        // SQS's SequenceNumber of the message handed back: the run check places it in its group
        // by this, not by the client's sequence, which may differ from the order SQS took them.
        sequenceNumber: '18849496460467696129',
        final: true,
        notAttempted: true,
        invocationId: 'req-1',
        // The stamps of the receipt it replaces (removed): its receive and its deadline.
        receivedAt: NOW,
        deadlineAt: NOW + 10_000,
        error:
          'NotAttempted: an earlier message of its group failed in the same batch, at its receive #3 (maxReceiveCount 3)',
        failedAt: NOW,
      },
    ]);
    expect(ledger.failures[0]?.notAttempted).toBeUndefined();
    expect([...ledger.receipts.values()].map((r) => r.receipt.orderId).sort()).toEqual([
      'order-1',
      'order-3',
    ]);
    // No metric counts it as a failed delivery: it never was one.
    expect(metrics.events.filter((e) => e.event === 'failed').map((e) => e.orderId)).toEqual([
      'order-1',
    ]);
  });

  it('reports only the failed record of a standard batch and marks the last receive final', async () => {
    // Prepare
    const { handler, ledger } = makeHandler({
      QUEUE_KIND: 'standard',
      FAULT_POISON_PREFIX: 'order-2',
    });
    const event = standardEvent();
    const poisoned = event.Records[1];
    if (!poisoned) throw new Error('fixture needs two records');
    poisoned.attributes.ApproximateReceiveCount = '3';

    // Act
    const response = await handler(event, context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: poisoned.messageId }] });
    expect(ledger.failures).toEqual([
      expect.objectContaining({ orderId: 'order-2', receiveCount: 3, final: true }),
    ]);
    expect(ledger.calls.at(-1)).toBe('end:order-1:applied,order-2:failed,order-2:failure');
  });

  it('records the SequenceNumber SQS gave each FIFO receive, which the run check orders FIFO by, and none on standard', async () => {
    // Prepare
    const fifo = makeHandler({ QUEUE_KIND: 'fifo' });
    const standard = makeHandler({ QUEUE_KIND: 'standard' });

    // Act
    await fifo.handler(fifoEvent(), context);
    await standard.handler(standardEvent(), context);

    // Assess
    const numbers = (ledger: InMemoryConsumerLedger) =>
      [...ledger.receipts.values()].map(({ receipt }) => [receipt.orderId, receipt.sequenceNumber]);
    expect(numbers(fifo.ledger)).toEqual([
      ['order-1', '18849496460467696128'],
      ['order-2', '18849496460467696129'],
    ]);
    expect(numbers(standard.ledger)).toEqual([
      ['order-1', undefined],
      ['order-2', undefined],
    ]);
  });

  it('counts each delivery failed once when the write of its outcomes fails: an applied one then, a failed one already', async () => {
    // Prepare: order-2 fails; then the invocation's outcome write fails.
    const { handler, ledger, metrics } = makeHandler({
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
      FAULT_POISON_PREFIX: 'order-2',
    });
    ledger.recordInvocationEnd = async () => {
      throw new Error('outcome write failed (injected)');
    };

    // Act
    await expect(handler(standardEvent(), context)).rejects.toThrow('injected');

    // Assess
    expect(metrics.events.map((e) => [e.event, e.orderId])).toEqual([
      ['applied', 'order-1'],
      ['failed', 'order-2'],
      ['failed', 'order-1'],
    ]);
  });

  it('names in every line of a record its own order, with the records of a batch in parallel', async () => {
    // Prepare: a logger that writes the keys appended to it on every later line, as Powertools'
    // does; order-1's effect write fails once both records have started.
    const keys = new Map<string, string>();
    const lines: Record<string, unknown>[] = [];
    const write = (message: string, data: Record<string, unknown>) =>
      lines.push({ message, ...Object.fromEntries(keys), ...data });
    const logger = {
      info: write,
      warn: write,
      appendKeys(k: Record<string, string>) {
        for (const [name, value] of Object.entries(k)) keys.set(name, value);
      },
      removeKeys(names: string[]) {
        for (const name of names) keys.delete(name);
      },
    };
    const { handler, ledger } = makeHandler(
      { QUEUE_KIND: 'standard', BATCH_PROCESSING: 'parallel' },
      { logger },
    );
    const putEffect = ledger.putEffect.bind(ledger);
    ledger.putEffect = async (effect) => {
      if (effect.orderId === 'order-1') throw new Error('effect write failed (injected)');
      await putEffect(effect);
    };

    // Act
    await handler(standardEvent(), context);

    // Assess: each line names its order and run in its own data, and no key names another.
    const named = lines
      .filter((l) => l.order !== undefined)
      .map((l) => [l.message, l.order, l.orderId ?? l.order, l.run]);
    expect(named).toEqual(
      expect.arrayContaining([
        ['delivery failed', 'order-1', 'order-1', 'run-unit'],
        ['delivery handled', 'order-2', 'order-2', 'run-unit'],
      ]),
    );
    expect(named).toHaveLength(2);
  });

  it.each([
    ['an object that is no order', '{"hello":"world"}'],
    ['a body that is not JSON', 'not json'],
    [
      'an order whose currency the schema refuses',
      standardFixture.Records[0]?.body.replace('"EUR"', '"euro"') ?? '',
    ],
  ])('fails %s and records nothing of it', async (_name, body) => {
    // Prepare
    const { handler, ledger, metrics } = makeHandler({ QUEUE_KIND: 'standard' });
    const event = standardEvent();
    event.Records = event.Records.slice(0, 1);
    const record = event.Records[0];
    if (!record) throw new Error('fixture needs a record');
    record.body = body;

    // Act
    const response = await handler(event, context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(ledger.calls).toEqual(['receipts:', 'end:']);
    expect(ledger.receipts.size + ledger.effects.size + ledger.failures.length).toBe(0);
    expect(metrics.events).toEqual([]);
  });

  it('applies a message whose item carries a field a newer producer adds, not dead-lettering it', async () => {
    // Prepare
    const { handler, ledger, metrics } = makeHandler({ QUEUE_KIND: 'standard' });
    const event = standardEvent();
    event.Records = event.Records.slice(0, 1);
    const record = event.Records[0];
    if (!record) throw new Error('fixture needs a record');
    const body = JSON.parse(record.body);
    body.items[0].discount = 0.5;
    body.addedLater = true;
    record.body = JSON.stringify(body);

    // Act
    const response = await handler(event, context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(ledger.calls).toEqual([
      'receipts:order-1',
      'turn:cust-1:1',
      'effect:order-1',
      'end:order-1:applied',
    ]);
    expect(ledger.failures).toEqual([]);
    expect(metrics.events.map((e) => e.event)).toEqual(['applied']);
  });

  it('stalls the work of a slow first attempt by FAULT_SLOW_MS', async () => {
    // Prepare
    const slept: number[] = [];
    const { handler } = makeHandler(
      { QUEUE_KIND: 'fifo', FAULT_SLOW_RATE: '1', FAULT_SLOW_MS: '90000', FAULT_SEED: '7' },
      {
        sleep: async (ms) => {
          slept.push(ms);
        },
      },
    );

    // Act
    const response = await handler(fifoEvent(), context);

    // Assess
    expect(slept).toEqual([90000, 90000]);
    expect(response.batchItemFailures).toHaveLength(0);
  });

  // The key itself (the order id or the message id) and the payload hash: idempotency-key.test.ts.
  it('passes the per-queue key prefix to Powertools idempotency, one key per order', async () => {
    // Prepare
    const persistenceStore = new PermissivePersistence();
    const { handler } = makeHandler(
      { QUEUE_KIND: 'fifo', IDEMPOTENCY_ENABLED: 'true' },
      { persistenceStore },
    );

    // Act
    const response = await handler(fifoEvent(), context);

    // Assess
    expect(response.batchItemFailures).toHaveLength(0);
    const ids = persistenceStore.saved.map((r) => r.idempotencyKey);
    expect(ids).toHaveLength(2);
    expect(ids.every((id) => id.startsWith('consumer-fifo#'))).toBe(true);
    expect(new Set(ids).size).toBe(2);
    expect(persistenceStore.completed).toHaveLength(2);
  });
  it("stamps each effect with the invocation and receive count of the receive that applied it, on the effect's one write", async () => {
    // Prepare: idempotency on (Powertools wraps the effect, as deployed), the FIFO fixture at its
    // second receive.
    const persistenceStore = new PermissivePersistence();
    const { handler, ledger } = makeHandler(
      { QUEUE_KIND: 'fifo', IDEMPOTENCY_ENABLED: 'true' },
      { persistenceStore },
    );
    const event = twoGroupFifoEvent(2);

    // Act
    const response = await handler(event, context);

    // Assess: each effect names its receive as the delivery record does (invocation id and
    // receive count), and each order still costs one effect write.
    expect(response.batchItemFailures).toHaveLength(0);
    const receipts = [...ledger.receipts.values()].map((r) => r.receipt);
    expect(
      [...ledger.effects.values()].map((e) => [e.orderId, e.invocationId, e.receiveCount]),
    ).toEqual(receipts.map((r) => [r.orderId, 'req-1', 2]));
    expect(receipts.map((r) => [r.invocationId, r.receiveCount])).toEqual([
      ['req-1', 2],
      ['req-1', 2],
      ['req-1', 2],
    ]);
    expect(ledger.calls.filter((c) => c.startsWith('effect:'))).toEqual([
      'effect:order-1',
      'effect:order-2',
      'effect:order-3',
    ]);
  });
});

describe('consumer handler with the effect guard', () => {
  /** A handler keyed on the order id, with a Powertools store that always lets it run. */
  function guardedHandler(
    env: Record<string, string> = {},
    extra: Pick<ConsumerDeps, 'crash'> | Record<string, never> = {},
  ) {
    const persistenceStore = new PermissivePersistence();
    const made = makeHandler(
      {
        QUEUE_KIND: 'standard',
        BATCH_PROCESSING: 'sequential',
        IDEMPOTENCY_ENABLED: 'true',
        ...env,
      },
      { persistenceStore, ...extra },
    );
    return { ...made, persistenceStore };
  }

  const oneRecord = () => {
    const event = standardEvent();
    event.Records = event.Records.slice(0, 1);
    return event;
  };

  it('writes the effect only if absent, guarded on the order', async () => {
    // Prepare
    const { handler, ledger } = guardedHandler();
    const putEffect = jest.spyOn(ledger, 'putEffect');

    // Act
    await handler(oneRecord(), context);

    // Assess
    expect([...ledger.effects.values()]).toEqual([
      expect.objectContaining({ orderId: 'order-1', guard: 'order' }),
    ]);
    expect(putEffect).not.toHaveBeenCalled();
  });

  it('writes the effect only if absent, guarded on the message when idempotency keys on it', async () => {
    // Prepare
    const { handler, ledger } = guardedHandler({ IDEMPOTENCY_KEY: 'messageId' });

    // Act
    const event = oneRecord();
    await handler(event, context);

    // Assess
    expect([...ledger.effects.values()]).toEqual([
      expect.objectContaining({
        orderId: 'order-1',
        guard: 'message',
        messageId: event.Records[0]?.messageId,
      }),
    ]);
  });

  it('answers a refused effect with the first one and marks the delivery suppressed by the effect', async () => {
    // Prepare: Powertools lets the attempt run (as with an expired record), the effect exists.
    const { handler, ledger, persistenceStore, metrics } = guardedHandler();
    await ledger.putEffectIfAbsent({
      guard: 'order',
      runId: 'run-unit',
      queue: 'standard',
      orderId: 'order-1',
      customerId: 'cust-1',
      sequence: 1,
      messageId: 'first-copy',
      applyIndex: 3,
      acceptedAt: 1764050000000,
      committedAt: 1764050000900,
    });

    // Act
    const response = await handler(oneRecord(), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect([...ledger.receipts.values()][0]?.outcome).toEqual({
      outcome: 'suppressed',
      suppressedBy: 'effect',
      at: NOW,
    });
    expect(metrics.events.map((e) => e.event)).toEqual(['suppressed']);
    // Powertools stores the first effect's answer, not the refused attempt's index.
    expect(persistenceStore.completed[0]?.responseData).toEqual({
      applyIndex: 3,
      committedAt: 1764050000900,
    });
  });

  it('crashes after the effect committed and before Powertools saves COMPLETED', async () => {
    // Prepare
    let crashed: () => void = () => undefined;
    const crash = new Promise<void>((resolve) => {
      crashed = resolve;
    });
    const { handler, ledger, persistenceStore } = guardedHandler(
      { FAULT_CRASH_AFTER_EFFECT_RATE: '1' },
      {
        crash: () => {
          crashed();
          return new Promise<never>(() => undefined);
        },
      },
    );

    // Act: the invocation never returns (its process is gone).
    void handler(oneRecord(), context);
    await crash;

    // Assess: the effect is in, the receipt still pending, Powertools' record still IN_PROGRESS.
    expect(ledger.calls).toEqual(['receipts:order-1', 'turn:cust-1:1', 'effect:order-1']);
    expect(persistenceStore.saved).toHaveLength(1);
    expect(persistenceStore.completed).toHaveLength(0);
  });
});
