import type { Context, SQSEvent } from 'aws-lambda';
import { loadConsumerConfig } from '../../../services/consumer/src/config';
import type { InvocationEnd } from '../../../services/consumer/src/domain/ports';
import standardFixture from '../../events/sqs/standard-batch.json';
import { handlerOverFakes, InMemoryConsumerLedger, RecordedMetrics } from './fakes';

// The handler over in-memory fakes: when the invocation's end write fails, a try of it may still
// commit, so the consumer marks each receive that ended other than failed with a failure of its
// own (`endGivenUp`), the evidence the report reads for an invocation that failed whatever its
// deliveries say. The real clients and a late commit: test/integration/consumer-end-write-late.

const context = {
  functionName: 'consumer',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

/** Metrics whose publish (the end-of-invocation line) or record of a failed delivery throws. */
class ThrowingMetrics extends RecordedMetrics {
  constructor(private readonly throwsOn: 'publish' | 'failed') {
    super();
  }
  override record(event: Parameters<RecordedMetrics['record']>[0]): void {
    if (this.throwsOn === 'failed' && event.event === 'failed') {
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
