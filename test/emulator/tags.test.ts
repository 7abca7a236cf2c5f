import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  TagQueueCommand,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs';
import { callJson, callQuery, type Harness, startEmulator } from './helpers';

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

  it("words a key's length as AWS does, on TagQueue, CreateQueue and UntagQueue (also for an empty key list)", async () => {
    // AWS's sentence, as AWS answered UntagQueue with botocore's empty key list (moto#1686).
    const keyLength = {
      ...INVALID,
      message: 'Tag keys must be between 1 and 128 characters in length.',
    };
    for (const key of ['', 'k'.repeat(129)]) {
      await expect(
        h.sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { [key]: 'v' } })),
      ).rejects.toMatchObject(keyLength);
      await expect(
        h.sqs.send(new CreateQueueCommand({ QueueName: 'never', tags: { [key]: 'v' } })),
      ).rejects.toMatchObject(keyLength);
      await expect(
        h.sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: [key] })),
      ).rejects.toMatchObject(keyLength);
    }
    await expect(
      h.sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: [] })),
    ).rejects.toMatchObject(keyLength);
    // A value's length, in the same form (ours: AWS's sentence for it is not recorded).
    await expect(
      h.sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { k: 'v'.repeat(257) } })),
    ).rejects.toMatchObject({
      ...INVALID,
      message: 'Tag values must be between 0 and 256 characters in length.',
    });
    expect(await listed()).toEqual({ team: 'orders' });
  });

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

  describe('UntagQueue', () => {
    beforeEach(async () => {
      await h.sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { env: 'lab', 日本語: '値' } }));
    });
    const all = { team: 'orders', env: 'lab', 日本語: '値' };

    it('removes the keys named, ignores a key the queue does not have, and takes any key TagQueue takes', async () => {
      await h.sqs.send(
        new UntagQueueCommand({
          QueueUrl: url,
          TagKeys: ['env', '日本語', 'never-set', 'k'.repeat(128), '\u{20000}'.repeat(128)],
        }),
      );
      expect(await listed()).toEqual({ team: 'orders' });
    });

    // The same key rules as TagQueue's (a key AWS would never have stored is no key to remove).
    it.each<[string, string]>([
      ['an empty key', ''],
      ['a key of 129 characters', 'k'.repeat(129)],
      ['a key with the reserved prefix aws:', 'aws:cost'],
      ['a key with the reserved prefix in capitals', 'AWS:cost'],
      ['a key with a character AWS does not allow', 'a#b'],
      ['a key with a tab', 'a\tb'],
      ['a key with a control character', 'a\u0001'],
    ])(
      'refuses %s with InvalidParameterValue, removing no key of the request (it removed the others)',
      async (_, bad) => {
        await expect(
          h.sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: ['env', bad, 'team'] })),
        ).rejects.toMatchObject(INVALID);
        expect(await listed()).toEqual(all);
      },
    );

    it('refuses a bad key over the Query protocol (TagKey.n) too, removing no key of the request', async () => {
      for (const bad of ['aws:cost', 'a#b', 'k'.repeat(129)]) {
        const query = await callQuery(h.url, {
          Action: 'UntagQueue',
          QueueUrl: url,
          'TagKey.1': 'env',
          'TagKey.2': bad,
          'TagKey.3': 'team',
        });
        expect(query).toMatchObject({ status: 400, queryCode: 'InvalidParameterValue' });
      }
      expect(await listed()).toEqual(all);
      // The same keys, all valid, over Query: removed.
      const ok = await callQuery(h.url, {
        Action: 'UntagQueue',
        QueueUrl: url,
        'TagKey.1': 'env',
        'TagKey.2': '日本語',
      });
      expect(ok.status).toBe(200);
      expect(await listed()).toEqual({ team: 'orders' });
    });

    it('answers a JSON key list of the wrong shape SerializationException (400), removing nothing', async () => {
      for (const TagKeys of [[1], [{ k: 'env' }], [['env']], 'env', { 0: 'env' }, [true]]) {
        const json = await callJson(h.url, 'UntagQueue', { QueueUrl: url, TagKeys });
        expect(json).toMatchObject({ status: 400, type: 'SerializationException' });
      }
      expect(await listed()).toEqual(all);
    });

    it('refuses an empty key list with InvalidParameterValue over JSON and Query, as AWS answers the empty list botocore sends', async () => {
      const json = await callJson(h.url, 'UntagQueue', { QueueUrl: url, TagKeys: [] });
      expect(json).toMatchObject({
        status: 400,
        type: 'InvalidParameterValueException',
        queryCode: 'InvalidParameterValue',
      });
      // botocore sends TagKeys=[] over the Query protocol as a bare, empty `TagKey=`.
      const query = await callQuery(h.url, { Action: 'UntagQueue', QueueUrl: url, TagKey: '' });
      expect(query).toMatchObject({ status: 400, queryCode: 'InvalidParameterValue' });
      // No TagKeys at all is a missing parameter, as before.
      const missing = await callJson(h.url, 'UntagQueue', { QueueUrl: url });
      expect(missing).toMatchObject({ status: 400, queryCode: 'MissingParameter' });
      expect(await listed()).toEqual(all);
    });
  });
});
