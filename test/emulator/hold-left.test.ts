import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { type Harness, startEmulator } from './helpers';

describe('holdLeft: how long a receive still holds its message', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startEmulator('none');
  });
  afterEach(() => h.stop());

  it('answers the time left while held, 0 once not held, undefined for a value that is no handle', async () => {
    // Prepare: one message received with a 30-second visibility timeout.
    const url = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'hold' }))).QueueUrl!;
    await h.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'm' }));
    const got = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 30 }),
    );
    const handle = got.Messages![0]!.ReceiptHandle!;

    // Act and assess: held, then deleted; a value no receive issued, and one of another queue.
    const left = h.emulator.holdLeft(url, handle)!;
    expect(left).toBeGreaterThan(25_000);
    expect(left).toBeLessThanOrEqual(30_000);
    await h.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle }));
    expect(h.emulator.holdLeft(url, handle)).toBe(0);
    for (const bogus of ['', 'garbage', '%%%', '\u0000']) {
      expect(h.emulator.holdLeft(url, bogus)).toBeUndefined();
    }
    const other = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'other' }))).QueueUrl!;
    expect(h.emulator.holdLeft(other, handle)).toBeUndefined();
  });
});
