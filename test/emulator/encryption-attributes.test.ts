import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { callQuery, type Harness, startEmulator } from './helpers';

/**
 * Server-side encryption attributes as AWS answered them in LocalStack's AWS-validated suite
 * (see local/sqs/actions/attributes.ts): SSE-SQS and SSE-KMS are one or the other, setting a KMS
 * key turns SqsManagedSseEnabled off, an empty key turns SSE-KMS off, and
 * KmsDataKeyReusePeriodSeconds stays within 60-86400 and is kept only beside a KMS key (AWS takes
 * it on a queue without one and keeps nothing, as Terraform's provider records).
 */

const ONE_SSE =
  'You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.';

describe('encryption attributes', () => {
  let h: Harness;
  let url: string;
  beforeEach(async () => {
    h = await startEmulator('none');
    url = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'sse' }))).QueueUrl!;
  });
  afterEach(() => h.stop());

  const all = async () =>
    (await h.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })))
      .Attributes!;
  const sse = async () => {
    const a = await all();
    return {
      KmsMasterKeyId: a.KmsMasterKeyId,
      KmsDataKeyReusePeriodSeconds: a.KmsDataKeyReusePeriodSeconds,
      SqsManagedSseEnabled: a.SqsManagedSseEnabled,
    };
  };
  const SSE_SQS = {
    KmsMasterKeyId: undefined,
    KmsDataKeyReusePeriodSeconds: undefined,
    SqsManagedSseEnabled: 'true',
  };

  it('refuses SSE-KMS and SSE-SQS in one request with InvalidAttributeName, changing nothing (it took both)', async () => {
    const before = await all();
    await expect(
      h.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: url,
          Attributes: { KmsMasterKeyId: 'testKeyId', SqsManagedSseEnabled: 'true' },
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidAttributeName',
      message: ONE_SSE,
      $metadata: { httpStatusCode: 400 },
    });
    const query = await callQuery(h.url, {
      Action: 'SetQueueAttributes',
      QueueUrl: url,
      'Attribute.1.Name': 'KmsMasterKeyId',
      'Attribute.1.Value': 'testKeyId',
      'Attribute.2.Name': 'SqsManagedSseEnabled',
      'Attribute.2.Value': 'true',
    });
    expect([query.status, query.queryCode, query.message]).toEqual([
      400,
      'InvalidAttributeName',
      ONE_SSE,
    ]);
    expect(await all()).toEqual(before);

    await expect(
      h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'both',
          Attributes: { KmsMasterKeyId: 'alias/aws/sqs', SqsManagedSseEnabled: 'true' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidAttributeName', message: ONE_SSE });
    await expect(h.sqs.send(new GetQueueUrlCommand({ QueueName: 'both' }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
    });
  });

  it('turns SqsManagedSseEnabled off when a KMS key is set, and SSE-KMS off with an empty key, as AWS answered (it kept SSE-SQS on beside the key)', async () => {
    expect(await sse()).toEqual(SSE_SQS);
    await h.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: { KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: '6000' },
      }),
    );
    expect(await sse()).toEqual({
      KmsMasterKeyId: 'testKeyId',
      KmsDataKeyReusePeriodSeconds: '6000',
      SqsManagedSseEnabled: 'false',
    });
    await h.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: { KmsMasterKeyId: '', KmsDataKeyReusePeriodSeconds: '300' },
      }),
    );
    expect(await sse()).toEqual({
      KmsMasterKeyId: undefined,
      KmsDataKeyReusePeriodSeconds: undefined,
      SqsManagedSseEnabled: 'false',
    });
  });

  it('switches an SSE-KMS queue to SSE-SQS when SqsManagedSseEnabled true is set alone, dropping the key, so a queue never has both (it kept the key beside SSE-SQS)', async () => {
    const kms = {
      KmsMasterKeyId: 'testKeyId',
      KmsDataKeyReusePeriodSeconds: '6000',
      SqsManagedSseEnabled: 'false',
    };
    const setSse = (Attributes: Record<string, string>) =>
      h.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes }));
    await setSse({ KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: '6000' });
    expect(await sse()).toEqual(kms);
    // false alone on an SSE-KMS queue changes nothing: SSE-SQS is already off.
    await setSse({ SqsManagedSseEnabled: 'false' });
    expect(await sse()).toEqual(kms);

    await setSse({ SqsManagedSseEnabled: 'true' });
    expect(await sse()).toEqual(SSE_SQS);
    // One kind of SSE: the queue's own attributes write back unchanged.
    const writable: Record<string, string | undefined> = { ...(await all()) };
    for (const name of [
      'QueueArn',
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
      'CreatedTimestamp',
      'LastModifiedTimestamp',
    ]) {
      delete writable[name];
    }
    await setSse(writable as Record<string, string>);
    expect(await sse()).toEqual(SSE_SQS);

    // Back to SSE-KMS, then to SSE-SQS as Terraform sends the switch (an empty key and true
    // in one request): the same end.
    await setSse({ KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: '6000' });
    await setSse({ KmsMasterKeyId: '', SqsManagedSseEnabled: 'true' });
    expect(await sse()).toEqual(SSE_SQS);
  });

  it('creates a queue with a KMS key alone as SSE-KMS only: SqsManagedSseEnabled false, as the set path answers (found in review: it kept the default true beside the key)', async () => {
    // Act: a CreateQueue with a key and no SqsManagedSseEnabled, as CloudFormation or Terraform
    // sends it for a queue encrypted with KMS.
    const kms = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'kms',
          Attributes: { KmsMasterKeyId: 'alias/aws/sqs', KmsDataKeyReusePeriodSeconds: '600' },
        }),
      )
    ).QueueUrl!;

    // Assess: one kind of SSE, which SetQueueAttributes can write back unchanged.
    const got = (
      await h.sqs.send(new GetQueueAttributesCommand({ QueueUrl: kms, AttributeNames: ['All'] }))
    ).Attributes!;
    expect({
      KmsMasterKeyId: got.KmsMasterKeyId,
      KmsDataKeyReusePeriodSeconds: got.KmsDataKeyReusePeriodSeconds,
      SqsManagedSseEnabled: got.SqsManagedSseEnabled,
    }).toEqual({
      KmsMasterKeyId: 'alias/aws/sqs',
      KmsDataKeyReusePeriodSeconds: '600',
      SqsManagedSseEnabled: 'false',
    });
    await h.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: kms,
        Attributes: {
          KmsMasterKeyId: got.KmsMasterKeyId!,
          SqsManagedSseEnabled: got.SqsManagedSseEnabled!,
        },
      }),
    );
    // The same CreateQueue again answers the queue, and one without a key keeps SSE-SQS.
    await h.sqs.send(
      new CreateQueueCommand({
        QueueName: 'kms',
        Attributes: { KmsMasterKeyId: 'alias/aws/sqs', KmsDataKeyReusePeriodSeconds: '600' },
      }),
    );
    expect(await sse()).toEqual(SSE_SQS);
  });

  it.each(['59', '86401', '-1', '1.5', 'abc', ''])(
    'refuses KmsDataKeyReusePeriodSeconds %j with InvalidAttributeValue, changing nothing',
    async (value) => {
      await expect(
        h.sqs.send(
          new SetQueueAttributesCommand({
            QueueUrl: url,
            Attributes: { KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: value },
          }),
        ),
      ).rejects.toMatchObject({
        name: 'InvalidAttributeValue',
        message: 'Invalid value for the parameter KmsDataKeyReusePeriodSeconds.',
      });
      expect(await sse()).toEqual(SSE_SQS);
    },
  );

  it('takes KmsDataKeyReusePeriodSeconds at both ends of 60-86400', async () => {
    for (const value of ['60', '86400']) {
      await h.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: url,
          Attributes: { KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: value },
        }),
      );
      expect((await sse()).KmsDataKeyReusePeriodSeconds).toBe(value);
    }
  });
  it('takes KmsDataKeyReusePeriodSeconds on a queue without a KMS key and keeps nothing, as AWS does (it stored it and answered it back)', async () => {
    // Act: on an SSE-SQS queue, on a queue with no encryption, and on create, both protocols.
    await h.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: { KmsDataKeyReusePeriodSeconds: '600' },
      }),
    );
    const afterSseSqs = await sse();
    await h.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: { SqsManagedSseEnabled: 'false', KmsDataKeyReusePeriodSeconds: '120' },
      }),
    );
    const afterNone = await sse();
    const query = await callQuery(h.url, {
      Action: 'SetQueueAttributes',
      QueueUrl: url,
      'Attribute.1.Name': 'KmsDataKeyReusePeriodSeconds',
      'Attribute.1.Value': '900',
    });
    const afterQuery = await sse();
    // A key set later gets no period from before.
    await h.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { KmsMasterKeyId: 'testKeyId' } }),
    );
    const afterKey = await sse();
    const created = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'reuse-alone',
          Attributes: { KmsDataKeyReusePeriodSeconds: '600' },
        }),
      )
    ).QueueUrl!;
    const createdQuery = await callQuery(h.url, {
      Action: 'CreateQueue',
      QueueName: 'reuse-alone-query',
      'Attribute.1.Name': 'KmsDataKeyReusePeriodSeconds',
      'Attribute.1.Value': '600',
    });

    // Assess
    expect(afterSseSqs).toEqual(SSE_SQS);
    expect(afterNone).toEqual({ ...SSE_SQS, SqsManagedSseEnabled: 'false' });
    expect(query.status).toBe(200);
    expect(afterQuery).toEqual({ ...SSE_SQS, SqsManagedSseEnabled: 'false' });
    expect(afterKey).toEqual({
      KmsMasterKeyId: 'testKeyId',
      KmsDataKeyReusePeriodSeconds: undefined,
      SqsManagedSseEnabled: 'false',
    });
    for (const QueueUrl of [created, /<QueueUrl>([^<]+)</.exec(createdQuery.xml)![1]!]) {
      const got = (
        await h.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))
      ).Attributes!;
      expect(got.KmsDataKeyReusePeriodSeconds).toBeUndefined();
      expect(got.SqsManagedSseEnabled).toBe('true');
    }
    // The same CreateQueue again is the same queue, not another value for the period.
    const again = await h.sqs.send(
      new CreateQueueCommand({
        QueueName: 'reuse-alone',
        Attributes: { KmsDataKeyReusePeriodSeconds: '600' },
      }),
    );
    expect(again.QueueUrl).toBe(created);
    // Beside a key the period is kept, also when set alone.
    await h.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: { KmsDataKeyReusePeriodSeconds: '3600' },
      }),
    );
    expect((await sse()).KmsDataKeyReusePeriodSeconds).toBe('3600');
  });

  it('creates a queue with an empty KmsMasterKeyId as one without a key, as an empty key means on set (it stored "" and answered it)', async () => {
    // Act: as Terraform or a template with an unset key might send it, over both protocols.
    const created = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'empty-key',
          Attributes: { KmsMasterKeyId: '', KmsDataKeyReusePeriodSeconds: '300' },
        }),
      )
    ).QueueUrl!;
    const createdQuery = await callQuery(h.url, {
      Action: 'CreateQueue',
      QueueName: 'empty-key-query',
      'Attribute.1.Name': 'KmsMasterKeyId',
      'Attribute.1.Value': '',
    });
    const withSseSqs = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'empty-key-sse-sqs',
          Attributes: { KmsMasterKeyId: '', SqsManagedSseEnabled: 'true' },
        }),
      )
    ).QueueUrl!;

    // Assess: SSE-SQS, as every queue created without a key, and no key at all.
    for (const QueueUrl of [
      created,
      /<QueueUrl>([^<]+)</.exec(createdQuery.xml)![1]!,
      withSseSqs,
    ]) {
      const got = (
        await h.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))
      ).Attributes!;
      expect({
        KmsMasterKeyId: got.KmsMasterKeyId,
        KmsDataKeyReusePeriodSeconds: got.KmsDataKeyReusePeriodSeconds,
        SqsManagedSseEnabled: got.SqsManagedSseEnabled,
      }).toEqual(SSE_SQS);
      expect(Object.keys(got)).not.toContain('KmsMasterKeyId');
    }
    // The same CreateQueue again is the same queue, and its attributes write back unchanged.
    const again = await h.sqs.send(
      new CreateQueueCommand({
        QueueName: 'empty-key',
        Attributes: { KmsMasterKeyId: '', KmsDataKeyReusePeriodSeconds: '300' },
      }),
    );
    expect(again.QueueUrl).toBe(created);
  });

  it.each([
    ['blank', ' '],
    ['a tab', '\t'],
    ['a control character', 'alias/k\u0001'],
    ['a line feed inside', 'alias/k\nk'],
    ['a DEL', 'alias/k\u007f'],
    ['a NUL', 'alias/\u0000'],
    ['a lone surrogate', 'alias/\uD800'],
    ['2,049 characters', 'k'.repeat(2049)],
    ['300,000 characters', 'k'.repeat(300_000)],
  ])(
    'refuses a KmsMasterKeyId that names no KMS key (%s) with InvalidAttributeValue over both protocols, changing nothing (it was stored)',
    async (_, value) => {
      const before = await all();
      await expect(
        h.sqs.send(
          new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { KmsMasterKeyId: value } }),
        ),
      ).rejects.toMatchObject({
        name: 'InvalidAttributeValue',
        message: 'Invalid value for the parameter KmsMasterKeyId.',
        $metadata: { httpStatusCode: 400 },
      });
      // A lone surrogate has no UTF-8 form: a form body carries it as U+FFFD, which is text.
      if (!/[\uD800-\uDFFF]/.test(value)) {
        const query = await callQuery(h.url, {
          Action: 'SetQueueAttributes',
          QueueUrl: url,
          'Attribute.1.Name': 'KmsMasterKeyId',
          'Attribute.1.Value': value,
        });
        expect([query.status, query.queryCode]).toEqual([400, 'InvalidAttributeValue']);
      }
      await expect(
        h.sqs.send(
          new CreateQueueCommand({ QueueName: 'bad-key', Attributes: { KmsMasterKeyId: value } }),
        ),
      ).rejects.toMatchObject({ name: 'InvalidAttributeValue' });
      expect(await all()).toEqual(before);
      await expect(
        h.sqs.send(new GetQueueUrlCommand({ QueueName: 'bad-key' })),
      ).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
    },
  );

  it('refuses a CreateQueue naming a queue with a KMS key or a policy with an empty value for it, as QueueAlreadyExists (found in review: the empty value was dropped before the comparison and the URL answered)', async () => {
    // Arrange
    const keyed = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'keyed',
          Attributes: { KmsMasterKeyId: 'testKeyId', Policy: '{"Version":"2012-10-17"}' },
        }),
      )
    ).QueueUrl!;
    const keyedAttributes = async () =>
      (
        await h.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: keyed, AttributeNames: ['All'] }),
        )
      ).Attributes!;
    const before = await keyedAttributes();

    // Act / Assess: over JSON and Query, the key and the policy.
    for (const name of ['KmsMasterKeyId', 'Policy']) {
      await expect(
        h.sqs.send(new CreateQueueCommand({ QueueName: 'keyed', Attributes: { [name]: '' } })),
      ).rejects.toMatchObject({
        name: 'QueueNameExists',
        message: `A queue already exists with the same name and a different value for attribute ${name}`,
      });
      const query = await callQuery(h.url, {
        Action: 'CreateQueue',
        QueueName: 'keyed',
        'Attribute.1.Name': name,
        'Attribute.1.Value': '',
      });
      expect([query.status, query.queryCode]).toEqual([400, 'QueueAlreadyExists']);
    }
    expect(await keyedAttributes()).toEqual(before);
    // An empty value where the queue has none is the same queue, as before.
    const plain = (await h.sqs.send(new CreateQueueCommand({ QueueName: 'plain' }))).QueueUrl!;
    const again = await h.sqs.send(
      new CreateQueueCommand({
        QueueName: 'plain',
        Attributes: { KmsMasterKeyId: '', Policy: '', RedrivePolicy: '' },
      }),
    );
    expect(again.QueueUrl).toBe(plain);
  });

  it('answers a repeated CreateQueue that differs only in KmsDataKeyReusePeriodSeconds with the URL when the queue has no KMS key (nothing kept to differ), and refuses it when the queue has one', async () => {
    // Arrange: a queue without a key, created with a period (not kept), and one with a key.
    const keyless = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'reuse-keyless',
          Attributes: { KmsDataKeyReusePeriodSeconds: '600' },
        }),
      )
    ).QueueUrl!;
    const keyed = (
      await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'reuse-keyed',
          Attributes: { KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: '600' },
        }),
      )
    ).QueueUrl!;

    // Act / Assess: without a key, another period (or one where none was sent) is the same
    // queue, over JSON and Query, and changes nothing.
    for (const period of ['900', '600', '60']) {
      const again = await h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'reuse-keyless',
          Attributes: { KmsDataKeyReusePeriodSeconds: period },
        }),
      );
      expect(again.QueueUrl).toBe(keyless);
      const query = await callQuery(h.url, {
        Action: 'CreateQueue',
        QueueName: 'reuse-keyless',
        'Attribute.1.Name': 'KmsDataKeyReusePeriodSeconds',
        'Attribute.1.Value': period,
      });
      expect([query.status, /<QueueUrl>([^<]+)</.exec(query.xml)?.[1]]).toEqual([200, keyless]);
    }
    expect(
      (
        await h.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: keyless, AttributeNames: ['All'] }),
        )
      ).Attributes!.KmsDataKeyReusePeriodSeconds,
    ).toBeUndefined();
    // With a key the period is the queue's, so another one is another queue.
    await expect(
      h.sqs.send(
        new CreateQueueCommand({
          QueueName: 'reuse-keyed',
          Attributes: { KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: '900' },
        }),
      ),
    ).rejects.toMatchObject({
      name: 'QueueNameExists',
      message:
        'A queue already exists with the same name and a different value for attribute KmsDataKeyReusePeriodSeconds',
    });
    const same = await h.sqs.send(
      new CreateQueueCommand({
        QueueName: 'reuse-keyed',
        Attributes: { KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: '600' },
      }),
    );
    expect(same.QueueUrl).toBe(keyed);
  });

  it('takes a KmsMasterKeyId of 2,048 characters, KMS bound for a key ID', async () => {
    const key = `alias/${'k'.repeat(2042)}`;
    await h.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { KmsMasterKeyId: key } }),
    );
    expect((await sse()).KmsMasterKeyId).toBe(key);
  });
});
