import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * V8's JSON.parse on Node 24 and 26 (nodejs/node#63785) can read an escaped object key as a key
 * an earlier parse met at the same place: the key's text as written, cut to its decoded length.
 * A request body that has such a key at a place makes a later request's escaped key there read
 * as it. These requests come over HTTP to the SQS emulator's JSON protocol (AWS JSON 1.0, as the
 * SDK sends it, with keys the SDK never escapes), and the SDK reads what they did.
 */

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('the SQS emulator reads each JSON key as written, after a request that poisons it', () => {
  const keep = stopsAfterAll();
  let cloud: LocalCloud;
  let sqs: SQSClient;
  let queueUrl: string;
  beforeAll(async () => {
    cloud = await keep(startLocalCloud({ port: 0, servicesOnly: true, seed: 1, faults: 'none' }));
    sqs = new SQSClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    ({ QueueUrl: queueUrl = '' } = await sqs.send(
      new CreateQueueCommand({ QueueName: 'json-keys' }),
    ));
  }, 60_000);
  afterAll(async () => {
    sqs?.destroy();
  });

  /** A SendMessage over the JSON protocol with this body text, as a client may write one. */
  const send = (body: string) =>
    fetch(cloud.edgeUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.SendMessage',
      },
      body,
    });

  const receiveAll = async (): Promise<string[]> => {
    const bodies: string[] = [];
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
      );
      if (Messages.length === 0) return bodies.sort();
      bodies.push(...Messages.map((m) => m.Body ?? ''));
    }
  };

  it('sends the MessageBody JSON keeps (the last) when one is written plain and one escaped', async () => {
    // Prepare: a body whose third key is \u004dessag as text: the first 11 characters of
    // "\u004dessageBody", whose decoded length (MessageBody) is 11. On Node 24 the emulator had
    // then read the next request's "\u004dessageBody" as that key, and sent "first".
    const url = JSON.stringify(queueUrl);
    const poison = await send(
      String.raw`{"QueueUrl":${url},"MessageBody":"poison","\\u004dessag":1}`,
    );
    expect(poison.status).toBe(200);

    // Act
    const res = await send(
      String.raw`{"QueueUrl":${url},"MessageBody":"first","\u004dessageBody":"second"}`,
    );

    // Assess
    expect(res.status).toBe(200);
    expect(await receiveAll()).toEqual(['poison', 'second']);
  });

  it('names a message attribute that needs an escape as written, not as an earlier request’s key', async () => {
    // Prepare: an attribute named `\` (written "\\") after one named a; a later one named `"`
    // there had then been read as `\`.
    const url = JSON.stringify(queueUrl);
    const attribute = '{"DataType":"String","StringValue":"v"}';
    await send(
      String.raw`{"QueueUrl":${url},"MessageBody":"b","MessageAttributes":{"a":${attribute},"\\":${attribute}}}`,
    );

    // Act
    const res = await send(
      String.raw`{"QueueUrl":${url},"MessageBody":"b","MessageAttributes":{"a":${attribute},"\"":${attribute}}}`,
    );

    // Assess: AWS's refusal of the name, naming the one sent.
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      __type: 'com.amazonaws.sqs#InvalidParameterValueException',
      message: `Message (user) attribute name '"' is invalid.`,
    });
  });

  it('takes a RedrivePolicy with an escaped key the SDK sends, after one that poisons the key', async () => {
    // Prepare: a policy whose second key is \u006daxReceive as text: the first 15 characters of
    // "\u006daxReceiveCount", whose decoded length (maxReceiveCount) is 15. It is refused (no
    // maxReceiveCount), but was parsed; on Node 24 the next policy's key had then been read as it,
    // and that policy refused as having no maxReceiveCount either.
    const { QueueUrl: dlqUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'json-dlq' }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
    );
    const arn = JSON.stringify(Attributes?.QueueArn);
    const setPolicy = (policy: string) =>
      sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: queueUrl,
          Attributes: { RedrivePolicy: policy },
        }),
      );
    await expect(
      setPolicy(String.raw`{"deadLetterTargetArn":${arn},"\\u006daxReceive":2}`),
    ).rejects.toThrow(/maxReceiveCount/);

    // Act
    const policy = String.raw`{"deadLetterTargetArn":${arn},"\u006daxReceiveCount":2}`;
    await setPolicy(policy);

    // Assess: taken (with a maxReceiveCount from 1 to 1000), and kept as sent. Not read back by
    // JSON.parse here: this process is the emulator's, whose refused policy poisoned that key.
    const read = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    expect(read.Attributes?.RedrivePolicy).toBe(policy);
  });

  it('still serves the SDK, which writes no escaped key', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'sdk' }));
    expect(await receiveAll()).toEqual(['sdk']);
  });
});
