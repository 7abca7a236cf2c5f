import { createSqsEmulator } from '../../../local/sqs';

/**
 * A send wakes one long poll. When that poll's client had gone, it took nothing and the wake
 * was spent: another poll waiting on the queue found the message only on its next look, up to
 * a second later. Counted here as turns of the event loop, not time: the other poll answers
 * within a few, long before its one-second look.
 */
describe('a long poll whose client has gone', () => {
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };

  it('passes the wake-up a send gave it on to another poll, which takes the message', async () => {
    // Arrange: poll A (its client about to go) waits first, then poll B.
    const sqs = createSqsEmulator({ seed: 1, faults: 'none' });
    const { QueueUrl } = (await sqs.call('CreateQueue', { QueueName: 'q' })) as {
      QueueUrl: string;
    };
    let aGone = false;
    const a = sqs.call(
      'ReceiveMessage',
      { QueueUrl, WaitTimeSeconds: 5 },
      { clientGone: () => aGone },
    ) as Promise<{ Messages?: unknown[] }>;
    await turns(5);
    let bGot: { Body?: string }[] | undefined;
    const b = (
      sqs.call('ReceiveMessage', { QueueUrl, WaitTimeSeconds: 5 }) as Promise<{
        Messages?: { Body?: string }[];
      }>
    ).then((r) => {
      bGot = r.Messages ?? [];
    });
    await turns(5);
    aGone = true;

    // Act: the send wakes A.
    await sqs.call('SendMessage', { QueueUrl, MessageBody: 'm' });
    await turns(10);

    // Assess: A took nothing; B has the message already.
    expect((await a).Messages ?? []).toEqual([]);
    expect(bGot?.map((m) => m.Body)).toEqual(['m']);
    await b;
    await sqs.close();
  });
});
