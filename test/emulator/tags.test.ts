import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import { type Harness, startEmulator } from './helpers';

/**
 * Queue tags follow AWS's restrictions ("Quotas related to queues", Queue tag,
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html):
 * Unicode letters, digits and white space plus _ . : / = + - @; no aws: prefix on a key or a
 * value; keys 1-128 and values 0-256 Unicode characters; at most 50 tags. A bad tag is
 * InvalidParameterValue (400) and changes nothing, on TagQueue and on CreateQueue.
 */

const INVALID = { name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } };

describe('queue tags', () => {
  let h: Harness;
  let url: string;
  beforeEach(async () => {
    h = await startEmulator('none');
    url = (
      await h.sqs.send(new CreateQueueCommand({ QueueName: 'tagged', tags: { team: 'orders' } }))
    ).QueueUrl!;
  });
  afterEach(() => h.stop());

  const listed = async () => (await h.sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags;

  it('takes every character AWS allows, and counts length in Unicode characters', async () => {
    const good: Record<string, string> = {
      'a_b.c:d/e=f+g-h@i j': 'x_y.z:1/2=3+4-5@6 7',
      café: 'Ünïcødé',
      日本語: '値',
      // U+20000, a CJK letter outside the BMP: two UTF-16 units, one Unicode character.
      ['\u{20000}'.repeat(128)]: '\u{20000}'.repeat(256),
      empty: '',
    };
    await h.sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: good }));
    expect(await listed()).toEqual({ team: 'orders', ...good });
  });

  it.each<[string, Record<string, string>]>([
    ['an empty key', { '': 'v' }],
    ['a key of 129 characters', { ['k'.repeat(129)]: 'v' }],
    ['a value of 257 characters', { k: 'v'.repeat(257) }],
    ['a key with the reserved prefix aws:', { 'aws:cost': 'v' }],
    ['a key with the reserved prefix in capitals', { 'AWS:cost': 'v' }],
    ['a value with the reserved prefix aws:', { k: 'aws:v' }],
    ['a key with a character AWS does not allow', { 'a#b': 'v' }],
    ['a value with a character AWS does not allow', { k: 'a<b>' }],
    ['a key with a tab', { 'a\tb': 'v' }],
    ['a value with a control character', { k: 'a\u0001' }],
  ])(
    'refuses %s with InvalidParameterValue, adding no tag of the request (it took any)',
    async (_, bad) => {
      await expect(
        h.sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { fine: 'yes', ...bad } })),
      ).rejects.toMatchObject(INVALID);
      expect(await listed()).toEqual({ team: 'orders' });
    },
  );

  it('refuses a 51st tag with AWS-style wording, adding none of the request', async () => {
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
    await expect(
      h.sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: tags })),
    ).rejects.toMatchObject({ ...INVALID, message: 'Too many tags added for queue tagged.' });
    expect(await listed()).toEqual({ team: 'orders' });
  });

  it('refuses a CreateQueue with a bad tag and creates no queue', async () => {
    await expect(
      h.sqs.send(new CreateQueueCommand({ QueueName: 'never', tags: { 'aws:x': 'v' } })),
    ).rejects.toMatchObject(INVALID);
    await expect(h.sqs.send(new GetQueueUrlCommand({ QueueName: 'never' }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
    });
  });
});
