import fc from 'fast-check';
import { type Harness, startEmulator } from './helpers';

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe('Query protocol (form POST, XML)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startEmulator('none');
  });
  afterAll(() => h.stop());

  const post = (
    body: string | Uint8Array,
    headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' },
  ) => fetch(h.url, { method: 'POST', headers, body });

  it('creates a queue, sends with an attribute and receives it as XML', async () => {
    const created = await (await post(form({ Action: 'CreateQueue', QueueName: 'xmlq' }))).text();
    const url = /<QueueUrl>([^<]+)<\/QueueUrl>/.exec(created)?.[1];
    expect(url).toMatch(/\/000000000000\/xmlq$/);
    const sent = await (
      await post(
        form({
          Action: 'SendMessage',
          QueueUrl: url!,
          MessageBody: 'a <b> & c',
          'MessageAttribute.1.Name': 'k',
          'MessageAttribute.1.Value.DataType': 'String',
          'MessageAttribute.1.Value.StringValue': 'v',
        }),
      )
    ).text();
    expect(sent).toContain('<MD5OfMessageBody>');
    const got = await (
      await post(
        form({
          Action: 'ReceiveMessage',
          QueueUrl: url!,
          'MessageAttributeName.1': 'All',
          'AttributeName.1': 'All',
        }),
      )
    ).text();
    expect(got).toContain('<Body>a &lt;b&gt; &amp; c</Body>');
    expect(got).toContain('<MessageAttribute><Name>k</Name>');
    expect(got).toContain('<Name>ApproximateReceiveCount</Name><Value>1</Value>');
  });

  it('answers an unknown queue with the Query error code', async () => {
    const res = await post(form({ Action: 'GetQueueUrl', QueueName: 'missing' }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>AWS.SimpleQueueService.NonExistentQueue</Code>');
  });

  it('answers any byte sequence with an AWS error or a result, never a crash or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (bytes, json) => {
        const headers: Record<string, string> = json
          ? {
              'content-type': 'application/x-amz-json-1.0',
              'x-amz-target': 'AmazonSQS.SendMessage',
            }
          : { 'content-type': 'application/x-www-form-urlencoded' };
        const res = await post(bytes, headers);
        const text = await res.text();
        expect([200, 400]).toContain(res.status);
        if (res.status === 400)
          expect(text).toMatch(
            json ? /"__type":"com\.amazon(aws\.sqs|\.coral\.service)#/ : /<Code>/,
          );
      }),
      { numRuns: 150, seed: 42 },
    );
  });

  it('answers structured garbage in JSON fields with AWS errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom(
            'QueueUrl',
            'MessageBody',
            'Entries',
            'MaxNumberOfMessages',
            'QueueName',
            'Attributes',
          ),
          fc.jsonValue(),
        ),
        fc.constantFrom(
          'SendMessage',
          'SendMessageBatch',
          'ReceiveMessage',
          'CreateQueue',
          'DeleteMessageBatch',
        ),
        async (body, op) => {
          const res = await post(JSON.stringify(body), {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `AmazonSQS.${op}`,
          });
          expect(res.status).not.toBe(500);
          await res.text();
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });
});
