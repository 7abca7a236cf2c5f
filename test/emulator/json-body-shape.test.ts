import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import { MAX_REQUEST_BYTES } from '../../local/sqs';
import { escapedKeys, nestedArrays } from '../support/hostile-json';
import { callJson, type Harness, queueCounts, startEmulator } from './helpers';

/**
 * A JSON-protocol body past the shape of any SQS request (JSON_REQUEST_SHAPE in
 * local/sqs/protocol.ts) is refused before it is parsed, with the answer to a body that is no
 * JSON, and changes nothing (found in audit: 2 million nested arrays, or 300,000 escaped keys,
 * held the main thread about 1 s per request); the largest requests the SDK sends still pass.
 */
describe('the SQS JSON protocol refuses a body past any request shape without parsing it (found in audit)', () => {
  let h: Harness;
  let queueUrl: string;
  beforeAll(async () => {
    h = await startEmulator();
    queueUrl = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'shape' }))).QueueUrl!;
  });
  afterAll(() => h?.stop());

  /** A SendMessage body of MAX_REQUEST_BYTES less a little, `x` holding `bulk(room)`. */
  const sendBody = (bulk: (room: number) => string): string => {
    const head = `{"QueueUrl":"${queueUrl}","MessageBody":"m","x":`;
    return `${head}${bulk(MAX_REQUEST_BYTES - 64 - head.length - 1)}}`;
  };
  /** Lists of 1,000 empty objects: within every bound but the count of values in all. */
  const emptyObjects = (room: number) => {
    const list = `[${Array(1000).fill('{}').join(',')}]`;
    return `[${Array(Math.floor((room - 2) / (list.length + 1)))
      .fill(list)
      .join(',')}]`;
  };

  it.each([
    ['2 million nested arrays', nestedArrays],
    ['one object of 300,000 escaped keys', escapedKeys],
    ['a million empty objects in lists of 1,000', emptyObjects],
  ])(
    'answers a SendMessage holding %s as a body that is no JSON, in about the time of a body as big that is one string, sending nothing',
    async (_, bulk) => {
      // Prepare
      /** The fastest of three answers to `body` (a loaded machine stretches any one of them). */
      const fastest = async (body: string) => {
        let best = Infinity;
        const answers: string[] = [];
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const a = await callJson(h.url, 'SendMessage', body);
          answers.push(`${a.status} ${a.type}`);
          best = Math.min(best, performance.now() - started);
        }
        return { ms: best, answers };
      };
      const hostileBody = sendBody(bulk);
      // As big, its bulk one string: the message body, refused as too long after one cheap parse.
      const baselineBody = `{"QueueUrl":"${queueUrl}","MessageBody":"${'a'.repeat(hostileBody.length - queueUrl.length - 32)}"}`;
      expect(baselineBody.length).toBe(hostileBody.length);
      const notJson = await callJson(h.url, 'SendMessage', '{"QueueUrl":');

      // Act
      const baseline = await fastest(baselineBody);
      const hostile = await fastest(hostileBody);

      // Assess: the answer to a body that is no JSON, nothing sent, in about the baseline's time
      // (within a generous factor of 5; the hostile bodies took 10-100 times the baseline's).
      expect(`${notJson.status} ${notJson.type}`).toBe('400 SerializationException');
      const refused = `${notJson.status} ${notJson.type}`;
      expect(hostile.answers).toEqual([refused, refused, refused]);
      expect(baseline.answers).toEqual(Array(3).fill('400 InvalidParameterValueException'));
      expect(await queueCounts(h.sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0, depth: 0 });
      expect(hostile.ms).toBeLessThan(5 * baseline.ms);
    },
    60_000,
  );

  it('names what is past the bound, as JSON SQS cannot read', async () => {
    const a = await callJson(h.url, 'ListQueues', `{"x":${'['.repeat(11)}${']'.repeat(11)}}`);
    expect(a).toMatchObject({ status: 400, type: 'SerializationException', queryCode: '' });
    expect(a.message).toBe(
      'The request body is not one SQS reads: nested deeper than 10, more than any SQS request has.',
    );
  });

  it('still takes the largest requests the SDK sends: a batch of 10 entries with 10 message attributes each, 50 tags, every attribute name', async () => {
    // Prepare
    const fifo = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'shape-largest.fifo',
          Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
          tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, `v${i}`])),
        }),
      )
    ).QueueUrl!;
    const attributes = Object.fromEntries(
      Array.from({ length: 10 }, (_, j) => [
        `a${j}`,
        j % 3 === 0
          ? { DataType: 'Binary', BinaryValue: new Uint8Array([j]) }
          : { DataType: j % 3 === 1 ? 'Number' : 'String', StringValue: `${j}` },
      ]),
    );

    // Act
    const sent = await h.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: fifo,
        Entries: Array.from({ length: 10 }, (_, i) => ({
          Id: `e${i}`,
          MessageBody: `m${i}`,
          MessageGroupId: 'g',
          MessageDeduplicationId: `d${i}`,
          MessageAttributes: attributes,
          MessageSystemAttributes: {
            AWSTraceHeader: {
              DataType: 'String',
              StringValue: 'Root=1-5759e988-bd862e3fe1be46a994272793',
            },
          },
        })),
      }),
    );
    await h.sqs.send(
      new TagQueueCommand({
        QueueUrl: queueUrl,
        Tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, `v${i}`])),
      }),
    );
    const received = await h.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: fifo,
        MaxNumberOfMessages: 10,
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: Array.from({ length: 100 }, (_, j) => `a${j}`),
      }),
    );

    // Assess
    expect(sent.Failed ?? []).toEqual([]);
    expect(sent.Successful).toHaveLength(10);
    expect(received.Messages).toHaveLength(10);
    expect(Object.keys(received.Messages![0]!.MessageAttributes!)).toHaveLength(10);
  });

  it('keeps the refusal of its own for a request just past a documented count: 11 message attributes, 11 entries', async () => {
    const attributes = Object.fromEntries(
      Array.from({ length: 11 }, (_, j) => [`a${j}`, { DataType: 'String', StringValue: 'v' }]),
    );
    const eleven = await callJson(h.url, 'SendMessage', {
      QueueUrl: queueUrl,
      MessageBody: 'm',
      MessageAttributes: attributes,
    });
    const entries = await callJson(h.url, 'SendMessageBatch', {
      QueueUrl: queueUrl,
      Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'm' })),
    });
    expect(eleven).toMatchObject({
      status: 400,
      type: 'InvalidParameterValueException',
      message: 'Number of message attributes [11] exceeds the allowed maximum [10].',
    });
    expect(entries).toMatchObject({ status: 400, type: 'TooManyEntriesInBatchRequest' });
    expect(await queueCounts(h.sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0, depth: 0 });
  });
});
