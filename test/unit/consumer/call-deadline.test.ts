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
