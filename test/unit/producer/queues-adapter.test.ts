import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsQueues } from '../../../services/producer/src/adapters/queues';
import { QueueUnavailableError } from '../../../services/producer/src/domain/ports';
import type { OrderMessage } from '../../../shared/src/order-message';

/** The producer's SQS adapter on its own, against a mocked SQS client. */
const sqsMock = mockClient(SQSClient);
const URLS = {
  fifo: 'http://127.0.0.1:1/000000000000/orders.fifo',
  standard: 'http://127.0.0.1:1/000000000000/orders-standard',
};
const queues = () =>
  new SqsQueues(new SQSClient({ region: 'eu-west-1' }), URLS, {
    attempts: 4,
    baseDelayMs: 0,
    maxDelayMs: 0,
  });

const message: OrderMessage = {
  orderId: 'o-1',
  runId: 'run-1',
  customerId: 'cust-1',
  sequence: 3,
  items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
  amount: 10,
  currency: 'EUR',
  acceptedAt: 10,
};

const sqsError = (name: string, httpStatusCode: number) =>
  Object.assign(new Error(`${name} detail`), { name, $metadata: { httpStatusCode } });

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

describe('SqsQueues.send', () => {
  it("sends to FIFO in the customer's group, deduplicated on the order id, with the run as an attribute", async () => {
    await expect(queues().send('fifo', message)).resolves.toBe('m-1');
    expect(sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: URLS.fifo,
      MessageBody: JSON.stringify(message),
      MessageAttributes: { runId: { DataType: 'String', StringValue: 'run-1' } },
      MessageGroupId: 'cust-1',
      MessageDeduplicationId: 'o-1',
    });
  });

  it('sends to the standard queue with no group or deduplication id', async () => {
    await queues().send('standard', message);
    expect(sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: URLS.standard,
      MessageBody: JSON.stringify(message),
      MessageAttributes: { runId: { DataType: 'String', StringValue: 'run-1' } },
    });
  });

  it('retries a throttled send and succeeds', async () => {
    sqsMock
      .on(SendMessageCommand)
      .rejectsOnce(sqsError('ThrottlingException', 400))
      .resolves({ MessageId: 'm-2' });
    await expect(queues().send('standard', message)).resolves.toBe('m-2');
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(2);
  });

  it('reports a queue that stays unavailable after every try as unavailable', async () => {
    sqsMock.on(SendMessageCommand).rejects(sqsError('InternalError', 500));
    const err = await queues()
      .send('fifo', message)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueUnavailableError);
    expect(err).toMatchObject({ queue: 'fifo' });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(4);
  });

  it('does not retry a permanent error, and does not call it an outage', async () => {
    sqsMock.on(SendMessageCommand).rejects(sqsError('QueueDoesNotExist', 400));
    const err = await queues()
      .send('fifo', message)
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(QueueUnavailableError);
    expect(err).toMatchObject({ name: 'QueueDoesNotExist' });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it('fails a send answered without a message id', async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    await expect(queues().send('fifo', message)).rejects.toThrow(/without a MessageId/);
  });
});
