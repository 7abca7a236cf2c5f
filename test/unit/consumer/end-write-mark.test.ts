import type { Context, SQSEvent } from 'aws-lambda';
import { loadConsumerConfig } from '../../../services/consumer/src/config';
import type { InvocationEnd } from '../../../services/consumer/src/domain/ports';
import fifoFixture from '../../events/sqs/fifo-batch.json';
import standardFixture from '../../events/sqs/standard-batch.json';
import {
  handlerOverFakes,
  InMemoryConsumerLedger,
  PermissivePersistence,
  RecordedMetrics,
} from './fakes';

// The handler over in-memory fakes: when the invocation's end write fails, a try of it may still
// commit, so the consumer marks each receive that ended other than failed with a failure of its
// own (`endGivenUp`), the evidence the report reads for an invocation that failed whatever its
// deliveries say. The real clients and a late commit: test/integration/consumer-end-write-late.

const context = {
  functionName: 'consumer',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

/** Metrics whose publish (the end-of-invocation line) or record of an applied or failed delivery throws. */
class ThrowingMetrics extends RecordedMetrics {
  constructor(private readonly throwsOn: 'publish' | 'failed' | 'applied') {
    super();
  }
  override record(event: Parameters<RecordedMetrics['record']>[0]): void {
    if (this.throwsOn === event.event) {
      throw new Error('metrics record failed (injected)');
    }
    super.record(event);
  }
  override publish(): void {
    super.publish();
    if (this.throwsOn === 'publish') throw new Error('metrics publish failed (injected)');
  }
}

const config = () =>
  loadConsumerConfig({
    LEDGER_TABLE_NAME: 'ledger',
    IDEMPOTENCY_TABLE_NAME: 'idempotency',
    IDEMPOTENCY_ENABLED: 'false',
    MAX_RECEIVE_COUNT: '3',
    QUEUE_KIND: 'standard',
    BATCH_PROCESSING: 'sequential',
    FAULT_POISON_PREFIX: 'order-2',
  });

function makeHandler(failMark: boolean, extra: Parameters<typeof handlerOverFakes>[2] = {}) {
  const ledger = new InMemoryConsumerLedger();
  const write = ledger.recordInvocationEnd.bind(ledger);
  const ends: InvocationEnd[] = [];
  ledger.recordInvocationEnd = async (end) => {
    ends.push(end);
    if (ends.length === 1) throw new Error('end write failed (injected)');
    if (failMark) throw new Error('mark failed (injected)');
    return write(end);
  };
  const { handler } = handlerOverFakes(config(), ledger, extra);
  return { handler, ledger, ends };
}

describe('the consumer’s mark of a failed end write', () => {
  it('marks the receive that ended applied, not the failed one (its own failure says it), naming the invocation', async () => {
    // Prepare: order-1 applies, order-2 fails; the end write fails.
    const { handler, ledger, ends } = makeHandler(false);

    // Act
    await expect(
      handler(structuredClone(standardFixture) as unknown as SQSEvent, context),
    ).rejects.toThrow('end write failed (injected)');

    // Assess: a second write, of failures only, one for order-1.
    expect(ends).toHaveLength(2);
    expect(ends[1]?.ended).toEqual([]);
    expect(ends[1]?.unrun).toEqual([]);
    expect(ledger.failures).toHaveLength(1);
    expect(ledger.failures[0]).toMatchObject({
      orderId: 'order-1',
      invocationId: 'req-1',
      endGivenUp: true,
      final: false,
      receiveCount: 1,
    });
    expect(ledger.failures[0]?.error).toMatch(
      /^EndWriteFailed: .*\(Error: end write failed \(injected\)\)$/,
    );
  });

  it('fails the invocation with the end write’s error when the mark cannot be written either', async () => {
    const { handler, ends } = makeHandler(true);
    await expect(
      handler(structuredClone(standardFixture) as unknown as SQSEvent, context),
    ).rejects.toThrow('end write failed (injected)');
    expect(ends).toHaveLength(2);
  });

  it('writes the mark when counting the failed deliveries in the metrics throws', async () => {
    // Prepare: the end write fails, and the metrics port throws on each failed delivery.
    const warned: string[] = [];
    const { handler, ledger } = makeHandler(false, {
      metrics: new ThrowingMetrics('failed'),
      logger: { info() {}, warn: (message) => warned.push(message) },
    });

    // Act: the invocation fails with the end write's error, not the metrics'.
    await expect(
      handler(structuredClone(standardFixture) as unknown as SQSEvent, context),
    ).rejects.toThrow('end write failed (injected)');

    // Assess: order-1's mark is written all the same.
    expect(ledger.failures.map((f) => [f.orderId, f.endGivenUp])).toEqual([['order-1', true]]);
    expect(warned).toContain('failed deliveries not counted in the metrics');
  });

  it('writes the mark when the log of the uncounted failed deliveries throws as well', async () => {
    // Prepare: as above, and the logger throws on that line.
    const { handler, ledger } = makeHandler(false, {
      metrics: new ThrowingMetrics('failed'),
      logger: {
        info() {},
        warn: (message) => {
          if (message === 'failed deliveries not counted in the metrics') {
            throw new Error('log failed (injected)');
          }
        },
      },
    });

    // Act: the invocation fails with the end write's error, not the log's.
    await expect(
      handler(structuredClone(standardFixture) as unknown as SQSEvent, context),
    ).rejects.toThrow('end write failed (injected)');

    // Assess
    expect(ledger.failures.map((f) => [f.orderId, f.endGivenUp])).toEqual([['order-1', true]]);
  });
});

describe('the end of an invocation whose end write succeeded', () => {
  it('answers its partial batch response when the metrics line cannot be published, which is logged: a throw would fail an invocation the ledger reads ended, with no mark', async () => {
    // Prepare: order-1 applies, order-2 fails; the end write succeeds; the metrics publish throws.
    const ledger = new InMemoryConsumerLedger();
    const metrics = new ThrowingMetrics('publish');
    const warned: { message: string; data: Record<string, unknown> }[] = [];
    const { handler } = handlerOverFakes(config(), ledger, {
      metrics,
      logger: { info() {}, warn: (message, data) => warned.push({ message, data }) },
    });

    // Act
    const response = await handler(
      structuredClone(standardFixture) as unknown as SQSEvent,
      context,
    );

    // Assess: the batch response names only the failed record, so Lambda deletes order-1; the
    // ledger reads both ended; the publish was tried once, and its failure logged.
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: standardFixture.Records[1]?.messageId }],
    });
    expect([...ledger.receipts.values()].map((r) => r.outcome?.outcome)).toEqual([
      'applied',
      'failed',
    ]);
    expect(metrics.published).toBe(1);
    expect(warned.filter((w) => w.message !== 'delivery failed')).toEqual([
      {
        message: 'metrics line not published',
        data: { error: 'metrics publish failed (injected)' },
      },
    ]);
  });

  it('answers its partial batch response when the log of the unpublished metrics line throws as well', async () => {
    // Prepare: as above, and the logger throws on that line (a logger whose stream is gone).
    const ledger = new InMemoryConsumerLedger();
    const { handler } = handlerOverFakes(config(), ledger, {
      metrics: new ThrowingMetrics('publish'),
      logger: {
        info() {},
        warn: (message) => {
          if (message === 'metrics line not published') throw new Error('log failed (injected)');
        },
      },
    });

    // Act
    const response = await handler(
      structuredClone(standardFixture) as unknown as SQSEvent,
      context,
    );

    // Assess: the same answer as when the log works; the ledger reads both deliveries ended.
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: standardFixture.Records[1]?.messageId }],
    });
    expect([...ledger.receipts.values()].map((r) => r.outcome?.outcome)).toEqual([
      'applied',
      'failed',
    ]);
  });
});

