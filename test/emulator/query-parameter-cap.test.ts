import {
  GetQueueUrlCommand,
  ListQueuesCommand,
  type MessageAttributeValue,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { MAX_QUERY_PARAMETERS } from '../../local/sqs/protocol';
import { callQuery, type Harness, startEmulator } from './helpers';

/**
 * A Query request with more parameters than any SQS action takes is refused before any is read
 * (test/unit/local/sqs-query-parameter-cap.test.ts counts the reads): a 4 MB form of 200,000
 * parameters (MAX_REQUEST_BYTES is 4 MiB) is a clear 400 with AWS's code, changes nothing, and the emulator goes on serving.
 * Under the cap the two protocols answer alike.
 */
describe('Query requests with too many parameters', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startEmulator('none');
  });
  afterAll(() => h.stop());

  const post = (body: string) =>
    fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });

  it('answers a 3.5 MB CreateQueue of 200,000 parameters 400 InvalidParameterValue, and creates nothing', async () => {
    const parts = ['Action=CreateQueue', 'QueueName=huge'];
    for (let i = 1; parts.length < 200_000; i++) parts.push(`Tag.${i}.Key=k`);
    const body = parts.join('&');
    expect(body.length).toBeGreaterThan(3_000_000);
    expect(body.length).toBeLessThan(4 * 1024 * 1024);
    const res = await post(body);
    const xml = await res.text();
    expect(res.status).toBe(400);
    expect(xml).toContain('<Code>InvalidParameterValue</Code>');
    expect(xml).toContain(
      `<Message>The request has more than ${MAX_QUERY_PARAMETERS} parameters; no SQS action takes that many.</Message>`,
    );
    await expect(h.sqs.send(new GetQueueUrlCommand({ QueueName: 'huge' }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
    });
    // Still serving, over both protocols.
    await expect(h.sqs.send(new ListQueuesCommand({}))).resolves.toBeDefined();
    expect((await callQuery(h.url, { Action: 'ListQueues' })).status).toBe(200);
  });

  it('answers a message with 11 attributes alike over JSON and the Query protocol, under the cap', async () => {
    const QueueUrl = (await callQuery(h.url, { Action: 'CreateQueue', QueueName: 'eleven' })).xml
      .split('<QueueUrl>')[1]!
      .split('</QueueUrl>')[0]!;
    const MessageAttributes: Record<string, MessageAttributeValue> = {};
    const params: [string, string][] = [
      ['Action', 'SendMessage'],
      ['QueueUrl', QueueUrl],
      ['MessageBody', 'b'],
    ];
    for (let i = 1; i <= 11; i++) {
      MessageAttributes[`a${i}`] = { DataType: 'String', StringValue: 'v' };
      params.push(
        [`MessageAttribute.${i}.Name`, `a${i}`],
        [`MessageAttribute.${i}.Value.DataType`, 'String'],
        [`MessageAttribute.${i}.Value.StringValue`, 'v'],
      );
    }
    let json: { name?: string; message?: string; status?: number } = {};
    try {
      await h.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'b', MessageAttributes }));
    } catch (e) {
      const err = e as { name: string; message: string; $metadata: { httpStatusCode: number } };
      json = { name: err.name, message: err.message, status: err.$metadata.httpStatusCode };
    }
    const query = await callQuery(h.url, params);
    expect(json.status).toBe(400);
    expect(query).toMatchObject({ status: json.status, queryCode: json.name });
    expect(query.message).toBe(json.message);
  });
});
