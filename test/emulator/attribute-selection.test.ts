import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { JSON_REQUEST_SHAPE } from '../../local/sqs/protocol';
import { callJson, type Harness, startEmulator } from './helpers';

/**
 * ReceiveMessage's MessageAttributeNames: "you can return all of the attributes by specifying
 * All or .* in your request. You can also use all message attributes starting with a prefix,
 * for example bar.*" (ReceiveMessage, API reference). AWS documents no limit on how many names
 * a receive gives (each "can be up to 256 characters long"); the emulator takes any number
 * within its 4 MiB request, matching each attribute against them in time that does not grow
 * with their number.
 */
describe('the message attributes a receive asks for', () => {
  let h: Harness;
  let url: string;
  beforeEach(async () => {
    h = await startEmulator('none');
    url = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'selection' }))).QueueUrl!;
  });
  afterEach(() => h.stop());

  const value = { DataType: 'String', StringValue: 'v' };
  const send = (names: string[]) =>
    h.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'm',
        MessageAttributes: Object.fromEntries(names.map((n) => [n, value])),
      }),
    );
  const selected = async (MessageAttributeNames: string[]) => {
    const got = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames, VisibilityTimeout: 0 }),
    );
    return Object.keys(got.Messages?.[0]?.MessageAttributes ?? {}).sort();
  };

  it('selects by name, by prefix (`bar.*`: the names that start with `bar.`), and all with All or .*', async () => {
    await send(['a', 'b.x', 'b.y.z', 'bb.q', 'c.d', 'b']);
    expect(await selected(['a', 'b.*', 'nope'])).toEqual(['a', 'b.x', 'b.y.z']);
    expect(await selected(['b.y.*'])).toEqual(['b.y.z']);
    expect(await selected(['b'])).toEqual(['b']);
    expect(await selected(['c.*', 'bb.q'])).toEqual(['bb.q', 'c.d']);
    expect(await selected(['.*'])).toEqual(['a', 'b', 'b.x', 'b.y.z', 'bb.q', 'c.d']);
    expect(await selected(['All'])).toEqual(['a', 'b', 'b.x', 'b.y.z', 'bb.q', 'c.d']);
    expect(await selected(['x.*', 'y'])).toEqual([]);
  });

  it('reads each of 1,000 names (the most a JSON list may hold) a constant number of times, however many attributes the messages have, and answers the 10 asked for', async () => {
    // Half of them names, half prefixes, and the one prefix the attributes have last: 1,000
    // elements, the most JSON_REQUEST_SHAPE lets a list have (as many as a Query request's
    // parameters); a longer list is refused unparsed. Each attribute of each message had been
    // compared with every name (includes, then some): 10 messages of 10 attributes read the
    // list some 220 times over (with 300,000 names, 66 million reads, 0.5-1.5 s of the main
    // thread, before the shape bound). A constant number of passes is a count, not a
    // time: the receive runs in process (emulator.call) on the list its body parses to, wrapped
    // so that each element read is counted, and stops at the first read past the bound.
    const names = Array.from({ length: JSON_REQUEST_SHAPE.items - 1 }, (_, i) =>
      i % 2 ? `n${i}` : `p${i}.*`,
    );
    names.push('attr.*');
    for (let i = 0; i < 10; i++) {
      await send(Array.from({ length: 10 }, (_, j) => `attr.x${j}`));
    }
    const input = { QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: names };

    // Arrange: call parses the body it makes of its input (as the server parses a request's);
    // that parse's list of names is handed on as a Proxy that counts reads of its elements.
    // The bound: a few passes over the list (checking each is a string, building the
    // selection), where one pass per attribute taken is 100 passes.
    const bound = 4 * names.length;
    let reads = 0;
    const counted = (list: string[]) =>
      new Proxy(list, {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key) && ++reads > bound) {
            throw new Error(`more than ${bound} reads of MessageAttributeNames' elements`);
          }
          return Reflect.get(target, key, receiver);
        },
      });
    const parse = JSON.parse;
    const spy = jest.spyOn(JSON, 'parse').mockImplementation((text, reviver) => {
      const parsed = parse(text, reviver) as { MessageAttributeNames?: unknown } | null;
      const list = parsed?.MessageAttributeNames;
      if (Array.isArray(list) && list.length === names.length) {
        parsed!.MessageAttributeNames = counted(list);
      }
      return parsed;
    });
    let out: { Messages?: { MessageAttributes?: object }[] };
    try {
      // Act
      out = (await h.emulator.call('ReceiveMessage', {
        ...input,
        VisibilityTimeout: 0,
      })) as typeof out;
    } finally {
      spy.mockRestore();
    }

    // Assess: every name was read (the count saw the list the receive matched against), no
    // more than a few times (twice now: 2,000 reads), and each message came back with its 10
    // attributes.
    expect(reads).toBeGreaterThanOrEqual(names.length);
    expect(reads).toBeLessThanOrEqual(bound);
    expect(out.Messages).toHaveLength(10);
    for (const m of out.Messages!) {
      expect(Object.keys(m.MessageAttributes ?? {}).sort()).toEqual(
        Array.from({ length: 10 }, (_, j) => `attr.x${j}`),
      );
    }

    // The same request over HTTP (the JSON protocol) answers the same attributes.
    const answer = await callJson(h.url, 'ReceiveMessage', JSON.stringify(input));
    expect(answer.status).toBe(200);
    const over = answer.body as { Messages?: { MessageAttributes?: object }[] };
    expect(over.Messages).toHaveLength(10);
    for (const m of over.Messages!) {
      expect(Object.keys(m.MessageAttributes ?? {}).sort()).toEqual(
        Array.from({ length: 10 }, (_, j) => `attr.x${j}`),
      );
    }

    // One name more is past the shape any request has: refused as JSON SQS cannot read.
    const longer = await callJson(
      h.url,
      'ReceiveMessage',
      JSON.stringify({ ...input, MessageAttributeNames: [...names, 'one.more'] }),
    );
    expect(longer).toMatchObject({ status: 400, type: 'SerializationException' });
  }, 30_000);
});
