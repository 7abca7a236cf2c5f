import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { openSocket, rawRequest, untilClosed } from '../integration/support/raw-http';
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

  it('answers a body over what it reads in the protocol the client spoke', async () => {
    // Prepare: a SendMessage (not a batch) that declares 5 MiB, as a Query form and as AWS
    // JSON. The answer comes before the body, so none is sent.
    const head = (extra: string) =>
      `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Content-Length: ${5 * 1024 * 1024}\r\n\r\n`;

    // Act
    const query = await rawRequest(
      h.url,
      head('Content-Type: application/x-www-form-urlencoded\r\n'),
    );
    const json = await rawRequest(
      h.url,
      head('Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.SendMessage\r\n'),
    );

    // Assess: XML for the Query client (the AWS CLI parses nothing else), JSON for the JSON one;
    // the message names the size, not a batch.
    expect(query?.status).toBe(413);
    expect(query?.headers['content-type']).toBe('text/xml');
    expect(query?.body).toMatch(
      /<Code>AWS\.SimpleQueueService\.BatchRequestTooLong<\/Code>.*<Message>Request bodies cannot be longer than 4194304 bytes/s,
    );
    expect(json?.status).toBe(413);
    expect(json?.headers['x-amzn-query-error']).toBe(
      'AWS.SimpleQueueService.BatchRequestTooLong;Sender',
    );
    expect(JSON.parse(json?.body ?? '{}')).toEqual({
      __type: 'com.amazonaws.sqs#BatchRequestTooLong',
      message: expect.stringMatching(/^Request bodies cannot be longer than 4194304 bytes/),
    });
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

  it('answers a pipelined request it ran before refusing the bytes after it', async () => {
    // One write: a CreateQueue whose Content-Length ends the form early, so the rest reads as a
    // second request that is not HTTP. Node's own answer to the unparseable second one (400, and
    // the connection closed) went out before the first one's, which was lost: the client read
    // "400 Bad Request" for a CreateQueue that had made its queue.
    const form = 'Action=CreateQueue&QueueName=piped&Attribute.1.Name=DelaySeconds';
    const cut = 'Action=CreateQueue&QueueName=piped'.length;
    const raw = `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${cut}\r\n\r\n${form}`;
    const socket = await openSocket(h.url);
    const closed = untilClosed(socket);
    socket.write(raw);
    const answers = (await closed).split(/(?=HTTP\/1\.1 )/);
    expect(answers.map((a) => Number(a.slice(9, 12)))).toEqual([200, 400]);
    expect(answers[0]).toContain('<QueueUrl>');
    expect(answers[0]).toContain('/000000000000/piped</QueueUrl>');
  });
});
