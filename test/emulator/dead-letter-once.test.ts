import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createQueue, type Harness, queueArn, queueCounts, startEmulator } from './helpers';

/**
 * A message past maxReceiveCount moves to the DLQ once, whichever of its copies (the duplicate
 * fault) a receive meets past it: a receive count is the message's ("the number of times a
 * message has been received across all queues but not deleted", ApproximateReceiveCount,
 * ReceiveMessage API reference). Each copy had counted its own receives and been dead-lettered
 * in its turn: the message twice in the DLQ.
 */
describe('dead-lettering a message that has copies', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('moves a message to the DLQ once when its copy, in flight longer, reaches maxReceiveCount after it', async () => {
    // Arrange: maxReceiveCount 1. A received (10 s) while every receive leaves a copy behind,
    // then its copy (60 s): each has been received once.
    h = await startEmulator('none');
    const dlqUrl = await createQueue(h, 'once-dlq');
    const url = await createQueue(h, 'once', {
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: await queueArn(h, dlqUrl),
        maxReceiveCount: 1,
      }),
    });
    h.emulator.setFaults({ duplicateRate: 1 });
    await h.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'a' }));
    await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 10 }));
    h.emulator.setFaults('none');
    await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 60 }));

    // Act: A's timeout ends and a receive dead-letters it; later the copy's ends too.
    h.emulator.clock.advance(10_000);
    const afterFirst = await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    h.emulator.clock.advance(60_000);
    const afterCopy = await h.sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));

    // Assess: nothing delivered; the message is in the DLQ once and its copy is gone from the
    // source (it had been dead-lettered a second time: two in the DLQ).
    expect(afterFirst.Messages ?? []).toEqual([]);
    expect(afterCopy.Messages ?? []).toEqual([]);
    expect(await queueCounts(h.sqs, dlqUrl)).toEqual({ visible: 1, inFlight: 0, depth: 1 });
    expect(await queueCounts(h.sqs, url)).toEqual({ visible: 0, inFlight: 0, depth: 0 });
  });
});
