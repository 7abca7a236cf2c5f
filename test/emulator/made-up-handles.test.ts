import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { callQuery, type Harness, startEmulator } from './helpers';

/**
 * A receipt handle the queue never issued is ReceiptHandleIsInvalid (404), even when it names a
 * message the queue holds; one the queue issued that has gone stale is InvalidParameterValue
 * (400), "... Reason: The receipt handle has expired." (AWS Knowledge Center,
 * https://repost.aws/knowledge-center/sqs-receipt-handle-error).
 */

/** `handle` with its random part replaced: it names the same queue and message, but no receive issued it. */
function madeUpFrom(handle: string): string {
  const parts = Buffer.from(handle, 'base64url').toString('utf8').split('\u0000');
  parts[2] = randomUUID();
  return Buffer.from(parts.join('\u0000')).toString('base64url');
}

const INVALID_HANDLE = { name: 'ReceiptHandleIsInvalid', $metadata: { httpStatusCode: 404 } };

describe('made-up receipt handles', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startEmulator('none');
  });
  afterEach(() => h.stop());

  const notVisible = async (QueueUrl: string) =>
    (
      await h.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
        }),
      )
    ).Attributes!.ApproximateNumberOfMessagesNotVisible;

  it('answers ReceiptHandleIsInvalid to a made-up FIFO handle naming a held message, and "expired" to a stale one the queue issued, changing nothing (found in review: the made-up one passed for expired)', async () => {
    // Prepare: a FIFO message, received.
    const url = (
      await h.sqs.send(
        new CreateQueueCommand({ QueueName: 'madeup.fifo', Attributes: { FifoQueue: 'true' } }),
      )
    ).QueueUrl!;
    await h.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'm',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
      }),
    );
    const receive = async () =>
      (await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 30 })))
        .Messages![0]!.ReceiptHandle!;
    const first = await receive();
    const madeUp = madeUpFrom(first);

    // Act and assess: every use of the made-up handle, through the SDK and the Query protocol.
    await expect(
      h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: madeUp })),
    ).rejects.toMatchObject({
      ...INVALID_HANDLE,
      message: `The input receipt handle "${madeUp}" is not a valid receipt handle.`,
    });
    await expect(
      h.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: madeUp,
          VisibilityTimeout: 0,
        }),
      ),
    ).rejects.toMatchObject(INVALID_HANDLE);
    const batch = await h.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: [{ Id: 'a', ReceiptHandle: madeUp }],
      }),
    );
    expect(batch.Failed).toEqual([
      expect.objectContaining({ Id: 'a', Code: 'ReceiptHandleIsInvalid', SenderFault: true }),
    ]);
    const query = await callQuery(h.url, {
      Action: 'DeleteMessage',
      QueueUrl: url,
      ReceiptHandle: madeUp,
    });
    expect([query.status, query.queryCode]).toEqual([404, 'ReceiptHandleIsInvalid']);

    // Nothing changed: the message is still held by the receive, whose handle still deletes.
    expect(await notVisible(url)).toBe('1');

    // A handle the queue issued, stale once the message was received again, is "expired"; one
    // made up from it is still not a handle.
    h.emulator.clock.advance(31_000);
    const second = await receive();
    await expect(
      h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(/Reason: The receipt handle has expired\.$/),
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: madeUpFrom(second) })),
    ).rejects.toMatchObject(INVALID_HANDLE);
    expect(await notVisible(url)).toBe('1');
    await h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: second }));
    expect(await notVisible(url)).toBe('0');
  });

  it('answers ReceiptHandleIsInvalid to a made-up handle on a standard queue too (it answered success)', async () => {
    // Prepare
    const url = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'madeup' }))).QueueUrl!;
    await h.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'm' }));
    const handle = (await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages![0]!
      .ReceiptHandle!;

    // Act and assess
    await expect(
      h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: madeUpFrom(handle) })),
    ).rejects.toMatchObject(INVALID_HANDLE);
    expect(await notVisible(url)).toBe('1');
    await h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle }));
    expect(await notVisible(url)).toBe('0');
  });

  it('answers ReceiptHandleIsInvalid to an issued handle written otherwise (a trailing newline, padding, a character outside base64url), on both kinds of queue, changing nothing (found in review: it decoded to the same bytes and passed as stale, success on a standard queue, "expired" on FIFO)', async () => {
    // Prepare: a standard and a FIFO message, each received and held.
    const std = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'spelled' }))).QueueUrl!;
    const fifo = (
      await h.sqs.send(
        new CreateQueueCommand({ QueueName: 'spelled.fifo', Attributes: { FifoQueue: 'true' } }),
      )
    ).QueueUrl!;
    await h.sqs.send(new SendMessageCommand({ QueueUrl: std, MessageBody: 'm' }));
    await h.sqs.send(
      new SendMessageCommand({
        QueueUrl: fifo,
        MessageBody: 'm',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
      }),
    );
    const held = async (QueueUrl: string) =>
      (await h.sqs.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 30 })))
        .Messages![0]!.ReceiptHandle!;
    const handles = { [std]: await held(std), [fifo]: await held(fifo) };

    for (const [url, handle] of Object.entries(handles)) {
      // Act and assess: each spelling decodes to the issued handle's bytes, and none is it.
      for (const other of [`${handle}\n`, ` ${handle}`, `${handle}=`, `${handle}!`]) {
        await expect(
          h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: other })),
        ).rejects.toMatchObject(INVALID_HANDLE);
        const batch = await h.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: [{ Id: 'a', ReceiptHandle: other }],
          }),
        );
        expect(batch.Failed).toEqual([
          expect.objectContaining({ Id: 'a', Code: 'ReceiptHandleIsInvalid', SenderFault: true }),
        ]);
        expect(h.emulator.holdLeft(url, other)).toBeUndefined();
      }
      // Nothing changed: the receive still holds its message, and its own handle deletes it.
      expect(await notVisible(url)).toBe('1');
      await h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle }));
      expect(await notVisible(url)).toBe('0');
    }
  });

  it('answers ReceiptHandleIsInvalid to a handle whose signature is kept but which names another held message', async () => {
    // Prepare: two FIFO messages in two groups, both received and held.
    const url = (
      await h.sqs.send(
        new CreateQueueCommand({ QueueName: 'swapped.fifo', Attributes: { FifoQueue: 'true' } }),
      )
    ).QueueUrl!;
    for (const g of ['a', 'b']) {
      await h.sqs.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: g,
          MessageGroupId: g,
          MessageDeduplicationId: g,
        }),
      );
    }
    const got = (
      await h.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 30,
        }),
      )
    ).Messages!;
    expect(got).toHaveLength(2);
    const [a, b] = got.map((m) => Buffer.from(m.ReceiptHandle!, 'base64url').toString('utf8'));

    // Act: a's handle with b's key, a's random part and a's signature.
    const parts = a!.split('\u0000');
    parts[1] = b!.split('\u0000')[1]!;
    const swapped = Buffer.from(parts.join('\u0000')).toString('base64url');

    // Assess: not a handle; both messages still held.
    await expect(
      h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: swapped })),
    ).rejects.toMatchObject(INVALID_HANDLE);
    expect(await notVisible(url)).toBe('2');
  });

  it('answers ReceiptHandleIsInvalid to a handle another queue issued', async () => {
    const a = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'qa' }))).QueueUrl!;
    const b = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'qb' }))).QueueUrl!;
    await h.sqs.send(new SendMessageCommand({ QueueUrl: a, MessageBody: 'm' }));
    const handle = (await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: a }))).Messages![0]!
      .ReceiptHandle!;
    await expect(
      h.sqs.send(new DeleteMessageCommand({ QueueUrl: b, ReceiptHandle: handle })),
    ).rejects.toMatchObject(INVALID_HANDLE);
    expect(await notVisible(a)).toBe('1');
  });
});
