import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  type QueueAttributeName,
  ReceiveMessageCommand,
  SendMessageCommand,
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

  it('answers a message sent with those names on the SDK with matching digests', async () => {
    const sent = await h.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: 'sdk',
        MessageAttributes: { toString: { DataType: 'String', StringValue: 'v' } },
      }),
    );
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
  });
});