describe('a delivery whose metric or log line throws', () => {
  // Order-1 applies, order-2 fails (poison); the end write succeeds. A metric or a log line is no
  // part of a delivery: one that throws after the effect committed reported the record failed,
  // so SQS handed it back and idempotency answered its retry, a failure and a retry in the
  // ledger of a delivery that applied.
  async function run(extra: Parameters<typeof handlerOverFakes>[2]) {
    const ledger = new InMemoryConsumerLedger();
    const { handler } = handlerOverFakes(config(), ledger, extra);
    const response = await handler(
      structuredClone(standardFixture) as unknown as SQSEvent,
      context,
    );
    return { ledger, response };
  }
  const onlyOrder2Failed = {
    batchItemFailures: [{ itemIdentifier: standardFixture.Records[1]?.messageId }],
  };

  it('stays applied when counting its apply in the metrics throws, which is logged', async () => {
    // Prepare
    const warned: { message: string; data: Record<string, unknown> }[] = [];
    const metrics = new ThrowingMetrics('applied');

    // Act
    const { ledger, response } = await run({
      metrics,
      logger: { info() {}, warn: (message, data) => warned.push({ message, data }) },
    });

    // Assess: only order-2 is handed back; the ledger reads order-1 applied, one failure (order-2's).
    expect(response).toEqual(onlyOrder2Failed);
    expect([...ledger.receipts.values()].map((r) => r.outcome?.outcome)).toEqual([
      'applied',
      'failed',
    ]);
    expect(ledger.failures.map((f) => f.orderId)).toEqual(['order-2']);
    expect(warned).toContainEqual({
      message: 'delivery not counted in the metrics',
      data: { order: 'order-1', run: 'run-unit', error: 'metrics record failed (injected)' },
    });
  });

  it('stays applied when its "delivery handled" line throws, and when the warning of it throws too', async () => {
    // Prepare: info and warn both throw (a logger whose stream is gone).
    const logger = {
      info: (message: string) => {
        throw new Error(`log failed (injected): ${message}`);
      },
      warn: (message: string) => {
        if (message !== 'delivery failed') throw new Error(`log failed (injected): ${message}`);
      },
    };

    // Act
    const { ledger, response } = await run({ logger });

    // Assess
    expect(response).toEqual(onlyOrder2Failed);
    expect([...ledger.receipts.values()].map((r) => r.outcome?.outcome)).toEqual([
      'applied',
      'failed',
    ]);
    expect(ledger.failures.map((f) => f.orderId)).toEqual(['order-2']);
  });

  it('ends failed, its failure recorded, when its "delivery failed" line and its metric throw', async () => {
    // Prepare: a throwing "delivery failed" line left the delivery with no outcome (end() then
    // dropped its receipt as a receive that never ran) and no failure record.
    const logger = {
      info() {},
      warn: (message: string) => {
        throw new Error(`log failed (injected): ${message}`);
      },
    };

    // Act
    const { ledger, response } = await run({ logger, metrics: new ThrowingMetrics('failed') });

    // Assess
    expect(response).toEqual(onlyOrder2Failed);
    expect([...ledger.receipts.values()].map((r) => r.outcome?.outcome)).toEqual([
      'applied',
      'failed',
    ]);
    expect(ledger.failures).toHaveLength(1);
    expect(ledger.failures[0]).toMatchObject({ orderId: 'order-2', receiveCount: 1 });
    expect(ledger.failures[0]?.error).toMatch(/order-2/);
  });
});

