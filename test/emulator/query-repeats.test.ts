import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { callQuery, type Harness, startEmulator } from './helpers';

/**
 * One name given twice in one request. A repeated parameter the emulator never reads is ignored,
 * as every parameter it never reads is.
 */

describe('a name given twice in one request', () => {
  let h: Harness;
  let url: string;
  beforeEach(async () => {
    h = await startEmulator('none');
    url = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'repeats' }))).QueueUrl!;
  });
  afterEach(() => h.stop());

  const attribute = (i: number, name: string, value: string): [string, string][] => [
    [`MessageAttribute.${i}.Name`, name],
    [`MessageAttribute.${i}.Value.DataType`, 'String'],
    [`MessageAttribute.${i}.Value.StringValue`, value],
  ];

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
});
