import type { Context, SQSEvent } from 'aws-lambda';
import { loadConsumerConfig } from '../../../services/consumer/src/config';
import type { InvocationEnd } from '../../../services/consumer/src/domain/ports';
import standardFixture from '../../events/sqs/standard-batch.json';
import { handlerOverFakes, InMemoryConsumerLedger } from './fakes';

// The handler over in-memory fakes: when the invocation's end write fails, a try of it may still
// commit, so the consumer marks each receive that ended other than failed with a failure of its
// own (`endGivenUp`), the evidence the report reads for an invocation that failed whatever its
// deliveries say. The real clients and a late commit: test/integration/consumer-end-write-late.

const context = {
  functionName: 'consumer',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

function makeHandler(failMark: boolean) {
  const ledger = new InMemoryConsumerLedger();
  const write = ledger.recordInvocationEnd.bind(ledger);
  const ends: InvocationEnd[] = [];
  ledger.recordInvocationEnd = async (end) => {
    ends.push(end);
    if (ends.length === 1) throw new Error('end write failed (injected)');
    if (failMark) throw new Error('mark failed (injected)');
    return write(end);
  };
  const config = loadConsumerConfig({
    LEDGER_TABLE_NAME: 'ledger',
    IDEMPOTENCY_TABLE_NAME: 'idempotency',
    IDEMPOTENCY_ENABLED: 'false',
    MAX_RECEIVE_COUNT: '3',
    QUEUE_KIND: 'standard',
    BATCH_PROCESSING: 'sequential',
    FAULT_POISON_PREFIX: 'order-2',
  });
  const { handler } = handlerOverFakes(config, ledger);
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
});