describe('a throwing log line in the effect, after its write', () => {
  const throwingOn = (line: string) => ({
    info() {},
    warn: (message: string) => {
      if (message === line) throw new Error('log failed (injected)');
    },
  });

  it("stays applied when the late turn's read fails and its warning throws", async () => {
    // Prepare: cust-1's order-2 (sequence 2), then its order-1 (sequence 1: a late turn, its
    // effect committed); the read that confirms it late fails; the guard on, over idempotency.
    const ledger = new InMemoryConsumerLedger();
    let reads = 0;
    ledger.committedBelow = async () => {
      reads += 1;
      throw new Error('read failed (injected)');
    };
    const { handler } = handlerOverFakes(
      loadConsumerConfig({
        QUEUE_KIND: 'standard',
        LEDGER_TABLE_NAME: 'ledger',
        IDEMPOTENCY_TABLE_NAME: 'idempotency',
        MAX_RECEIVE_COUNT: '3',
        BATCH_PROCESSING: 'sequential',
      }),
      ledger,
      {
        persistenceStore: new PermissivePersistence(),
        logger: throwingOn('late apply not confirmed: the read of the higher order failed'),
      },
    );
    const [first, second] = structuredClone(
      standardFixture.Records,
    ) as unknown as SQSEvent['Records'];
    if (!first || !second) throw new Error('fixture needs two records');

    // Act
    const response = await handler({ Records: [second, first] }, context);

    // Assess: order-1's read was made; nothing handed back, both applied, no failure.
    expect(reads).toBe(1);
    expect(response).toEqual({ batchItemFailures: [] });
    expect([...ledger.receipts.values()].map((r) => r.outcome?.outcome)).toEqual([
      'applied',
      'applied',
    ]);
    expect(ledger.failures).toEqual([]);
  });

  it('crashes as injected when the line announcing the crash throws', async () => {
    // Prepare: every first receive crashes after its effect; the crash is a throw here.
    let crashes = 0;
    const ledger = new InMemoryConsumerLedger();
    const { handler } = handlerOverFakes(
      loadConsumerConfig({
        QUEUE_KIND: 'standard',
        LEDGER_TABLE_NAME: 'ledger',
        IDEMPOTENCY_TABLE_NAME: 'idempotency',
        IDEMPOTENCY_ENABLED: 'false',
        MAX_RECEIVE_COUNT: '3',
        BATCH_PROCESSING: 'sequential',
        FAULT_CRASH_AFTER_EFFECT_RATE: '1',
      }),
      ledger,
      {
        logger: throwingOn('crashing after the effect (injected)'),
        crash: async () => {
          crashes += 1;
          throw new Error('crashed (injected)');
        },
      },
    );

    // Act
    await handler(structuredClone(standardFixture) as unknown as SQSEvent, context);

    // Assess: the crash ran for both, not the log's error in its place.
    expect(crashes).toBe(2);
    expect(ledger.failures.map((f) => f.error)).toEqual([
      'Error: crashed (injected)',
      'Error: crashed (injected)',
    ]);
  });
});

