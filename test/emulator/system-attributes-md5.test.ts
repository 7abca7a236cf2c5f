import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { callJson, callQuery, type Harness, startEmulator } from './helpers';

/**
 * MD5OfMessageSystemAttributes: "An MD5 digest of the non-URL-encoded message system attribute
 * string" (SendMessage and SendMessageBatchResultEntry, API reference), computed as the
 * message-attribute digest is (SQS Developer Guide, "Calculating the MD5 message digest for
 * message attributes"): attributes sorted by name; for each, the name, the data type, a transport
 * byte (1 for String and Number) and the value, each but the transport byte after its length as a
 * 4-byte big-endian integer. Written out here on its own, not taken from the emulator.
 */
function expectedDigest(attrs: Record<string, string>): string {
  const parts: Buffer[] = [];
  const withLength = (text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of Object.keys(attrs).sort()) {
    withLength(name);
    withLength('String');
    parts.push(Buffer.from([1]));
    withLength(attrs[name]!);
  }
  return createHash('md5').update(Buffer.concat(parts)).digest('hex');
}

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const DIGEST = expectedDigest({ AWSTraceHeader: TRACE });
const system = { AWSTraceHeader: { DataType: 'String', StringValue: TRACE } };

describe('MD5OfMessageSystemAttributes on a send carrying AWSTraceHeader', () => {
  let h: Harness;
  let QueueUrl: string;
  beforeAll(async () => {
    h = await startEmulator('none');
    QueueUrl = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'md5-system' }))).QueueUrl!;
  });
  afterAll(() => h.stop());

  it('answers SendMessage over JSON with the digest, and none without system attributes', async () => {
    const sent = await h.sqs.send(
      new SendMessageCommand({ QueueUrl, MessageBody: 'b', MessageSystemAttributes: system }),
    );
    const plain = await h.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'b' }));

    expect(sent.MD5OfMessageSystemAttributes).toBe(DIGEST);
    expect(plain.MD5OfMessageSystemAttributes).toBeUndefined();
  });

  it('answers each SendMessageBatch success entry that carried one with its digest over JSON', async () => {
    const other = 'Root=1-00000000-000000000000000000000001';
    const out = await h.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'a', MessageSystemAttributes: system },
          { Id: 'b', MessageBody: 'b' },
          {
            Id: 'c',
            MessageBody: 'c',
            MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: other } },
          },
        ],
      }),
    );

    const byId = Object.fromEntries((out.Successful ?? []).map((e) => [e.Id, e]));
    expect(byId.a?.MD5OfMessageSystemAttributes).toBe(DIGEST);
    expect(byId.b?.MD5OfMessageSystemAttributes).toBeUndefined();
    expect(byId.c?.MD5OfMessageSystemAttributes).toBe(expectedDigest({ AWSTraceHeader: other }));
  });

  it('answers SendMessage and SendMessageBatch over Query with the digest element', async () => {
    const trace: [string, string][] = [
      ['MessageSystemAttribute.1.Name', 'AWSTraceHeader'],
      ['MessageSystemAttribute.1.Value.DataType', 'String'],
      ['MessageSystemAttribute.1.Value.StringValue', TRACE],
    ];
    const one = await callQuery(h.url, [
      ['Action', 'SendMessage'],
      ['Version', '2012-11-05'],
      ['QueueUrl', QueueUrl],
      ['MessageBody', 'q'],
      ...trace,
    ]);
    const batch = await callQuery(h.url, [
      ['Action', 'SendMessageBatch'],
      ['Version', '2012-11-05'],
      ['QueueUrl', QueueUrl],
      ['SendMessageBatchRequestEntry.1.Id', 'e1'],
      ['SendMessageBatchRequestEntry.1.MessageBody', 'q'],
      ...trace.map(([k, v]): [string, string] => [`SendMessageBatchRequestEntry.1.${k}`, v]),
    ]);

    expect(one.status).toBe(200);
    expect(one.xml).toContain(
      `<MD5OfMessageSystemAttributes>${DIGEST}</MD5OfMessageSystemAttributes>`,
    );
    expect(batch.status).toBe(200);
    expect(batch.xml).toMatch(
      new RegExp(
        `<SendMessageBatchResultEntry><Id>e1</Id>.*<MD5OfMessageSystemAttributes>${DIGEST}</MD5OfMessageSystemAttributes>.*</SendMessageBatchResultEntry>`,
        's',
      ),
    );
  });

  it('does not answer ReceiveMessage with it: AWS Message has MD5OfBody and MD5OfMessageAttributes only', async () => {
    const { QueueUrl: url } = await h.sqs.send(new CreateQueueCommand({ QueueName: 'md5-recv' }));
    await h.sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: 'r', MessageSystemAttributes: system }),
    );

    const got = await callJson(h.url, 'ReceiveMessage', {
      QueueUrl: url,
      MessageSystemAttributeNames: ['AWSTraceHeader'],
    });

    const [m] = got.body.Messages as Record<string, unknown>[];
    expect(m?.Attributes).toEqual({ AWSTraceHeader: TRACE });
    expect(m).not.toHaveProperty('MD5OfMessageSystemAttributes');
  });
});
