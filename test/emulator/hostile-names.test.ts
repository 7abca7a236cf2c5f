import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  type QueueAttributeName,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import { type Harness, startEmulator } from './helpers';

/**
 * Names taken from a request (parameter paths, attribute and tag names) are data, never object
 * paths: `__proto__`, `constructor`, `prototype` and `toString` in every position neither reach
 * Object.prototype nor disappear.
 */

const NAMES = ['__proto__', 'constructor', 'prototype', 'toString'] as const;

/** Every own property of Object.prototype with its value, to compare after the requests. */
function prototypeSnapshot(): Map<string, unknown> {
  return new Map(
    Reflect.ownKeys(Object.prototype).map((k) => [
      String(k),
      Object.getOwnPropertyDescriptor(Object.prototype, k)?.value,
    ]),
  );
}

describe('names from requests never become object paths', () => {
  let h: Harness;
  let queueUrl: string;
  const before = prototypeSnapshot();
  beforeAll(async () => {
    h = await startEmulator('none');
    queueUrl = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'names' }))).QueueUrl!;
  });
  afterAll(() => h.stop());
  afterEach(() => {
    expect(prototypeSnapshot()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  const form = (params: [string, string][]) =>
    fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });

  it('ignores Query parameter paths through __proto__ and constructor.prototype', async () => {
    const res = await form([
      ['Action', 'SendMessage'],
      ['QueueUrl', queueUrl],
      ['MessageBody', 'x'],
      ['__proto__.polluted', 'yes'],
      ['constructor.prototype.polluted', 'yes'],
      ['MessageAttribute.1.__proto__.polluted', 'yes'],
      ['MessageAttribute.__proto__.Name', 'yes'],
      ['Attribute.constructor.prototype.polluted', 'yes'],
      ['SendMessageBatchRequestEntry.__proto__.polluted', 'yes'],
    ]);
    expect(res.status).toBe(200);
    await res.text();
  });

  it('keeps message attributes with those names, over JSON and over the Query protocol', async () => {
    const queueUrl = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'attribute-names' })))
      .QueueUrl!;
    const attrs = Object.fromEntries(
      NAMES.map((n) => [n, { DataType: 'String', StringValue: `value of ${n}` }]),
    );
    // The SDK builds its request with plain objects; JSON.parse on the server keeps __proto__
    // as an own key, which is what a hand-written request sends.
    const json = await fetch(h.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.SendMessage',
      },
      body: `{"QueueUrl":${JSON.stringify(queueUrl)},"MessageBody":"json","MessageAttributes":{${NAMES.map((n) => `${JSON.stringify(n)}:${JSON.stringify(attrs[n])}`).join(',')}}}`,
    });
    expect(json.status).toBe(200);
    await json.text();
    const query = await form([
      ['Action', 'SendMessage'],
      ['QueueUrl', queueUrl],
      ['MessageBody', 'query'],
      ...NAMES.flatMap((n, i): [string, string][] => [
        [`MessageAttribute.${i + 1}.Name`, n],
        [`MessageAttribute.${i + 1}.Value.DataType`, 'String'],
        [`MessageAttribute.${i + 1}.Value.StringValue`, `value of ${n}`],
      ]),
    ]);
    expect(query.status).toBe(200);
    await query.text();

    const got = await fetch(h.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.ReceiveMessage',
      },
      body: JSON.stringify({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    });
    const text = await got.text();
    const messages = (JSON.parse(text) as { Messages: { Body: string }[] }).Messages;
    expect(messages.map((m) => m.Body).sort()).toEqual(['json', 'query']);
    for (const body of ['json', 'query']) {
      const raw = text.slice(text.indexOf(`"Body":"${body}"`));
      for (const n of NAMES)
        expect(raw).toContain(
          `${JSON.stringify(n)}:{"DataType":"String","StringValue":"value of ${n}"}`,
        );
    }
  });

  it.each(NAMES)('refuses a queue attribute named %s with InvalidAttributeName', async (name) => {
    await expect(
      h.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: queueUrl,
          Attributes: JSON.parse(`{${JSON.stringify(name)}:"1"}`),
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidAttributeName' });
    await expect(
      h.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: [name as QueueAttributeName],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidAttributeName' });
    await expect(
      h.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MessageSystemAttributeNames: [name as 'All'],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidAttributeName' });
  });

  it('keeps tags with those names', async () => {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.TagQueue',
      },
      body: `{"QueueUrl":${JSON.stringify(queueUrl)},"Tags":{${NAMES.map((n) => `${JSON.stringify(n)}:"t-${n}"`).join(',')}}}`,
    });
    expect(res.status).toBe(200);
    await res.text();
    await h.sqs.send(new TagQueueCommand({ QueueUrl: queueUrl, Tags: { plain: 'p' } }));
    const listed = await fetch(h.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.ListQueueTags',
      },
      body: JSON.stringify({ QueueUrl: queueUrl }),
    });
    const text = await listed.text();
    for (const n of NAMES) expect(text).toContain(`${JSON.stringify(n)}:"t-${n}"`);
    const viaSdk = await h.sqs.send(new ListQueueTagsCommand({ QueueUrl: queueUrl }));
    expect(viaSdk.Tags?.plain).toBe('p');
  });

  it('refuses a fault preset named after an Object.prototype member', async () => {
    for (const preset of NAMES) {
      const res = await fetch(`${h.url}/_emulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ preset }),
      });
      expect(res.status).toBe(400);
      await res.text();
    }
    expect(h.emulator.faults()).toMatchObject({ duplicateRate: 0, reorderRate: 0 });
  });

  it('digests message attributes with those names as AWS does, each one counted', async () => {
    // Prepare: every hostile name as a String attribute, sent as raw JSON (an object literal
    // cannot carry `__proto__` as a key), and the digest AWS documents, computed here.
    const own = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'digests' }))).QueueUrl!;
    const attributes = NAMES.map((n) => [n, `v-${n}`] as const);
    const body = `{"QueueUrl":${JSON.stringify(own)},"MessageBody":"digest","MessageAttributes":{${attributes
      .map(([n, v]) => `${JSON.stringify(n)}:{"DataType":"String","StringValue":"${v}"}`)
      .join(',')}}}`;
    const expected = awsAttributeDigest(attributes);
    // What a map that lost `__proto__` would answer: the test can tell the two apart.
    expect(awsAttributeDigest(attributes.filter(([n]) => n !== '__proto__'))).not.toBe(expected);

    // Act
    const sent = await fetch(h.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.SendMessage',
      },
      body,
    });
    const received = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: own, MessageAttributeNames: ['All'] }),
    );

    // Assess
    expect(sent.status).toBe(200);
    expect(((await sent.json()) as { MD5OfMessageAttributes: string }).MD5OfMessageAttributes).toBe(
      expected,
    );
    expect(received.Messages?.[0]?.MD5OfMessageAttributes).toBe(expected);
  });
});

/**
 * MD5OfMessageAttributes as the SQS developer guide describes it, written here apart from the
 * emulator's: attributes sorted by name; for each, the name, the data type, transport type 1
 * (string), the value, each string preceded by its length as 4 big-endian bytes.
 */
function awsAttributeDigest(attributes: ReadonlyArray<readonly [string, string]>): string {
  const parts: Buffer[] = [];
  const field = (text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const [name, value] of [...attributes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    field(name);
    field('String');
    parts.push(Buffer.from([1]));
    field(value);
  }
  return createHash('md5').update(Buffer.concat(parts)).digest('hex');
}