describe('a throwing log line before the end write', () => {
  it('writes the outcomes when the line of a delivery not attempted at its last receive throws', async () => {
    // Prepare: FIFO; cust-1's order-1 is poison, so its order-2 (at its last receive, 3 of 3) is
    // skipped unrun; cust-2's order-3 applies. The line for order-2 throws.
    const ledger = new InMemoryConsumerLedger();
    const { handler } = handlerOverFakes(
      loadConsumerConfig({
        QUEUE_KIND: 'fifo',
        LEDGER_TABLE_NAME: 'ledger',
        IDEMPOTENCY_TABLE_NAME: 'idempotency',
        IDEMPOTENCY_ENABLED: 'false',
        MAX_RECEIVE_COUNT: '3',
        FAULT_POISON_PREFIX: 'order-1',
      }),
      ledger,
      {
        logger: {
          info() {},
          warn: (message) => {
            if (message === 'delivery not attempted at its last receive') {
              throw new Error('log failed (injected)');
            }
          },
        },
      },
    );
    const event = structuredClone(fifoFixture) as unknown as SQSEvent;
    const [first, second] = event.Records;
    if (!first || !second) throw new Error('fixture needs two records');
    second.attributes.ApproximateReceiveCount = '3';
    const third = structuredClone(first);
    third.messageId = 'c0ffee00-0000-4000-8000-000000000003';
    third.body = first.body.replace('"order-1"', '"order-3"').replace('"cust-1"', '"cust-2"');
    third.attributes.MessageGroupId = 'cust-2';
    third.attributes.MessageDeduplicationId = 'order-3';
    event.Records.push(third);

    // Act
    const response = await handler(event, context);

    // Assess: cust-1's two handed back, order-3 deleted; the end write went out with every outcome.
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: first.messageId },
        { itemIdentifier: second.messageId },
      ],
    });
    expect(
      [...ledger.receipts.values()].map((r) => [r.receipt.orderId, r.outcome?.outcome]),
    ).toEqual([
      ['order-1', 'failed'],
      ['order-3', 'applied'],
    ]);
    expect(ledger.failures.map((f) => [f.orderId, f.notAttempted ?? false, f.final])).toEqual([
      ['order-1', false, false],
      ['order-2', true, true],
    ]);
  });
});
