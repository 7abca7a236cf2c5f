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
 * KmsDataKeyReusePeriodSeconds stays within 60-86400.
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
});
