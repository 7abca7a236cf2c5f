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

  it('answers Query entries given twice, by half or malformed (Attribute, Tag, Tags, MessageAttribute, MessageSystemAttribute, batch entries) with a result or an AWS error, never a crash', async () => {
    const created = await (
      await post(form({ Action: 'CreateQueue', QueueName: 'entries' }))
    ).text();
    const url = /<QueueUrl>([^<]+)<\/QueueUrl>/.exec(created)![1]!;
    const index = fc.constantFrom(
      '1',
      '2',
      '0',
      '01',
      '',
      'x',
      '__proto__',
      '99999999999999999999',
    );
    const field = fc.constantFrom(
      'Name',
      'Value',
      'Key',
      'Value.DataType',
      'Value.StringValue',
      'Value.BinaryValue',
      'Value.x',
      'Name.x',
      '',
    );
    const root = fc.constantFrom(
      'Attribute',
      'Tag',
      'Tags',
      'MessageAttribute',
      'MessageSystemAttribute',
      'SendMessageBatchRequestEntry.1.MessageAttribute',
      'SendMessageBatchRequestEntry.1.MessageSystemAttribute',
    );
    const name = fc
      .tuple(root, index, field)
      .map(([r, i, f]) => [r, i, f].filter((x) => x !== '').join('.'));
    const value = fc.constantFrom(
      '',
      'String',
      'Binary',
      'Number',
      'AWSTraceHeader',
      'Policy',
      'DelaySeconds',
      '5',
      'AAE=',
      '__proto__',
      'constructor',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          'CreateQueue',
          'SetQueueAttributes',
          'TagQueue',
          'SendMessage',
          'SendMessageBatch',
        ),
        fc.array(fc.tuple(name, value), { maxLength: 12 }),
        async (action, params) => {
          const res = await post(
            new URLSearchParams([
              ['Action', action],
              ['QueueUrl', url],
              ['QueueName', 'entries'],
              ['MessageBody', 'b'],
              ['SendMessageBatchRequestEntry.1.Id', 'e1'],
              ['SendMessageBatchRequestEntry.1.MessageBody', 'b'],
              ...params,
            ]).toString(),
          );
          const text = await res.text();
          expect([200, 400, 403]).toContain(res.status);
          if (res.status !== 200) expect(text).toMatch(/<Code>[A-Za-z.]+<\/Code>/);
        },
      ),
      { numRuns: 400, seed: 11 },
    );
    // 400 requests: what this proves is the answers, not their speed, which a loaded machine
    // stretches past jest's 5 s default.
  }, 60_000);

  it('answers well-formed XML when the text it carries holds characters XML cannot', async () => {
    // XML 1.0's Char production: anything else makes the document no XML at all, and a Query
    // client (the AWS CLI) then reports a parse failure instead of AWS's error.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters XML forbids.
    const notXml = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
    const refused = await post('Action=%00%01%EF%BF%BF');
    const error = await refused.text();
    expect(refused.status).toBe(400);
    expect(error).toContain('<Code>InvalidAction</Code>');
    expect(error).toContain('The action \uFFFD\uFFFD\uFFFD is not valid');
    expect(error).not.toMatch(notXml);

    // A tag key XML cannot carry is outside AWS's tag character set: refused, and the refusal,
    // which echoes the key, is still XML. The queue keeps no tag.
    const created = await (await post(form({ Action: 'CreateQueue', QueueName: 'xmlctl' }))).text();
    const url = /<QueueUrl>([^<]+)<\/QueueUrl>/.exec(created)![1]!;
    const tag = await post(
      form({ Action: 'TagQueue', QueueUrl: url, 'Tag.1.Key': 'k\u0001', 'Tag.1.Value': 'v' }),
    );
    const refusal = await tag.text();
    expect(tag.status).toBe(400);
    expect(refusal).toContain('<Code>InvalidParameterValue</Code>');
    expect(refusal).toContain('Value k\uFFFD for parameter TagKey is invalid.');
    expect(refusal).not.toMatch(notXml);
    const tags = await (await post(form({ Action: 'ListQueueTags', QueueUrl: url }))).text();
    expect(tags).not.toContain('<Tag>');
    // A KmsMasterKeyId with a control character names no KMS key: refused, and the refusal is
    // XML (test/emulator/encryption-attributes.test.ts has the rest).
    const key = await post(
      form({
        Action: 'SetQueueAttributes',
        QueueUrl: url,
        'Attribute.1.Name': 'KmsMasterKeyId',
        'Attribute.1.Value': 'k\u0001',
      }),
    );
    const keyRefusal = await key.text();
    expect(key.status).toBe(400);
    expect(keyRefusal).toContain('<Code>InvalidAttributeValue</Code>');
    expect(keyRefusal).not.toMatch(notXml);
    // A policy is kept as sent, and a character in it that XML cannot carry is answered as U+FFFD.
    const set = await post(
      form({
        Action: 'SetQueueAttributes',
        QueueUrl: url,
        'Attribute.1.Name': 'Policy',
        'Attribute.1.Value': '{"Sid":"\uFFFF"}',
      }),
    );
    expect(set.status).toBe(200);
    const attrs = await (
      await post(form({ Action: 'GetQueueAttributes', QueueUrl: url, 'AttributeName.1': 'All' }))
    ).text();
    expect(attrs).toContain('<Value>{&quot;Sid&quot;:&quot;\uFFFD&quot;}</Value>');
    expect(attrs).not.toContain('KmsMasterKeyId');
    expect(attrs).not.toMatch(notXml);
  });
});
