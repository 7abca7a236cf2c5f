import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { type Harness, startEmulator } from './helpers';

describe('AWS errors and limits', () => {
  let h: Harness;
  let queueUrl: string;
  beforeEach(async () => {
    h = await startEmulator('none');
    ({ QueueUrl: queueUrl } = (await h.sqs.send(
      new CreateQueueCommand({ QueueName: 'limits' }),
    )) as { QueueUrl: string });
  });
  afterEach(() => h.stop());

  it('answers QueueDoesNotExist with the query-error header the SDK maps', async () => {
    await expect(h.sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
    });
    const res = await fetch(h.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.GetQueueUrl',
      },
      body: JSON.stringify({ QueueName: 'nope' }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-query-error')).toBe(
      'AWS.SimpleQueueService.NonExistentQueue;Sender',
    );
    expect(await res.json()).toMatchObject({ __type: 'com.amazonaws.sqs#QueueDoesNotExist' });
  });

  it('rejects a message over 1 MiB and accepts one of exactly 1 MiB', async () => {
    await expect(
      h.sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x'.repeat(1_048_577) }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      h.sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x'.repeat(1_048_576) }),
      ),
    ).resolves.toHaveProperty('MessageId');
  });

  it('rejects batches of more than 10 entries, repeated ids and bad ids', async () => {
    const entries = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' }));
    await expect(
      h.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries(11) })),
    ).rejects.toMatchObject({ name: 'TooManyEntriesInBatchRequest' });
    await expect(
      h.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [
            { Id: 'a', MessageBody: 'x' },
            { Id: 'a', MessageBody: 'y' },
          ],
        }),
      ),
    ).rejects.toMatchObject({ name: 'BatchEntryIdsNotDistinct' });
    await expect(
      h.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [{ Id: 'x'.repeat(81), MessageBody: 'x' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidBatchEntryId' });
    await expect(
      h.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [] })),
    ).rejects.toMatchObject({ name: 'EmptyBatchRequest' });
  });

  it('rejects a batch whose total size is over 1 MiB', async () => {
    const big = 'x'.repeat(600_000);
    await expect(
      h.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [
            { Id: 'a', MessageBody: big },
            { Id: 'b', MessageBody: big },
          ],
        }),
      ),
    ).rejects.toMatchObject({ name: 'BatchRequestTooLong' });
  });

  it('validates receive parameters and queue attributes against AWS ranges', async () => {
    await expect(
      h.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 11 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      h.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 21 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      h.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: queueUrl,
          Attributes: { VisibilityTimeout: '43201' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidAttributeValue' });
    await expect(
      h.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: queueUrl,
          Attributes: { Bogus: '1' } as Record<string, string>,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidAttributeName' });
  });

  it('refuses a FIFO DLQ for a standard queue', async () => {
    await h.sqs.send(
      new CreateQueueCommand({ QueueName: 'dlq.fifo', Attributes: { FifoQueue: 'true' } }),
    );
    await expect(
      h.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: queueUrl,
          Attributes: {
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq.fifo',
              maxReceiveCount: 3,
            }),
          },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });
});
