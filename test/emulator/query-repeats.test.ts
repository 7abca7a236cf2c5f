import {
  AddPermissionCommand,
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs';
import { callJson, callQuery, type Harness, queryClient, startEmulator } from './helpers';

/**
 * One name given twice in one request. Over the Query protocol a message attribute (or system
 * attribute) given by two entries, or one of its parameters sent twice, is refused with
 * InvalidParameterValue (a failed entry in a batch), as a queue attribute or tag given twice is:
 * the later one had silently won. What AWS answers is not recorded anywhere we found; the
 * wording is ours (docs/fidelity.md). So is a single-value parameter (MessageBody, a batch
 * entry's Id, AttributeName.1) given twice, when the action reads it: InvalidParameterValue, a
 * failed entry in a batch. A repeated parameter the emulator never reads is ignored,
 * as every parameter it never reads is. Over JSON a repeated key keeps the last, as JSON
 * parsers (and AWS's Jackson-based one by default) do.
 */

/** XML text as the client reads it. */
const text = (xml: string): string =>
  xml.replace(/&(apos|quot|lt|gt|amp);/g, (_, e: string) =>
    e === 'apos' ? "'" : e === 'quot' ? '"' : e === 'lt' ? '<' : e === 'gt' ? '>' : '&',
  );

describe('a name given twice in one request', () => {
  let h: Harness;
  let url: string;
  beforeEach(async () => {
    h = await startEmulator('none');
    url = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'repeats' }))).QueueUrl!;
  });
  afterEach(() => h.stop());

  const count = async () =>
    Number(
      (
        await h.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        )
      ).Attributes!.ApproximateNumberOfMessages,
    );

  const attribute = (i: number, name: string, value: string): [string, string][] => [
    [`MessageAttribute.${i}.Name`, name],
    [`MessageAttribute.${i}.Value.DataType`, 'String'],
    [`MessageAttribute.${i}.Value.StringValue`, value],
  ];
  const trace = (i: number): [string, string][] => [
    [`MessageSystemAttribute.${i}.Name`, 'AWSTraceHeader'],
    [`MessageSystemAttribute.${i}.Value.DataType`, 'String'],
    [
      `MessageSystemAttribute.${i}.Value.StringValue`,
      `Root=1-5759e988-bd862e3fe1be46a99427279${i}`,
    ],
  ];

  it.each([
    [
      'two entries naming one message attribute',
      [...attribute(1, 'a', 'x'), ...attribute(2, 'a', 'y')],
      "Message (user) attribute 'a' is specified more than once.",
    ],
    [
      "one entry's value sent twice",
      [...attribute(1, 'a', 'x'), ['MessageAttribute.1.Value.StringValue', 'y']],
      'Parameter MessageAttribute.1.Value.StringValue is specified more than once.',
    ],
    [
      "one entry's name sent twice",
      [...attribute(1, 'a', 'x'), ['MessageAttribute.1.Name', 'b']],
      'Parameter MessageAttribute.1.Name is specified more than once.',
    ],
    [
      'two entries naming AWSTraceHeader',
      [...trace(1), ...trace(2)],
      "Message system attribute 'AWSTraceHeader' is specified more than once.",
    ],
  ] as [string, [string, string][], string][])(
    'refuses a Query SendMessage with %s, sending nothing (the last one had won)',
    async (_, attrs, message) => {
      const out = await callQuery(h.url, [
        ['Action', 'SendMessage'],
        ['QueueUrl', url],
        ['MessageBody', 'm'],
        ...attrs,
      ]);
      expect([out.status, out.queryCode, text(out.message)]).toEqual([
        400,
        'InvalidParameterValue',
        message,
      ]);
      expect(await count()).toBe(0);
    },
  );

  it('fails only the SendMessageBatch entry that gives a message attribute twice, sending the others', async () => {
    const entry = (n: number, attrs: [string, string][]): [string, string][] => [
      [`SendMessageBatchRequestEntry.${n}.Id`, `e${n}`],
      [`SendMessageBatchRequestEntry.${n}.MessageBody`, `m${n}`],
      ...attrs.map(([k, v]): [string, string] => [`SendMessageBatchRequestEntry.${n}.${k}`, v]),
    ];
    const out = await callQuery(h.url, [
      ['Action', 'SendMessageBatch'],
      ['QueueUrl', url],
      ...entry(1, attribute(1, 'a', 'x')),
      ...entry(2, [...attribute(1, 'a', 'x'), ...attribute(2, 'a', 'y')]),
      ...entry(3, [...attribute(1, 'a', 'x'), ['MessageAttribute.1.Value.DataType', 'Number']]),
    ]);

    expect(out.status).toBe(200);
    const failed = [...out.xml.matchAll(/<BatchResultErrorEntry>(.*?)<\/BatchResultErrorEntry>/g)]
      .map((m) => m[1]!)
      .map((x) => [
        /<Id>([^<]*)</.exec(x)![1],
        /<Code>([^<]*)</.exec(x)![1],
        /<SenderFault>([^<]*)</.exec(x)![1],
        text(/<Message>([^<]*)</.exec(x)![1]!),
      ]);
    expect(failed).toEqual([
      [
        'e2',
        'InvalidParameterValue',
        'true',
        "Message (user) attribute 'a' is specified more than once.",
      ],
      [
        'e3',
        'InvalidParameterValue',
        'true',
        'Parameter SendMessageBatchRequestEntry.3.MessageAttribute.1.Value.DataType is specified more than once.',
      ],
    ]);
    expect(out.xml).toContain('<Id>e1</Id><MessageId>');
    const got = await h.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(got.Messages?.map((m) => [m.Body, m.MessageAttributes?.a?.StringValue])).toEqual([
      ['m1', 'x'],
    ]);
  });

  it('answers at once a Query SendMessageBatch of 20,000 entries that each repeat a message attribute (it held the thread about 100 s)', async () => {
    // Arrange: 2.4 MB, under the 4 MiB the emulator reads.
    const params: [string, string][] = [
      ['Action', 'SendMessageBatch'],
      ['QueueUrl', url],
    ];
    for (let i = 20_000; i >= 1; i--) {
      const name = `SendMessageBatchRequestEntry.${i}.MessageAttribute.1.Name`;
      params.push([name, 'a'], [name, 'a']);
    }

    // Act
    const started = Date.now();
    const out = await callQuery(h.url, params);
    const took = Date.now() - started;

    // Assess: refused for its size before any parameter is read: 40,002 parameters are more than
    // any SQS action takes (MAX_QUERY_PARAMETERS in protocol.ts; it had been refused as any batch
    // of more than 10 entries, once all of them were read).
    expect([out.status, out.queryCode]).toEqual([400, 'InvalidParameterValue']);
    expect(out.message).toMatch(/^The request has more than \d+ parameters/);
    expect(took).toBeLessThan(10_000);
    expect(await count()).toBe(0);
  }, 30_000);

  it('takes a Query request that repeats a parameter the emulator never reads (it had refused it), and reads the rest', async () => {
    // Act: SetQueueAttributes, TagQueue and SendMessage, each with a read entry beside a
    // parameter under the same name that nothing reads, sent twice.
    const set = await callQuery(h.url, [
      ['Action', 'SetQueueAttributes'],
      ['QueueUrl', url],
      ['Attribute.1.Name', 'DelaySeconds'],
      ['Attribute.1.Value', '5'],
      ['Attribute.1.Note', 'a'],
      ['Attribute.1.Note', 'b'],
      ['Attribute.x.Name', 'VisibilityTimeout'],
      ['Attribute.x.Name', 'VisibilityTimeout'],
    ]);
    const tagged = await callQuery(h.url, [
      ['Action', 'TagQueue'],
      ['QueueUrl', url],
      ['Tag.1.Key', 'team'],
      ['Tag.1.Value', 'orders'],
      ['Tag.1.Note', 'a'],
      ['Tag.1.Note', 'b'],
    ]);
    const sent = await callQuery(h.url, [
      ['Action', 'SendMessage'],
      ['QueueUrl', url],
      ['MessageBody', 'm'],
      ['DelaySeconds', '0'],
      ...attribute(1, 'a', 'x'),
      ['MessageAttribute.1.Note', 'a'],
      ['MessageAttribute.1.Note', 'b'],
    ]);

    // Assess
    expect([set.status, set.message]).toEqual([200, '']);
    expect([tagged.status, tagged.message]).toEqual([200, '']);
    expect([sent.status, sent.message]).toEqual([200, '']);
    const attrs = (
      await h.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))
    ).Attributes!;
    expect([attrs.DelaySeconds, attrs.VisibilityTimeout]).toEqual(['5', '30']);
    expect((await h.sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags).toEqual({
      team: 'orders',
    });
    const got = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'] }),
    );
    expect(got.Messages?.[0]?.MessageAttributes).toEqual({
      a: { DataType: 'String', StringValue: 'x' },
    });
  });

  /** Sends a Query request and expects it refused for giving `parameter` twice. */
  const expectRefused = async (params: [string, string][], parameter: string) => {
    const out = await callQuery(h.url, params);
    expect([out.status, out.queryCode, text(out.message)]).toEqual([
      400,
      'InvalidParameterValue',
      `Parameter ${parameter} is specified more than once.`,
    ]);
  };

  it.each([
    ['MessageBody', [['MessageBody', 'b']]],
    [
      'DelaySeconds',
      [
        ['DelaySeconds', '0'],
        ['DelaySeconds', '5'],
      ],
    ],
    ['QueueUrl', [['QueueUrl', 'x']]],
    ['Action', [['Action', 'SendMessage']]],
  ] as [string, [string, string][]][])(
    'refuses a Query SendMessage that gives %s twice, sending nothing (the last one had won)',
    async (parameter, extra) => {
      await expectRefused(
        [['Action', 'SendMessage'], ['QueueUrl', url], ['MessageBody', 'a'], ...extra],
        parameter,
      );
      expect(await count()).toBe(0);
    },
  );

  it('refuses a Query ReceiveMessage or GetQueueAttributes that gives a single value or a list item twice', async () => {
    await h.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'm' }));
    await expectRefused(
      [
        ['Action', 'ReceiveMessage'],
        ['QueueUrl', url],
        ['VisibilityTimeout', '0'],
        ['VisibilityTimeout', '600'],
      ],
      'VisibilityTimeout',
    );
    await expectRefused(
      [
        ['Action', 'GetQueueAttributes'],
        ['QueueUrl', url],
        ['AttributeName.1', 'DelaySeconds'],
        ['AttributeName.1', 'QueueArn'],
      ],
      'AttributeName.1',
    );
    // The refused receive took nothing: the message is still there to take.
    expect(await count()).toBe(1);
  });

  it("takes every request of the AWS SDK's own Query serializer, whose ReceiveMessage gives AttributeName.1 twice for AttributeNames and MessageSystemAttributeNames", async () => {
    // Arrange: the SDK's Query client (a client generated from today's SQS model, over Query).
    const { sqs, bodies } = queryClient(h);
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: 'm',
          MessageAttributes: {
            'a.b': { DataType: 'String', StringValue: 'v', StringListValues: ['l1', 'l2'] },
            c: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2]) },
          },
          MessageSystemAttributes: {
            AWSTraceHeader: {
              DataType: 'String',
              StringValue: 'Root=1-5759e988-bd862e3fe1be46a994272793',
            },
          },
        }),
      );
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: [
            {
              Id: 'a',
              MessageBody: 'a',
              MessageAttributes: {
                x: { DataType: 'String', StringValue: '1' },
                y: { DataType: 'Number', StringValue: '2' },
              },
            },
            { Id: 'b', MessageBody: 'b' },
          ],
        }),
      );

      // Act: both lists of system attribute names; the model names both `AttributeName`.
      const got = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          AttributeNames: ['All'],
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'AWSTraceHeader'],
          MessageAttributeNames: ['a.*', 'x'],
        }),
      );

      // Assess: the serializer did give the item twice, and every name given was asked for.
      const receive = new URLSearchParams(bodies.at(-1));
      expect(receive.getAll('AttributeName.1')).toEqual(['All', 'ApproximateReceiveCount']);
      const byBody = new Map(got.Messages?.map((m) => [m.Body, m]));
      // All (the first list) asked for every system attribute, SenderId too.
      expect(byBody.get('m')?.Attributes).toEqual({
        SenderId: expect.any(String),
        SentTimestamp: expect.any(String),
        ApproximateReceiveCount: '1',
        ApproximateFirstReceiveTimestamp: expect.any(String),
        AWSTraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793',
      });
      expect(Object.keys(byBody.get('m')?.MessageAttributes ?? {})).toEqual(['a.b']);
      expect(Object.keys(byBody.get('a')?.MessageAttributes ?? {})).toEqual(['x']);
      // The rest of its list and map parameters: no refusal.
      const handles = (got.Messages ?? []).map((m) => m.ReceiptHandle!);
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: handles.map((ReceiptHandle, i) => ({
            Id: `c${i}`,
            ReceiptHandle,
            VisibilityTimeout: 60,
          })),
        }),
      );
      const deleted = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: handles.map((ReceiptHandle, i) => ({ Id: `d${i}`, ReceiptHandle })),
        }),
      );
      expect(deleted.Successful).toHaveLength(3);
      await sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: url,
          Attributes: { VisibilityTimeout: '31', DelaySeconds: '0' },
        }),
      );
      const attributes = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['VisibilityTimeout', 'ApproximateNumberOfMessages'],
        }),
      );
      expect(attributes.Attributes).toEqual({
        VisibilityTimeout: '31',
        ApproximateNumberOfMessages: '0',
      });
      await sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { c: '3', d: '4' } }));
      await sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: ['c'] }));
      expect((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags).toEqual({
        d: '4',
      });
      await sqs.send(
        new AddPermissionCommand({
          QueueUrl: url,
          Label: 'l',
          AWSAccountIds: ['111111111111', '222222222222'],
          Actions: ['SendMessage', 'ReceiveMessage'],
        }),
      );
    } finally {
      sqs.destroy();
    }
  });

  it('asks for every value of an AttributeName.N a Query ReceiveMessage gives more than once', async () => {
    await h.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'm' }));
    const out = await callQuery(h.url, [
      ['Action', 'ReceiveMessage'],
      ['QueueUrl', url],
      ['AttributeName.1', 'SentTimestamp'],
      ['AttributeName.2', 'ApproximateReceiveCount'],
      ['AttributeName.1', 'SenderId'],
    ]);
    expect(out.status).toBe(200);
    const names = [...out.xml.matchAll(/<Attribute><Name>([^<]*)<\/Name>/g)].map((m) => m[1]);
    expect(names.sort()).toEqual(['ApproximateReceiveCount', 'SenderId', 'SentTimestamp']);
  });

  it('ignores a repeated parameter the action does not read, as any unread one', async () => {
    const out = await callQuery(h.url, [
      ['Action', 'SendMessage'],
      ['QueueUrl', url],
      ['MessageBody', 'm'],
      ['QueueNamePrefix', 'a'],
      ['QueueNamePrefix', 'b'],
    ]);
    expect(out.status).toBe(200);
    expect(await count()).toBe(1);
  });

  it('fails only the batch entry that gives one of its values twice, and refuses a batch whose entry Id is given twice', async () => {
    const out = await callQuery(h.url, [
      ['Action', 'SendMessageBatch'],
      ['QueueUrl', url],
      ['SendMessageBatchRequestEntry.1.Id', 'e1'],
      ['SendMessageBatchRequestEntry.1.MessageBody', 'm1'],
      ['SendMessageBatchRequestEntry.2.Id', 'e2'],
      ['SendMessageBatchRequestEntry.2.MessageBody', 'm2'],
      ['SendMessageBatchRequestEntry.2.MessageBody', 'm3'],
    ]);
    expect(out.status).toBe(200);
    expect(out.xml).toContain('<Id>e1</Id><MessageId>');
    const failed = /<BatchResultErrorEntry>(.*?)<\/BatchResultErrorEntry>/.exec(out.xml)![1]!;
    expect(failed).toContain('<Id>e2</Id>');
    expect(failed).toContain('<Code>InvalidParameterValue</Code>');
    expect(text(/<Message>([^<]*)</.exec(failed)![1]!)).toBe(
      'Parameter SendMessageBatchRequestEntry.2.MessageBody is specified more than once.',
    );
    expect(await count()).toBe(1);

    await expectRefused(
      [
        ['Action', 'SendMessageBatch'],
        ['QueueUrl', url],
        ['SendMessageBatchRequestEntry.1.Id', 'e1'],
        ['SendMessageBatchRequestEntry.1.Id', 'e9'],
        ['SendMessageBatchRequestEntry.1.MessageBody', 'm1'],
      ],
      'SendMessageBatchRequestEntry.1.Id',
    );
    expect(await count()).toBe(1);
  });

  it('keeps the last of a key a raw JSON SendMessage gives twice in MessageAttributes, as JSON parsers do', async () => {
    // Arrange: the same message over the SDK with only the last value, for its digest.
    const { QueueUrl: other } = await h.sqs.send(new CreateQueueCommand({ QueueName: 'once' }));
    const once = await h.sqs.send(
      new SendMessageCommand({
        QueueUrl: other,
        MessageBody: 'm',
        MessageAttributes: { a: { DataType: 'String', StringValue: 'y' } },
      }),
    );

    // Act: no SDK can send this; a hand-written body can.
    const raw = await callJson(
      h.url,
      'SendMessage',
      `{"QueueUrl":${JSON.stringify(url)},"MessageBody":"m","MessageAttributes":{"a":{"DataType":"String","StringValue":"x"},"a":{"DataType":"String","StringValue":"y"}}}`,
    );

    // Assess
    expect(raw.status).toBe(200);
    expect(raw.body.MD5OfMessageAttributes).toBe(once.MD5OfMessageAttributes);
    const got = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'] }),
    );
    expect(got.Messages?.[0]?.MessageAttributes).toEqual({
      a: { DataType: 'String', StringValue: 'y' },
    });
  });
});
