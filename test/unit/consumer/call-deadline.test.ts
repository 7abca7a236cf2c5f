import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CallDeadline,
  InvocationDeadlineError,
} from '../../../services/consumer/src/adapters/call-deadline';

/**
 * The cut on the consumer's DynamoDB calls (adapters/call-deadline.ts) on a real client whose
 * every try is answered by a stand-in for the network after `answerMs`, nothing sent.
 */
function clientAnsweringAfter(answerMs: number): DynamoDBClient {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  client.middlewareStack.add(
    () => async () => {
      await new Promise((resolve) => setTimeout(resolve, answerMs));
      return { response: {}, output: { $metadata: {} } } as never;
    },
    { step: 'deserialize', priority: 'high', name: 'answerAfter' },
  );
  return client;
}

const get = () => new GetItemCommand({ TableName: 'table', Key: { id: { S: 'key' } } });

describe('the cut on the consumer’s DynamoDB calls', () => {
  it('gives up a try still unanswered at the cut', async () => {
    const client = clientAnsweringAfter(200);
    const deadline = new CallDeadline();
    deadline.attach(client);
    deadline.cutIn(20);
    await expect(client.send(get())).rejects.toBeInstanceOf(InvocationDeadlineError);
  });

  it('cuts a write that completes a committed effect’s record (`completing`) at its own, later cut, and every other call at the cut', async () => {
    const client = clientAnsweringAfter(100);
    const deadline = new CallDeadline();
    deadline.attach(client);
    deadline.cutIn(20, 1_000);
    await expect(deadline.completing(() => client.send(get()))).resolves.toMatchObject({
      $metadata: {},
    });
    await expect(client.send(get())).rejects.toBeInstanceOf(InvocationDeadlineError);
  });

  it('cuts a call made beside a completing one at the cut: the completing scope is the work it runs, not the calls around it', async () => {
    // A fresh client, so what the SDK resolves once and shares (its config, its retry strategy)
    // is first made inside the completing work; and a promise made inside it that the other call
    // waits on before it sends, as a shared, memoized one would be.
    const client = clientAnsweringAfter(100);
    const deadline = new CallDeadline();
    deadline.attach(client);
    deadline.cutIn(20, 1_000);
    let madeInside: Promise<void> = Promise.resolve();
    const completing = deadline.completing(() => {
      madeInside = new Promise((resolve) => setTimeout(resolve, 1));
      return client.send(get());
    });
    const beside = client.send(get());
    const afterShared = madeInside.then(() => client.send(get()));

    const [inside, besideIt, afterIt] = await Promise.allSettled([completing, beside, afterShared]);
    expect(inside).toMatchObject({ status: 'fulfilled', value: { $metadata: {} } });
    expect(besideIt).toMatchObject({
      status: 'rejected',
      reason: { name: 'InvocationDeadlineError' },
    });
    expect(afterIt).toMatchObject({
      status: 'rejected',
      reason: { name: 'InvocationDeadlineError' },
    });
    // And after it, its caller's next call is cut as any other.
    await expect(client.send(get())).rejects.toBeInstanceOf(InvocationDeadlineError);
  });

  it('cuts a completing write at the cut when no later one was given', async () => {
    const client = clientAnsweringAfter(100);
    const deadline = new CallDeadline();
    deadline.attach(client);
    deadline.cutIn(20);
    await expect(deadline.completing(() => client.send(get()))).rejects.toBeInstanceOf(
      InvocationDeadlineError,
    );
  });

  it('gives up a wait at the cut (`within`), and lets one through that ends before it', async () => {
    const deadline = new CallDeadline();
    deadline.cutIn(30);
    await expect(deadline.within(new Promise(() => undefined))).rejects.toBeInstanceOf(
      InvocationDeadlineError,
    );
    deadline.cutIn(1_000);
    await expect(deadline.within(Promise.resolve('ended'))).resolves.toBe('ended');
  });

  it('says what it gave up: a wait (`within`) is told from a DynamoDB call', async () => {
    const deadline = new CallDeadline();
    deadline.cutIn(30);
    const waited = deadline.within(new Promise(() => undefined), 'the wait for the put of k');
    await expect(waited).rejects.toBeInstanceOf(InvocationDeadlineError);
    await expect(waited).rejects.toThrow(/^the wait for the put of k given up/);
    const client = clientAnsweringAfter(200);
    deadline.attach(client);
    await expect(client.send(get())).rejects.toThrow(/^DynamoDB call given up/);
  });

  it('answers a wait that has already ended when the cut has passed: it sends nothing to hold back', async () => {
    const deadline = new CallDeadline();
    deadline.cutIn(0);
    await expect(deadline.within(Promise.resolve('ended'))).resolves.toBe('ended');
    deadline.cutIn(-5);
    await expect(deadline.within(new Promise(() => undefined))).rejects.toBeInstanceOf(
      InvocationDeadlineError,
    );
  });

  it('counts the tries a record’s work sends (`counting`), not a try refused at the cut, nor a call beside it', async () => {
    const client = clientAnsweringAfter(5);
    let now = 0;
    const deadline = new CallDeadline(() => now);
    deadline.attach(client);
    deadline.cutIn(1_000);
    expect(deadline.untilCut()).toBe(1_000);
    const tally = { sent: 0 };
    await deadline.counting(tally, () => client.send(get()));
    await client.send(get());
    expect(tally.sent).toBe(1);
    now = 1_000;
    expect(deadline.untilCut()).toBe(0);
    const refused = { sent: 0 };
    await expect(deadline.counting(refused, () => client.send(get()))).rejects.toBeInstanceOf(
      InvocationDeadlineError,
    );
    expect(refused.sent).toBe(0);
    deadline.cutIn(undefined);
    expect(deadline.untilCut()).toBeUndefined();
    await deadline.counting(refused, () => client.send(get()));
    expect(refused.sent).toBe(1);
  });

  it('lets a try through whose cut is further away than a timer can count (2^31 - 1 ms): it is not cut at once', async () => {
    // A context that tells a remaining time of days (a harness, not Lambda, whose timeout is
    // 900 s at most): Node's setTimeout takes a delay above 2,147,483,647 ms as 1 ms, and every
    // try that took longer was given up as past the deadline.
    const client = clientAnsweringAfter(30);
    const deadline = new CallDeadline();
    deadline.attach(client);
    deadline.cutIn(3_000_000_000);
    await expect(client.send(get())).resolves.toMatchObject({ $metadata: {} });
  });
});
