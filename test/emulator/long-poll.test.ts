import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { type Harness, startEmulator } from './helpers';

/**
 * Long polls over HTTP with the AWS SDK. ReceiveRequestAttemptId: "If a networking issue occurs
 * after a ReceiveMessage action, and instead of a response you receive a generic error, it is
 * possible to retry the same action with an identical ReceiveRequestAttemptId to retrieve the
 * same set of messages" (ReceiveMessage, API reference): an empty answer has no messages to
 * retrieve again, so it does not hold back the ones that come after it.
 */
describe('long polling', () => {
  let h: Harness;
  let queueUrl: string;

  beforeEach(async () => {
    h = await startEmulator('none');
    ({ QueueUrl: queueUrl } = (await h.sqs.send(
      new CreateQueueCommand({
        QueueName: 'orders.fifo',
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
      }),
    )) as { QueueUrl: string });
  });
  afterEach(() => h.stop());

  const receive = (wait: number, attempt: string) =>
    h.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        WaitTimeSeconds: wait,
        ReceiveRequestAttemptId: attempt,
      }),
    );

  it('returns a message that arrives during a FIFO long poll with a ReceiveRequestAttemptId, and replays it on a retry with that id (found in review: the poll stayed empty)', async () => {
    // Act: the poll waits on an empty queue; a message comes while it waits.
    const poll = receive(3, 'attempt-1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await h.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'a', MessageGroupId: 'g' }),
    );
    const got = await poll;
    const retry = await receive(0, 'attempt-1');

    // Assess
    expect(got.Messages?.map((m) => m.Body)).toEqual(['a']);
    expect(retry.Messages?.map((m) => m.ReceiptHandle)).toEqual([got.Messages![0]!.ReceiptHandle]);
  });

  it('answers a retry of an empty FIFO receive with a message sent since, not with the empty answer', async () => {
    // Prepare: a short poll with the id finds nothing.
    const empty = await receive(0, 'attempt-1');
    expect(empty.Messages ?? []).toEqual([]);
    await h.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'a', MessageGroupId: 'g' }),
    );

    // Act
    const retry = await receive(0, 'attempt-1');

    // Assess
    expect(retry.Messages?.map((m) => m.Body)).toEqual(['a']);
  });
});
